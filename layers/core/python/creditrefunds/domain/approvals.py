"""Approval by email (DOMAIN.md section 6): single-use, expiring links, and what a decision may be.

The mail carries only a random approval id; the task token stays in the approvals table. A
link is PENDING until a POST decides (USED), an escalation replaces it (SUPERSEDED), or it
expires. GET never changes it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from creditrefunds.domain.cases import Case
from creditrefunds.domain.status import Status

INVESTIGABLE = ("MEDICARE", "MEDICAID")
KEEP_AFTER_EXPIRY = 30 * 86400  # the used or expired link stays readable a month, then TTL purges it
# Whoever the history shows preparing or reviewing a case may not approve it (segregation of duties).
PREPARER_ACTIONS = ("PREPARED", "REVIEWED", "RECHECKED", "NOTED")


class LinkState(StrEnum):
    PENDING = "PENDING"
    USED = "USED"
    SUPERSEDED = "SUPERSEDED"


class Outcome(StrEnum):
    """What an approver decided; the state machine's Decision state names these."""

    APPROVED = "APPROVED"
    REJECTED = "REJECTED"
    INVESTIGATE = "INVESTIGATE"

    @property
    def status_after(self) -> Status:
        return {Outcome.APPROVED: Status.APPROVED, Outcome.REJECTED: Status.WORK_ITEM,
                Outcome.INVESTIGATE: Status.INVESTIGATING}[self]

    @property
    def done(self) -> str:
        """What the approver is told once the decision is recorded."""
        return {Outcome.APPROVED: "Approved: the refund is re-checked against the ledger and then issued.",
                Outcome.REJECTED: "Rejected: the case goes to billing staff as a work item with your reason.",
                Outcome.INVESTIGATE: "Investigation opened: the approval pauses, then resumes."}[self]


BUTTONS = {"approve": Outcome.APPROVED, "reject": Outcome.REJECTED, "investigate": Outcome.INVESTIGATE}


class LinkRefused(Exception):
    """The link cannot decide; each kind says why on the page (`status`, `title`, `message`). A new
    one is raised each time: a shared instance would keep every traceback it was raised through."""

    status, title, message = 410, "", ""

    def __init__(self) -> None:
        super().__init__(self.message)


class UnknownLink(LinkRefused):
    status, title, message = 404, "Approval link not found", "This approval link is unknown. Nothing was decided."


class UsedLink(LinkRefused):
    title = "Approval link already used"
    message = "This link has already been used to decide. Each link decides once."


class SupersededLink(LinkRefused):
    title = "Approval moved on"
    message = "This approval waited too long and was escalated to another approver. Nothing was decided by this link."


class ExpiredLink(LinkRefused):
    title, message = "Approval link expired", "This approval link has expired. Nothing was decided."


class CaseGone(LinkRefused):
    status, title, message = 404, "Case not found", "The case of this link is no longer stored."


class LinkTaken(LinkRefused):
    status, title = 409, "Approval link already used"
    message = "This link was used a moment ago. Each link decides once."


class TaskGone(LinkRefused):
    title = "Approval no longer waiting"
    message = ("This approval waited too long and moved on to another approver before your decision arrived. "
               "Nothing was decided by this link.")


class NotThisApprover(LinkRefused):
    status, title = 403, "Another approver must decide"
    message = ("You prepared or reviewed this case, so you cannot approve it (segregation of duties). Nothing was "
               "decided; the case escalates to the next approver when its wait runs out.")


@dataclass(frozen=True)
class Approval:
    approval_id: str
    case_id: str
    tier: int
    approver: str
    credit: str
    expires_at: int
    state: LinkState

    @classmethod
    def from_item(cls, item: dict[str, Any]) -> Approval:
        return cls(item["approval_id"], item["case_id"], int(item["tier"]), item["approver"], item["credit"],
                   int(item["expires_at"]), LinkState(item["state"]))


def usable(approval: Approval | None, now: datetime) -> Approval:
    """The approval behind a link, or LinkRefused saying why it cannot decide."""
    if approval is None:
        raise UnknownLink()
    if approval.state is LinkState.USED:
        raise UsedLink()
    if approval.state is LinkState.SUPERSEDED:
        raise SupersededLink()
    if approval.expires_at <= int(now.timestamp()):
        raise ExpiredLink()
    return approval


def mask_name(name: str | None) -> str:
    """'Rivera, Ana' -> 'R*****, A**': enough for an approver to recognise, not to identify."""
    if not name:
        return "(no name on the ledger)"
    masked = []
    for word in name.split():
        core, comma = (word[:-1], ",") if word.endswith(",") else (word, "")
        masked.append(core[:1] + "*" * (len(core) - 1) + comma)
    return " ".join(masked)


def approver_for(tier: int, directory: dict[int, str]) -> str:
    """The directory: one approver per tier."""
    address = directory.get(tier)
    if not address:
        raise KeyError(f"no approver for tier {tier}: set ApproverTier{tier}Email")
    return address


def can_investigate(case: Case) -> bool:
    return any(line.payee_type in INVESTIGABLE for line in case.lines if line.action == "REFUND")


@dataclass(frozen=True)
class Decision:
    outcome: Outcome
    reason: str


def read_decision(form: dict[str, str], case: Case) -> Decision:
    """The approver's choice from the page's form, or ValueError with what to fix (shown on the page)."""
    outcome = BUTTONS.get(form.get("decision", "").strip())
    reason = form.get("reason", "").strip()[:1000]
    if outcome is None:
        raise ValueError("Choose Approve, Reject or Investigate.")
    if outcome is Outcome.REJECTED and not reason:
        raise ValueError("A rejection needs a reason: say why, then press Reject again.")
    if outcome is Outcome.INVESTIGATE and not can_investigate(case):
        raise ValueError("Only Medicare and Medicaid refunds can be investigated.")
    return Decision(outcome, reason)


def may_decide(approver: str, records: Iterable[dict[str, Any]]) -> bool:
    """Segregation of duties: no one the history shows preparing or reviewing the case decides it."""
    return approver not in {r["actor"] for r in records if r["action"] in PREPARER_ACTIONS}


def paused_days(pause_seconds: int, seconds_per_day: int, already: int, most: int) -> int:
    """The Medicare/Medicaid clock's pause after one more investigation, capped at `most` days."""
    return min(pause_seconds // seconds_per_day + already, most)
