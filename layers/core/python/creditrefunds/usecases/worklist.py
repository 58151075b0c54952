"""Work items: opened by the steps that find work for billing staff, worked by signed-in people in the console.

Every console action is a history record of the case, under the person's pool user id; each is allowed to
its roles only (`Forbidden` otherwise), and an auditor may only read.
"""

from __future__ import annotations

import logging
from datetime import datetime

from creditrefunds.domain.cases import Case
from creditrefunds.domain.history import Entry
from creditrefunds.domain.identity import BILLING, COMPLIANCE, Person, require
from creditrefunds.domain.refunds import work_item
from creditrefunds.domain.worklist import WorkItem
from creditrefunds.usecases.ports import Ports

logger = logging.getLogger(__name__)
NOTE_LIMIT = 2000


def open_work(ports: Ports, case: Case, kind: str, todo: str, now: datetime, file: str = "") -> str:
    """A work item for billing staff: the file billing systems read (outbound/work-items/), and the console's item."""
    key = ports.bucket.put_work_item(file or case.case_id, work_item(case, todo, now))
    ports.worklist.open(WorkItem.of(case.case_id, case.account_id, kind, case.credit, todo, case.due_date, now))
    return key


def take(ports: Ports, item_id: str, person: Person, now: datetime) -> WorkItem:
    """Assign to me: billing staff take an open item."""
    require(person, BILLING)
    item = ports.worklist.get(item_id)
    email = person.email or getattr(ports.people.person(person.user_id), "email", "")  # a token names no address
    if item is None or not item.open or not ports.worklist.assign(item_id, person.user_id, email):
        raise LookupError("this work item is no longer open")
    _record(ports, item.case_id, person, "ASSIGNED", f"{item.reason}: taken by {email or person.actor}", now)
    return item.taken_by(person.user_id, email)


def done(ports: Ports, item_id: str, person: Person, what: str, now: datetime) -> None:
    """Billing staff say what they did; the item leaves the worklist (the ledger shows the rest)."""
    require(person, BILLING)
    what = what.strip()[:NOTE_LIMIT]
    if not what:
        raise ValueError("Say what was done (it goes into the case's history).")
    item = ports.worklist.get(item_id)
    if item is None or not ports.worklist.close(item_id):
        raise LookupError("this work item is no longer open")
    _record(ports, item.case_id, person, "WORKED", f"{item.reason}: {what}", now)


def note(ports: Ports, case_id: str, person: Person, text: str, now: datetime) -> None:
    """A note on the case, by billing staff or the compliance officer: a history record."""
    require(person, BILLING, COMPLIANCE)
    text = text.strip()[:NOTE_LIMIT]
    if not text:
        raise ValueError("A note needs some text.")
    _record(ports, case_id, person, "NOTED", text, now)


def _record(ports: Ports, case_id: str, person: Person, action: str, reason: str, now: datetime) -> None:
    stored = ports.cases.require(case_id)
    ports.history.append(stored.case, Entry(person.actor, action, stored.status, stored.status, reason), now)
    logger.info("console action", extra={"case_id": case_id, "action": action})
