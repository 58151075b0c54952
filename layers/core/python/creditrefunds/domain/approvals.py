"""Approval by email (DOMAIN.md section 6): what a link shows and decides, and when it can decide.

An approval decides a snapshot: the case's exact lines, credit and refund as they stood when
the approval was asked, with their digest. The mail carries the only copy of a random link id;
the approvals table keeps its SHA-256 (the item's key) and the task token. A link is PENDING
until a POST decides (USED), an escalation or a change of the case replaces it (SUPERSEDED), or
it expires. GET never changes it.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any

from creditrefunds.domain.cases import Case, Line
from creditrefunds.domain.money import money, money_text
from creditrefunds.domain.payees import payee_changes
from creditrefunds.domain.status import Status

INVESTIGABLE = ("MEDICARE", "MEDICAID")
KEEP_AFTER_EXPIRY = 30 * 86400  # the used or expired link stays readable a month, then TTL purges it


def link_key(link_id: str) -> str:
    """What the approvals table keeps of a link id: its SHA-256. Reading it lets nobody decide."""
    return hashlib.sha256(link_id.encode()).hexdigest()


def token_context(link_id: str) -> dict[str, str]:
    """The KMS encryption context the link's task token is sealed under: from the link id, and unlike the
    table's key (`link_key`), so that reading the table gives nobody a context that opens a token."""
    return {"approval_link": hashlib.sha256(f"task-token:{link_id}".encode()).hexdigest()}


class LinkState(StrEnum):
    PENDING = "PENDING"
    DECIDING = "DECIDING"  # decided on the page and handed to the workflow; USED once the workflow takes it
    USED = "USED"
    SUPERSEDED = "SUPERSEDED"
    LATE = "LATE"  # used, but the case had moved on: it decided nothing


class Outcome(StrEnum):
    """What an approver decided, kept on the link they used."""

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
    title = "Approval no longer asked of this link"
    message = ("This approval no longer stands: it waited too long and was escalated to another approver, or the "
               "case changed (a ledger file or a remittance) and approval was asked again of the lines as they are "
               "now. Nothing was decided by this link.")


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


class Untrusted(LinkRefused):
    status, title = 409, "Approval cannot be decided"
    message = ("The records of this approval fail their integrity check (written past the workflow). Nothing was "
               "decided; the case stops for a person to look when its wait runs out.")


class SignInNeeded(LinkRefused):
    status, title = 401, "Sign in to decide"
    message = ("Approvals are decided by the person they were sent to, signed in. Sign in to the console, then "
               "open the link again. Nothing was decided.")


class FactorNeeded(LinkRefused):
    status, title = 401, "Sign in again with your authenticator code"
    message = ("A decision needs a sign-in with your authenticator app's code in the last few minutes. Sign in "
               "again, then decide. Nothing was decided.")


class NotThisApprover(LinkRefused):
    status, title = 403, "Another approver must decide"

    def __init__(self, why: str) -> None:
        self.message = (f"You cannot decide this case: {why}. Nothing was decided; the case goes to another "
                        "approver when its wait runs out.")
        super().__init__()


@dataclass(frozen=True)
class Snapshot:
    """What an approver is shown and decides: the case as it stood when the approval was asked."""

    case_id: str
    account_id: str
    credit: Decimal
    tier: int  # the tier its refund total needs
    lines: tuple[Line, ...]
    masked_name: str
    payee_changes: tuple[str, ...] = ()  # said first: a line's payee differs from what an earlier link showed

    @classmethod
    def of(cls, case: Case, tier: int, masked_name: str, earlier: Iterable[Snapshot] = ()) -> Snapshot:
        """The case as it stands; `tier` is the tier its refund total needs; `earlier`: what the case's earlier
        links showed (a payee none of them showed for a line of that kind is a change, said first)."""
        return cls(case.case_id, case.account_id, case.credit, tier, tuple(case.lines), masked_name,
                   tuple(payee_changes((s.lines for s in earlier), case.lines)))

    @property
    def as_case(self) -> Case:
        """The snapshot's figures as a case (its parties are not part of what is approved)."""
        return Case(self.case_id, self.account_id, "", "", self.credit, date.min, list(self.lines))

    @property
    def refund_total(self) -> Decimal:
        return self.as_case.refund_total

    @property
    def due_date(self) -> date | None:
        return self.as_case.due_date

    @property
    def digest(self) -> str:
        return case_digest(self.as_case)

    @property
    def sha256(self) -> str:
        """Over everything the page shows (the masked name and tier too), as the link's MAC binds it."""
        return hashlib.sha256(json.dumps(self.to_item(), sort_keys=True, separators=(",", ":"),
                                         default=str).encode()).hexdigest()

    def to_item(self) -> dict[str, Any]:
        changes = {"payee_changes": list(self.payee_changes)} if self.payee_changes else {}
        return {"case_id": self.case_id, "account_id": self.account_id, "credit": money_text(self.credit),
                "tier": self.tier, "masked_name": self.masked_name,
                "lines": [{k: v for k, v in line.to_json().items() if v is not None} for line in self.lines],
                **changes}

    @classmethod
    def from_item(cls, item: dict[str, Any]) -> Snapshot:
        return cls(item["case_id"], item["account_id"], money(str(item["credit"])), int(item["tier"]),
                   tuple(Line.from_json(li) for li in item["lines"]), item["masked_name"],
                   tuple(str(c) for c in item.get("payee_changes") or ()))




def case_digest(case: Case) -> str:
    """SHA-256 over what money follows: the case, its credit and every line's action, reason, payee,
    amount, target account and due date. An approval covers exactly this (the tier follows from it)."""
    content = {"case_id": case.case_id, "account_id": case.account_id, "credit": money_text(case.credit),
               "lines": [line.to_json() for line in case.lines]}
    return hashlib.sha256(json.dumps(content, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


@dataclass(frozen=True)
class Approval:
    """One link. `snapshot` is what it shows (absent where only the by-case index was read)."""

    approval_key: str
    case_id: str
    tier: int
    approver: str
    digest: str
    expires_at: int
    state: LinkState
    decision: Outcome | None = None
    reason: str = ""  # the approver's, with the decision
    snapshot: Snapshot | None = None
    decided_from: str = ""  # where the decision was made (the page's caller)
    mailed: bool = False  # its mail was sent (the link's id exists only in that mail)
    decided_at: str = ""
    snapshot_digest: str = ""  # the snapshot's SHA-256 (Snapshot.sha256), under the link's MAC
    link_mac: str = field(default="", compare=False)  # RequestApproval's MAC over `link_signed()`
    decision_mac: str = field(default="", compare=False)  # the page's MAC over `decision_signed()`, as it is taken
    moved_on_told: bool = False  # an escalation superseded it and its approver was told
    approver_id: str = ""  # the pool's user id of the one person who may decide it (`approver` is where it was mailed)

    @classmethod
    def from_item(cls, item: dict[str, Any]) -> Approval:
        return cls(item["approval_key"], item["case_id"], int(item["tier"]), item["approver"], item["digest"],
                   int(item["expires_at"]), LinkState(item["state"]),
                   Outcome(item["decision"]) if item.get("decision") else None, str(item.get("reason", "")),
                   Snapshot.from_item(item["snapshot"]) if "snapshot" in item else None,
                   str(item.get("decided_from", "")), "mailed_at" in item, str(item.get("decided_at", "")),
                   str(item.get("snapshot_digest", "")), str(item.get("link_mac", "")),
                   str(item.get("decision_mac", "")), "moved_on_at" in item, str(item.get("approver_id", "")))

    def link_signed(self) -> dict[str, Any]:
        """What the link's MAC covers: who is asked, to decide which lines, at which tier, until when."""
        return {"approval_key": self.approval_key, "case_id": self.case_id, "tier": self.tier,
                "approver": self.approver, "digest": self.digest, "expires_at": self.expires_at,
                "snapshot": self.snapshot_digest, **({"approver_id": self.approver_id} if self.approver_id else {})}

    def decision_signed(self) -> dict[str, Any]:
        """What the decision's MAC covers: the link, and what its approver decided, why, when and from where."""
        return {**self.link_signed(), "decision": self.decision, "reason": self.reason,
                "decided_at": self.decided_at, "decided_from": self.decided_from}

    @property
    def decided(self) -> bool:
        """The approver decided with this link (whether or not the workflow has taken it yet)."""
        return self.state in (LinkState.DECIDING, LinkState.USED)

    @property
    def approved(self) -> bool:
        """A decision that counts: the link was used, in time, to approve."""
        return self.state is LinkState.USED and self.decision is Outcome.APPROVED


def usable(approval: Approval | None, now: datetime) -> Approval:
    """The approval behind a link, or LinkRefused saying why it cannot decide."""
    if approval is None:
        raise UnknownLink()
    if approval.state in (LinkState.DECIDING, LinkState.USED, LinkState.LATE):
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


def can_investigate(lines: tuple[Line, ...] | list[Line]) -> bool:
    return any(line.payee_type in INVESTIGABLE for line in lines if line.action == "REFUND")


def paused_days(pause_seconds: int, seconds_per_day: int, already: int, most: int) -> int:
    """The Medicare/Medicaid clock's pause after one more investigation, capped at `most` days."""
    return min(pause_seconds // seconds_per_day + already, most)
