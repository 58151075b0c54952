"""The approval pages' HTML: the case with its lines and the decision form, and plain answers."""

from __future__ import annotations

import base64
import binascii
import html
from dataclasses import dataclass
from urllib.parse import parse_qs

from creditrefunds.domain.cases import Case
from creditrefunds.domain.money import money_text

_STYLE = ("body{font-family:system-ui,sans-serif;max-width:52rem;margin:2rem auto;padding:0 1rem}"
          "table{border-collapse:collapse}td,th{border:1px solid #999;padding:.3rem .6rem;text-align:left}"
          ".amount{text-align:right}.error{color:#a00;font-weight:bold}button{margin-right:.6rem;padding:.4rem 1rem}")


CONTENT_TYPE = "text/html; charset=utf-8"
# No caching, no framing (clickjacking), and no Referer carrying the approval id off the page.
HEADERS = {"cache-control": "no-store", "x-frame-options": "DENY",
           "content-security-policy": "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; "
                                      "frame-ancestors 'none'",
           "referrer-policy": "no-referrer", "x-content-type-options": "nosniff"}


def _document(title: str, body: str) -> str:
    return (f"<!doctype html><html lang='en'><head><meta charset='utf-8'><title>{html.escape(title)}</title>"
            f"<meta name='robots' content='noindex'><style>{_STYLE}</style></head>"
            f"<body><main><h1>{html.escape(title)}</h1>{body}</main></body></html>")


@dataclass(frozen=True)
class Page:
    """An HTML page and its HTTP status; served with HEADERS."""

    status: int
    html: str


def answer(status: int, title: str, message: str) -> Page:
    return Page(status, _document(title, f"<p id='message'>{html.escape(message)}</p>"))


def case_page(case: Case, masked_name: str, tier: int, investigable: bool, error: str = "",
              status: int = 200) -> Page:
    rows = "".join(
        f"<tr><td>{html.escape(line.action)}</td><td>{html.escape(line.reason)}</td>"
        f"<td>{html.escape(line.payee_type or '-')}</td><td>{html.escape(line.payee_id or '-')}</td>"
        f"<td class='amount'>{money_text(line.amount)}</td>"
        f"<td>{line.due_date.isoformat() if line.due_date else '-'}</td></tr>"
        for line in case.lines
    )
    due = case.due_date.isoformat() if case.due_date else "none"
    investigate = ("<button type='submit' name='decision' value='investigate' id='investigate'>Investigate</button>"
                   if investigable else "")
    body = (
        (f"<p class='error' id='error'>{html.escape(error)}</p>" if error else "")
        + f"<dl><dt>Case</dt><dd id='case-id'>{html.escape(case.case_id)}</dd><dt>Account</dt><dd id='account'>"
        f"{html.escape(case.account_id)}</dd><dt>Patient</dt><dd>{html.escape(masked_name)}</dd>"
        f"<dt>Credit</dt><dd id='credit'>{money_text(case.credit)}</dd><dt>Refund total</dt>"
        f"<dd id='refund'>{money_text(case.refund_total)}</dd><dt>Due date</dt><dd>{due}</dd>"
        f"<dt>Approval tier</dt><dd>{tier}</dd></dl>"
        "<table id='lines'><tr><th>Action</th><th>Reason</th><th>Payee type</th><th>Payee</th><th>Amount</th>"
        f"<th>Due</th></tr>{rows}</table>"
        "<form method='post'><p><label for='reason'>Reason (required to reject)</label><br>"
        "<textarea id='reason' name='reason' rows='3' cols='60'></textarea></p>"
        "<button type='submit' name='decision' value='approve' id='approve'>Approve</button>"
        "<button type='submit' name='decision' value='reject' id='reject'>Reject</button>"
        f"{investigate}</form><p>Opening this page decides nothing; only a button does, once.</p>"
    )
    return Page(status, _document(f"Refund approval: account {case.account_id}", body))


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
