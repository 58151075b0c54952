"""Request approval: keep the task token server-side and mail the tier's approver a single-use link."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from aws_lambda_powertools import Metrics
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.parser import BaseModel, event_parser
from aws_lambda_powertools.utilities.typing import LambdaContext
from creditrefunds.adapters.config import ApprovalConfig
from creditrefunds.adapters.runtime import answers_doctor, lambda_runtime
from creditrefunds.adapters.transient import retryable
from creditrefunds.usecases.approval import request_approval

logger, tracer, services = lambda_runtime(ApprovalConfig)
metrics = Metrics()


class Event(BaseModel):
    case_id: str
    tier: int
    task_token: str


@answers_doctor
@logger.inject_lambda_context(log_event=False)  # the event carries the task token: never logged
@tracer.capture_lambda_handler(capture_response=False)
@metrics.log_metrics
@retryable  # throttles and service errors: TransientError, which the state machine retries
@event_parser(model=Event)
def lambda_handler(task: Event, context: LambdaContext) -> dict[str, Any]:
    ports = services()
    config = ports.config
    asked = request_approval(ports, task.case_id, task.tier, task.task_token, config.approvers,
                             config.approval_site_url, config.approval_link_ttl_seconds, datetime.now(UTC))
    metrics.add_metric(name="ApprovalsAsked", unit=MetricUnit.Count, value=1)
    return asked
