"""Detect credit balances in a ledger and make each a case (DOMAIN.md sections 1 to 6).

Pure: transactions, the as-of day and the settings in; cases out, sorted by account.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

from creditrefunds.domain.cases import Case, Line
from creditrefunds.domain.evidence import apply_evidence
from creditrefunds.domain.ledger import Transaction
from creditrefunds.domain.money import ZERO
from creditrefunds.domain.remittance import Evidence
from creditrefunds.domain.settings import Settings
from creditrefunds.domain.split import split_credit


@dataclass
class AccountSummary:
    """What detection needs of every account, credit or not: small, one per account."""

    account_id: str
    balance: Decimal = ZERO
    guarantor_id: str = ""
    patient_id: str = ""
    patient_state: str | None = None
    first_date: date | None = None
    latest: tuple[date, str] = (date.min, "")
    latest_state: tuple[date, str] = (date.min, "")

    def add(self, t: Transaction) -> None:
        self.balance += t.amount
        when = t.service_date or t.posting_date
        if self.first_date is None or when < self.first_date:
            self.first_date = when
        # The latest row names the parties, and the latest row carrying a state names the state,
        # whatever order the rows arrive in.
        order = (t.posting_date, t.txn_id)
        if order >= self.latest:
            self.latest = order
            self.guarantor_id, self.patient_id = t.guarantor_id, t.patient_id
        if t.patient_state and order >= self.latest_state:
            self.latest_state = order
            self.patient_state = t.patient_state

    @property
    def has_credit(self) -> bool:
        return self.balance < 0


@dataclass(frozen=True)
class Promise:
    """Part of a debit already promised to an OFFSET (DOMAIN §4: a debit is offset once): `key` names who
    promised it (a case in progress by its id, an instruction in flight by its id), `case_id` the case."""

    key: str
    case_id: str
    account_id: str
    amount: Decimal


@dataclass
class DebitPool:
    """A guarantor's other accounts that owe money, oldest service first, for patient offsets; what other
    cases promised of them (`promised`) is not there to take."""

    debits: list[list[object]] = field(default_factory=list)  # [first_date, account_id, owed less taken]
    promised: dict[str, list[Promise]] = field(default_factory=dict)
    read: set[str] = field(default_factory=set)  # offset instructions read when the promises were

    @classmethod
    def from_summaries(cls, summaries: Iterable[AccountSummary]) -> dict[str, DebitPool]:
        pools: dict[str, DebitPool] = {}
        for s in sorted(summaries, key=lambda s: (s.first_date or date.min, s.account_id)):
            if s.balance > 0:
                pools.setdefault(s.guarantor_id, cls()).debits.append([s.first_date, s.account_id, s.balance])
        return pools

    def promise(self, promises: Iterable[Promise]) -> None:
        """Offsets promised or on their way: that much of the debts they pay is not there. What one key promised
        is set, not added to: read twice (an index and the item), it is promised once."""
        by_key: dict[str, list[Promise]] = {}
        for p in promises:
            by_key.setdefault(p.key, []).append(p)
        self.promised.update(by_key)

    def release(self, key: str) -> None:
        """What `key` promised is there again (its case is worked anew, or its offset was posted back)."""
        self.promised.pop(key, None)

    def _available(self, account_id: str, remaining: Decimal) -> Decimal:
        promised = sum((p.amount for ps in self.promised.values() for p in ps if p.account_id == account_id), ZERO)
        return max(ZERO, remaining - promised)

    def take(self, amount: Decimal) -> list[tuple[str, Decimal]]:
        """Apply up to `amount` to the oldest debits; return (account, applied) pairs."""
        applied = []
        for debit in self.debits:
            if amount <= 0:
                break
            remaining: Decimal = debit[2]  # type: ignore[assignment]
            part = min(amount, self._available(str(debit[1]), remaining))
            if part <= 0:
                continue
            debit[2] = remaining - part
            amount -= part
            applied.append((str(debit[1]), part))
        return applied


def guarantor_debits(summary: AccountSummary, others: Iterable[AccountSummary]) -> DebitPool:
    """The debits a patient credit on `summary`'s account may pay: the same guarantor's other
    accounts that owe money (`others` are the accounts stored under that guarantor)."""
    pools = DebitPool.from_summaries(s for s in others if s.account_id != summary.account_id)
    return pools.get(summary.guarantor_id, DebitPool())


def case_id_for(account_id: str, episode_start: date, earlier: int = 0) -> str:
    """Stable id: the same account and credit episode always give the same case id. `earlier`: the
    account's cases before this one, when the plain id is taken (a credit left after a closed case
    whose episode it continues)."""
    key = f"{account_id}|{episode_start.isoformat()}" + (f"|{earlier}" if earlier else "")
    digest = hashlib.sha256(key.encode()).hexdigest()
    return f"CB-{digest[:16].upper()}"


def episode_start(transactions: Iterable[Transaction]) -> date:
    """The posting date from which the account's balance has stayed below zero."""
    running = ZERO
    start: date | None = None
    for t in sorted(transactions, key=lambda t: (t.posting_date, t.txn_id)):
        was_negative = running < 0
        running += t.amount
        if running < 0 and not was_negative:
            start = t.posting_date
        elif running >= 0:
            start = None
    assert start is not None, "episode_start needs an account in credit"
    return start


def offsets_and_holds(
    lines: list[Line], pool: DebitPool | None, patient_state: str | None, settings: Settings
) -> list[Line]:
    """Patient refund lines first pay the guarantor's other debits (OFFSET), small rests HOLD."""
    result: list[Line] = []
    for line in lines:
        if line.action != "REFUND" or line.payee_type != "PATIENT":
            result.append(line)
            continue
        amount = line.amount
        if pool is not None and settings.offset_patient_credits:
            for account_id, part in pool.take(amount):
                result.append(Line("OFFSET", line.reason, "PATIENT", line.payee_id, part, line.due_date, account_id))
                amount -= part
        if amount <= 0:
            continue
        if amount < settings.floor_for(patient_state):
            result.append(Line("HOLD", line.reason, "PATIENT", line.payee_id, amount, None))
        else:
            result.append(Line("REFUND", line.reason, "PATIENT", line.payee_id, amount, line.due_date))
    return result


def build_case(
    summary: AccountSummary,
    transactions: list[Transaction],
    identified_on: date,
    settings: Settings,
    pool: DebitPool | None = None,
    case_id: str | None = None,
    evidence: Evidence | None = None,
) -> Case:
    """One account in credit as a case: its lines, due dates and approval tier (`case_id`: the
    stored case it re-detects, when there is one; otherwise the id of its credit episode). `evidence`:
    what stored remittances say of the account (section 8), which may turn refunds into corrections."""
    credit = -summary.balance
    lines = split_credit(
        transactions, credit, summary.guarantor_id, summary.patient_state, identified_on, settings
    )
    lines = offsets_and_holds(lines, pool, summary.patient_state, settings)
    case = Case(
        case_id=case_id or case_id_for(summary.account_id, episode_start(transactions)),
        account_id=summary.account_id,
        patient_id=summary.patient_id,
        guarantor_id=summary.guarantor_id,
        credit=credit,
        identified_on=identified_on,
        lines=lines,
    )
    if evidence:
        apply_evidence(case, transactions, evidence)
    case.tier = settings.tier_for(case.refund_total)
    return case


def summarize(transactions: Iterable[Transaction]) -> dict[str, AccountSummary]:
    """Per-account balances and parties."""
    summaries: dict[str, AccountSummary] = {}
    for t in transactions:
        summary = summaries.get(t.account_id)
        if summary is None:
            summary = summaries[t.account_id] = AccountSummary(t.account_id)
        summary.add(t)
    return summaries


def detect_cases(
    summaries: dict[str, AccountSummary],
    transactions_of: dict[str, list[Transaction]],
    identified_on: date,
    settings: Settings,
) -> list[Case]:
    """Every account in credit as a case, sorted by account id.

    `transactions_of` needs the transactions of the accounts in credit only; offsets use the
    balances in `summaries`, and are applied in account order so that a run is repeatable.
    """
    pools = DebitPool.from_summaries(summaries.values())
    cases = []
    for account_id in sorted(a for a, s in summaries.items() if s.has_credit):
        summary = summaries[account_id]
        cases.append(
            build_case(summary, transactions_of[account_id], identified_on, settings, pools.get(summary.guarantor_id))
        )
    return cases


def detect(transactions: Iterable[Transaction], identified_on: date, settings: Settings) -> list[Case]:
    """Detection over a ledger held in memory (tests, small files)."""
    txns = list(transactions)
    by_account: dict[str, list[Transaction]] = {}
    for t in txns:
        by_account.setdefault(t.account_id, []).append(t)
    return detect_cases(summarize(txns), by_account, identified_on, settings)
