"""What every handler module sets up once per container: its Logger and Tracer, the shared code's
log lines under the same Logger, and its Services (built on the first invocation)."""

from __future__ import annotations

import platform
import sys
from collections.abc import Callable
from datetime import datetime
from functools import wraps
from typing import Any, TypeVar
from urllib.parse import unquote_plus

from aws_lambda_powertools import Logger, Tracer
from aws_lambda_powertools.logging.utils import copy_config_to_registered_loggers
from aws_lambda_powertools.utilities.data_classes.s3_event import S3EventRecord

from creditrefunds.adapters.config import Config
from creditrefunds.adapters.services import Services, lazy_services
from creditrefunds.domain import fastpass
from creditrefunds.domain.ledger import Dropped


def lambda_runtime(kind: type[Config]) -> tuple[Logger, Tracer, Callable[[], Services[Config]]]:
    """For a handler module: `logger, tracer, services = lambda_runtime(TheFunctionsConfig)`."""
    logger = Logger()
    # The use-cases log with the standard library under `creditrefunds`: the same JSON, level, handler.
    copy_config_to_registered_loggers(source_logger=logger, include={"creditrefunds"})
    return logger, Tracer(), lazy_services(kind)


DOCTOR_PING = {"refunds_doctor": "ping"}
Handler = TypeVar("Handler", bound=Callable[..., Any])


def answers_doctor(handler: Handler) -> Handler:
    """`refunds doctor` invokes every function with DOCTOR_PING: the answer shows the function's code and
    layer imported and run, on which processor and Python, whether the layer has the compiled detection pass
    for them (else why not), and touches nothing (no AWS call, no data)."""

    @wraps(handler)
    def answer(event: Any, context: Any) -> Any:
        if event == DOCTOR_PING:
            return {"doctor": "ok", "function": context.function_name, "machine": platform.machine(),
                    "python": sys.version.split()[0], "compiled_pass": fastpass.UNAVAILABLE or "in the layer"}
        return handler(event, context)

    return answer  # type: ignore[return-value]


def dropped(record: S3EventRecord) -> Dropped:
    """The file an S3 notification names; its eTag and sequencer tell one upload from another."""
    s3_object = record.s3.get_object
    return Dropped(key=unquote_plus(s3_object.key), etag=s3_object.etag, sequencer=str(s3_object.get("sequencer", "")),
                   event_time=datetime.fromisoformat(record.event_time.replace("Z", "+00:00")))
