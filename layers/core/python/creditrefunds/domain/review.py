"""Review and re-check a case against the current stored ledger (DOMAIN.md section 6).

Pure: the case as stored, the account's current summary and transactions, today, the
settings; out comes the route the workflow takes and the refreshed case.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date, timedelta
from enum import StrEnum

from creditrefunds.domain.approval_policy import covered
from creditrefunds.domain.approvals import Approval, case_digest
from creditrefunds.domain.cases import Case
from creditrefunds.domain.detection import AccountSummary, DebitPool, build_case
from creditrefunds.domain.ledger import Transaction
from creditrefunds.domain.remittance import Evidence
from creditrefunds.domain.settings import Settings
from creditrefunds.domain.status import Status


class Route(StrEnum):
    """Where the workflow goes after a review (the state machine's Choice states name these)."""

    APPROVAL = "APPROVAL"
    WORK_ITEM = "WORK_ITEM"
    RESOLVED = "RESOLVED_NO_REFUND"
    ISSUE = "ISSUE"
    INVESTIGATE = "INVESTIGATE"


STATUS_FOR_ROUTE = {Route.APPROVAL: Status.AWAITING_APPROVAL, Route.WORK_ITEM: Status.WORK_ITEM,
                    Route.RESOLVED: Status.RESOLVED_NO_REFUND, Route.ISSUE: Status.APPROVED,
                    Route.INVESTIGATE: Status.INVESTIGATING}
WORK_ITEM_INSTRUCTION = ("no refund to make: post the CORRECT lines, review the REVIEW lines, keep HOLD lines on the "
                         "books until they can be refunded")


@dataclass(frozen=True)
class Review:
    route: Route
    case: Case | None
    note: str | None = None  # what the history says, where the route alone does not say it

    @property
    def status(self) -> Status:
        return STATUS_FOR_ROUTE[self.route]

    def why(self, stored: Case) -> str:
        """The history record's reason: what the review found, against the case as it was stored."""
        now = self.case
        if now is None:
            return f"the credit of {stored.credit:f} is gone from the ledger"
        changed = (f"; the credit changed from {stored.credit:f} to {now.credit:f}"
                   if now.credit != stored.credit else "")
        if self.note:
            return self.note + changed
        return {
            Route.APPROVAL: f"refund lines of {now.refund_total:f} need tier {now.tier} approval",
            Route.WORK_ITEM: "no refund to make: the lines are for billing staff (correct, review or hold)",
            Route.ISSUE: "approved amount still matches the ledger: refund may be issued",
        }.get(self.route, str(self.route)) + changed


def review_case(
    stored: Case,
    summary: AccountSummary,
    transactions: list[Transaction],
    settings: Settings,
    pool: DebitPool | None = None,
    paused_days: int = 0,
    evidence: Evidence | None = None,
) -> Review:
    """Where the case goes now: resolved, a work item, or approval; the case re-detected from the
    ledger, its Medicare/Medicaid due dates moved by any investigation's pause."""
    if not summary.has_credit:
        return Review(Route.RESOLVED, None)
    case = pause_clock(build_case(summary, transactions, stored.identified_on, settings, pool,
                                  stored.case_id, evidence), paused_days)
    if case.refund_total <= 0:
        return Review(Route.WORK_ITEM, case)
    return Review(Route.APPROVAL, case)


def after_approval(review: Review, approved: Approval, approvals: list[Approval], settings: Settings) -> Review:
    """An approver approved `approved`: money may move only when approvals cover the lines as the ledger
    has them now; otherwise approval is asked again (lines changed, or a second approver needed)."""
    if review.route is not Route.APPROVAL or review.case is None:
        return review
    case = review.case
    digest = case_digest(case)
    if covered(approvals, digest, case.tier, settings.dual_control_tier):
        return Review(Route.ISSUE, case, "approvals cover the lines as the ledger has them now: the refund may be "
                                         "issued")
    if approved.digest != digest:
        return Review(Route.APPROVAL, case, "the lines changed after they were approved: approval is asked again "
                                            f"at tier {case.tier}")
    return Review(Route.APPROVAL, case, f"approved once; tier {case.tier} needs a second approver (dual control)")


@dataclass(frozen=True)
class Timing:
    """The waits of the approval (the template's parameters): each tier's, the escalation lead
    before a due date, and the length of a day in seconds (shortened on the local cloud)."""

    tier_waits: dict[int, int]
    escalation_lead_seconds: int
    seconds_per_day: int

    def approval_wait(self, case: Case, tier: int, today: date) -> int:
        """How long the approval of `case` at `tier` waits before it escalates."""
        wait = self.tier_waits.get(tier, 1) if tier else 1
        return approval_wait_seconds(case, today, wait, self.seconds_per_day, self.escalation_lead_seconds)

    def near_due(self, due: date, today: date) -> bool:
        """The due date is within the escalation lead: the compliance officer must hear of it."""
        return (due - today).days * self.seconds_per_day <= self.escalation_lead_seconds


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
