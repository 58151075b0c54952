"""Plan the detection of a large file once every part is stored: one rejects report with true
line numbers, and the touched accounts in batches (a guarantor's accounts in one)."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Metrics
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.parser import BaseModel, event_parser
from aws_lambda_powertools.utilities.typing import LambdaContext
from creditrefunds.adapters.config import PlanConfig
from creditrefunds.adapters.runtime import answers_doctor, lambda_runtime
from creditrefunds.adapters.transient import retryable
from creditrefunds.usecases.fanout import plan_detection

logger, tracer, services = lambda_runtime(PlanConfig)
metrics = Metrics()


class PartKey(BaseModel):
    key: str


class Event(BaseModel):
    key: str
    name: str
    upload: str
    parts: list[PartKey]


@answers_doctor
@logger.inject_lambda_context(log_event=False)  # a long list of part keys
@tracer.capture_lambda_handler(capture_response=False)
@metrics.log_metrics
@retryable  # throttles and service errors: TransientError, which the state machine retries
@event_parser(model=Event)
def lambda_handler(task: Event, context: LambdaContext) -> dict[str, Any]:
    ports = services()
    return plan_detection(ports, task.key, task.name, task.upload, [p.key for p in task.parts],
                          ports.config.detect_batch_accounts,
                          lambda name, value: metrics.add_metric(name=name, unit=MetricUnit.Count, value=value))
