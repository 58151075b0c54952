"""What auditors ask of the history: a case's records, whether the chains are whole, a search.
The same answers for the audit API and for `refunds audit`.

Verifying a case walks its chain against the head its case item keeps and, where seals exist,
against the latest seal (which a writer of the tables cannot forge), and checks the refund book
against the ISSUED records. The seals themselves are checked as a signed chain. With the ledger,
every account that refunds left is checked against the largest credit it ever held.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Any

from creditrefunds.domain.authentic import Tampered
from creditrefunds.domain.history import Break, public, verify_chain
from creditrefunds.domain.refunds import issue_breaks
from creditrefunds.domain.returns import Exposure, exposure
from creditrefunds.domain.seals import against_seal, seal_breaks
from creditrefunds.usecases.ports import Cases, History, Ledger, RefundBook, Seals


@dataclass(frozen=True)
class Verified:
    case_id: str
    records: int
    breaks: list[Break]
    known: bool  # the case or its history is stored at all
    account_id: str | None = None
    issued: bool = False  # the refund book holds instructions of the case


@dataclass
class Audit:
    """Everything `verify_all` found."""

    cases: list[Verified] = field(default_factory=list)
    seal_problems: list[str] = field(default_factory=list)
    exposures: list[Exposure] = field(default_factory=list)  # accounts refunded more than they held
    seals: int = 0
    latest_seal: str | None = None

    @property
    def whole(self) -> bool:
        return not self.seal_problems and not self.exposures and all(not v.breaks for v in self.cases)


def verify(cases: Cases, history: History, case_id: str, refunds: RefundBook | None = None,
           sealed: tuple[int, str] | None = None) -> Verified:
    """Walk one case's chain against the head its case item keeps (and the seal's, when given); with
    `refunds`, hold the refund book to its ISSUED records."""
    records = history.records(case_id)
    stored = cases.get(case_id, strict=False)
    breaks = (verify_chain(case_id, records, stored.head if stored else None)
              + against_seal(case_id, records, sealed, stored is not None))
    instructions: list[Any] = []
    if refunds is not None and stored is not None:
        try:
            instructions = refunds.of_case(case_id)
        except Tampered as forged:
            breaks.append(Break(case_id, None, str(forged)))
        else:
            breaks += issue_breaks(case_id, stored.status, records, instructions)
    return Verified(case_id, len(records), breaks, bool(records) or stored is not None or sealed is not None,
                    stored.case.account_id if stored else None, bool(instructions))


def verify_all(cases: Cases, history: History, refunds: RefundBook, seals: Seals | None,
               case_ids: list[str] | None = None, ledger: Ledger | None = None) -> Audit:
    """Every case (or `case_ids`), the seals as a chain, and every sealed case that is gone; with
    `ledger`, every account a refund left (`exposures`)."""
    audit = Audit()
    sealed: dict[str, tuple[int, str]] = {}
    if seals is not None:
        stored = seals.all()
        audit.seals = len(stored)
        audit.seal_problems = seal_breaks(stored, seals.signature_valid)
        if stored:
            latest = max(stored, key=lambda s: s.key)
            audit.latest_seal, sealed = latest.key, latest.heads
    ids = case_ids if case_ids is not None else sorted(set(cases.ids()) | set(sealed))
    audit.cases = [verify(cases, history, case_id, refunds, sealed.get(case_id)) for case_id in ids]
    if ledger is not None:
        for account_id in sorted({v.account_id for v in audit.cases if v.issued and v.account_id}):
            try:
                transactions = ledger.account_transactions(account_id)
            except Tampered as forged:
                audit.seal_problems.append(str(forged))
                continue
            found = exposure(account_id, transactions, refunds.of_account(account_id))
            if found.over > 0:
                audit.exposures.append(found)
    return audit


def case_history(history: History, case_id: str) -> list[dict[str, Any]]:
    return [public(r) for r in history.records(case_id)]


SEARCH_FILTERS = ("account", "patient", "guarantor", "payer", "status")


def search(history: History, query: dict[str, str]) -> list[dict[str, Any]]:
    """Records by account, patient, guarantor, payer, status and dates (`from`, `to`: ISO dates);
    ValueError naming what is wrong with a search the indexes cannot answer."""
    start, end = (date.fromisoformat(query[name]) if query.get(name) else None for name in ("from", "to"))
    filters = {name: query.get(name) or "" for name in SEARCH_FILTERS}
    return [{"case_id": r["case_id"], **public(r)} for r in history.search(filters, start, end)]
