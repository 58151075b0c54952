"""Who a line pays, as people are shown it, and a payee that changed since an earlier approval saw the case."""

from __future__ import annotations

from collections.abc import Iterable

from creditrefunds.domain.cases import Line
from creditrefunds.domain.money import money_text

MONEY_LINES = ("REFUND", "OFFSET")


def payee_text(payee_type: str | None, payee_id: str | None) -> str:
    """Who a line pays, as mails, pages and reports name it: the guarantor for a patient refund, else the payer."""
    if payee_type == "PATIENT":
        return f"guarantor {payee_id or '-'}"
    return f"{payee_type or '-'} {payee_id or '-'}"


def payee_of(line: Line) -> str:
    """A money line's payee, and for an offset the account it pays into."""
    into = f" into account {line.target_account_id}" if line.target_account_id else ""
    return payee_text(line.payee_type, line.payee_id) + into


def payee_changes(earlier: Iterable[Iterable[Line]], lines: Iterable[Line]) -> list[str]:
    """Each money line that pays someone the case's first approval did not show (`earlier`: the lines each earlier
    link showed, oldest first): what every approver asked after it is told first, whatever moved the line (its
    payee, its payee's type, a refund that was an offset, another account to pay into)."""
    first = next((shown for shown in map(list, earlier) if any(li.action in MONEY_LINES for li in shown)), None)
    if first is None:
        return []
    before = sorted({payee_of(li) for li in first if li.action in MONEY_LINES})
    return [f"{li.action} {li.reason} {money_text(li.amount)} now pays {payee_of(li)}; an earlier approval of this "
            f"case saw {', '.join(before)}" for li in lines if li.action in MONEY_LINES and payee_of(li) not in before]
