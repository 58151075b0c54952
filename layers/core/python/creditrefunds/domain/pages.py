"""The approval pages: the snapshot a link decides with its buttons, plain answers, the form read back."""

from __future__ import annotations

import base64
import binascii
from collections.abc import Iterable
from dataclasses import dataclass
from urllib.parse import parse_qs

from creditrefunds.domain.approvals import Snapshot, can_investigate
from creditrefunds.domain.cases import Line
from creditrefunds.domain.money import money_text
from creditrefunds.domain.payees import payee_text
from creditrefunds.domain.templates import render

CONTENT_TYPE = "text/html; charset=utf-8"
# No caching, no framing (clickjacking), and no Referer carrying the approval id off the page.
HEADERS = {"cache-control": "no-store", "x-frame-options": "DENY",
           "content-security-policy": "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; "
                                      "frame-ancestors 'none'",
           "referrer-policy": "no-referrer", "x-content-type-options": "nosniff"}


@dataclass(frozen=True)
class Page:
    """An HTML page and its HTTP status; served with HEADERS."""

    status: int
    html: str


def answer(status: int, title: str, message: str) -> Page:
    return Page(status, render("answer.html", title=title, message=message))


def line_rows(lines: Iterable[Line]) -> list[dict[str, str]]:
    """A case's lines as the pages and mails show them."""
    return [{"action": line.action, "reason": line.reason, "payee_type": line.payee_type or "",
             "payee_id": line.payee_id or "", "amount": money_text(line.amount),
             "payee": payee_text(line.payee_type, line.payee_id) if line.payee_type else "",
             "due_date": line.due_date.isoformat() if line.due_date else ""} for line in lines]


def case_page(snapshot: Snapshot, tier: int, error: str = "", status: int = 200) -> Page:
    """The page behind a link: the snapshot the approval decides, and its buttons."""
    due = snapshot.due_date.isoformat() if snapshot.due_date else "none"
    return Page(status, render(
        "case.html", title=f"Refund approval: account {snapshot.account_id}", error=error,
        case_id=snapshot.case_id, account=snapshot.account_id, patient=snapshot.masked_name,
        credit=money_text(snapshot.credit), refund=money_text(snapshot.refund_total), due=due, tier=tier,
        lines=line_rows(snapshot.lines), investigable=can_investigate(snapshot.lines),
        payee_changes=list(snapshot.payee_changes)))


def form_fields(body: str | None, base64_encoded: bool) -> dict[str, str]:
    """The fields a page's form posted (the first of each name). Bytes that are not UTF-8, or a body
    that is not base64 when it says so, give what can be read: the decision then says what is missing."""
    text = body or ""
    if base64_encoded:
        try:
            text = base64.b64decode(text, validate=True).decode("utf-8", "replace")
        except (binascii.Error, ValueError):
            text = ""
    return {name: values[0] for name, values in parse_qs(text).items()}


def sign_in_page(after: str, pre: str, error: str = "", username: str = "", session: str = "", status: int = 200,
                 provider: str = "", secret: str = "") -> Page:
    """The console's sign-in: through the hospital's provider (`provider`), or user name and password, then
    (`session` from the pool) the authenticator's code. `pre`: the form token of the sign-in itself (the same
    value in a cookie only this site sets, so another site cannot sign a browser in as someone else)."""
    title = ("Set up your authenticator app" if secret else "Enter your code" if session
             else "Sign in to the credit refunds console")
    return Page(status, render("signin.html", title=title, next=after, pre=pre, error=error, username=username,
                               session=session, provider=provider, secret=secret))


def console_page(template: str, title: str, who: str, csrf: str, status: int = 200, error: str = "", done: str = "",
                 **values: object) -> Page:
    """A page of the console, with its navigation, the signed-in person and the session's form token."""
    return Page(status, render(template, title=title, who=who, csrf=csrf, error=error, done=done, **values))
