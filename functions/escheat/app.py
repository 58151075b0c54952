"""Unclaimed property: on a schedule (EventBridge), the steps that came due for the refunds whose checks went
astray (stale, the due-diligence letter, reportable, remitted to the state) are written as history records,
and the compliance officer told of letters and reports falling due (DOMAIN.md section 9). Today is the
clock's, or the day an operator's invocation names (`refunds escheat advance --as-of`)."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from aws_lambda_powertools import Metrics
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.parser import BaseModel, event_parser
from aws_lambda_powertools.utilities.typing import LambdaContext
from creditrefunds.adapters.config import FunctionConfig
from creditrefunds.adapters.runtime import answers_doctor, lambda_runtime
from creditrefunds.adapters.transient import retryable
from creditrefunds.usecases.escheat import advance

logger, tracer, services = lambda_runtime(FunctionConfig)
metrics = Metrics()


class Event(BaseModel):
    """A scheduled event (today), or a person's invocation naming the day (`refunds escheat advance --as-of`: a
    day the schedule missed, or a simulated timeline). The day only says which steps have come due; each is
    written once, with the day it was written as of."""

    source: str = "by hand"
    as_of: date | None = None


@answers_doctor
@logger.inject_lambda_context(log_event=True)  # a schedule's event: no data
@tracer.capture_lambda_handler(capture_response=False)
@metrics.log_metrics
@retryable
@event_parser(model=Event)
def lambda_handler(task: Event, context: LambdaContext) -> dict[str, Any]:
    ports, now = services(), datetime.now(UTC)
    done = advance(ports, task.as_of or now.date(), now, ports.config.compliance_officer_email)
    metrics.add_metric(name="EscheatStepsWritten", unit=MetricUnit.Count, value=len(done.written))
    metrics.add_metric(name="DueDiligenceLetters", unit=MetricUnit.Count, value=len(done.letters))
    return done.to_json()
