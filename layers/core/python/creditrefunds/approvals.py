"""Approval by email (DOMAIN.md section 6): single-use, expiring links; the task token kept here.

An approval item holds the Step Functions task token server-side; the mail carries only a
random approval id. A link is PENDING until a POST decides (USED), an escalation replaces it
(SUPERSEDED), or it expires. GET never changes it.
"""

from __future__ import annotations

import html
import secrets
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from botocore.exceptions import ClientError

from creditrefunds.cases import Case
from creditrefunds.money import money_text

PENDING, USED, SUPERSEDED = "PENDING", "USED", "SUPERSEDED"
DECISIONS = {"approve": "APPROVED", "reject": "REJECTED", "investigate": "INVESTIGATE"}
INVESTIGABLE = ("MEDICARE", "MEDICAID")
KEEP_AFTER_EXPIRY = 30 * 86400  # the used or expired link stays readable a month, then TTL purges it


class LinkRefused(Exception):
    """The link cannot decide: unknown, used, superseded or expired. `title`/`message` for the page."""

    def __init__(self, status: int, title: str, message: str) -> None:
        super().__init__(message)
        self.status, self.title, self.message = status, title, message


def mask_name(name: str | None) -> str:
    """'Rivera, Ana' -> 'R*****, A**': enough for an approver to recognise, not to identify."""
    if not name:
        return "(no name on the ledger)"
    masked = []
    for word in name.split():
        core, comma = (word[:-1], ",") if word.endswith(",") else (word, "")
        masked.append(core[:1] + "*" * (len(core) - 1) + comma)
    return " ".join(masked)


def approver_for(tier: int, env: dict[str, str]) -> str:
    """The directory: one approver per tier, from the template's parameters."""
    address = env.get(f"APPROVER_TIER{tier}_EMAIL")
    if not address:
        raise KeyError(f"no approver for tier {tier}: set ApproverTier{tier}Email")
    return address


def can_investigate(case: Case) -> bool:
    return any(line.payee_type in INVESTIGABLE for line in case.lines if line.action == "REFUND")


@dataclass(frozen=True)
class Approval:
    approval_id: str
    case_id: str
    tier: int
    approver: str
    credit: str
    expires_at: int
    state: str

    @classmethod
    def from_item(cls, item: dict[str, Any]) -> Approval:
        return cls(item["approval_id"], item["case_id"], int(item["tier"]), item["approver"], item["credit"],
                   int(item["expires_at"]), item["state"])


class ApprovalStore:
    """The approvals table. The task token is written here and read back only to answer the task."""

    def __init__(self, table: Any) -> None:
        self._table = table

    def create(self, case: Case, tier: int, approver: str, task_token: str, now: datetime, ttl: int) -> Approval:
        expires = int(now.timestamp()) + ttl
        approval = Approval(secrets.token_urlsafe(32), case.case_id, tier, approver, money_text(case.credit), expires,
                            PENDING)
        self._table.put_item(Item={
            "approval_id": approval.approval_id, "case_id": case.case_id, "tier": tier, "approver": approver,
            "credit": approval.credit, "task_token": task_token, "created_at": now.isoformat(),
            "expires_at": expires, "purge_after": expires + KEEP_AFTER_EXPIRY, "state": PENDING,
        }, ConditionExpression="attribute_not_exists(approval_id)")  # fmt: skip
        return approval

    def get(self, approval_id: str) -> Approval | None:
        item = self._table.get_item(Key={"approval_id": approval_id}, ConsistentRead=True).get("Item")
        return Approval.from_item(item) if item else None

    def usable(self, approval_id: str, now: datetime) -> Approval:
        """The approval behind a link, or LinkRefused saying why it cannot decide."""
        approval = self.get(approval_id) if approval_id else None
        if approval is None:
            raise LinkRefused(404, "Approval link not found", "This approval link is unknown. Nothing was decided.")
        if approval.state == USED:
            raise LinkRefused(410, "Approval link already used",
                              "This link has already been used to decide. Each link decides once.")
        if approval.state == SUPERSEDED:
            raise LinkRefused(410, "Approval moved on", "This approval waited too long and was escalated to "
                              "another approver. Nothing was decided by this link.")
        if approval.expires_at <= int(now.timestamp()):
            raise LinkRefused(410, "Approval link expired", "This approval link has expired. Nothing was decided.")
        return approval

    def take(self, approval: Approval, decided_by: str, decision: str, now: datetime) -> str:
        """Use the link once: PENDING and unexpired becomes USED. Returns the task token."""
        try:
            answer = self._table.update_item(
                Key={"approval_id": approval.approval_id},
                UpdateExpression="SET #s = :used, decided_by = :who, decision = :d, decided_at = :at",
                ConditionExpression="#s = :pending AND expires_at > :now",
                ExpressionAttributeNames={"#s": "state"},
                ExpressionAttributeValues={":used": USED, ":pending": PENDING, ":who": decided_by, ":d": decision,
                                           ":at": now.isoformat(), ":now": int(now.timestamp())},
                ReturnValues="ALL_NEW",
            )
        except ClientError as error:
            if error.response["Error"]["Code"] == "ConditionalCheckFailedException":
                raise LinkRefused(409, "Approval link already used",
                                  "This link was used a moment ago. Each link decides once.") from None
            raise
        return str(answer["Attributes"]["task_token"])

    def supersede_pending(self, case_id: str, pending_ids: list[str]) -> list[Approval]:
        """Mark the case's waiting links SUPERSEDED (escalation); returns those that were waiting."""
        moved = []
        for approval_id in pending_ids:
            try:
                answer = self._table.update_item(
                    Key={"approval_id": approval_id}, UpdateExpression="SET #s = :sup",
                    ConditionExpression="#s = :pending AND case_id = :case",
                    ExpressionAttributeNames={"#s": "state"},
                    ExpressionAttributeValues={":sup": SUPERSEDED, ":pending": PENDING, ":case": case_id},
                    ReturnValues="ALL_NEW",
                )
                moved.append(Approval.from_item(answer["Attributes"]))
            except ClientError as error:
                if error.response["Error"]["Code"] != "ConditionalCheckFailedException":
                    raise
        return moved


def approval_email(case: Case, approval: Approval, link: str, masked_name: str) -> tuple[str, str, str]:
    """(subject, text, html) of the mail asking for a decision. No unmasked PHI."""
    refund = money_text(case.refund_total)
    due = case.due_date.isoformat() if case.due_date else "no due date"
    subject = f"Refund approval needed: {refund} on account {case.account_id} (tier {approval.tier}, due {due})"
    rows = [(line.action, line.reason, line.payee_type or "-", money_text(line.amount),
             line.due_date.isoformat() if line.due_date else "-") for line in case.lines]
    text = "\n".join([
        f"A credit balance refund needs your approval (tier {approval.tier}).",
        "",
        f"Account:   {case.account_id}",
        f"Patient:   {masked_name}",
        f"Credit:    {money_text(case.credit)}",
        f"Refund:    {refund}",
        f"Due date:  {due}",
        "",
        *[f"  {a:<8} {r:<20} {p:<11} {amt:>12}  due {d}" for a, r, p, amt, d in rows],
        "",
        f"Open the case to approve or reject it: {link}",
        "The link works once and expires; opening it decides nothing.",
    ])
    cells = "".join(f"<tr><td>{a}</td><td>{r}</td><td>{p}</td><td style='text-align:right'>{amt}</td>"
                    f"<td>{d}</td></tr>" for a, r, p, amt, d in rows)
    body = (
        f"<p>A credit balance refund needs your approval (tier {approval.tier}).</p>"
        f"<table><tr><th align='left'>Account</th><td>{html.escape(case.account_id)}</td></tr>"
        f"<tr><th align='left'>Patient</th><td>{html.escape(masked_name)}</td></tr>"
        f"<tr><th align='left'>Credit</th><td>{money_text(case.credit)}</td></tr>"
        f"<tr><th align='left'>Refund</th><td>{refund}</td></tr>"
        f"<tr><th align='left'>Due date</th><td>{due}</td></tr></table>"
        f"<table border='1' cellpadding='4'><tr><th>Action</th><th>Reason</th><th>Payee type</th><th>Amount</th>"
        f"<th>Due</th></tr>{cells}</table>"
        f"<p><a href='{html.escape(link)}'>Open the case to approve or reject it</a></p>"
        "<p>The link works once and expires; opening it decides nothing.</p>"
    )
    return subject, text, f"<!doctype html><html><body>{body}</body></html>"
