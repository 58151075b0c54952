"""After a decision: the approval task was answered. The decision is read from the approvals table
(never from the task's output), the ledger re-checked, and the route taken: issue only when
approvals cover the lines as they are now."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from aws_lambda_powertools.utilities.parser import BaseModel, event_parser
from aws_lambda_powertools.utilities.typing import LambdaContext
from creditrefunds.adapters.config import WaitConfig
from creditrefunds.adapters.runtime import answers_doctor, lambda_runtime
from creditrefunds.adapters.transient import retryable
from creditrefunds.usecases.review import after_decision

logger, tracer, services = lambda_runtime(WaitConfig)


class Event(BaseModel):
    case_id: str


@answers_doctor
@logger.inject_lambda_context(log_event=True)  # a case id
@tracer.capture_lambda_handler(capture_response=False)
@retryable  # throttles and service errors: TransientError, which the state machine retries
@event_parser(model=Event)
def lambda_handler(task: Event, context: LambdaContext) -> dict[str, Any]:
    ports = services()
    config = ports.config
    return after_decision(ports, task.case_id, config.timing, config.investigation_pause_seconds,
                          config.operators_email, datetime.now(UTC))
