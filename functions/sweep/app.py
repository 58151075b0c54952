"""Sweep: on a schedule, look at the cases the to-check index holds (those whose history moved, and those
whose workflow waits), find cases no workflow is moving and instructions no history record tells
of; repair them (start the missing workflow, write the missing record) or record them FAILED for
operators. Each repair is in the case's history."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from aws_lambda_powertools import Metrics
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.parser import BaseModel, event_parser
from aws_lambda_powertools.utilities.typing import LambdaContext
from creditrefunds.adapters.config import SweepConfig
from creditrefunds.adapters.runtime import answers_doctor, lambda_runtime
from creditrefunds.adapters.transient import retryable
from creditrefunds.usecases.operations import sweep

logger, tracer, services = lambda_runtime(SweepConfig)
metrics = Metrics()


class Event(BaseModel):
    """A schedule's event: the every-few-minutes one (nothing in it is used), or the daily one's constant
    input `{"whole": true}` (every working or issued case, not only those the index holds)."""

    whole: bool = False


@answers_doctor
@logger.inject_lambda_context(log_event=True)  # a schedule's event: no data
@tracer.capture_lambda_handler(capture_response=False)
@metrics.log_metrics
@retryable  # throttles and service errors: the schedule's next run sweeps again
@event_parser(model=Event)
def lambda_handler(task: Event, context: LambdaContext) -> dict[str, Any]:
    ports = services()
    config = ports.config
    swept = sweep(ports, config.operators_email, datetime.now(UTC), timedelta(seconds=config.sweep_grace_seconds),
                  timedelta(seconds=config.sweep_recheck_seconds), whole=task.whole)
    metrics.add_metric(name="Swept", unit=MetricUnit.Count, value=1)  # the SweepStopped alarm's count
    metrics.add_metric(name="CasesLookedAt", unit=MetricUnit.Count, value=swept["looked"])
    metrics.add_metric(name="StuckFound", unit=MetricUnit.Count, value=len(swept["stuck"]))
    return swept
