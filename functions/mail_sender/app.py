"""The mail sender: drains the mail queue at the account's SES sending rate (read at run time). As many run at
once as MAIL_SENDERS says (its reserved concurrency, and its queue mapping's maximum), each at its share of
the rate, so that together they keep the account's. A mail not sent stays on the queue (a partial batch
failure) and comes back soon."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime
from typing import Any

from aws_lambda_powertools import Metrics
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext
from creditrefunds.adapters.config import MailSenderConfig
from creditrefunds.adapters.runtime import answers_doctor, lambda_runtime
from creditrefunds.adapters.transient import is_transient
from creditrefunds.domain.mail import Mail
from creditrefunds.usecases.mail_queue import Pace, send_queued

logger, tracer, services = lambda_runtime(MailSenderConfig)
metrics = Metrics()
# For the container's life: this sender's share of the account's rate.
pace = Pace(lambda: services().sending_rate() / services().config.mail_senders, time.monotonic, time.sleep)


@answers_doctor
@logger.inject_lambda_context(log_event=False)  # queued mail holds approval links and masked names
@tracer.capture_lambda_handler(capture_response=False)
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    ports = services()
    queued, unreadable = [], []
    for record in event.get("Records", []):
        try:
            queued.append((record["messageId"], Mail.from_json(json.loads(record["body"]))))
        except (ValueError, KeyError, TypeError):  # left to go round to the dead-letter queue and its alarm
            unreadable.append(record["messageId"])
    unsent = unreadable + send_queued(ports.mailer, queued, pace, lambda: datetime.now(UTC), is_transient)
    received = {r["messageId"]: r for r in event.get("Records", [])}
    for message_id in unsent:  # back soon, not after the queue's whole visibility timeout
        record = received[message_id]
        ports.mail_queue.later(record["receiptHandle"],
                               int(record.get("attributes", {}).get("ApproximateReceiveCount", 1)))
    metrics.add_metric(name="MailSent", unit=MetricUnit.Count, value=len(queued) - len(unsent))
    metrics.add_metric(name="MailLeftQueued", unit=MetricUnit.Count, value=len(unsent))
    return {"batchItemFailures": [{"itemIdentifier": message_id} for message_id in unsent]}
