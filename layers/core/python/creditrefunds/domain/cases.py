"""A credit balance case and its lines, and their wire form (the `refunds detect` contract)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any

from creditrefunds.domain.money import money, money_text
from creditrefunds.domain.status import Status


@dataclass(frozen=True, slots=True)
class Line:
    """One part of a credit: what to do, why, for whom, how much, by when."""

    action: str
    reason: str
    payee_type: str | None
    payee_id: str | None
    amount: Decimal
    due_date: date | None
    target_account_id: str | None = None
    evidence: str | None = None  # the remittance that proves the line (section 8); absent without one

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Line:
        """A line as `to_json` wrote it (absent fields read as None)."""
        return cls(data["action"], data["reason"], data.get("payee_type"), data.get("payee_id"),
                   money(str(data["amount"])), date.fromisoformat(data["due_date"]) if data.get("due_date") else None,
                   data.get("target_account_id"), data.get("evidence"))

    def to_json(self) -> dict[str, Any]:
        evidence = {"evidence": self.evidence} if self.evidence else {}
        return {
            "action": self.action,
            "reason": self.reason,
            "payee_type": self.payee_type,
            "payee_id": self.payee_id,
            "amount": money_text(self.amount),
            "due_date": self.due_date.isoformat() if self.due_date else None,
            "target_account_id": self.target_account_id,
            **evidence,
        }


@dataclass(slots=True)
class Case:
    """One credit balance on one account."""

    case_id: str
    account_id: str
    patient_id: str
    guarantor_id: str
    credit: Decimal
    identified_on: date
    lines: list[Line] = field(default_factory=list)
    tier: int = 0

    @property
    def due_date(self) -> date | None:
        """The earliest line due date (HOLD lines have none)."""
        dates = [line.due_date for line in self.lines if line.due_date is not None]
        return min(dates) if dates else None

    @property
    def refund_total(self) -> Decimal:
        return sum((line.amount for line in self.lines if line.action == "REFUND"), Decimal("0.00"))

    def to_json(self) -> dict[str, Any]:
        due = self.due_date
        return {
            "case_id": self.case_id,
            "account_id": self.account_id,
            "patient_id": self.patient_id,
            "guarantor_id": self.guarantor_id,
            "credit": money_text(self.credit),
            "identified_on": self.identified_on.isoformat(),
            "due_date": due.isoformat() if due else None,
            "tier": self.tier,
            "lines": [line.to_json() for line in self.lines],
        }


@dataclass(frozen=True)
class StoredCase:
    """A case as the case table holds it: the detected figures and where its workflow stands."""

    case: Case
    status: Status
    escalation_level: int = 0
    overdue: bool = False  # past its due date once: stays set in every listing until the case closes
    told: frozenset[str] = frozenset()  # what the compliance officer has been told (escalation.NEWS)
    approval_key: str | None = None  # the link last asked for a decision (its key: not a secret)
    paused_days: int = 0  # investigations' pause of the Medicare/Medicaid clock
    head: tuple[int, str] | None = None  # the history chain's last (seq, hash)
    runs: int = 0  # workflow runs after the first (a work item reviewed again): its execution's suffix
