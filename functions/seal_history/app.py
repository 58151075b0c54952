"""Seal the history: on a schedule (EventBridge) and on `refunds audit seal`, every case's chain
head is signed with a key only this function may use, chained to the seal before, and kept in a
bucket under S3 Object Lock."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from aws_lambda_powertools.utilities.parser import BaseModel, event_parser
from aws_lambda_powertools.utilities.typing import LambdaContext
from creditrefunds.adapters.config import SealConfig
from creditrefunds.adapters.runtime import answers_doctor, lambda_runtime
from creditrefunds.adapters.transient import retryable
from creditrefunds.usecases.seal import seal_history

logger, tracer, services = lambda_runtime(SealConfig)


class Event(BaseModel):
    """A scheduled event, or `{}` from `refunds audit seal`: nothing in it decides anything."""

    source: str = "refunds audit seal"


@answers_doctor
@logger.inject_lambda_context(log_event=True)  # a schedule's event: no data
@tracer.capture_lambda_handler(capture_response=False)
@retryable  # throttles and service errors: TransientError, which the state machine retries
@event_parser(model=Event)
def lambda_handler(task: Event, context: LambdaContext) -> dict[str, Any]:
    return seal_history(services(), datetime.now(UTC), services().config.operators_email)
