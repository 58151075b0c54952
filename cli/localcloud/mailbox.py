"""The mail SES kept: moto stores what was sent; this reads it back for people and tests."""

from __future__ import annotations

import email
import email.policy
import re
import threading
import time
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any

from moto.ses.models import ses_backends

from localcloud.stack import ACCOUNT_ID

# The approval links the product mails (one per approval mail). A ledger value that reads as a URL (an id
# holding "http://...") is text in the mail, not one of its links.
_LINK = re.compile(r"https?://[^\s\"'<>]+/approve/[A-Za-z0-9_-]+")


DELIVERY_WAIT = 5.0  # seconds a listing waits for queued mail to be sent


@dataclass
class SentMail:
    """One message as an approver's mailbox would show it."""

    message_id: str
    sender: str
    to: list[str]
    subject: str
    sent_at: str
    text: str
    html: str
    links: list[str]

    def summary(self) -> dict[str, Any]:
        """The fields `refunds mail --json` promises."""
        return {"to": self.to, "subject": self.subject, "sent_at": self.sent_at, "links": self.links}

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


class Mailbox:
    """Everything sent through SES in this local cloud, oldest first."""

    def __init__(self, region: str) -> None:
        self._region = region
        self._first_seen: dict[str, str] = {}
        self._read_once: dict[str, SentMail] = {}  # a message is parsed once, however often it is listed
        self._lock = threading.Lock()
        self._queues: list[tuple[Any, str]] = []

    def delivers_from(self, sqs: Any, queue_url: str) -> None:
        """Mail waits on `queue_url` for the stack's mail sender: what is listed waits for it to be sent."""
        self._queues.append((sqs, queue_url))

    def _queued(self) -> int:
        names = ["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"]
        return sum(int(sqs.get_queue_attributes(QueueUrl=url, AttributeNames=names)["Attributes"][name])
                   for sqs, url in self._queues for name in names)

    def messages(self, wait: float = DELIVERY_WAIT) -> list[SentMail]:
        """Every mail SES has sent, once the mail queued by then has been (for at most `wait` seconds: a
        mail SES keeps refusing, or a rate a test set, may keep some there)."""
        deadline = time.monotonic() + wait
        while self._queues and self._queued() and time.monotonic() < deadline:
            time.sleep(0.2)
        backend = ses_backends[ACCOUNT_ID][self._region]
        mails = []
        for message in list(backend.sent_messages):
            mail = self._read_once.get(message.id)
            if mail is None:
                mail = self._read_once[message.id] = self._read(message)
            mails.append(mail)
        return mails

    def _seen_at(self, message_id: str) -> str:
        with self._lock:
            return self._first_seen.setdefault(message_id, datetime.now(UTC).isoformat(timespec="seconds"))

    def _read(self, message: Any) -> SentMail:
        if hasattr(message, "raw_data"):
            return self._read_raw(message)
        to = [address for addresses in message.destinations.values() for address in addresses]
        body = message.body or ""
        is_html = "<html" in body.lower() or "<a " in body.lower()
        return SentMail(
            message_id=message.id,
            sender=message.source,
            to=to,
            subject=message.subject,
            sent_at=self._seen_at(message.id),
            text="" if is_html else body,
            html=body if is_html else "",
            links=_links(body),
        )

    def _read_raw(self, message: Any) -> SentMail:
        parsed = email.message_from_string(message.raw_data, policy=email.policy.default)
        text = html = ""
        for part in parsed.walk():
            if part.get_content_type() == "text/plain" and not text:
                text = part.get_content()
            elif part.get_content_type() == "text/html" and not html:
                html = part.get_content()
        date = parsed.get("Date")
        sent_at = parsedate_to_datetime(date).isoformat() if date else self._seen_at(message.id)
        to = [address.strip() for address in str(parsed.get("To", "")).split(",") if address.strip()]
        return SentMail(
            message_id=message.id,
            sender=str(parsed.get("From", message.source)),
            to=to or list(message.destinations),
            subject=" ".join(str(parsed.get("Subject", "")).split()),  # unfolded
            sent_at=sent_at,
            text=text,
            html=html,
            links=_links(text or html),
        )


def _links(body: str) -> list[str]:
    seen: list[str] = []
    for link in _LINK.findall(body):
        link = link.rstrip(".,;)")
        if link not in seen:
            seen.append(link)
    return seen
