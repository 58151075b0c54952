"""Split a large ledger file into parts that keep their true line numbers (the fan-out's first step).

Each part is the header plus a run of whole records, as they were (a malformed row included,
so that the part's reader reports it exactly as the whole file's would), and knows the line
its first record starts on. Parts come one at a time: memory holds one part, not the file.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from dataclasses import dataclass
from typing import IO


@dataclass(frozen=True)
class Part:
    number: int
    first_line: int
    rows: int
    text: str

    @property
    def name(self) -> str:
        return f"part-{self.number:05d}"


class _Tap:
    """Text lines to the CSV reader, remembering the raw lines each record took."""

    def __init__(self, lines: Iterator[str]) -> None:
        self._lines = lines
        self.taken: list[str] = []

    def __iter__(self) -> _Tap:
        return self

    def __next__(self) -> str:
        line = next(self._lines)
        self.taken.append(line)
        return line

    def drain(self) -> list[str]:
        taken, self.taken = self.taken, []
        return taken


def _records(stream: IO[bytes], fmt: str) -> Iterator[list[str]]:
    """The raw lines of each record, the header (CSV) first. The file is known readable."""
    text = io.TextIOWrapper(stream, encoding="utf-8-sig", newline="")
    try:
        if fmt == "jsonl":
            for line in text:
                yield [line]
            return
        tap = _Tap(iter(text))
        for _ in csv.reader(tap, strict=False):
            yield tap.drain()
        if tap.taken:
            yield tap.drain()
    finally:
        text.detach()


def split_ledger(stream: IO[bytes], fmt: str, rows_per_part: int) -> Iterator[Part]:
    """The parts of a ledger, one at a time; each holds at most `rows_per_part` records."""
    records = _records(stream, fmt)
    header_lines = next(records, []) if fmt == "csv" else []
    header, line = "".join(header_lines), 1 + len(header_lines)
    number, first = 0, line
    taken: list[str] = []
    for record in records:
        if len(taken) >= rows_per_part:
            number += 1
            yield Part(number, first, len(taken), header + "".join(taken))
            first, taken = line, []
        taken.append("".join(record))
        line += len(record)
    if taken:
        yield Part(number + 1, first, len(taken), header + "".join(taken))


def detection_batches(latest: dict[str, tuple[str, str, str]], size: int) -> list[list[str]]:
    """The touched accounts in batches of about `size` for detection in parallel.

    `latest` maps each account to (posting date, txn_id, guarantor) of its latest row. A
    guarantor's accounts stay in one batch, so that one detection alone offsets a patient
    credit against that guarantor's debits (a debit is never offset twice).
    """
    by_guarantor: dict[str, list[str]] = {}
    for account, (_, _, guarantor) in sorted(latest.items()):
        by_guarantor.setdefault(guarantor, []).append(account)
    batches: list[list[str]] = []
    batch: list[str] = []
    for guarantor in sorted(by_guarantor):
        accounts = by_guarantor[guarantor]
        if batch and len(batch) + len(accounts) > size:
            batches.append(batch)
            batch = []
        batch += accounts
    return batches + ([batch] if batch else [])
