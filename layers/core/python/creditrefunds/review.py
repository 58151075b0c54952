"""Review and re-check a case against the current stored ledger (DOMAIN.md section 6).

Pure: the case as stored, the account's current summary and transactions, today, the
settings; out comes the route the workflow takes and the refreshed case.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date, timedelta

from creditrefunds.cases import Case
from creditrefunds.detection import AccountSummary, DebitPool, build_case
from creditrefunds.ledger import Transaction
from creditrefunds.money import money_text
from creditrefunds.settings import Settings

APPROVAL = "APPROVAL"
WORK_ITEM = "WORK_ITEM"
RESOLVED = "RESOLVED_NO_REFUND"
ISSUE = "ISSUE"

STATUS_FOR_ROUTE = {APPROVAL: "AWAITING_APPROVAL", WORK_ITEM: "WORK_ITEM", RESOLVED: RESOLVED, ISSUE: "APPROVED"}


@dataclass(frozen=True)
class Review:
    route: str
    case: Case | None


def review_case(
    stored: Case,
    summary: AccountSummary,
    transactions: list[Transaction],
    settings: Settings,
    pool: DebitPool | None = None,
    approved_credit: str | None = None,
) -> Review:
    """Where the case goes now: resolved, a work item, approval, or (after approval) issue."""
    if not summary.has_credit:
        return Review(RESOLVED, None)
    case = build_case(summary, transactions, stored.identified_on, settings, pool)
    if case.refund_total <= 0:
        return Review(WORK_ITEM, case)
    if approved_credit is not None:
        # Approved for an amount: the same credit may be issued, a changed one is approved again.
        return Review(ISSUE if money_text(case.credit) == approved_credit else APPROVAL, case)
    return Review(APPROVAL, case)


def approval_wait_seconds(
    case: Case, today: date, tier_wait: int, seconds_per_day: int, lead_seconds: int
) -> int:
    """The approval's timeout: the tier's wait, or less when the escalation lead or the due date
    comes first (so that the compliance officer is told in time, and an overdue case is flagged)."""
    due = case.due_date
    if due is None:
        return max(1, tier_wait)
    until_due = (due - today).days * seconds_per_day
    until_lead = until_due - lead_seconds
    sooner = until_lead if until_lead > 0 else until_due
    return max(1, min(tier_wait, sooner) if sooner > 0 else tier_wait)


def pause_clock(case: Case, paused_days: int) -> Case:
    """An investigation paused the Medicare/Medicaid clock: their refund lines are due that much later."""
    if paused_days <= 0:
        return case
    case.lines = [
        replace(line, due_date=line.due_date + timedelta(days=paused_days))
        if line.payee_type in ("MEDICARE", "MEDICAID") and line.due_date is not None else line
        for line in case.lines
    ]
    return case
