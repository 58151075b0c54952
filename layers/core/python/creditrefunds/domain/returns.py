"""One credit, one refund: what is committed on an account, and which ledger rows return it.

A refund instruction is money committed from the day it is issued until the billing system
posts it back: one `REFUND` row (a `TRANSFER` row for an offset) of the same payee and amount,
or the row whose reference is the instruction's id. Each row returns one instruction, never
several, and only a row the ledger did not already hold when the instruction was issued.

Until then the instruction counts as a refund already made: detection and every re-check
work on the ledger *net of* what is in flight, so the same money is never claimed twice.
Pure: instructions as the refund book holds them and the account's transactions in.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from creditrefunds.domain.detection import AccountSummary
from creditrefunds.domain.ledger import Transaction
from creditrefunds.domain.money import ZERO, money, money_text
from creditrefunds.domain.split import cancel_reversals

RETURN_TYPE = {"REFUND": "REFUND", "OFFSET": "TRANSFER"}  # the ledger row that posts an issued line back
PAID_OUT = ("REFUND", "RECOUPMENT")  # money that left the provider (or that a payer took back)


@dataclass(frozen=True)
class Instruction:
    """A refund instruction as detection needs it."""

    instruction_id: str
    case_id: str
    action: str  # REFUND or OFFSET
    payee_type: str
    payee_id: str
    amount: Decimal
    issued_on: date
    prior: frozenset[str]  # the account's returning rows already in the ledger when it was issued

    @classmethod
    def from_row(cls, row: dict[str, str]) -> Instruction:
        return cls(row["instruction_id"], row["case_id"], "OFFSET" if row.get("target_account_id") else "REFUND",
                   row.get("payee_type", ""), row.get("payee_id", ""), money(row["amount"]),
                   date.fromisoformat(row["issued_on"]), frozenset(json.loads(row.get("prior_returns") or "[]")))

    def returned_by(self, t: Transaction) -> bool:
        """`t` posts this instruction back: its type, amount and payee (a patient is one payee)."""
        if t.txn_type != RETURN_TYPE[self.action] or t.amount != self.amount or t.txn_id in self.prior:
            return False
        if self.action == "OFFSET":
            return True
        if self.payee_type == "PATIENT":
            return t.payer_type == "PATIENT"
        return (t.payer_type, t.payer_id or "") == (self.payee_type, self.payee_id)

    def describe(self) -> str:
        return f"{money_text(self.amount)} to {self.payee_type} (instruction {self.instruction_id})"


def returning_rows(transactions: Iterable[Transaction]) -> list[Transaction]:
    """Rows that may post an instruction back (voided ones cancelled by their reversal), in posting order."""
    return sorted((t for t in cancel_reversals(transactions)
                   if t.txn_type in RETURN_TYPE.values() and t.amount > 0), key=lambda t: (t.posting_date, t.txn_id))


def prior_returns(transactions: Iterable[Transaction]) -> str:
    """What an instruction keeps of the ledger at issue: its returning rows' ids (JSON), none of which
    can post the instruction back."""
    return json.dumps(sorted(t.txn_id for t in returning_rows(transactions)))


@dataclass(frozen=True)
class Returns:
    """The account's instructions against its ledger: which came back (by which row), which are still
    in flight, and rows posted since that return none of them (`stray`, with why)."""

    matched: dict[str, Transaction]
    pending: tuple[Instruction, ...]
    stray: tuple[tuple[Transaction, str], ...]

    def case_returned(self, case_id: str, instructions: Iterable[Instruction]) -> bool:
        """Every instruction of the case came back (and it has some)."""
        mine = [i for i in instructions if i.case_id == case_id]
        return bool(mine) and all(i.instruction_id in self.matched for i in mine)

    def in_flight(self, but: str | None = None) -> list[Instruction]:
        """The instructions still out, but those of case `but`."""
        return [i for i in self.pending if i.case_id != but]


def match_returns(instructions: Iterable[Instruction], transactions: Iterable[Transaction]) -> Returns:
    """Each returning row to at most one instruction: first a row whose reference names an instruction,
    then the earliest row of the same payee and amount, instructions in the order they were issued."""
    ordered = sorted(instructions, key=lambda i: (i.issued_on, i.instruction_id))
    rows = returning_rows(transactions)
    taken: set[str] = set()
    matched: dict[str, Transaction] = {}
    by_id = {i.instruction_id: i for i in ordered}
    for t in rows:
        named = by_id.get(t.reference or "")
        if named is not None and named.instruction_id not in matched and named.returned_by(t):
            matched[named.instruction_id] = t
            taken.add(t.txn_id)
    for i in ordered:
        if i.instruction_id in matched:
            continue
        found = next((t for t in rows if t.txn_id not in taken and i.returned_by(t)), None)
        if found is not None:
            matched[i.instruction_id] = found
            taken.add(found.txn_id)
    pending = tuple(i for i in ordered if i.instruction_id not in matched)
    stray = tuple((t, _why_stray(t, pending)) for t in rows
                  if t.txn_id not in taken and pending and any(t.txn_id not in i.prior for i in pending))
    return Returns(matched, pending, stray)


def _why_stray(t: Transaction, pending: tuple[Instruction, ...]) -> str:
    payee = t.payer_type or "no payee"
    return (f"{t.txn_type} row {t.txn_id} of {money_text(t.amount)} to {payee} posted on {t.posting_date} matches no "
            "refund instruction in flight (" + "; ".join(i.describe() for i in pending) + "): a partial, wrong or "
            "second refund; billing staff must check it against the accounts-payable file")


def net_of(summary: AccountSummary, transactions: list[Transaction],
           in_flight: list[Instruction]) -> tuple[AccountSummary, list[Transaction]]:
    """The account as if every instruction in flight were already posted back: its balance, and a
    returning row per instruction (so that no payer is owed, again, what is on its way to it)."""
    if not in_flight:
        return summary, transactions
    rows = [Transaction(f"in-flight:{i.instruction_id}", summary.account_id, summary.patient_id,
                        summary.guarantor_id, RETURN_TYPE[i.action], i.amount, i.issued_on,
                        i.payee_type if i.action == "REFUND" else None,
                        i.payee_id or None if i.action == "REFUND" and i.payee_type != "PATIENT" else None)
            for i in in_flight]
    netted = dataclasses.replace(summary, balance=summary.balance + sum((i.amount for i in in_flight), ZERO))
    return netted, transactions + rows


@dataclass(frozen=True)
class Settlement:
    """What a ledger file means for an account (DOMAIN.md section 1, one credit one refund):

    - the case holding the account has its money out (issued, or failed after issuing): it closes
      `reconciled` when every instruction of it came back, and otherwise the account is `waiting`
      (nothing else opens or changes until the money is posted back);
    - `claim`: the credit net of every instruction still in flight, for the holding case to be
      re-detected on, or a new case to open on when none holds the account; None when nothing is left.
    """

    returns: Returns
    reconciled: bool = False
    waiting: bool = False
    claim: tuple[AccountSummary, list[Transaction]] | None = None


def settle(holder: str | None, issued: bool, summary: AccountSummary, transactions: list[Transaction],
           instructions: list[Instruction]) -> Settlement:
    """The account against its instructions. `holder`: the id of the open case holding the account, if
    any; `issued`: its refund went out (its status says so, or the book holds instructions of it)."""
    returns = match_returns(instructions, transactions)
    money_out = holder is not None and (issued or any(i.case_id == holder for i in instructions))
    reconciled = money_out and returns.case_returned(holder or "", instructions)
    if money_out and not reconciled:
        return Settlement(returns, waiting=True)
    netted = net_of(summary, transactions, returns.in_flight(but=None if reconciled else holder))
    return Settlement(returns, reconciled, claim=netted if netted[0].has_credit else None)


@dataclass(frozen=True)
class Exposure:
    """What an account ever held that was not the provider's, against what left it (returned rows,
    payers' recoupments and instructions still in flight)."""

    account_id: str
    held: Decimal
    paid_out: Decimal

    @property
    def over(self) -> Decimal:
        return max(ZERO, self.paid_out - self.held)

    def why(self) -> str:
        return (f"account {self.account_id}: {money_text(self.paid_out)} refunded or in flight, but the largest "
                f"credit it ever held is {money_text(self.held)}: {money_text(self.over)} may have been paid twice")


def exposure(account_id: str, transactions: Iterable[Transaction], instructions: Iterable[Instruction]) -> Exposure:
    """The largest credit the account held (its balance over time with money paid out left aside)
    against all that was paid out of it."""
    txns = cancel_reversals(transactions)
    returns = match_returns(instructions, txns)
    running, held, paid_out = ZERO, ZERO, sum((i.amount for i in returns.pending), ZERO)
    for t in sorted(txns, key=lambda t: (t.posting_date, t.txn_id)):
        if t.txn_type in PAID_OUT or (t.txn_type == "TRANSFER" and t.amount > 0):
            paid_out += t.amount
            continue
        running += t.amount
        held = max(held, -running)
    return Exposure(account_id, held, paid_out)
