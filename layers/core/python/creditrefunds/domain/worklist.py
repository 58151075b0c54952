"""The worklist (DOMAIN.md sections 4, 6, 8): every open work item for billing staff, with what to do and by when.

A work item is one thing a person must do about one case: lines to correct, review or hold, a refund the
approver rejected, refund rows that match no instruction, a credit cleared elsewhere while a refund is in
flight. One item per case and kind (`item_id`), opened again when the same thing happens again. Views page
the open items by due date, amount or age (each an index of its own: never a scan), or one person's.
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

from creditrefunds.domain.money import money, money_text

KINDS = {
    "lines": "Lines to correct, review or hold",
    "rejected": "Refund rejected by the approver",
    "returns": "Refund rows that match no instruction",
    "cleared": "Credit cleared while a refund is in flight",
}
VIEWS = {"due": "by-due", "amount": "by-amount", "age": "by-age"}  # view -> index (ascending; amount descending)
OPEN = "OPEN"
PAGE_SIZE = 50


@dataclass(frozen=True)
class WorkItem:
    item_id: str
    case_id: str
    account_id: str
    kind: str
    amount: Decimal
    todo: str  # what to do, as billing staff are told
    due_date: date | None
    opened_at: str
    assignee: str = ""  # the pool's user id of the person who took it
    assignee_email: str = ""
    open: bool = True

    @classmethod
    def of(cls, case_id: str, account_id: str, kind: str, amount: Decimal, todo: str, due_date: date | None,
           now: datetime) -> WorkItem:
        if kind not in KINDS:
            raise ValueError(f"no work item kind {kind!r}")
        return cls(f"{case_id}.{kind}", case_id, account_id, kind, money(amount), todo[:2000], due_date,
                   now.isoformat())

    @property
    def reason(self) -> str:
        return KINDS[self.kind]

    def overdue(self, today: date) -> bool:
        return self.due_date is not None and self.due_date < today

    def age_days(self, today: date) -> int:
        return (today - date.fromisoformat(self.opened_at[:10])).days

    def to_item(self) -> dict[str, Any]:
        """As the work items table keeps it; `queue` (and so every view's index) only while it is open."""
        cents = int(self.amount * 100)
        item: dict[str, Any] = {
            "item_id": self.item_id, "case_id": self.case_id, "account_id": self.account_id, "kind": self.kind,
            "amount": money_text(self.amount), "todo": self.todo, "opened_at": self.opened_at,
            "due_key": f"{self.due_date.isoformat() if self.due_date else '9999-12-31'}#{self.item_id}",
            # the amount index sorts descending by reading it backwards: the largest first
            "amount_key": f"{cents:015d}#{self.item_id}", "age_key": f"{self.opened_at}#{self.item_id}"}
        if self.due_date is not None:
            item["due_date"] = self.due_date.isoformat()
        if self.assignee:
            item["assignee"], item["assignee_email"] = self.assignee, self.assignee_email
        if self.open:
            item["queue"] = OPEN
        return item

    @classmethod
    def from_item(cls, item: dict[str, Any]) -> WorkItem:
        due = item.get("due_date")
        return cls(item["item_id"], item["case_id"], item["account_id"], item["kind"], money(str(item["amount"])),
                   str(item.get("todo", "")), date.fromisoformat(due) if due else None, item["opened_at"],
                   str(item.get("assignee", "")), str(item.get("assignee_email", "")), item.get("queue") == OPEN)

    def taken_by(self, user_id: str, email: str) -> WorkItem:
        return replace(self, assignee=user_id, assignee_email=email)


@dataclass(frozen=True)
class Narrowed:
    """What a view is narrowed to, as a condition on its own index's sort key (still no scan) and a kind."""

    below: str = ""  # sort key under this: due before today (overdue), opened before a day (older than)
    at_least: str = ""  # sort key from this: amounts from a figure
    kind: str = ""

    @classmethod
    def of(cls, view: str, today: date, overdue: bool = False, min_amount: Decimal | None = None,
           older_than_days: int | None = None, kind: str = "") -> Narrowed:
        """The one narrowing each view's index answers (overdue by due date, a least amount, an age), and a kind."""
        kind = kind if kind in KINDS else ""
        if view == "due" and overdue:
            return cls(below=today.isoformat(), kind=kind)
        if view == "amount" and min_amount is not None and min_amount > 0:
            return cls(at_least=f"{int(money(min_amount) * 100):015d}", kind=kind)
        if view == "age" and older_than_days:
            return cls(below=(today - timedelta(days=older_than_days)).isoformat(), kind=kind)
        return cls(kind=kind)


EVERYTHING = Narrowed()


def cursor_of(key: dict[str, Any] | None) -> str:
    """A page's position as the next request sends it back (opaque to people; checked when read)."""
    return base64.urlsafe_b64encode(json.dumps(key, sort_keys=True).encode()).decode() if key else ""


def key_of(cursor: str, fields: tuple[str, ...]) -> dict[str, str] | None:
    """The position a cursor names: only the index's own key fields, as text; anything else starts again."""
    if not cursor or len(cursor) > 1000:
        return None
    try:
        key = json.loads(base64.urlsafe_b64decode(cursor.encode()))
    except (ValueError, TypeError):
        return None
    if not isinstance(key, dict) or set(key) != set(fields) or not all(isinstance(v, str) for v in key.values()):
        return None
    return key
