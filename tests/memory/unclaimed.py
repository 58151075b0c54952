"""The unclaimed-property index and the letters in memory (`Unclaimed` and `Letters` of usecases/ports.py).
Letters are rendered by the real adapter (fpdf2): a test reads back the PDF a deployment would keep."""

from __future__ import annotations

import threading
from datetime import date
from typing import Any

from creditrefunds.adapters.letters_pdf import digest, render
from creditrefunds.domain.letters import Letter

from .outside import MemoryBucket

_RENDERED: dict[str, tuple[bytes, str]] = {}


class MemoryUnclaimed:
    def __init__(self) -> None:
        self.items: dict[str, dict[str, Any]] = {}
        self._lock = threading.Lock()

    def track(self, instruction_id: str, case_id: str) -> None:
        with self._lock:
            self.items.setdefault(instruction_id, {"case_id": case_id, "stage": "", "next_date": None})

    def tracked(self) -> list[str]:
        return sorted(self.items)

    def note(self, instruction_id: str, stage: str, next_date: date | None) -> None:
        self.items[instruction_id].update(stage=stage, next_date=next_date)

    def address(self, instruction_id: str) -> dict[str, str]:
        return dict(self.items.get(instruction_id, {}).get("address") or {})

    def ask_address(self, instruction_id: str, address: dict[str, str], by: str) -> None:
        self.items[instruction_id].update(asked=dict(address), asked_by=by)

    def asked(self, instruction_id: str) -> tuple[dict[str, str], str] | None:
        item = self.items.get(instruction_id, {})
        return (dict(item["asked"]), item["asked_by"]) if item.get("asked") else None

    def confirm_address(self, instruction_id: str, address: dict[str, str]) -> bool:
        with self._lock:
            item = self.items[instruction_id]
            if item.get("asked") != address:
                return False
            item["address"] = item.pop("asked")
            item.pop("asked_by")
            return True


class MemoryLetters:
    def __init__(self, bucket: MemoryBucket) -> None:
        self._bucket = bucket

    def render(self, letter: Letter) -> tuple[bytes, str]:
        key = repr(letter)  # the same letter renders to the same bytes: rendered once per process
        if key not in _RENDERED:
            data = render(letter)
            _RENDERED[key] = (data, digest(data))
        return _RENDERED[key]

    def write(self, letter: Letter) -> tuple[str, str]:
        data, sha = self.render(letter)
        self._bucket.objects[letter.key] = data
        return letter.key, sha
