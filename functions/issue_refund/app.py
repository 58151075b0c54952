"""Issue refund: each REFUND and OFFSET line once, as an accounts-payable file of its own."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from aws_lambda_powertools import Metrics
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.parser import BaseModel, event_parser
from aws_lambda_powertools.utilities.typing import LambdaContext
from creditrefunds.adapters.config import FunctionConfig
from creditrefunds.adapters.runtime import answers_doctor, lambda_runtime
from creditrefunds.adapters.transient import retryable
from creditrefunds.usecases.issue import issue_refund

logger, tracer, services = lambda_runtime(FunctionConfig)
metrics = Metrics()


class Event(BaseModel):
    case_id: str


@answers_doctor
@logger.inject_lambda_context(log_event=True)  # a case id
@tracer.capture_lambda_handler(capture_response=False)
@metrics.log_metrics
@retryable  # throttles and service errors: TransientError, which the state machine retries
@event_parser(model=Event)
def lambda_handler(task: Event, context: LambdaContext) -> dict[str, Any]:
    issued = issue_refund(services(), task.case_id, datetime.now(UTC))
    metrics.add_metric(name="RefundsIssued", unit=MetricUnit.Count, value=len(issued["new"]))
    return issued
