"""Split a large ledger file into parts that keep their true line numbers (the fan-out's first step).

Each part is the header plus a run of whole records, byte for byte as they were (a malformed
row included, so that the part's reader reports it exactly as the whole file's would), and
knows the line its first record starts on.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Part:
    path: Path
    first_line: int
    rows: int


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


def _records(path: Path, fmt: str) -> Iterator[list[str]]:
    """The raw lines of each record, the header (CSV) first. The file is known readable."""
    with open(path, encoding="utf-8-sig", newline="") as text:
        if fmt == "jsonl":
            for line in text:
                yield [line]
            return
        tap = _Tap(iter(text))
        for _ in csv.reader(tap, strict=False):
            yield tap.drain()
        if tap.taken:
            yield tap.drain()


def split_ledger(path: Path, fmt: str, rows_per_part: int, out_dir: Path) -> list[Part]:
    """Write the parts of `path` into `out_dir`; each holds at most `rows_per_part` records."""
    records = _records(path, fmt)
    header = next(records, []) if fmt == "csv" else []
    line = 1 + len(header)
    parts: list[Part] = []
    buffer: io.StringIO | None = None
    first, count = line, 0

    def close() -> None:
        if buffer is not None and count:
            part = out_dir / f"part-{len(parts) + 1:05d}.{fmt}"
            part.write_text(buffer.getvalue(), encoding="utf-8", newline="")
            parts.append(Part(part, first, count))

    for record in records:
        if buffer is None or count >= rows_per_part:
            close()
            buffer, first, count = io.StringIO(), line, 0
            buffer.write("".join(header))
        buffer.write("".join(record))
        count += 1
        line += len(record)
    close()
    return parts


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
