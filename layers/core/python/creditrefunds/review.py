"""Review and re-check a case against the current stored ledger (DOMAIN.md section 6).

Pure: the case as stored, the account's current summary and transactions, today, the
settings; out comes the route the workflow takes and the refreshed case.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from creditrefunds.cases import Case
from creditrefunds.detection import AccountSummary, DebitPool, build_case
from creditrefunds.ledger import Transaction
from creditrefunds.settings import Settings

APPROVAL = "APPROVAL"
WORK_ITEM = "WORK_ITEM"
RESOLVED = "RESOLVED_NO_REFUND"
ISSUE = "ISSUE"

STATUS_FOR_ROUTE = {APPROVAL: "AWAITING_APPROVAL", WORK_ITEM: "WORK_ITEM", RESOLVED: RESOLVED, ISSUE: "APPROVED"}


class CaseNotFound(Exception):
    """The workflow names a case that is not stored."""


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
        return Review(ISSUE if f"{case.credit:f}" == approved_credit else APPROVAL, case)
    return Review(APPROVAL, case)


def approval_wait_seconds(
    case: Case, today: date, tier_wait: int, seconds_per_day: int, lead_seconds: int
) -> int:
    """The approval's timeout: the tier's wait, or less when the due date is near (at least 1 s)."""
    due = case.due_date
    if due is None:
        return max(1, tier_wait)
    until_lead = (due - today).days * seconds_per_day - lead_seconds
    return max(1, min(tier_wait, until_lead))
