"""Store one part of a large ledger file (the fan-out's first map): validate and store its rows;
its rejects and the accounts it touched are left beside it for the plan."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.parser import BaseModel, event_parser
from aws_lambda_powertools.utilities.typing import LambdaContext
from creditrefunds.adapters.config import StoreConfig
from creditrefunds.adapters.runtime import answers_doctor, lambda_runtime
from creditrefunds.adapters.transient import retryable
from creditrefunds.usecases.fanout import store_part

logger, tracer, services = lambda_runtime(StoreConfig)


class Part(BaseModel):
    key: str
    first_line: int
    format: str


class Event(BaseModel):
    part: Part


@answers_doctor
@logger.inject_lambda_context(log_event=True)  # an object key and a line number
@tracer.capture_lambda_handler(capture_response=False)
@retryable  # throttles and service errors: TransientError, which the state machine retries
@event_parser(model=Event)
def lambda_handler(task: Event, context: LambdaContext) -> dict[str, Any]:
    return store_part(services(), task.part.key, task.part.format, task.part.first_line)
