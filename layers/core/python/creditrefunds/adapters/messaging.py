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
