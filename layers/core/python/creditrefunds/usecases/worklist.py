"""Work items: opened by the steps that find work for billing staff, worked by signed-in people in the console.

Every console action is a history record of the case, under the person's pool user id; each is allowed to
its roles only (`Forbidden` otherwise), and an auditor may only read.
"""

from __future__ import annotations

import logging
from datetime import datetime

from creditrefunds.domain.cases import Case
from creditrefunds.domain.history import Entry
from creditrefunds.domain.identity import BILLING, COMPLIANCE, Forbidden, Person, require
from creditrefunds.domain.refunds import work_item
from creditrefunds.domain.status import Status
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
    """Assign to me: billing staff take an open item no one has taken."""
    require(person, BILLING)
    item = _genuine(ports, item_id)
    email = person.email or getattr(ports.people.person(person.user_id), "email", "")  # a token names no address
    if not ports.worklist.assign(item_id, person.user_id, email):
        raise LookupError("this work item is no longer open, or someone took it a moment ago")
    _record(ports, item.case_id, person, "ASSIGNED", f"{item.reason}: taken by {email or person.actor}", now)
    return item.taken_by(person.user_id, email)


def done(ports: Ports, item_id: str, person: Person, what: str, now: datetime) -> None:
    """Billing staff say what they did; the item leaves the worklist (the ledger shows the rest)."""
    require(person, BILLING)
    what = what.strip()[:NOTE_LIMIT]
    if not what:
        raise ValueError("Say what was done (it goes into the case's history).")
    item = _genuine(ports, item_id)
    if item.assignee != person.user_id:
        raise Forbidden("only the person who took this work item may say it is done: take it first")
    if not ports.worklist.close(item_id):
        raise LookupError("this work item is no longer open")
    _record(ports, item.case_id, person, "WORKED", f"{item.reason}: {what}", now)


# The case status each kind of item is opened in: an item that names a case in any other status was not
# opened by the workflow (the work items table has writers the history's chain does not vouch for).
_OPENED_IN = {"lines": (Status.WORK_ITEM,), "rejected": (Status.WORK_ITEM,),
              "returns": tuple(Status), "cleared": tuple(Status)}


def _genuine(ports: Ports, item_id: str) -> WorkItem:
    """An open item whose case is as the item says: its account, and a status its kind is opened in."""
    item = ports.worklist.get(item_id)
    if item is None or not item.open:
        raise LookupError("this work item is no longer open")
    stored = ports.cases.get(item.case_id, strict=False)
    if stored is None or stored.case.account_id != item.account_id or stored.status not in _OPENED_IN[item.kind]:
        raise LookupError("this work item does not match its case (it was not opened by the workflow)")
    return item


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
