"""Detect one batch of a large file's touched accounts (the fan-out's second map): cases opened
or updated, one workflow per new case."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from aws_lambda_powertools import Metrics
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.parser import BaseModel, event_parser
from aws_lambda_powertools.utilities.typing import LambdaContext
from creditrefunds.adapters.config import DetectConfig
from creditrefunds.adapters.runtime import answers_doctor, lambda_runtime
from creditrefunds.adapters.transient import retryable
from creditrefunds.usecases.fanout import detect_batch

logger, tracer, services = lambda_runtime(DetectConfig)
metrics = Metrics()


class Batch(BaseModel):
    key: str


class Event(BaseModel):
    batch: Batch
    event_time: datetime  # when the file was dropped: the day its credits are identified


@answers_doctor
@logger.inject_lambda_context(log_event=True)  # an object key and a time
@tracer.capture_lambda_handler(capture_response=False)
@metrics.log_metrics
@retryable  # throttles and service errors: TransientError, which the state machine retries
@event_parser(model=Event)
def lambda_handler(task: Event, context: LambdaContext) -> dict[str, Any]:
    return detect_batch(services(), task.batch.key, task.event_time, datetime.now(UTC),
                        lambda name, value: metrics.add_metric(name=name, unit=MetricUnit.Count, value=value))
