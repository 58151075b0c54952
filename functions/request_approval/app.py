"""Request approval: keep the task token server-side and mail the tier's approver a single-use link."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from aws_lambda_powertools.utilities.parser import BaseModel, event_parser
from aws_lambda_powertools.utilities.typing import LambdaContext
from creditrefunds.adapters.config import ApprovalConfig
from creditrefunds.adapters.runtime import answers_doctor, lambda_runtime
from creditrefunds.adapters.transient import retryable
from creditrefunds.usecases.approval import request_approval

logger, tracer, services = lambda_runtime(ApprovalConfig)


class Event(BaseModel):
    case_id: str
    tier: int
    task_token: str


@answers_doctor
@logger.inject_lambda_context(log_event=False)  # the event carries the task token: never logged
@tracer.capture_lambda_handler(capture_response=False)
@retryable  # throttles and service errors: TransientError, which the state machine retries
@event_parser(model=Event)
def lambda_handler(task: Event, context: LambdaContext) -> dict[str, Any]:
    ports = services()
    config = ports.config
    return request_approval(ports, task.case_id, task.tier, task.task_token, config.approvers,
                            config.approval_site_url, config.approval_link_ttl_seconds, datetime.now(UTC))
