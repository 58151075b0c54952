"""A large file's fan-out failed: the file goes to rejected/ with the reason, operators are told."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from aws_lambda_powertools.utilities.parser import BaseModel, event_parser
from aws_lambda_powertools.utilities.typing import LambdaContext
from creditrefunds.adapters.config import BaseConfig
from creditrefunds.adapters.runtime import answers_doctor, lambda_runtime
from creditrefunds.adapters.transient import retryable
from creditrefunds.usecases.fanout import fail

logger, tracer, services = lambda_runtime(BaseConfig)


class Event(BaseModel):
    key: str
    name: str
    etag: str
    upload: str
    error: dict[str, Any] | None = None  # the state machine's caught error: Error and Cause


@answers_doctor
@logger.inject_lambda_context(log_event=False)  # a cause may quote a row
@tracer.capture_lambda_handler(capture_response=False)
@retryable  # throttles and service errors: TransientError, which the state machine retries
@event_parser(model=Event)
def lambda_handler(task: Event, context: LambdaContext) -> dict[str, Any]:
    ports = services()
    return fail(ports, task.key, task.name, task.etag, task.upload, task.error, ports.config.operators_email,
                datetime.now(UTC))
