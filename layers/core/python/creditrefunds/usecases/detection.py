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
from creditrefunds.domain.cases import Case, StoredCase
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
from creditrefunds.domain.refunds import work_item
from creditrefunds.domain.returns import Instruction, Returns, settle
from creditrefunds.domain.review import pause_clock
from creditrefunds.domain.status import RESOLVED, Status
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
        """One credit, one refund: the case holding the account is updated, never doubled; money it sent
        out holds the account until the ledger posts it back; a new case claims only what is not in flight."""
        account_id = summary.account_id
        holder_id = self.ports.cases.holder(account_id)
        holder = self.ports.cases.get(holder_id, strict=False) if holder_id else None
        if holder is not None and holder.status in RESOLVED:
            holder = None  # closed: a new case may open after it
        if holder is None and not summary.has_credit:
            return
        instructions = [Instruction.from_row(row) for row in self.ports.refund_book.of_account(account_id)]
        found = settle(holder.case.case_id if holder else None,
                       holder is not None and holder.status is Status.REFUND_ISSUED, summary, txns, instructions)
        if holder is not None and found.waiting:
            self._strays(holder, found.returns)
        if holder is not None and found.reconciled:
            self._reconcile(holder, found.returns, instructions)
            holder = None
        if found.claim is None:
            return  # nothing left to claim, or the account waits for its refund to be posted back
        if holder is None:
            self._open(*found.claim, holder_id)
        else:
            self._update(holder, *found.claim)

    def _build(self, summary: AccountSummary, txns: list[Transaction], identified_on: date,
               case_id: str | None) -> Case:
        if summary.guarantor_id not in self.pools:
            self.pools[summary.guarantor_id] = debits_for(self.ports, summary, self.known)
        return build_case(summary, txns, identified_on, self.ports.settings, self.pools[summary.guarantor_id], case_id)

    def _open(self, summary: AccountSummary, txns: list[Transaction], after: str | None) -> None:
        """A case for the account's credit net of money in flight, under an id no earlier case of it has."""
        cases = self.ports.cases
        earlier = {stored.case.case_id for stored in cases.of_account(summary.account_id)}
        start, count = episode_start(txns), len(earlier)
        case_id = case_id_for(summary.account_id, start)
        while case_id in earlier:
            case_id = case_id_for(summary.account_id, start, count)
            count += 1
        if not cases.claim(summary.account_id, case_id, after):
            logger.info("another case holds the account", extra={"case_id": case_id})
            return  # a detection at the same moment opened it; the workflow's review reads the ledger anew
        case = self._build(summary, txns, self.today, case_id)
        if not cases.open_new(case):
            return  # stored already (a repeat of this detection)
        self.report.opened.append(case.case_id)
        reasons = ", ".join(sorted({line.reason for line in case.lines}))
        self._record(case, Entry(ACTOR, "DETECTED", None, Status.OPEN, f"credit balance: {reasons}", case.credit))
        if not self.ports.workflows.start_case(case.case_id):
            logger.info("workflow already started", extra={"case_id": case.case_id})

    def _update(self, existing: StoredCase, summary: AccountSummary, txns: list[Transaction]) -> None:
        """The case holding the account, re-detected: its credit and lines as the ledger has them now."""
        # The credit was identified when its case opened: a re-detection keeps that day.
        case = self._build(summary, txns, existing.case.identified_on, existing.case.case_id)
        pause_clock(case, existing.paused_days)  # as the workflow keeps it: investigations moved its dates
        if case_digest(existing.case) == case_digest(case):
            return
        before, status = existing.case, existing.status
        self.ports.cases.update_figures(case)
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

    def _reconcile(self, stored: StoredCase, returns: Returns, instructions: list[Instruction]) -> None:
        """Every instruction of the case came back, each by a row of its own: RECONCILED."""
        case = stored.case
        mine = sorted((i for i in instructions if i.case_id == case.case_id), key=lambda i: i.instruction_id)
        posted = "; ".join(f"{i.describe()} by {returns.matched[i.instruction_id].txn_type} row "
                           f"{returns.matched[i.instruction_id].txn_id}" for i in mine)
        self.ports.cases.set_status(case.case_id, Status.RECONCILED)
        self.report.reconciled.append(case.case_id)
        self._record(case, Entry(ACTOR, "RECONCILED", stored.status, Status.RECONCILED,
                                 f"the ledger posted back every instruction: {posted}",
                                 sum((i.amount for i in mine), ZERO)))

    def _strays(self, stored: StoredCase, returns: Returns) -> None:
        """Rows posted since the refund went out that return none of its instructions: a work item for
        billing staff and a history record, once per row."""
        item = self.ports.cases.item(stored.case.case_id) or {}
        told = set(item.get("stray_returns") or [])
        new = [(t, why) for t, why in returns.stray if t.txn_id not in told]
        if not new:
            return
        case, ports = stored.case, self.ports
        every = [why for _, why in returns.stray]
        key = ports.bucket.put_work_item(f"{case.case_id}.returns", {
            **work_item(case, "refund rows that match no instruction in flight: " + " | ".join(every), self.now)})
        ports.cases.set_status(case.case_id, None, stray_returns=sorted(told | {t.txn_id for t, _ in new}))
        ports.events.publish("WorkItemCreated", {"case_id": case.case_id, "account_id": case.account_id,
                                                 "key": key, "why": "unmatched refund row"})
        for _, why in new:
            self._record(case, Entry(ACTOR, "RETURN_UNMATCHED", stored.status, stored.status, why, None))

    def _record(self, case: Case, entry: Entry) -> None:
        self.ports.history.append(case, entry, self.now)
