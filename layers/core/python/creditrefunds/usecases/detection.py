"""Detection against the stored ledger: open, update or reconcile the cases of touched accounts.

Re-detection reads the whole stored ledger of each account, so a file that completes an
account's story (a late payment, the refund rows coming back) is judged with all that came before.
"""

from __future__ import annotations

import logging
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from typing import Any

from creditrefunds.domain.approvals import case_digest
from creditrefunds.domain.authentic import Tampered
from creditrefunds.domain.cases import Case, StoredCase
from creditrefunds.domain.detection import (
    AccountSummary,
    DebitPool,
    build_case,
    case_id_for,
    episode_start,
)
from creditrefunds.domain.evidence import paid_claims
from creditrefunds.domain.history import Entry
from creditrefunds.domain.ledger import Transaction
from creditrefunds.domain.mail import approval_withdrawn
from creditrefunds.domain.returns import RETURNING, claim, holds, in_flight_offsets, match_returns
from creditrefunds.domain.review import pause_clock
from creditrefunds.domain.status import Status
from creditrefunds.usecases.offsets import debits_for
from creditrefunds.usecases.ports import Ports
from creditrefunds.usecases.reconcile import flag_cleared, instructions_of, settle_returns

logger = logging.getLogger(__name__)
ACTOR = "system:ingest"
CASE_CHANGED = "CaseChanged"  # the error a withdrawn approval's task ends with (the state machine catches it)
DETECT_CHUNK = 1000  # accounts whose stored ledger is read at once for detection
DETECTORS = 8  # guarantors detected at once: each case is a few requests, one after another


@dataclass(frozen=True)
class Cause:
    """What made detection run again, as the history tells it: who, the action, and what changed the case.
    `ledger`: the stored ledger changed (a ledger file). A remittance changes no balance: it neither opens
    a case, nor reconciles refunds posted back, nor starts a workflow; it re-checks the cases there are."""

    actor: str
    action: str
    text: str
    ledger: bool = True


LEDGER_FILE = Cause(ACTOR, "LEDGER_CHANGED", "a ledger file")


@dataclass
class DetectionReport:
    opened: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    reconciled: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {"cases_opened": self.opened, "cases_updated": self.updated, "cases_reconciled": self.reconciled}

    def add(self, other: DetectionReport) -> None:
        self.opened += other.opened
        self.updated += other.updated
        self.reconciled += other.reconciled


def detect_accounts(ports: Ports, accounts: set[str], today: date, now: datetime, report: DetectionReport,
                    cause: Cause = LEDGER_FILE) -> None:
    """Re-run detection on the whole stored ledger of each account; open or update its case.

    Accounts go in order, DETECT_CHUNK at a time: their transactions are held only while their
    chunk is worked, so memory follows the accounts' summaries, not the file's rows. Each new
    case gets a workflow; the history records the detection and every ledger change of a case.

    A chunk's guarantors are worked in parallel, each guarantor's accounts in order in one thread:
    a guarantor's debits (its pool) are offset as they would be one account after another, and
    nothing else is shared between accounts. The report lists guarantor by guarantor, in order.
    """
    detector = _Detector(ports, today, now, report, cause)
    ordered = sorted(accounts)
    with ThreadPoolExecutor(max_workers=DETECTORS) as threads:
        for start in range(0, len(ordered), DETECT_CHUNK):
            chunk = ports.transactions.summaries(set(ordered[start:start + DETECT_CHUNK]))
            accounts_now = [a for a in ordered[start:start + DETECT_CHUNK] if a in chunk]  # not one left out
            holders = ports.cases.holders(accounts_now)
            detector.known.update({account: summary for account, (summary, _) in chunk.items()})
            guarantors: dict[str, list[tuple[AccountSummary, list[Transaction], str | None]]] = {}
            for account_id in accounts_now:
                summary, txns = chunk[account_id]
                guarantors.setdefault(summary.guarantor_id, []).append((summary, txns, holders[account_id]))
            for done in threads.map(detector.detect_all, guarantors.values()):
                report.add(done)


def detected_entry(case: Case, actor: str = ACTOR) -> Entry:
    """A case's first record: it was detected, and why."""
    reasons = ", ".join(sorted({line.reason for line in case.lines}))
    return Entry(actor, "DETECTED", None, Status.OPEN, f"credit balance: {reasons}", case.credit)


@dataclass
class _Detector:
    ports: Ports
    today: date
    now: datetime
    report: DetectionReport
    cause: Cause
    pools: dict[str, DebitPool] = field(default_factory=dict)  # one per guarantor: a debit is offset once
    known: dict[str, AccountSummary] = field(default_factory=dict)  # summaries read so far

    def detect_all(self, accounts: list[tuple[AccountSummary, list[Transaction], str | None]]) -> DetectionReport:
        """`detect` each account in turn, in a thread of its own: its report apart, the same pools."""
        alone = replace(self, report=DetectionReport())
        for account in accounts:
            try:
                alone.detect(*account)
            except Tampered as forged:  # that account waits for a person; the file's others go on
                logger.error("an account is left out: a record it rests on fails its check",
                             extra={"account_id": account[0].account_id, "why": str(forged)})
        return alone.report

    def detect(self, summary: AccountSummary, txns: list[Transaction], holder_id: str | None) -> None:
        """One credit, one refund: the case holding the account (`holder_id`, read with its chunk) is
        re-detected, never doubled; money sent out counts as in flight until the ledger posts it back; a
        new case claims only the rest. A hold taken since it was read is met by `claim`'s condition."""
        account_id = summary.account_id
        returning = any(t.txn_type in RETURNING for t in txns)
        if holder_id is None and not (summary.has_credit or returning):
            return  # never a case, no credit: nothing to do (most accounts of a file)
        if not self.cause.ledger and holder_id is None:
            return  # only a ledger file opens (or adopts) a case: a remittance re-checks the one there is
        holder = self.ports.cases.get(holder_id, strict=False) if holder_id else self._unheld(account_id)
        instructions = instructions_of(self.ports, account_id, holder)
        returns = match_returns(instructions, txns)
        closed: list[str] = []
        if self.cause.ledger:
            closed = settle_returns(self.ports, returns, instructions, self.now)
            self.report.reconciled += closed
            flag_cleared(self.ports, summary, returns, self.now)
        found = claim(summary, txns, returns)
        if summary.guarantor_id in self.pools or (found is not None and any(i.target for i in returns.pending)):
            pool = self._pool(summary)  # its offsets on their way pay those debts (one the index lags for too)
            pool.promise(p for p in in_flight_offsets(returns.pending) if p.key not in pool.read)
        if holder is not None and holder.case.case_id not in closed:
            issued = any(i.case_id == holder.case.case_id for i in instructions)
            if holds(holder.status, issued):
                if not issued:
                    self._update(holder, found)
                return
        if found is not None and self.cause.ledger:
            self._open(*found, holder.case.case_id if holder else holder_id)

    def _unheld(self, account_id: str) -> StoredCase | None:
        """An account no hold names: a case opened before holds were kept still holds it (adopted now)."""
        for stored in self.ports.cases.of_account(account_id):
            if holds(stored.status, stored.status is Status.FAILED) and \
                    self.ports.cases.claim(account_id, stored.case.case_id, None):
                return stored
        return None

    def _pool(self, summary: AccountSummary) -> DebitPool:
        """The guarantor's debits less what its cases promised, read once per detection: a debit is offset once."""
        if summary.guarantor_id not in self.pools:
            self.pools[summary.guarantor_id] = debits_for(self.ports, summary, self.known)
        return self.pools[summary.guarantor_id]

    def _build(self, summary: AccountSummary, txns: list[Transaction], identified_on: date,
               case_id: str | None) -> Case:
        pool = self._pool(summary)
        if case_id is not None:
            pool.release(case_id)  # the case's own lines are worked anew
        return build_case(summary, txns, identified_on, self.ports.settings, pool, case_id,
                          self.ports.remittances.of_account(summary.account_id, paid_claims(txns)))

    def _open(self, summary: AccountSummary, txns: list[Transaction], after: str | None) -> None:
        """A case for the account's credit net of money in flight, under an id no earlier case of it has."""
        cases = self.ports.cases
        earlier = {stored.case.case_id for stored in cases.of_account(summary.account_id)}
        earlier |= {after} if after else set()  # the case before it, should the index not show it yet
        start, count = episode_start(txns), len(earlier)
        case_id = case_id_for(summary.account_id, start)
        while case_id in earlier:
            case_id = case_id_for(summary.account_id, start, count)
            count += 1
        if not cases.claim(summary.account_id, case_id, after):
            logger.info("another case holds the account", extra={"case_id": case_id})
            return  # a detection at the same moment opened it; the workflow's review reads the ledger anew
        case = self._build(summary, txns, self.today, case_id)
        if cases.open_new(case, at=self.now):
            self.report.opened.append(case.case_id)
        self._start(case)  # also when stored by an attempt that stopped half-way: finish what it left

    def _start(self, case: Case, run: int = 0) -> None:
        """The DETECTED record and the workflow of a stored case, each once, whichever attempt (or
        detection at the same moment) gets here: a retry after a crash between the writes completes them."""
        self.ports.history.append_first(case, detected_entry(case), self.now)
        if not self.ports.workflows.start_case(case.case_id, run):
            logger.info("workflow already started", extra={"case_id": case.case_id})

    def _update(self, existing: StoredCase, found: tuple[AccountSummary, list[Transaction]] | None) -> None:
        """The case holding the account, re-detected on the credit net of money in flight. The workflow's
        re-check closes a case it is working; a work item's workflow has ended, so a ledger file closes it
        (the credit cleared) or reviews it again (it has refunds to make now)."""
        status = existing.status
        if status is Status.OPEN and self.cause.ledger:  # stored by a detection that stopped before its workflow?
            self._start(existing.case, run=existing.runs)
        if found is None:
            if status is Status.WORK_ITEM and self.ports.cases.transition(
                    existing.case.case_id, status, Status.RESOLVED_NO_REFUND):
                self._record(existing.case, Entry(ACTOR, "RESOLVED", status, Status.RESOLVED_NO_REFUND,
                                                  "the ledger shows the credit cleared", None))
                self.ports.worklist.close_case(existing.case.case_id)
            return
        # The credit was identified when its case opened: a re-detection keeps that day.
        case = self._build(*found, existing.case.identified_on, existing.case.case_id)
        pause_clock(case, existing.paused_days)  # as the workflow keeps it: investigations moved its dates
        if case_digest(existing.case) == case_digest(case) or not self.ports.cases.update_figures(case, status):
            return  # unchanged, or the workflow moved it on a moment ago (it re-checks the ledger itself)
        before = existing.case
        self.report.updated.append(case.case_id)
        why = (f"{self.cause.text} changed the credit from {before.credit:f} to {case.credit:f}"
               if before.credit != case.credit else f"{self.cause.text} changed the lines")
        if status in (Status.OPEN, Status.AWAITING_APPROVAL):  # OPEN: a link may be mailed, the status not yet set
            why += self._withdraw(case)
        self._record(case, Entry(self.cause.actor, self.cause.action, status, status, why, case.credit))
        if status is Status.WORK_ITEM and case.refund_total > 0 and self.cause.ledger:
            self._review_again(existing, case)

    def _review_again(self, existing: StoredCase, case: Case) -> None:
        """A work item that has refunds to make now: its workflow runs again, under a name of its own."""
        run = existing.runs + 1
        if not self.ports.cases.transition(case.case_id, Status.WORK_ITEM, Status.OPEN, runs=run):
            return
        self._record(case, Entry(ACTOR, "REOPENED", Status.WORK_ITEM, Status.OPEN,
                                 f"the ledger now gives refund lines of {case.refund_total:f}: the case is reviewed "
                                 f"and approval asked (workflow run {run})", case.refund_total))
        self.ports.workflows.start_case(case.case_id, run)

    def _withdraw(self, case: Case) -> str:
        """The links waiting on the old lines decide nothing now; their tasks end, so that the workflow
        reviews the case again and asks approval of the lines as they are (at the tier of the new total)."""
        ports = self.ports
        withdrawn = ports.approvals.supersede(case.case_id, ports.approvals.pending(case.case_id))
        tokens = ports.approvals.tokens([a.approval_key for a in withdrawn]) if withdrawn else {}
        for approval in withdrawn:
            if approval.approval_key in tokens:
                ports.workflows.fail_task(tokens[approval.approval_key], CASE_CHANGED,
                                          f"{self.cause.text} changed the lines awaiting approval")
            ports.mailer.send(approval_withdrawn(approval, case, self.cause.text), self.now)
        return "; the approval asked of them is withdrawn and asked again" if withdrawn else ""

    def _record(self, case: Case, entry: Entry) -> None:
        self.ports.history.append(case, entry, self.now)
