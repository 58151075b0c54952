"""What every handler module sets up once per container: its Logger and Tracer, the shared code's
log lines under the same Logger, and its Services (built on the first invocation)."""

from __future__ import annotations

from collections.abc import Callable

from aws_lambda_powertools import Logger, Tracer
from aws_lambda_powertools.logging.utils import copy_config_to_registered_loggers

from creditrefunds.adapters.config import Config
from creditrefunds.adapters.services import Services, lazy_services


def lambda_runtime(kind: type[Config]) -> tuple[Logger, Tracer, Callable[[], Services[Config]]]:
    """For a handler module: `logger, tracer, services = lambda_runtime(TheFunctionsConfig)`."""
    logger = Logger()
    # The use-cases log with the standard library under `creditrefunds`: the same JSON, level, handler.
    copy_config_to_registered_loggers(source_logger=logger, include={"creditrefunds"})
    return logger, Tracer(), lazy_services(kind)
