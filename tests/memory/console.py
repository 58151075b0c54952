"""The console's ports in memory: the user pool (people, their groups and second factor) and the worklist."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from creditrefunds.domain.identity import Person
from creditrefunds.domain.worklist import EVERYTHING, KINDS, OPEN, PAGE_SIZE, Narrowed, WorkItem

from tests.memory.stores import Locked


class MemoryPeople(Locked):
    """The user pool: users by their `sub`, with groups and whether TOTP is set up (as Cognito keeps them)."""

    def __init__(self) -> None:
        super().__init__()
        self.users: dict[str, Person] = {}

    def add(self, email: str, *groups: str, second_factor: bool = True) -> Person:
        with self._lock:
            person = Person(f"sub-{len(self.users) + 1:04d}-{email.split('@')[0]}", email, frozenset(groups),
                            0, second_factor)
            self.users[person.user_id] = person
            return person

    def by_email(self, email: str) -> Person:
        [found] = [p for p in self.users.values() if p.email.lower() == email.lower()]
        return found

    def members(self, group: str) -> list[Person]:
        with self._lock:
            return [replace(p, groups=frozenset({group})) for p in self.users.values()
                    if group in p.groups and p.enabled]

    def person(self, user_id: str) -> Person | None:
        with self._lock:
            return self.users.get(user_id)


class MemoryWorklist(Locked):
    """The work items table: items as it keeps them, each view's order as its index sorts (no scan in AWS)."""

    def __init__(self) -> None:
        super().__init__()
        self.items: dict[str, dict[str, Any]] = {}

    def open(self, item: WorkItem) -> None:
        with self._lock:
            before = self.items.get(item.item_id)
            if before is not None and before.get("queue") == OPEN and before.get("assignee"):
                item = item.taken_by(before["assignee"], before.get("assignee_email", ""))
            self.items[item.item_id] = item.to_item()

    def get(self, item_id: str) -> WorkItem | None:
        with self._lock:
            found = self.items.get(item_id)
            return WorkItem.from_item(found) if found else None

    def assign(self, item_id: str, user_id: str, email: str) -> bool:
        with self._lock:
            item = self.items.get(item_id)
            if item is None or item.get("queue") != OPEN or item.get("assignee"):
                return False
            item.update(assignee=user_id, assignee_email=email)
            return True

    def close(self, item_id: str) -> bool:
        with self._lock:
            item = self.items.get(item_id)
            if item is None or item.get("queue") != OPEN:
                return False
            item.pop("queue")
            item.pop("assignee", None)
            return True

    def close_case(self, case_id: str) -> None:
        for kind in KINDS:
            self.close(f"{case_id}.{kind}")

    def page(self, view: str, cursor: str = "", assignee: str = "", limit: int = PAGE_SIZE,
             narrowed: Narrowed = EVERYTHING) -> tuple[list[WorkItem], str]:
        with self._lock:
            if assignee:
                found = sorted((i for i in self.items.values() if i.get("assignee") == assignee),
                               key=lambda i: i["due_key"])
            else:
                sort = {"due": "due_key", "amount": "amount_key", "age": "age_key"}[view]
                found = sorted((i for i in self.items.values() if i.get("queue") == OPEN
                                and (not narrowed.below or i[sort] < narrowed.below)
                                and (not narrowed.at_least or i[sort] >= narrowed.at_least)),
                               key=lambda i: i[sort], reverse=view == "amount")
            found = [i for i in found if not narrowed.kind or i["kind"] == narrowed.kind]
            start = int(cursor) if cursor.isdigit() else 0
            chunk = found[start:start + limit]
            more = str(start + limit) if start + limit < len(found) else ""
            return [WorkItem.from_item(i) for i in chunk], more
