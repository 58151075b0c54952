"""Unclaimed property: on a schedule (EventBridge), the steps that came due for the refunds whose checks went
astray (stale, the due-diligence letter, reportable, remitted to the state) are written as history records,
and the compliance officer told of letters and reports falling due (DOMAIN.md section 9). Today is the
clock's: `refunds escheat advance --as-of` runs the same use-case for another day, under an operator's name."""

from __future__ import annotations

from datetime import UTC, datetime
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
    """A scheduled event, or `{}` from a person: nothing in it decides anything (not even the day)."""

    source: str = "by hand"


@answers_doctor
@logger.inject_lambda_context(log_event=True)  # a schedule's event: no data
@tracer.capture_lambda_handler(capture_response=False)
@metrics.log_metrics
@retryable
@event_parser(model=Event)
def lambda_handler(task: Event, context: LambdaContext) -> dict[str, Any]:
    ports, now = services(), datetime.now(UTC)
    done = advance(ports, now.date(), now, ports.config.compliance_officer_email)
    metrics.add_metric(name="EscheatStepsWritten", unit=MetricUnit.Count, value=len(done.written))
    metrics.add_metric(name="DueDiligenceLetters", unit=MetricUnit.Count, value=len(done.letters))
    return done.to_json()
