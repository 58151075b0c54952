"""The trends table in memory, as adapters/rollup_store.py keeps it: a moment counted once, examples capped."""

from __future__ import annotations

import copy
from decimal import Decimal
from typing import Any

from creditrefunds.adapters.rollup_store import EXAMPLES
from creditrefunds.domain.rollups import Increments, Progress

from .stores import Locked


class MemoryRollups(Locked):
    def __init__(self) -> None:
        super().__init__()
        self.items: dict[tuple[str, str], dict[str, Any]] = {}
        self._cursor = Progress()

    def markers(self, case_id: str) -> dict[str, dict[str, Any]]:
        with self._lock:
            return {month: copy.deepcopy(item["counted"]) for (key, month), item in self.items.items()
                    if key == f"case#{case_id}"}

    def apply(self, case_id: str, moment: str, counted: dict[str, Any], increments: Increments) -> bool:
        with self._lock:
            if (f"case#{case_id}", moment) in self.items:
                return False
            self.items[(f"case#{case_id}", moment)] = {"counted": copy.deepcopy(counted)}
            listed = self.items.setdefault(("keys", "-"), {"keys": set()})
            listed["keys"] |= {key for key, _ in increments}
            for (key, month), counters in increments.items():
                item = self.items.setdefault((key, month), {})
                for name, value in counters.items():
                    item[name] = item.get(name, 0) + (value if isinstance(value, int) else Decimal(str(value)))
                if moment == "identified" and "identified_count" in counters:
                    examples = item.setdefault("examples", [])
                    if len(examples) < EXAMPLES:
                        examples.append(case_id)
            return True

    def counters(self, last_month: str) -> dict[str, dict[str, dict[str, Any]]]:
        with self._lock:
            keys = self.items.get(("keys", "-"), {}).get("keys", set())
            found: dict[str, dict[str, dict[str, Any]]] = {key: {} for key in keys}
            for (key, month), item in self.items.items():
                if key in keys and month <= last_month:
                    found[key][month] = copy.deepcopy(item)
            return found

    def cursor(self) -> Progress:
        return self._cursor

    def move_cursor(self, to: Progress) -> None:
        self._cursor = to
