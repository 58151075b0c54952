"""Issue refund: each REFUND and OFFSET line once, as an accounts-payable file of its own.

Only what approvers approved: before anything is issued, the approvals table must hold used,
approving links of a sufficient tier (two approvers under dual control) for exactly the case's
lines as stored now. Lines changed since send the case back to approval; no approval at all is
an error a person must see.

Exactly once per line, whatever retries or duplicate deliveries happen: the refund book keeps
one instruction per case line, and a repeat finds it and issues nothing new. Each instruction's
AP file (outbound/refunds/<day>/<instruction>.csv) is written once, never read back or rewritten:
a day's refunds cost one write each, and accounts payable imports the day's folder.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from datetime import datetime
from decimal import Decimal
from typing import Any

from creditrefunds.domain.approval_policy import covered, covering
from creditrefunds.domain.approvals import case_digest
from creditrefunds.domain.cases import Case, Line, StoredCase
from creditrefunds.domain.history import Entry
from creditrefunds.domain.instructions import ISSUED_ACTIONS, Instruction, instruction_id, ledger_at_issue
from creditrefunds.domain.money import ZERO
from creditrefunds.domain.refunds import ap_file, ap_key, issued_records, payer_claim
from creditrefunds.domain.review import Route
from creditrefunds.domain.status import Status
from creditrefunds.usecases.letters import at_issue
from creditrefunds.usecases.ports import Ports
from creditrefunds.usecases.reconcile import instructions_of
from creditrefunds.usecases.review import recheck

logger = logging.getLogger(__name__)


class PartlyIssued(Exception):
    """Some lines of the case were issued and the rest changed since: a person must look (FAILED)."""


class NotApproved(Exception):
    """The workflow reached issuing, but no approver approved these lines: nothing is issued."""


def issue_refund(ports: Ports, case_id: str, now: datetime) -> dict[str, Any]:
    """Issue the approved case's money-moving lines; record each new one; write each one's AP file."""
    stored = ports.cases.require(case_id)
    case = stored.case
    approvals = ports.approvals.of_case(case_id)
    required = ports.settings.tier_for(case.refund_total)
    instructions = instructions_of(ports, case.account_id, stored)
    issued_before = any(i.case_id == case_id for i in instructions)
    if not covered(approvals, case_digest(case), required, ports.settings.dual_control_tier):
        if not any(a.approved for a in approvals):
            raise NotApproved(f"case {case_id}: no approval link approved any lines of this case")
        if issued_before:
            raise PartlyIssued(f"case {case_id}: the lines changed after part of them was issued; nothing more is "
                               "issued until a person has compared the refund book with the case")
        return _hold(ports, stored, "the lines changed after they were approved", now)
    if not issued_before:
        found = recheck(ports, stored, instructions=instructions)  # the ledger may have moved: look once more
        if found.case is None or case_digest(found.case) != case_digest(case):
            return _hold(ports, stored, "the ledger " + ("no longer shows the credit" if found.case is None
                                                         else "changed the lines since they were approved"), now)
    else:
        _still_owed(ports, stored, instructions)
    transactions = ports.transactions.account_transactions(case.account_id)
    issued, new_ids, prior = [], set(), ledger_at_issue(transactions)
    approved_by = frozenset(a.approval_key for a in covering(approvals, case_digest(case), required))
    recorded = issued_records(ports.history.records(case_id))
    targets = _targets_at_issue(ports, case.lines)
    for index, line in enumerate(case.lines):
        if line.action not in ISSUED_ACTIONS:
            continue
        claim = payer_claim(transactions, line)
        seen = prior | targets[line.target_account_id] if line.action == "OFFSET" and line.target_account_id \
            else prior
        done = ports.refund_book.issue(Instruction.of(case, index, line, claim, now.date(), seen, approved_by))
        issued.append(done.instruction)
        if done.new:
            new_ids.add(done.instruction.instruction_id)
        write_ap_file(ports, done.instruction)  # before its record: a record never tells of a file not written
        if done.instruction.instruction_id in recorded:
            continue
        record_issued(ports, case, done.instruction, stored.status, now)
    files = [ap_key(i.issued_on, i.instruction_id) for i in issued]
    ports.cases.set_status(case_id, Status.REFUND_ISSUED)
    at_issue(ports, issued, now)  # the patient's notice, the payer's letter: each once, after the money's records
    logger.info("refund issued", extra={"case_id": case_id, "new_lines": len(new_ids), "lines": len(issued)})
    return {"route": "ISSUED", "issued": [i.instruction_id for i in issued], "new": sorted(new_ids), "files": files}


def _targets_at_issue(ports: Ports, lines: Iterable[Line]) -> dict[str, frozenset[str]]:
    """An offset also keeps the transfers into its debit already in the ledger at issue: none of them (one
    billing staff posted by hand earlier that day) is this offset arriving. Each debit's ledger read once."""
    targets = {line.target_account_id for line in lines if line.action == "OFFSET" and line.target_account_id}
    return {target: frozenset(t.txn_id for t in ports.transactions.account_transactions(target)
                              if t.txn_type == "TRANSFER" and t.amount < 0) for target in sorted(targets)}


def write_ap_file(ports: Ports, instruction: Instruction) -> str:
    """The instruction's AP file, written once (the bucket refuses, as Tampered, one someone wrote first
    with other content)."""
    return ports.bucket.put_ap_file(instruction.issued_on, instruction.instruction_id, ap_file([instruction]))


def record_issued(ports: Ports, case: Case, issued: Instruction, before: Status, now: datetime,
                  actor: str = "system:issue-refund") -> None:
    """The `RefundIssued` event and the ISSUED history record of one instruction, from the instruction as
    the refund book holds it. Written whenever the record is missing, whoever finds it so: a crash between
    the two tells the event again (it is at-least-once; consumers key on instruction_id), then records."""
    ports.events.publish("RefundIssued", issued.published())
    why = (f"{issued.action} line {issued.line} to {issued.payee_type}: {issued.method} (instruction "
           f"{issued.instruction_id}, file of {issued.issued_on.isoformat()})")
    ports.history.append(case, Entry(actor, "ISSUED", before, Status.REFUND_ISSUED, why, issued.amount,
                                     instruction_id=issued.instruction_id), now)


def _still_owed(ports: Ports, stored: StoredCase, instructions: list[Instruction]) -> None:
    """A case part of which went out (a retry, perhaps days later): the lines not yet issued go out only if
    the ledger, net of everything in flight including this case's own, still owes each payee that much."""
    case = stored.case
    sent = {i.instruction_id for i in instructions if i.case_id == case.case_id}
    left = _by_payee(line for index, line in enumerate(case.lines)
                     if line.action in ISSUED_ACTIONS and instruction_id(case, index) not in sent)
    if not left:
        return
    found = recheck(ports, stored, own_too=True, instructions=instructions).case
    owed = _by_payee(found.lines if found else [])
    short = [f"{amount:f} {key[0]} to {key[1]}" for key, amount in left.items() if owed.get(key, ZERO) < amount]
    if short:
        raise PartlyIssued(f"case {case.case_id}: part of it went out, and the ledger no longer owes what is left "
                           f"({'; '.join(short)}): nothing more is issued until a person has looked")


def _by_payee(lines: Iterable[Line]) -> dict[tuple[str, str | None, str | None, str | None], Decimal]:
    """Line amounts summed by what they do and for whom (an offset: into which account)."""
    totals: dict[tuple[str, str | None, str | None, str | None], Decimal] = {}
    for line in lines:
        key = (line.action, line.payee_type, line.payee_id, line.target_account_id)
        totals[key] = totals.get(key, ZERO) + line.amount
    return totals


def _hold(ports: Ports, stored: StoredCase, why: str, now: datetime) -> dict[str, Any]:
    """Nothing is issued: the case goes back to review, which asks approval of the lines as they are."""
    case = stored.case
    ports.history.append(case, Entry("system:issue-refund", "HELD", stored.status, Status.OPEN,
                                     f"{why}: nothing is issued, the case is reviewed and approval asked again",
                                     case.refund_total), now)
    ports.cases.set_status(case.case_id, Status.OPEN)
    return {"route": Route.APPROVAL, "issued": [], "new": [], "files": []}

