"""A refund instruction: one money-moving line of a case, issued once. One shape for every reader: the
issue step writes it, the refund book keeps it, detection nets it while in flight, reconciliation matches
it to the row that posts it back, the AP file and the audit read it. Pure."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any

from creditrefunds.domain.cases import Case, Line
from creditrefunds.domain.ledger import Transaction
from creditrefunds.domain.money import money, money_text

ISSUED_ACTIONS = ("REFUND", "OFFSET")  # the lines that move money (or post a transfer)
PAID_OUT = ("REFUND", "RECOUPMENT")  # money that left the provider (or that a payer took back)
REFUND_COLUMNS = ("instruction_id", "issued_on", "case_id", "account_id", "payee_type", "payee_id", "amount",
                  "method", "reason", "claim_id", "target_account_id", "due_date")  # the AP file's


def instruction_id(case: Case, index: int) -> str:
    return f"{case.case_id}#{index}"


def method_for(line: Line, claim_id: str | None) -> str:
    """Checks for patients; payers get a refund or answer a recoupment; Medicare by claim adjustment."""
    if line.action == "OFFSET":
        return f"transfer to account {line.target_account_id}"
    if line.payee_type == "PATIENT":
        return "check"
    if line.payee_type == "MEDICARE" and claim_id:
        return "claim adjustment"
    return "refund or recoupment request"


@dataclass(frozen=True)
class Instruction:
    """What was issued for line `line` of a case, and (once the ledger posts it back) the row that did."""

    instruction_id: str
    case_id: str
    account_id: str
    line: int
    action: str  # REFUND or OFFSET
    payee_type: str
    payee_id: str
    amount: Decimal
    issued_on: date
    method: str = ""
    reason: str = ""
    claim_id: str = ""
    target: str | None = None  # an offset's account
    due_date: date | None = None
    prior: frozenset[str] = frozenset()  # the account's rows in the ledger at issue (an offset's: the transfers
    # into its target too): none posts it back or is it arriving
    returned_by: str | None = None  # the row that posted it back, once matched
    returned_on: date | None = None
    approved_by: frozenset[str] = frozenset()  # the approval links that covered it (their keys)
    mac: str = field(default="", compare=False)  # the issue step's MAC over `signed()` (domain/authentic.py)
    return_mac: str = field(default="", compare=False)  # detection's MAC over `return_signed()`, with the match

    @classmethod
    def of(cls, case: Case, index: int, line: Line, claim_id: str | None, day: date,
           prior: frozenset[str] = frozenset(), approved_by: frozenset[str] = frozenset()) -> Instruction:
        """The instruction for line `index` of `case`, issued on `day`; `prior`: the ledger then (the account's, and the
        transfers into an offset's target);
        `approved_by`: the links whose approvals covered it."""
        return cls(instruction_id(case, index), case.case_id, case.account_id, index, line.action,
                   line.payee_type or "", line.payee_id or "", line.amount, day, method_for(line, claim_id),
                   line.reason, claim_id or "", line.target_account_id, line.due_date, prior,
                   approved_by=approved_by)

    def ap_row(self) -> dict[str, str]:
        """Its row of the day's accounts-payable file."""
        return {"instruction_id": self.instruction_id, "issued_on": self.issued_on.isoformat(),
                "case_id": self.case_id, "account_id": self.account_id, "payee_type": self.payee_type,
                "payee_id": self.payee_id, "amount": money_text(self.amount), "method": self.method,
                "reason": self.reason, "claim_id": self.claim_id, "target_account_id": self.target or "",
                "due_date": self.due_date.isoformat() if self.due_date else ""}

    def published(self) -> dict[str, str]:
        """What the RefundIssued event tells: its AP row without the payee's id."""
        return {k: v for k, v in self.ap_row().items() if k != "payee_id"}

    def signed(self) -> dict[str, Any]:
        """What its MAC covers: everything that moves the money, and the ledger it was issued against."""
        return {**self.ap_row(), "line": self.line, "action": self.action,
                "ledger_at_issue": json.dumps(sorted(self.prior)), "approved_by": json.dumps(sorted(self.approved_by))}

    def return_signed(self) -> dict[str, Any]:
        """What the MAC of its match covers: which instruction, which row posted it back, and when."""
        return {"instruction_id": self.instruction_id, "returned_by": self.returned_by,
                "returned_on": self.returned_on.isoformat() if self.returned_on else ""}

    def to_item(self) -> dict[str, Any]:
        """As the refund book stores it: text, the line a number, the ledger at issue a list of ids."""
        item: dict[str, Any] = {**self.ap_row(), "line": self.line, "action": self.action,
                                "ledger_at_issue": sorted(self.prior), "approved_by": sorted(self.approved_by),
                                "mac": self.mac}
        if self.returned_by:
            item["returned_by"] = self.returned_by
            item["returned_on"] = self.returned_on.isoformat() if self.returned_on else ""
            item["return_mac"] = self.return_mac
        return item

    @classmethod
    def from_item(cls, item: dict[str, Any]) -> Instruction:
        """An instruction as the refund book stores it. One kept in the shape before `line`, `action` and a list
        `ledger_at_issue` (no stack had any) is refused by name, never read half-way."""
        if "line" not in item or "action" not in item or isinstance(item.get("ledger_at_issue"), str):
            raise ValueError(f"instruction {item.get('instruction_id')} is kept in an older shape: migrate it")
        text = {k: str(v) for k, v in item.items() if not isinstance(v, list)}
        return cls(text["instruction_id"], text["case_id"], text["account_id"], int(text["line"]), text["action"],
                   text.get("payee_type", ""), text.get("payee_id", ""), money(text["amount"]),
                   date.fromisoformat(text["issued_on"]), text.get("method", ""), text.get("reason", ""),
                   text.get("claim_id", ""), text.get("target_account_id") or None,
                   date.fromisoformat(text["due_date"]) if text.get("due_date") else None,
                   frozenset(str(t) for t in item.get("ledger_at_issue") or ()), text.get("returned_by") or None,
                   date.fromisoformat(text["returned_on"]) if text.get("returned_on") else None,
                   frozenset(str(k) for k in item.get("approved_by") or ()), text.get("mac", ""),
                   text.get("return_mac", ""))

    def returned_by_row(self, t: Transaction) -> bool:
        """`t` posts this instruction back: its type, amount and payee (a patient is one payee), posted on
        or after the day it was issued, and not a row the ledger already held then."""
        if t.amount != self.amount or t.txn_id in self.prior or t.posting_date < self.issued_on:
            return False
        if self.action == "OFFSET":
            return t.txn_type == "TRANSFER"
        if self.payee_type == "PATIENT":
            return t.txn_type == "REFUND" and t.payer_type == "PATIENT"
        return t.txn_type in PAID_OUT and (t.payer_type, t.payer_id or "") == (self.payee_type, self.payee_id)

    def describe(self) -> str:
        return f"{money_text(self.amount)} to {self.payee_type} (instruction {self.instruction_id})"


def ledger_at_issue(transactions: list[Transaction]) -> frozenset[str]:
    """What an instruction keeps of the account's ledger at issue: its rows' ids. None of them can post it
    back, and the exposure check knows them to have come before it."""
    return frozenset(t.txn_id for t in transactions)


@dataclass(frozen=True)
class Issued:
    """An instruction as the refund book holds it; `new` is False when it was issued before (a retry or a
    duplicate delivery), and `instruction` is then what was issued that first time."""

    instruction: Instruction
    new: bool
