"""Detection against the stored ledger: open, update or reconcile the cases of touched accounts.

Re-detection reads the whole stored ledger of each account, so a file that completes an
account's story (a late payment, the refund rows coming back) is judged with all that came before.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from creditrefunds.domain.approvals import case_digest
from creditrefunds.domain.cases import Case
from creditrefunds.domain.detection import (
    AccountSummary,
    DebitPool,
    build_case,
    case_id_for,
    episode_start,
    guarantor_debits,
)
from creditrefunds.domain.history import Entry
from creditrefunds.domain.ledger import Transaction
from creditrefunds.domain.mail import approval_withdrawn
from creditrefunds.domain.money import ZERO
from creditrefunds.domain.review import pause_clock
from creditrefunds.domain.status import Status
from creditrefunds.usecases.ports import Ports

logger = logging.getLogger(__name__)
ACTOR = "system:ingest"
CASE_CHANGED = "CaseChanged"  # the error a withdrawn approval's task ends with (the state machine catches it)
DETECT_CHUNK = 1000  # accounts whose stored ledger is read at once for detection


@dataclass
class DetectionReport:
    opened: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    reconciled: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {"cases_opened": self.opened, "cases_updated": self.updated, "cases_reconciled": self.reconciled}


def detect_accounts(ports: Ports, accounts: set[str], today: date, now: datetime, report: DetectionReport) -> None:
    """Re-run detection on the whole stored ledger of each account; open or update its case.

    Accounts go in order, DETECT_CHUNK at a time: their transactions are held only while their
    chunk is worked, so memory follows the accounts' summaries, not the file's rows. Each new
    case gets a workflow; the history records the detection and every ledger change of a case.
    """
    detector = _Detector(ports, today, now, report)
    ordered = sorted(accounts)
    for start in range(0, len(ordered), DETECT_CHUNK):
        chunk = ports.transactions.summaries(set(ordered[start:start + DETECT_CHUNK]))
        detector.known.update({account: summary for account, (summary, _) in chunk.items()})
        for account_id in ordered[start:start + DETECT_CHUNK]:
            detector.detect(*chunk[account_id])


def debits_for(ports: Ports, summary: AccountSummary, known: dict[str, AccountSummary] | None = None) -> DebitPool:
    """The guarantor's other debits from the stored ledger (`known`: summaries already read)."""
    known = known or {}
    others = [known[account] if account in known else ports.transactions.summary(account)[0]
              for account in ports.transactions.guarantor_accounts(summary.guarantor_id)
              if account != summary.account_id]
    return guarantor_debits(summary, others)


@dataclass
class _Detector:
    ports: Ports
    today: date
    now: datetime
    report: DetectionReport
    pools: dict[str, DebitPool] = field(default_factory=dict)  # one per guarantor: a debit is offset once
    known: dict[str, AccountSummary] = field(default_factory=dict)  # summaries read so far

    def detect(self, summary: AccountSummary, txns: list[Transaction]) -> None:
        cases = self.ports.cases
        if not summary.has_credit:
            self._reconcile(summary.account_id, txns)
            return  # a case not yet issued is closed by the workflow's re-check
        existing = cases.get(case_id_for(summary.account_id, episode_start(txns)))
        # The credit was identified when its case opened: a re-detection keeps that day.
        identified_on = existing.case.identified_on if existing else self.today
        if summary.guarantor_id not in self.pools:
            self.pools[summary.guarantor_id] = debits_for(self.ports, summary, self.known)
        case = build_case(summary, txns, identified_on, self.ports.settings, self.pools[summary.guarantor_id])
        if existing is not None:
            pause_clock(case, existing.paused_days)  # as the workflow keeps it: investigations moved its dates
        if existing is None and cases.open_new(case):
            self.report.opened.append(case.case_id)
            reasons = ", ".join(sorted({line.reason for line in case.lines}))
            self._record(case, Entry(ACTOR, "DETECTED", None, Status.OPEN, f"credit balance: {reasons}", case.credit))
            if not self.ports.workflows.start_case(case.case_id):
                logger.info("workflow already started", extra={"case_id": case.case_id})
            return
        if existing is not None and case_digest(existing.case) != case_digest(case):
            before, status = existing.case, existing.status
            cases.update_figures(case)
            self.report.updated.append(case.case_id)
            why = (f"a ledger file changed the credit from {before.credit:f} to {case.credit:f}"
                   if before.credit != case.credit else "a ledger file changed the lines")
            if status is Status.AWAITING_APPROVAL:
                why += self._withdraw(case)
            self._record(case, Entry(ACTOR, "LEDGER_CHANGED", status, status, why, case.credit))

    def _withdraw(self, case: Case) -> str:
        """The links waiting on the old lines decide nothing now; their tasks end, so that the workflow
        reviews the case again and asks approval of the lines as they are (at the tier of the new total)."""
        ports = self.ports
        withdrawn = ports.approvals.supersede(case.case_id, ports.approvals.pending(case.case_id))
        for approval, token in withdrawn:
            ports.workflows.fail_task(token, CASE_CHANGED, "a ledger file changed the lines awaiting approval")
            ports.mailer.send(approval_withdrawn(approval, case), self.now)
        return "; the approval asked of them is withdrawn and asked again" if withdrawn else ""

    def _reconcile(self, account_id: str, txns: list[Transaction]) -> None:
        """An issued refund whose REFUND rows came back in the ledger (the credit is cleared): RECONCILED."""
        refunded = sum((t.amount for t in txns if t.txn_type == "REFUND"), ZERO)
        if refunded <= 0:
            return
        for stored in self.ports.cases.of_account(account_id):
            if stored.status != Status.REFUND_ISSUED:
                continue
            self.ports.cases.set_status(stored.case.case_id, Status.RECONCILED)
            self.report.reconciled.append(stored.case.case_id)
            self._record(stored.case, Entry(ACTOR, "RECONCILED", Status.REFUND_ISSUED, Status.RECONCILED,
                                            f"the ledger carries refunds of {refunded:f} and the credit is cleared",
                                            refunded))

    def _record(self, case: Case, entry: Entry) -> None:
        self.ports.history.append(case, entry, self.now)
