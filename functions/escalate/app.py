"""Escalate: an approval that waited past its time moves up a tier; compliance hears of due dates."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from aws_lambda_powertools.utilities.parser import BaseModel, event_parser
from aws_lambda_powertools.utilities.typing import LambdaContext
from creditrefunds.adapters.config import WaitConfig
from creditrefunds.adapters.runtime import answers_doctor, lambda_runtime
from creditrefunds.adapters.transient import retryable
from creditrefunds.usecases.escalate import escalate_case

logger, tracer, services = lambda_runtime(WaitConfig)


class Event(BaseModel):
    case_id: str
    tier: int  # the tier whose wait ran out


@answers_doctor
@logger.inject_lambda_context(log_event=True)  # a case id and a tier
@tracer.capture_lambda_handler(capture_response=False)
@retryable  # throttles and service errors: TransientError, which the state machine retries
@event_parser(model=Event)
def lambda_handler(task: Event, context: LambdaContext) -> dict[str, Any]:
    ports = services()
    return escalate_case(ports, task.case_id, task.tier, ports.config.timing, ports.config.compliance_officer_email,
                         datetime.now(UTC))
