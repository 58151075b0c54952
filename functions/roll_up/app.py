"""Roll up trends: on a schedule (EventBridge), the cases whose history moved since the last run are counted
into the monthly counters of the trends table (DOMAIN §11), each identification and close once, so that
`refunds report trends` and the console's trends page read them without a scan."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from aws_lambda_powertools import Metrics
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.parser import BaseModel, event_parser
from aws_lambda_powertools.utilities.typing import LambdaContext
from creditrefunds.adapters.config import BaseConfig
from creditrefunds.adapters.runtime import answers_doctor, lambda_runtime
from creditrefunds.adapters.transient import is_transient, retryable
from creditrefunds.usecases.trends import roll_up

logger, tracer, services = lambda_runtime(BaseConfig)
metrics = Metrics()


class Event(BaseModel):
    """A scheduled event, or `{}` from a person: nothing in it decides anything."""

    source: str = "by hand"


@answers_doctor
@logger.inject_lambda_context(log_event=True)  # a schedule's event: no data
@tracer.capture_lambda_handler(capture_response=False)
@metrics.log_metrics
@retryable
@event_parser(model=Event)
def lambda_handler(task: Event, context: LambdaContext) -> dict[str, Any]:
    rolled = roll_up(services(), datetime.now(UTC), lambda: context.get_remaining_time_in_millis() / 1000,
                     is_transient)
    metrics.add_metric(name="TrendsCounted", unit=MetricUnit.Count, value=rolled["counted"])
    metrics.add_metric(name="TrendsRefused", unit=MetricUnit.Count, value=len(rolled["refused"]))
    return rolled
