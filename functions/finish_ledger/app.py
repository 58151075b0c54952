"""Finish a large file's fan-out: its summary in the log, its working files removed, the file retired
from incoming/ (kept as the original)."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.parser import BaseModel, event_parser
from aws_lambda_powertools.utilities.typing import LambdaContext
from creditrefunds.adapters.config import BaseConfig
from creditrefunds.adapters.runtime import answers_doctor, lambda_runtime
from creditrefunds.adapters.transient import retryable
from creditrefunds.usecases.fanout import finish

logger, tracer, services = lambda_runtime(BaseConfig)


class Event(BaseModel):
    key: str
    name: str
    etag: str
    upload: str
    parts: list[dict[str, Any]]
    plan: dict[str, Any]
    detected: list[dict[str, int]]


@answers_doctor
@logger.inject_lambda_context(log_event=False)
@tracer.capture_lambda_handler(capture_response=False)
@retryable  # throttles and service errors: TransientError, which the state machine retries
@event_parser(model=Event)
def lambda_handler(task: Event, context: LambdaContext) -> dict[str, Any]:
    return finish(services(), task.key, task.name, task.etag, task.upload, len(task.parts), task.plan, task.detected)
