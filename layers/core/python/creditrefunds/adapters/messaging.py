"""What leaves through AWS for people and other systems: mail (SES) and events (EventBridge)."""

from __future__ import annotations

import json
from datetime import datetime
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from typing import Any

from creditrefunds.domain.mail import Mail


class Mailer:
    """One message per mail, plain text and HTML, through SES from the stack's sender address."""

    def __init__(self, ses: Any, sender: str) -> None:
        self._ses = ses
        self._sender = sender

    def send(self, mail: Mail, now: datetime) -> str:
        """Send `mail`; returns its Message-ID header."""
        message = EmailMessage()
        message["From"] = self._sender
        message["To"] = ", ".join(mail.to)
        message["Subject"] = mail.subject
        message["Date"] = format_datetime(now)
        message["Message-ID"] = make_msgid(domain=self._sender.rsplit("@", 1)[-1])
        message.set_content(mail.text)
        message.add_alternative(mail.html, subtype="html")
        self._ses.send_raw_email(Source=self._sender, Destinations=list(mail.to),
                                 RawMessage={"Data": message.as_bytes()})
        return str(message["Message-ID"])


class QueuedMailer:
    """Mail left on the mail queue (under the data key) for the mail sender, which sends it at the account's
    SES sending rate: a burst of approvals waits its turn there instead of being throttled."""

    def __init__(self, sqs: Any, queue_url: str) -> None:
        self._sqs = sqs
        self._queue_url = queue_url

    def send(self, mail: Mail, now: datetime) -> str:
        """Queue `mail`; returns the queue's message id."""
        answer = self._sqs.send_message(QueueUrl=self._queue_url, MessageBody=json.dumps(mail.to_json()))
        return str(answer["MessageId"])


class MailQueueBack:
    """A mail the sender did not send comes back sooner than the queue's visibility timeout: after 2, 4, 8...
    seconds (at most 5 minutes) by how often it has been received."""

    def __init__(self, sqs: Any, queue_url: str) -> None:
        self._sqs = sqs
        self._queue_url = queue_url

    def later(self, receipt_handle: str, received: int) -> None:
        self._sqs.change_message_visibility(QueueUrl=self._queue_url, ReceiptHandle=receipt_handle,
                                           VisibilityTimeout=min(2 ** max(received, 1), 300))


class SendingRate:
    """The account's SES sending rate (mails a second), read at run time and again each minute: raised by AWS
    out of the sandbox, never a setting of ours."""

    def __init__(self, ses: Any, clock: Any) -> None:
        self._ses, self._clock = ses, clock
        self._rate, self._read_at = 1.0, float("-inf")

    def __call__(self) -> float:
        if self._clock() - self._read_at >= 60:
            self._rate = max(float(self._ses.get_send_quota()["MaxSendRate"]), 1.0)  # SES's least: a batch in 10 s
            self._read_at = self._clock()
        return self._rate


class EventBus:
    """Events on the default bus, for whoever subscribes (accounts payable, dashboards)."""

    def __init__(self, events: Any, source: str) -> None:
        self._events = events
        self._source = source

    def publish(self, detail_type: str, detail: dict[str, Any]) -> None:
        answer = self._events.put_events(Entries=[{"Source": self._source, "DetailType": detail_type,
                                                   "Detail": json.dumps(detail), "EventBusName": "default"}])
        if answer.get("FailedEntryCount"):
            raise RuntimeError(f"EventBridge refused the {detail_type} event: {answer['Entries']}")
