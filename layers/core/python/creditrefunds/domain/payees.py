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


def payee_changes(earlier: Iterable[Iterable[Line]], lines: Iterable[Line]) -> list[str]:
    """Each money line whose payee no earlier snapshot of the case showed for a line of its kind (action, reason,
    payee type), while one showed another payee (`earlier`: the lines of each): what an approver is told first."""
    seen: dict[tuple[str, str, str | None], set[str | None]] = {}
    for shown in earlier:
        for line in shown:
            if line.action in MONEY_LINES:
                seen.setdefault((line.action, line.reason, line.payee_type), set()).add(line.payee_id)
    changes = []
    for line in lines:
        before = seen.get((line.action, line.reason, line.payee_type), set())
        if line.action in MONEY_LINES and before and line.payee_id not in before:
            was = ", ".join(payee_text(line.payee_type, p) for p in sorted(before, key=str))
            changes.append(f"{line.action} {line.reason} {money_text(line.amount)} now pays "
                           f"{payee_text(line.payee_type, line.payee_id)}; an earlier approval of this case saw it "
                           f"pay {was}")
    return changes
