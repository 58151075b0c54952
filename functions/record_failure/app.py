"""Record failure: a workflow step failed; the case lands in FAILED with the error in its history,
and operators are told."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from aws_lambda_powertools import Metrics
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.parser import BaseModel, event_parser
from aws_lambda_powertools.utilities.typing import LambdaContext
from creditrefunds.adapters.config import BaseConfig
from creditrefunds.adapters.runtime import answers_doctor, lambda_runtime
from creditrefunds.adapters.transient import retryable
from creditrefunds.usecases.failures import record_failure

logger, tracer, services = lambda_runtime(BaseConfig)
metrics = Metrics()


class Event(BaseModel):
    case_id: str
    error: dict[str, Any] | None = None  # the state machine's caught error: Error and Cause


@answers_doctor
@logger.inject_lambda_context(log_event=False)  # a cause may quote the case
@tracer.capture_lambda_handler(capture_response=False)
@metrics.log_metrics
@retryable  # throttles and service errors: TransientError, which the state machine retries
@event_parser(model=Event)
def lambda_handler(task: Event, context: LambdaContext) -> dict[str, Any]:
    ports = services()
    recorded = record_failure(ports, task.case_id, task.error, ports.config.operators_email, datetime.now(UTC))
    metrics.add_metric(name="CasesFailed", unit=MetricUnit.Count, value=1)
    return recorded
