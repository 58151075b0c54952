"""Seal the history: on a schedule (EventBridge) and on `refunds audit seal`, every case's chain
head is signed with a key only this function may use, chained to the seal before, and kept in a
bucket under S3 Object Lock."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from aws_lambda_powertools import Metrics
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.parser import BaseModel, event_parser
from aws_lambda_powertools.utilities.typing import LambdaContext
from creditrefunds.adapters.config import SealConfig
from creditrefunds.adapters.runtime import answers_doctor, lambda_runtime
from creditrefunds.adapters.transient import retryable
from creditrefunds.usecases.seal import seal_history

logger, tracer, services = lambda_runtime(SealConfig)
metrics = Metrics()


class Event(BaseModel):
    """A scheduled event, or `{}` from `refunds audit seal`: nothing in it decides anything."""

    source: str = "refunds audit seal"


@answers_doctor
@logger.inject_lambda_context(log_event=True)  # a schedule's event: no data
@tracer.capture_lambda_handler(capture_response=False)
@metrics.log_metrics
@retryable  # throttles and service errors: TransientError, which the state machine retries
@event_parser(model=Event)
def lambda_handler(task: Event, context: LambdaContext) -> dict[str, Any]:
    sealed = seal_history(services(), datetime.now(UTC), services().config.operators_email)
    # A run that seals nothing counts too: the SealStopped alarm fires when none is counted.
    metrics.add_metric(name="HistorySealed", unit=MetricUnit.Count, value=1)
    metrics.add_metric(name="CasesSealed", unit=MetricUnit.Count, value=sealed["cases"])
    metrics.add_metric(name="ChainsRefused", unit=MetricUnit.Count, value=len(sealed["refused"]))
    if sealed.get("since_previous") is not None:
        metrics.add_metric(name="SealAge", unit=MetricUnit.Seconds, value=sealed["since_previous"])
    return sealed
