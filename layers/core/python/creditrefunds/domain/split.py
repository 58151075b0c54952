"""Who is owed: split one account's credit into lines (DOMAIN.md section 3) with due dates (5).

Pure: transactions, the credit, the day it was identified and the settings in; lines out.
Each rule takes at most what is still unexplained; no payer gets more than it paid net.
"""

from __future__ import annotations

import dataclasses
from collections import defaultdict
from collections.abc import Iterable, Sequence
from datetime import date, timedelta
from decimal import Decimal

from creditrefunds.domain.cases import Line
from creditrefunds.domain.ledger import Transaction
from creditrefunds.domain.money import ZERO
from creditrefunds.domain.settings import Settings

Payer = tuple[str, str]
PATIENT: Payer = ("PATIENT", "")


def cancel_reversals(transactions: Iterable[Transaction]) -> list[Transaction]:
    """The account's transactions with each REVERSAL netted into the one it cancels."""
    txns = list(transactions)
    by_id = {t.txn_id: t for t in txns if t.txn_type != "REVERSAL"}
    netted: dict[str, Decimal] = {}
    orphans: list[Transaction] = []
    for t in txns:
        if t.txn_type == "REVERSAL":
            if t.reversal_of in by_id:
                netted[t.reversal_of] = netted.get(t.reversal_of, ZERO) + t.amount
            else:
                orphans.append(t)
    result = []
    for t in txns:
        if t.txn_type == "REVERSAL":
            continue
        if t.txn_id in netted:
            amount = t.amount + netted[t.txn_id]
            if amount == 0:
                continue
            t = dataclasses.replace(t, amount=amount)
        result.append(t)
    return result + orphans


def _order(t: Transaction) -> tuple[date, str]:
    return (t.posting_date, t.txn_id)


class _Splitter:
    def __init__(
        self,
        txns: Sequence[Transaction],
        credit: Decimal,
        guarantor_id: str,
        patient_state: str | None,
        identified_on: date,
        settings: Settings,
    ) -> None:
        self.txns = sorted(txns, key=_order)
        self.remaining = credit
        self.guarantor_id = guarantor_id
        self.patient_state = patient_state
        self.identified_on = identified_on
        self.settings = settings
        self.lines: list[Line] = []
        self.in_error: set[Payer] = set()  # payers step 4 refunds: they paid in error
        self.available: dict[Payer, Decimal] = defaultdict(lambda: ZERO)
        ranks: dict[Payer, list[int]] = defaultdict(list)
        self.payments = [t for t in self.txns if t.txn_type == "PAYMENT"]
        for t in self.txns:
            if t.txn_type == "PAYMENT":
                self.available[t.payer] -= t.amount
            elif t.txn_type in ("REFUND", "RECOUPMENT") and t.payer_type:
                self.available[t.payer] -= t.amount
            if t.payer_type and t.payer_type != "PATIENT":
                payer_ranks = ranks[t.payer]
                if t.coverage_rank is not None:
                    payer_ranks.append(t.coverage_rank)
        # A missing coverage_rank counts as 1 only when none of the payer's rows has one.
        self.rank = {p: min(r, default=1) for p, r in ranks.items()}

    def _days(self, days: int) -> date:
        return self.identified_on + timedelta(days=days)

    def _payee(self, payer: Payer) -> tuple[str, str]:
        return ("PATIENT", self.guarantor_id) if payer == PATIENT else payer

    def _refund_due(self, payer: Payer) -> date:
        if payer == PATIENT:
            return self._days(self.settings.patient_days(self.patient_state))
        return self._days(self.settings.payer_days(*payer))

    def _take(self, wanted: Decimal) -> Decimal:
        amount = max(ZERO, min(wanted, self.remaining))
        self.remaining -= amount
        return amount

    def _correct(self, reason: str, payer: Payer, wanted: Decimal) -> None:
        amount = self._take(wanted)
        if amount > 0:
            payee_type, payee_id = self._payee(payer)
            due = self._days(self.settings.false_credit_days)
            self.lines.append(Line("CORRECT", reason, payee_type, payee_id, amount, due))

    def _refund(self, reason: str, payer: Payer, wanted: Decimal, due: date | None = None) -> Decimal:
        """A REFUND line of up to `wanted` to `payer` (at most what it paid net); the amount refunded."""
        amount = self._take(min(wanted, max(ZERO, self.available[payer])))
        if amount > 0:
            self.available[payer] -= amount
            payee_type, payee_id = self._payee(payer)
            self.lines.append(Line("REFUND", reason, payee_type, payee_id, amount, due or self._refund_due(payer)))
        return amount

    # -- the rules, in order ----------------------------------------------------------------
    def duplicate_postings(self) -> set[str]:
        groups: dict[tuple[object, ...], list[Transaction]] = defaultdict(list)
        for t in self.payments:
            if t.reference:
                groups[(t.payer, t.amount, t.reference, t.claim_id)].append(t)
        extras: set[str] = set()
        for group in groups.values():
            for extra in group[1:]:
                extras.add(extra.txn_id)
                self._correct("DUPLICATE_POSTING", extra.payer, -extra.amount)
                self.available[extra.payer] += extra.amount  # the extra copy is not money paid
        # ... and never anyone's first or latest payment when the later rules order their lines.
        self.payments = [t for t in self.payments if t.txn_id not in extras]
        return extras

    def duplicate_adjustments(self) -> None:
        groups: dict[tuple[object, ...], list[Transaction]] = defaultdict(list)
        for t in self.txns:
            if t.txn_type == "ADJUSTMENT" and t.amount < 0:
                groups[(t.payer, t.adj_code, t.amount, t.claim_id)].append(t)
        for group in groups.values():
            for extra in group[1:]:
                self._correct("DUPLICATE_ADJUSTMENT", extra.payer, -extra.amount)

    def duplicate_payments(self) -> None:
        """Only referenced payments take part (the extra copies of step 1 are gone already): in each
        (payer, amount, claim) group, the first is the original and every later one under a reference
        not seen before is an extra payment, whatever unreferenced payments stand between them."""
        groups: dict[tuple[object, ...], list[Transaction]] = defaultdict(list)
        for t in self.payments:
            if t.reference:
                groups[(t.payer, t.amount, t.claim_id)].append(t)
        for group in groups.values():
            references = {group[0].reference}
            for later in group[1:]:
                if later.reference not in references:
                    references.add(later.reference)
                    self._refund("DUPLICATE_PAYMENT", later.payer, -later.amount)

    def _paid_insurers(self) -> list[Payer]:
        return [p for p, amount in self.available.items() if p != PATIENT and amount > 0]

    def _first_payment(self, payer: Payer) -> Transaction:
        return next(t for t in self.payments if t.payer == payer)

    def _last_payment(self, payer: Payer) -> Transaction:
        return [t for t in self.payments if t.payer == payer][-1]

    def other_payer_primary(self) -> None:
        paid = [p for p in self._paid_insurers() if any(t.payer == p for t in self.payments)]
        for medicare in [p for p in paid if p[0] == "MEDICARE"]:
            rank = self.rank[medicare]
            primaries = [p for p in paid if p[0] != "MEDICARE" and (self.rank[p] < rank or self.rank[p] == rank == 1)]
            if primaries:
                other_paid_on = min(self._first_payment(p).posting_date for p in primaries)
                days = timedelta(days=self.settings.payer_days(*medicare))
                due = min(self._refund_due(medicare), other_paid_on + days)
                self._in_error("MSP_OTHER_PRIMARY", medicare, due)
        rank_one = sorted(
            (p for p in self._paid_insurers() if p[0] != "MEDICARE" and self.rank[p] == 1
             and any(t.payer == p for t in self.payments)),
            key=lambda p: _order(self._first_payment(p)),
        )  # fmt: skip
        for later in sorted(rank_one[1:], key=lambda p: _order(self._last_payment(p)), reverse=True):
            self._in_error("COB_ERROR", later)

    def _in_error(self, reason: str, payer: Payer, due: date | None = None) -> None:
        """Step 4: the payer paid in error; what it paid goes back to it, and what it said the patient owes counts
        for nothing in step 5."""
        if self._refund(reason, payer, self.available[payer], due) > 0:
            self.in_error.add(payer)

    def patient_overpayment(self) -> None:
        responsibility = None
        for t in self.payments:  # in posting order: the latest one that carries it wins, of a payer not in error
            if t.payer != PATIENT and t.patient_resp is not None and t.payer not in self.in_error:
                responsibility = t.patient_resp
        refundable = self.available[PATIENT] - (responsibility or ZERO)
        self._refund("PATIENT_OVERPAYMENT", PATIENT, refundable)

    def payer_overpayment(self) -> None:
        def key(p: Payer) -> tuple[int, date, str]:
            last = self._last_payment(p) if any(t.payer == p for t in self.payments) else None
            return (self.rank.get(p, 1), *(_order(last) if last else (date.min, "")))

        for payer in sorted(self._paid_insurers(), key=key, reverse=True):
            self._refund("PAYER_OVERPAYMENT", payer, self.available[payer])

    def unexplained(self) -> None:
        amount = self._take(self.remaining)
        if amount > 0:
            due = self._days(self.settings.false_credit_days)
            self.lines.append(Line("REVIEW", "UNEXPLAINED", None, None, amount, due))


def split_credit(
    transactions: Iterable[Transaction],
    credit: Decimal,
    guarantor_id: str,
    patient_state: str | None,
    identified_on: date,
    settings: Settings,
) -> list[Line]:
    """The lines of one account's credit, before offsets and holds, in rule order."""
    splitter = _Splitter(
        cancel_reversals(transactions), credit, guarantor_id, patient_state, identified_on, settings
    )
    splitter.duplicate_postings()
    splitter.duplicate_adjustments()
    splitter.duplicate_payments()
    splitter.other_payer_primary()
    splitter.patient_overpayment()
    splitter.payer_overpayment()
    splitter.unexplained()
    return splitter.lines
