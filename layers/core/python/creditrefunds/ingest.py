"""Ingest one ledger file into the stored ledger and open or update its cases.

Adapters are passed in (the stores, how to start a workflow), so this runs the same in
Lambda, in the local cloud and in tests.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

from creditrefunds.cases import Case
from creditrefunds.detection import AccountSummary, DebitPool, build_case, case_id_for, episode_start
from creditrefunds.history import Entry
from creditrefunds.ledger import RowError, Transaction, check_readable, numbered_rows
from creditrefunds.ledger_store import TransactionStore, guarantor_debits
from creditrefunds.money import ZERO
from creditrefunds.settings import Settings
from creditrefunds.stores import CaseStore, case_from_item


@dataclass
class IngestReport:
    """What one file did: counts for metrics, rejects for the operator, cases for the workflow."""

    rows_read: int = 0
    stored: int = 0
    repeated: int = 0
    rejects: list[RowError] = field(default_factory=list)
    # account -> (posting date, txn_id, guarantor) of its latest row in the file: whose pool it is
    latest: dict[str, tuple[str, str, str]] = field(default_factory=dict)
    cases_opened: list[str] = field(default_factory=list)
    cases_updated: list[str] = field(default_factory=list)
    cases_reconciled: list[str] = field(default_factory=list)

    @property
    def accounts(self) -> set[str]:
        """The accounts the file touched."""
        return set(self.latest)

    def saw(self, account: str, row: tuple[str, str, str]) -> None:
        """Keep `row` as the account's latest when it is later than the one kept."""
        self.latest[account] = max(row, self.latest.get(account, row))


ACTOR = "system:ingest"
CHUNK = 2000  # transactions stored per round: memory stays bounded, writers stay busy
DETECT_CHUNK = 1000  # accounts whose stored ledger is read at once for detection


def store_file(path: Path, fmt: str, store: TransactionStore, first_line: int | None = None) -> IngestReport:
    """Validate and store every row; a repeated transaction is a no-op, another one a conflict.

    The file is checked readable first, so that a file refused whole stores nothing.
    """
    check_readable(path)
    report = IngestReport()
    pending: list[tuple[int, Transaction]] = []
    with open(path, "rb") as stream:
        for line, item in numbered_rows(stream, fmt, first_line):
            report.rows_read += 1
            if item is None:
                report.repeated += 1
            elif isinstance(item, RowError):
                report.rejects.append(item)
            else:
                pending.append((line, item))
                if len(pending) >= CHUNK:
                    _store(pending, store, report)
                    pending = []
    _store(pending, store, report)
    report.rejects.sort(key=lambda r: r.line)
    return report


def _store(pending: list[tuple[int, Transaction]], store: TransactionStore, report: IngestReport) -> None:
    outcomes = store.put_all([txn for _, txn in pending])
    for (line, txn), outcome in zip(pending, outcomes, strict=True):
        if outcome.result == "conflict":
            report.rejects.append(
                RowError(line, txn.txn_id, "txn_id", "conflicts with the stored transaction of the same txn_id; "
                         "the stored one is kept")
            )
            continue
        report.saw(txn.account_id, (txn.posting_date.isoformat(), txn.txn_id, txn.guarantor_id))
        if outcome.result == "new":
            report.stored += 1
        else:
            report.repeated += 1


def detect_accounts(
    accounts: set[str],
    store: TransactionStore,
    cases: CaseStore,
    today: date,
    settings: Settings,
    start_workflow: Callable[[Case], None],
    report: IngestReport,
    record: Callable[[Case, Entry], None] = lambda _case, _entry: None,
) -> None:
    """Re-run detection on the whole stored ledger of each account; open or update its case.

    Accounts go in order, DETECT_CHUNK at a time: their transactions are held only while their
    chunk is worked, so memory follows the accounts' summaries, not the file's rows. `record`
    writes the case's history: the detection, and every ledger change of its figures.
    """
    detector = _Detector(store, cases, today, settings, start_workflow, report, record)
    ordered = sorted(accounts)
    for start in range(0, len(ordered), DETECT_CHUNK):
        chunk = store.summaries(set(ordered[start:start + DETECT_CHUNK]))
        detector.known.update({account: summary for account, (summary, _) in chunk.items()})
        for account_id in ordered[start:start + DETECT_CHUNK]:
            detector.detect(*chunk[account_id])


@dataclass
class _Detector:
    store: TransactionStore
    cases: CaseStore
    today: date
    settings: Settings
    start_workflow: Callable[[Case], None]
    report: IngestReport
    record: Callable[[Case, Entry], None]
    pools: dict[str, DebitPool] = field(default_factory=dict)  # one per guarantor: a debit is offset once
    known: dict[str, AccountSummary] = field(default_factory=dict)  # summaries read so far

    def detect(self, summary: AccountSummary, txns: list[Transaction]) -> None:
        account_id, report, cases = summary.account_id, self.report, self.cases
        if not summary.has_credit:
            _reconcile(account_id, txns, cases, report, self.record)
            return  # a case not yet issued is closed by the workflow's re-check
        existing = cases.get(case_id_for(account_id, episode_start(txns)))
        # The credit was identified when its case opened: a re-detection keeps that day.
        identified_on = date.fromisoformat(existing["identified_on"]) if existing else self.today
        if summary.guarantor_id not in self.pools:
            self.pools[summary.guarantor_id] = guarantor_debits(summary, self.store, self.known)
        case = build_case(summary, txns, identified_on, self.settings, self.pools[summary.guarantor_id])
        if existing is None and cases.open_new(case):
            report.cases_opened.append(case.case_id)
            reasons = ", ".join(sorted({line.reason for line in case.lines}))
            self.record(case, Entry(ACTOR, "DETECTED", None, "OPEN", f"credit balance: {reasons}", case.credit))
            self.start_workflow(case)
            return
        before = case_from_item(existing) if existing is not None else None
        if before is not None and before.to_json() != case.to_json():
            cases.update_figures(case)
            report.cases_updated.append(case.case_id)
            self.record(case, Entry(
                ACTOR, "LEDGER_CHANGED", existing["status"], existing["status"],
                f"a ledger file changed the credit from {before.credit:f} to {case.credit:f}"
                if before.credit != case.credit else "a ledger file changed the lines", case.credit))


def _reconcile(
    account_id: str,
    txns: list[Transaction],
    cases: CaseStore,
    report: IngestReport,
    record: Callable[[Case, Entry], None],
) -> None:
    """An issued refund whose REFUND rows came back in the ledger (the credit is cleared): RECONCILED."""
    refunded = sum((t.amount for t in txns if t.txn_type == "REFUND"), ZERO)
    for item in cases.of_account(account_id):
        if item["status"] != "REFUND_ISSUED" or refunded <= 0:
            continue
        cases.set_status(item["case_id"], "RECONCILED")
        report.cases_reconciled.append(item["case_id"])
        record(case_from_item(item), Entry(ACTOR, "RECONCILED", "REFUND_ISSUED", "RECONCILED",
                                           f"the ledger carries refunds of {refunded:f} and the credit is cleared",
                                           refunded))
