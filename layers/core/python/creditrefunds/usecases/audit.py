"""What auditors ask of the history: a case's records, whether the chains are whole, a search.
The same answers for the audit API and for `refunds audit`.

Verifying a case walks its chain against the head its case item keeps and, where seals exist,
against the latest seal (which a writer of the tables cannot forge), and checks the refund book
against the ISSUED records. The seals themselves are checked as a signed chain. With the ledger,
every account that refunds left is checked against the largest credit it ever held. With the
unclaimed-property table, every refund whose check a history record tells of must still be tracked there:
the daily escheat pass follows only the tracked ones.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from creditrefunds.domain.authentic import Tampered
from creditrefunds.domain.escheat import CHECK
from creditrefunds.domain.history import Break, public, verify_chain
from creditrefunds.domain.instructions import Instruction
from creditrefunds.domain.ledger import Transaction
from creditrefunds.domain.refunds import ap_file_problems, issue_breaks
from creditrefunds.domain.returns import Exposure, OverOffset, exposure, over_offset
from creditrefunds.domain.seals import against_seal, seal_breaks
from creditrefunds.usecases.ports import Approvals, Bucket, Cases, History, Ledger, RefundBook, Seals, Unclaimed


@dataclass(frozen=True)
class Verified:
    case_id: str
    records: int
    breaks: list[Break]
    known: bool  # the case or its history is stored at all
    account_id: str | None = None
    issued: bool = False  # the refund book holds instructions of the case
    checked: frozenset[str] = frozenset()  # the instructions whose checks its history tells of


@dataclass
class Audit:
    """Everything `verify_all` found."""

    cases: list[Verified] = field(default_factory=list)
    seal_problems: list[str] = field(default_factory=list)
    exposures: list[Exposure] = field(default_factory=list)  # accounts refunded more than they held
    over_offsets: list[OverOffset] = field(default_factory=list)  # debits offsets paid more into than they owed
    paid_problems: list[str] = field(default_factory=list)  # AP file rows no authenticated instruction says
    untracked: list[str] = field(default_factory=list)  # checks told of that the escheat pass no longer follows
    seals: int = 0
    latest_seal: str | None = None

    @property
    def whole(self) -> bool:
        return (not self.seal_problems and not self.exposures and not self.over_offsets and not self.paid_problems
                and not self.untracked and all(not v.breaks for v in self.cases))


def verify(cases: Cases, history: History, case_id: str, refunds: RefundBook | None = None,
           sealed: tuple[int, str] | list[tuple[int, str]] | None = None) -> Verified:
    """Walk one case's chain against the head its case item keeps (and each seal's that covered it, when
    given); with `refunds`, hold the refund book to its ISSUED records."""
    records = history.records(case_id)
    stored = cases.get(case_id, strict=False)
    every = [sealed] if isinstance(sealed, tuple) else list(dict.fromkeys(sealed or []))
    breaks = verify_chain(case_id, records, stored.head if stored else None)
    for covered in every:
        breaks += [b for b in against_seal(case_id, records, covered, stored is not None) if b not in breaks]
    instructions: list[Any] = []
    if refunds is not None and stored is not None:
        forged = refunds.problems(case_id)
        breaks += [Break(case_id, None, problem) for problem in forged]
        if not forged:
            instructions = refunds.of_case(case_id)
            breaks += issue_breaks(case_id, stored.status, records, instructions)
    checked = frozenset(str(r["instruction_id"]) for r in records if r.get("action") == CHECK
                        and r.get("instruction_id"))
    return Verified(case_id, len(records), breaks, bool(records) or stored is not None or bool(every),
                    stored.case.account_id if stored else None, bool(instructions), checked)


def verify_all(cases: Cases, history: History, refunds: RefundBook, seals: Seals | None,
               case_ids: list[str] | None = None, ledger: Ledger | None = None, bucket: Bucket | None = None,
               approvals: Approvals | None = None, unclaimed: Unclaimed | None = None) -> Audit:
    """Every case (or `case_ids`), the seals as a chain, and every sealed case that is gone; with
    `ledger`, every account a refund left (`exposures`); with `bucket`, every row of every version of every
    AP file against the authenticated instruction it names (`paid_problems`); with `approvals`, every case's
    approval links and decisions against their MACs; with `unclaimed`, every check the history tells of against
    the refunds the escheat pass follows (`untracked`)."""
    audit = Audit()
    sealed: dict[str, list[tuple[int, str]]] = {}  # every seal's head of each case, oldest first
    if seals is not None:
        stored = sorted(seals.all(), key=lambda s: s.key)
        audit.seals = len(stored)
        audit.seal_problems = seal_breaks(stored, seals.signature_valid)
        refused: dict[str, str] = {}  # each refused case, as the first seal that refused it said
        for seal in stored:
            for case_id, head in seal.heads.items():
                sealed.setdefault(case_id, []).append(head)
            for case_id, why in seal.refused.items():
                if case_ids is None or case_id in case_ids:
                    refused.setdefault(case_id, f"seal {seal.key} refused case {case_id}: {why}")
        audit.seal_problems += list(refused.values())
        if stored:
            audit.latest_seal = stored[-1].key
    ids = case_ids if case_ids is not None else sorted(set(cases.ids()) | set(sealed))
    audit.cases = [verify(cases, history, case_id, refunds, sealed.get(case_id)) for case_id in ids]
    if approvals is not None:
        for verified in audit.cases:
            try:
                approvals.of_case(verified.case_id)
            except Tampered as forged:
                verified.breaks.append(Break(verified.case_id, None, str(forged)))
    if bucket is not None:  # the whole audit (not one case): the AP files, and the book beyond the cases
        audit.paid_problems = ap_problems(bucket, refunds) + refunds.strays(set(ids))
    if ledger is not None:
        _ledger_checks(audit, ledger, refunds)
    if unclaimed is not None:
        audit.untracked = untracked(audit.cases, set(unclaimed.tracked()))
    return audit


def untracked(cases: list[Verified], tracked: set[str]) -> list[str]:
    """Each refund whose check a case's history tells of but the unclaimed table no longer tracks (an item
    deleted there): no letter, no report to the state would follow it."""
    return [f"refund {iid} of case {v.case_id}: the history tells of its check, the unclaimed-property table "
            "does not track it (the daily escheat pass skips it; dropping the check register again tracks it)"
            for v in cases for iid in sorted(v.checked - tracked)]


def _ledger_checks(audit: Audit, ledger: Ledger, refunds: RefundBook) -> None:
    """Every account a refund left against the credit it held (`exposures`), and every debit an offset paid
    into against what it owed (`over_offsets`)."""
    issued = {v.account_id for v in audit.cases if v.issued and v.account_id}
    offsets: dict[str, list[Instruction]] = {}
    read: dict[str, list[Transaction]] = {}  # each account's ledger once, a debit's too when it is a case's
    for account_id in sorted({v.account_id for v in audit.cases if v.account_id}):
        try:
            transactions = read[account_id] = ledger.account_transactions(account_id)
        except Tampered as forged:
            audit.seal_problems.append(str(forged))
            continue
        if account_id not in issued:
            continue
        instructions = refunds.of_account(account_id)
        for i in instructions:
            if i.target:
                offsets.setdefault(i.target, []).append(i)
        found = exposure(account_id, transactions, instructions)
        if found.over > 0:
            audit.exposures.append(found)
    for target, paid_in in sorted(offsets.items()):
        try:
            over = over_offset(target, read[target] if target in read else ledger.account_transactions(target),
                               paid_in)
        except Tampered as forged:
            audit.seal_problems.append(str(forged))
            continue
        if over.over > 0:
            audit.over_offsets.append(over)


def ap_problems(bucket: Bucket, refunds: RefundBook) -> list[str]:
    """Every AP file row (every stored version) that no authenticated instruction says, each said."""
    problems: list[str] = []
    known: dict[str, Instruction | None] = {}
    for key, version, text in bucket.ap_files():
        for row in csv.DictReader(io.StringIO(text)):
            iid = row.get("instruction_id") or ""
            if iid not in known:
                try:
                    known[iid] = refunds.get(iid) if iid else None
                except Tampered:
                    known[iid] = None
        problems += ap_file_problems(key, version, text, known)
    return problems


def case_history(history: History, case_id: str) -> list[dict[str, Any]]:
    return [public(r) for r in history.records(case_id)]


SEARCH_FILTERS = ("account", "patient", "guarantor", "payer", "status")


def search(history: History, query: dict[str, str]) -> list[dict[str, Any]]:
    """Records by account, patient, guarantor, payer, status and dates (`from`, `to`: ISO dates);
    ValueError naming what is wrong with a search the indexes cannot answer."""
    start, end = (date.fromisoformat(query[name]) if query.get(name) else None for name in ("from", "to"))
    filters = {name: query.get(name) or "" for name in SEARCH_FILTERS}
    return [{"case_id": r["case_id"], **public(r)} for r in history.search(filters, start, end)]
