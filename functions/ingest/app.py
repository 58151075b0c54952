"""Ingest: a ledger file dropped in incoming/ is validated and stored, and its credits detected;
a large one is split and handed to the fan-out (statemachine/ledger_fanout.asl.json)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from aws_lambda_powertools import Metrics
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.data_classes import S3Event, event_source
from aws_lambda_powertools.utilities.typing import LambdaContext
from creditrefunds.adapters.config import IngestConfig
from creditrefunds.adapters.runtime import answers_doctor, dropped, lambda_runtime
from creditrefunds.usecases.ingest import ingest_file

logger, tracer, services = lambda_runtime(IngestConfig)
metrics = Metrics()


@answers_doctor
@logger.inject_lambda_context(log_event=False)  # events name files; rows never reach the logs
@tracer.capture_lambda_handler(capture_response=False)
@metrics.log_metrics
@event_source(data_class=S3Event)
def lambda_handler(event: S3Event, context: LambdaContext) -> dict[str, Any]:
    ports, now = services(), datetime.now(UTC)
    config = ports.config

    def count(name: str, value: int) -> None:
        metrics.add_metric(name=name, unit=MetricUnit.Count, value=value)

    return {"files": [ingest_file(ports, dropped(record), config.split_threshold_bytes, config.rows_per_part, now,
                                  count, config.operators_email) for record in event.records]}
