"""One credit, one refund: what is committed on an account, and which ledger rows return it.

A refund instruction is money committed from the day it is issued until the billing system
posts it back: a `REFUND` row of the same payee and amount (a payer may answer with its own
`RECOUPMENT`; an offset comes back as a `TRANSFER`), or the row whose reference is the
instruction's id. Each row returns one instruction, never several, and only a row the ledger did
not already hold when the instruction was issued. Once matched, the refund book keeps the match
(`returned_by`): a check voided later does not put the instruction back in flight, the credit it
leaves is a credit again.

Until it is back, an instruction counts as a refund already made: detection and every re-check
work on the ledger *net of* what is in flight, so the same money is never claimed twice.
Pure: instructions as the refund book holds them and the account's transactions in.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from creditrefunds.domain.detection import AccountSummary, Promise
from creditrefunds.domain.instructions import PAID_OUT, Instruction
from creditrefunds.domain.ledger import Transaction
from creditrefunds.domain.money import ZERO, money_text
from creditrefunds.domain.status import Status

RETURNING = ("REFUND", "RECOUPMENT", "TRANSFER")  # rows that may post an instruction back


def returning_rows(transactions: Iterable[Transaction]) -> list[Transaction]:
    """Rows that may post an instruction back, in posting order. A voided one counts too: its money did go
    out, and its reversal is a credit of its own (to be worked again), whichever file brought either."""
    return sorted((t for t in transactions if t.txn_type in RETURNING and t.amount > 0),
                  key=lambda t: (t.posting_date, t.txn_id))


@dataclass(frozen=True)
class Returns:
    """The account's instructions against its ledger: `new` matches (instruction → row) to keep,
    which are back, which are still in flight, and rows posted since that return none (`stray`)."""

    new: dict[str, Transaction]
    back: frozenset[str]
    pending: tuple[Instruction, ...]
    stray: tuple[tuple[Transaction, str], ...]
    about: str | None = None  # the case strays are told on: the oldest in flight's, else the latest's

    def returned_cases(self, instructions: Iterable[Instruction]) -> list[str]:
        """Cases every instruction of which is back."""
        waiting = {i.case_id for i in instructions if i.instruction_id not in self.back}
        return sorted({i.case_id for i in instructions} - waiting)


def match_returns(instructions: Iterable[Instruction], transactions: Iterable[Transaction]) -> Returns:
    """Each returning row to at most one instruction: a row whose reference names an instruction posts
    back that one or none; the others go to the earliest instruction of the same payee and amount, in the
    order they were issued. Matches the refund book keeps stand; rows they took return nothing else.
    Rows posted since the latest instruction that return none are `stray`."""
    ordered = sorted(instructions, key=lambda i: (i.issued_on, i.instruction_id))
    rows = returning_rows(transactions)
    taken = {i.returned_by for i in ordered if i.returned_by}
    back = {i.instruction_id for i in ordered if i.returned_by}
    open_ = {i.instruction_id: i for i in ordered if not i.returned_by}
    named = {t.txn_id for t in rows if t.reference and t.reference in {i.instruction_id for i in ordered}}
    new: dict[str, Transaction] = {}
    for t in rows:
        i = open_.get(t.reference or "")
        if i is not None and t.txn_id not in taken and i.instruction_id not in back and i.returned_by_row(t):
            new[i.instruction_id] = t
            taken.add(t.txn_id)
            back.add(i.instruction_id)
    for i in open_.values():
        if i.instruction_id in back:
            continue
        found = next((t for t in rows if t.txn_id not in taken | named and i.returned_by_row(t)), None)
        if found is not None:
            new[i.instruction_id] = found
            taken.add(found.txn_id)
            back.add(i.instruction_id)
    pending = tuple(i for i in open_.values() if i.instruction_id not in back)
    latest = ordered[-1] if ordered else None
    stray = tuple((t, _why_stray(t, pending)) for t in rows if latest is not None and t.txn_id not in taken
                  and t.txn_id not in latest.prior and t.posting_date >= ordered[0].issued_on)
    about = pending[0].case_id if pending else latest.case_id if latest else None
    return Returns(new, frozenset(back), pending, stray, about)


def _why_stray(t: Transaction, pending: tuple[Instruction, ...]) -> str:
    payee = t.payer_type or "no payee"
    out = ("refund instruction in flight (" + "; ".join(i.describe() for i in pending) + ")" if pending
           else "refund instruction: every one issued on this account is posted back already")
    return (f"{t.txn_type} row {t.txn_id} of {money_text(t.amount)} to {payee} posted on {t.posting_date} matches no "
            f"{out}: a partial, wrong or second refund; billing staff must check it against the accounts-payable "
            "file")


def net_of(summary: AccountSummary, transactions: list[Transaction],
           in_flight: Iterable[Instruction]) -> tuple[AccountSummary, list[Transaction]]:
    """The account as if every instruction in flight were already posted back: its balance, and a
    returning row per instruction (so that no payer is owed, again, what is on its way to it)."""
    out = list(in_flight)
    if not out:
        return summary, transactions
    # An offset is the patient's money leaving this account as surely as a check: a refund to the patient.
    rows = [Transaction(f"in-flight:{i.instruction_id}", summary.account_id, summary.patient_id,
                        summary.guarantor_id, "REFUND", i.amount, i.issued_on, i.payee_type or "PATIENT",
                        (i.payee_id or None) if i.payee_type not in ("PATIENT", "") else None)
            for i in out]
    netted = dataclasses.replace(summary, balance=summary.balance + sum((i.amount for i in out), ZERO))
    return netted, transactions + rows


def in_flight_offsets(in_flight: Iterable[Instruction]) -> list[Promise]:
    """What offsets on their way already pay of the guarantor's debits."""
    return [Promise(i.instruction_id, i.case_id, i.target, i.amount) for i in in_flight if i.target]


def claim(summary: AccountSummary, transactions: list[Transaction],
          returns: Returns) -> tuple[AccountSummary, list[Transaction]] | None:
    """The credit a case may claim on the account: what it holds net of every instruction in flight;
    None when nothing is left."""
    netted = net_of(summary, transactions, returns.pending)
    return netted if netted[0].has_credit else None


@dataclass(frozen=True)
class Exposure:
    """Money paid out of an account when it held no credit to pay it from (a refund paid twice)."""

    account_id: str
    paid_out: Decimal
    over: Decimal
    first: date | None = None  # the day the first payout beyond the credit went out

    def why(self) -> str:
        return (f"account {self.account_id}: {money_text(self.paid_out)} refunded or in flight, of which "
                f"{money_text(self.over)} went out (first on {self.first}) when the account held no credit for it: "
                "it may have been paid twice")


def exposure(account_id: str, transactions: Iterable[Transaction], instructions: Iterable[Instruction]) -> Exposure:
    """Replay the account day by day: every payout (an instruction on its issue day, a refund or
    recoupment row no instruction accounts for on its posting day) is paid from the credit held at that
    moment; what exceeds it is exposure. Rows count on their own dates (a bounced payment does not go
    back in time) or, when an instruction of that day or later did not see them, just after it (they
    reached the ledger after the money went out); each instruction is matched afresh, one row each,
    whatever the book recorded."""
    txns = list(transactions)
    fresh = [dataclasses.replace(i, returned_by=None) for i in instructions]
    matched = {t.txn_id for t in match_returns(fresh, txns).new.values()}
    issued = {i.instruction_id for i in fresh}
    payouts = {t.txn_id for t in txns if t.txn_type in PAID_OUT or t.txn_type == "TRANSFER"}
    # In the order they went out: a day's later instruction saw every row of the account an earlier one saw, and
    # more (an offset's `prior` holds its target's rows too: only the account's count here).
    own = {t.txn_id for t in txns}
    fresh.sort(key=lambda i: (i.issued_on, len(i.prior & own), i.instruction_id))
    events: list[tuple[date, int, int, str, Decimal]] = []
    for t in txns:
        payout = t.txn_type in PAID_OUT or (t.txn_type == "TRANSFER" and t.amount > 0)
        if payout and t.txn_id in matched:
            continue  # the instruction it posts back is the payout
        # A row counts on its own date, before the instructions of that day, unless an instruction issued on or
        # after that date did not see it: then it reached the ledger later, and counts just after the last such.
        # (An instruction kept without the ledger it saw is taken to have seen every earlier row.)
        unseen = [k for k, i in enumerate(fresh)
                  if i.prior and i.issued_on >= t.posting_date and t.txn_id not in i.prior]
        events.append((fresh[unseen[-1]].issued_on, unseen[-1], 2, t.txn_id, t.amount) if unseen
                      else (t.posting_date, -1, 0, t.txn_id, t.amount))
    events += [(i.issued_on, k, 1, i.instruction_id, i.amount) for k, i in enumerate(fresh)]
    balance, paid_out, over, first = ZERO, ZERO, ZERO, None
    for day, _, _, key, amount in sorted(events):
        payout = key in issued or (key in payouts and amount > 0)
        if payout:
            paid_out += amount
            beyond = min(amount, max(ZERO, balance + amount))  # what the credit held could not cover
            if beyond > 0:
                over += beyond
                first = first or day
        balance += amount
    return Exposure(account_id, paid_out, over, first)


@dataclass(frozen=True)
class OverOffset:
    """A debit that offsets paid more into than it owed when they went out (a debit offset twice)."""

    account_id: str
    received: Decimal
    over: Decimal
    instructions: tuple[str, ...]

    def why(self) -> str:
        return (f"account {self.account_id}: offsets {', '.join(self.instructions)} moved {money_text(self.received)} "
                f"into it, {money_text(self.over)} more than it owed when they went out: a debit is offset once")


def offsets_received(account_id: str, transactions: Iterable[Transaction],
                     offsets: Iterable[Instruction]) -> dict[str, str]:
    """Which offsets into `account_id` its own ledger shows arrived (instruction id -> the transfer row): the
    negative TRANSFER naming the instruction, else one of the same amount posted on or after its issue day that
    names no other and was not in the ledger yet when it was issued (`prior`: a transfer billing staff posted by
    hand earlier that day is not it). The row on the crediting account says the money left; only this one says
    it arrived."""
    ordered = sorted((i for i in offsets if i.target == account_id), key=lambda i: (i.issued_on, i.instruction_id))
    into = [t for t in sorted(transactions, key=lambda t: (t.posting_date, t.txn_id))
            if t.txn_type == "TRANSFER" and t.amount < 0]
    ids = {i.instruction_id for i in ordered}
    arrived = {t.reference: t.txn_id for t in into if t.reference in ids}
    taken = set(arrived.values())
    for i in ordered:
        if i.instruction_id not in arrived:
            found = next((t for t in into if t.txn_id not in taken and t.reference not in ids and t.txn_id not in
                          i.prior and -t.amount == i.amount and t.posting_date >= i.issued_on), None)
            if found is not None:
                arrived[i.instruction_id] = found.txn_id
                taken.add(found.txn_id)
    return arrived


def over_offset(account_id: str, transactions: Iterable[Transaction], offsets: Iterable[Instruction]) -> OverOffset:
    """Replay the debit: its rows on their posting dates, each offset into it on its issue day (after that day's
    rows), paying what the account owes at that moment; what exceeds it is `over`. The transfer that posts an
    offset into the account (`offsets_received`) is that offset."""
    rows = list(transactions)
    ordered = sorted((i for i in offsets if i.target == account_id), key=lambda i: (i.issued_on, i.instruction_id))
    taken = set(offsets_received(account_id, rows, ordered).values())
    events = sorted([(t.posting_date, 0, t.txn_id, t.amount) for t in rows if t.txn_id not in taken]
                    + [(i.issued_on, 1, i.instruction_id, -i.amount) for i in ordered])
    owed, over = ZERO, ZERO
    for _, offset, _, amount in events:
        if offset:
            over += max(ZERO, -amount - max(ZERO, owed))
        owed += amount
    return OverOffset(account_id, sum((i.amount for i in ordered), ZERO), over,
                      tuple(i.instruction_id for i in ordered))


IN_PROGRESS = (Status.OPEN, Status.AWAITING_APPROVAL, Status.INVESTIGATING, Status.APPROVED, Status.WORK_ITEM)


def holds(status: Status, issued: bool) -> bool:
    """The case keeps its account: no other case opens beside it. A case on its way to a refund (or a
    work item for billing staff) does; so does a FAILED one whose money went out, until a person has
    looked. An issued case does not: what it sent is netted as in flight, and a new credit is a new case."""
    return status in IN_PROGRESS or (status is Status.FAILED and issued)
