"""Remit: an X12 835 dropped in incoming/ (handed on by the ingest function) is read with pyx12, kept as
evidence, and the cases of the accounts it names re-checked (DOMAIN.md section 8)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from aws_lambda_powertools import Metrics
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.data_classes import S3Event, event_source
from aws_lambda_powertools.utilities.typing import LambdaContext
from creditrefunds.adapters.config import RemitConfig
from creditrefunds.adapters.runtime import answers_doctor, dropped, lambda_runtime
from creditrefunds.adapters.x835 import read_835
from creditrefunds.domain.ledger import LedgerGone, LedgerReplaced
from creditrefunds.usecases.remittance import receive

logger, tracer, services = lambda_runtime(RemitConfig)
metrics = Metrics()


@answers_doctor
@logger.inject_lambda_context(log_event=False)  # an 835 names patients: its content never reaches the logs
@tracer.capture_lambda_handler(capture_response=False)
@metrics.log_metrics
@event_source(data_class=S3Event)
def lambda_handler(event: S3Event, context: LambdaContext) -> dict[str, Any]:
    ports, now = services(), datetime.now(UTC)
    config = ports.config
    alert_to = (config.operators_email, config.compliance_officer_email)

    def count(name: str, value: int) -> None:
        metrics.add_metric(name=name, unit=MetricUnit.Count, value=value)

    done = []
    for record in event.records:
        file = dropped(record)
        try:
            with ports.bucket.open(file.key, file.etag) as stream:
                data = stream.read()
        except (LedgerGone, LedgerReplaced) as why:  # read and kept already, or uploaded again (its own event)
            logger.info("remittance not read", extra={"key": file.key, "why": type(why).__name__})
            done.append({"key": file.key, "skipped": type(why).__name__})
            continue
        name = ports.bucket.incoming_name(file.key) or file.key
        done.append(receive(ports, read_835(data, name), file, alert_to, now, count))
    return {"files": done}
