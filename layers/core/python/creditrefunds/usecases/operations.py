"""What keeps every case moving when a step could not: an operator's retry of a FAILED case, and the
sweeper that finds cases whose workflow is missing or ended too soon, and instructions no history
record tells of (a crash between two writes that no retry came to finish).

Each repair is written to the case's history; what needs a person is FAILED, with operators told.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from creditrefunds.domain.authentic import Tampered
from creditrefunds.domain.cases import StoredCase
from creditrefunds.domain.history import Entry
from creditrefunds.domain.identity import OPERATOR, Person, require
from creditrefunds.domain.instructions import Instruction
from creditrefunds.domain.mail import case_failed
from creditrefunds.domain.money import money_text
from creditrefunds.domain.refunds import issued_records
from creditrefunds.domain.returns import holds
from creditrefunds.domain.status import Status
from creditrefunds.usecases.detection import detected_entry
from creditrefunds.usecases.issue import record_issued, write_ap_file
from creditrefunds.usecases.ports import Ports
from creditrefunds.usecases.reconcile import instructions_of

logger = logging.getLogger(__name__)
WORKING = (Status.OPEN, Status.AWAITING_APPROVAL, Status.INVESTIGATING, Status.APPROVED)  # a workflow runs
ISSUING = (Status.APPROVED, Status.REFUND_ISSUED, Status.FAILED)  # instructions may exist
FOR_A_PERSON = "leave it: it waits for an operator (refunds case ID --retry)"


class NotRetryable(Exception):
    """The case cannot be retried now; the message says why."""


def retry(ports: Ports, case_id: str, operator: str, now: datetime) -> dict[str, Any]:
    """Restart a FAILED case under a new run of its workflow, from its last good step: the issue step when
    some of its money went out (it finishes what the failed run left and issues nothing twice), else review."""
    stored = ports.cases.get(case_id)
    if stored is None:
        raise NotRetryable(f"no case {case_id}")
    if stored.status is not Status.FAILED:
        raise NotRetryable(f"case {case_id} is {stored.status}: only a FAILED case is retried")
    if ports.workflows.state(case_id, stored.runs) == "RUNNING":
        raise NotRetryable(f"case {case_id}: its workflow run is still running (it is recording the failure)")
    account_id = stored.case.account_id
    instructions = instructions_of(ports, account_id, stored)
    issued = any(i.case_id == case_id for i in instructions)
    holder_id = ports.cases.holder(account_id)
    holder = ports.cases.get(holder_id, strict=False) if holder_id and holder_id != case_id else None
    if holder is not None and holds(holder.status, any(i.case_id == holder_id for i in instructions)):
        raise NotRetryable(f"case {holder.case.case_id} ({holder.status}) works the credit of account {account_id} "
                           "now: retrying this one could pay it twice")
    if not ports.cases.claim(account_id, case_id, holder_id):
        raise NotRetryable(f"another case took account {account_id} a moment ago")
    resume, status = ("ISSUE", Status.APPROVED) if issued else ("REVIEW", Status.OPEN)
    run = stored.runs + 1
    if not ports.cases.transition(case_id, Status.FAILED, status, runs=run):
        raise NotRetryable(f"case {case_id} moved on a moment ago")
    how = "finishing the refund it had begun to issue" if issued else "from review, against the ledger as it is"
    ports.history.append(stored.case, Entry(operator, "RETRIED", Status.FAILED, status,
                                            f"restarted by an operator, {how} (workflow run {run})"), now)
    ports.workflows.start_case(case_id, run, resume)
    return {"case_id": case_id, "run": run, "resume": resume, "status": status}


@dataclass(frozen=True)
class Stuck:
    case_id: str
    account_id: str
    status: str
    problem: str
    repair: str  # what the sweeper does about it
    instruction: Instruction | None = None  # the instruction no ISSUED record tells of
    error: str = "WorkflowEnded"  # what operators are told, when the repair is FAILED

    def to_json(self) -> dict[str, str]:
        return {"case_id": self.case_id, "account_id": self.account_id, "status": self.status,
                "problem": self.problem, "repair": self.repair}


def find_stuck(ports: Ports, now: datetime, grace: timedelta, failed: bool = False) -> list[Stuck]:
    """Every working, issued or FAILED case looked at (`look`): what `refunds report stuck` lists, with
    `failed` every FAILED case besides, however recent (what the sweeper leaves to a person)."""
    return [found for stored in ports.cases.in_status((*WORKING, Status.REFUND_ISSUED, Status.FAILED))
            for found in look(ports, stored, now, grace, failed)[0]]


def look(ports: Ports, stored: StoredCase, now: datetime, grace: timedelta,
         failed: bool = False) -> tuple[list[Stuck], bool]:
    """What is wrong with one case: no workflow moving it (none started, or its run ended while the case was
    still being worked), or an instruction no ISSUED record tells of; and whether its workflow still runs
    (it is to be looked at again). A case whose history moved within `grace` is left alone: a step may be
    half-way. With `failed`, a FAILED case is listed however recent."""
    found: list[Stuck] = []
    case = stored.case
    last = ports.history.last(case.case_id)
    if failed and stored.status is Status.FAILED:  # a person's, however recent; listed once, with its error
        why = last["reason"] if last is not None and last.get("action") == "FAILED" else "no FAILED record"
        found.append(Stuck(case.case_id, case.account_id, stored.status, f"FAILED: {why}", FOR_A_PERSON))
    moved = last["at"] if last is not None else (ports.cases.item(case.case_id) or {}).get("opened_at")
    if moved is None or datetime.fromisoformat(str(moved)) > now - grace:
        return found, True
    state = ports.workflows.state(case.case_id, stored.runs) if stored.status in WORKING else None
    if stored.status in WORKING and state is None:
        found.append(Stuck(case.case_id, case.account_id, stored.status, "no workflow was started for it",
                           "start its workflow"))
    elif stored.status in WORKING and state != "RUNNING":
        found.append(Stuck(case.case_id, case.account_id, stored.status,
                           f"its workflow run ended {state} while the case was {stored.status}",
                           "record it FAILED and tell operators (a person retries it)"))
    if stored.status in ISSUING and state != "RUNNING":
        recorded = issued_records(ports.history.records(case.case_id))
        try:
            book = ports.refund_book.of_case(case.case_id)
        except Tampered as forged:
            if stored.status is not Status.FAILED:
                found.append(Stuck(case.case_id, case.account_id, stored.status, str(forged),
                                   "record it FAILED and tell operators (a person looks)", error="Tampered"))
            return found, False
        for i in book:
            if i.instruction_id not in recorded:
                found.append(Stuck(case.case_id, case.account_id, stored.status,
                                   f"instruction {i.instruction_id} of {money_text(i.amount)} is in the refund "
                                   "book but no ISSUED record tells of it", "write the ISSUED record", i))
    return found, state == "RUNNING"


def sweep(ports: Ports, operators: str, now: datetime, grace: timedelta,
          recheck: timedelta = timedelta(hours=1), whole: bool = False) -> dict[str, Any]:
    """Look at the cases the to-check index holds whose last move is `grace` old (never every case): repair
    what `look` finds, each repair in the case's history (which puts the case back in the index); operators
    hear of the rest. A case whose workflow still runs is looked at again after `recheck`; one with nothing
    wrong and no workflow leaves the index until its history next moves. Each finding is looked at again just
    before its repair (a step, a retry or another sweep may have moved it).

    `whole` (the daily run): every working or issued case besides, read by status, so that a case the index
    does not hold (taken out by a writer of the tables, or opened before the index) is still looked at, and
    put back in the index when its workflow runs or something is wrong with it."""
    stuck: list[Stuck] = []
    started: set[str] = set()
    looked = 0
    candidates: list[tuple[str, str | None]] = list(ports.cases.due(now - grace))
    if whole:
        held = {case_id for case_id, _ in candidates}
        candidates += [(stored.case.case_id, None) for stored in ports.cases.in_status((*WORKING, Status.REFUND_ISSUED))
                       if stored.case.case_id not in held]
    for case_id, seen in candidates:
        stored = ports.cases.get(case_id, strict=False)
        if stored is None:
            continue
        looked += 1
        found, running = look(ports, stored, now, grace)
        for item in found:
            try:
                _repair(ports, item, started, operators, now)
            except Tampered as forged:  # that case waits for a person (audit verify names it); the rest go on
                logger.error("a stuck case is left: a record it rests on fails its check",
                             extra={"case_id": item.case_id, "why": str(forged)})
        stuck += found
        ports.cases.checked(case_id, seen, now + recheck if running or found else None)
    if stuck:
        logger.warning("stuck cases found", extra={"count": len(stuck)})
    logger.info("swept", extra={"looked": looked, "stuck": len(stuck), "whole": whole})
    return {"looked": looked, "stuck": [s.to_json() for s in stuck]}


def _repair(ports: Ports, item: Stuck, started: set[str], operators: str, now: datetime) -> None:
    stored = ports.cases.require(item.case_id)
    if stored.status != item.status or item.case_id in started:
        return  # moved on since, or its new run finishes the rest
    if item.repair == "start its workflow":
        _start(ports, stored, item.problem, now)
        started.add(item.case_id)
    elif item.instruction is not None:
        if item.instruction.instruction_id not in issued_records(ports.history.records(item.case_id)):
            write_ap_file(ports, item.instruction)  # (once: a file the issue step wrote is left as it is)
            record_issued(ports, stored.case, item.instruction, stored.status, now, "system:sweeper")
    elif ports.workflows.state(item.case_id, stored.runs) != "RUNNING" and \
            ports.cases.transition(item.case_id, stored.status, Status.FAILED):
        ports.history.append(stored.case, Entry("system:sweeper", "FAILED", stored.status, Status.FAILED,
                                                f"{item.error}: {item.problem}"), now)
        ports.mailer.send(case_failed(operators, item.case_id, item.error, item.problem), now)


def _start(ports: Ports, stored: StoredCase, problem: str, now: datetime) -> None:
    """The workflow no detection started: its DETECTED record first if that is missing too, then the run (at
    the issue step when some of its money went out, as an operator's retry would)."""
    case = stored.case
    ports.history.append_first(case, detected_entry(case, "system:sweeper"), now)
    resume = "ISSUE" if ports.refund_book.of_case(case.case_id) else None
    if ports.workflows.start_case(case.case_id, stored.runs, resume):
        ports.history.append(case, Entry("system:sweeper", "WORKFLOW_STARTED", stored.status, stored.status,
                                         f"the sweeper found that {problem}"), now)


def retry_by(ports: Ports, case_id: str, person: Person, now: datetime) -> dict[str, Any]:
    """The console's retry: operators only, under their pool user id (who then may not approve the case)."""
    require(person, OPERATOR)
    return retry(ports, case_id, person.actor, now)
