"""Ledger files (DOMAIN.md section 2): read CSV or JSON Lines, validate every row.

Reading is streaming: rows come out one at a time, good ones as `Transaction`, bad ones as
`RowError` with the line number (a CSV header is line 1), the field and the reason. A file
that cannot be read at all raises `LedgerUnreadable` with one clear message.
"""

from __future__ import annotations

import codecs
import csv
import io
import json
from collections.abc import Container, Iterator
from typing import IO

from creditrefunds.domain.ledger import (
    ID_MAX_LENGTH,
    REQUIRED_FIELDS,
    LedgerUnreadable,
    RowError,
    RowRefused,
    Transaction,
    parse_row,
    refused,
)

FORMATS = ("csv", "jsonl")
EXTENSIONS = {".csv": "csv", ".jsonl": "jsonl", ".ndjson": "jsonl"}  # a ledger's format by its file name


def format_for(filename: str, explicit: str | None = None) -> str:
    """The ledger format: `explicit` when given, else from the extension."""
    if explicit:
        if explicit not in FORMATS:
            raise LedgerUnreadable(f"unknown format {explicit!r}: use csv or jsonl")
        return explicit
    lowered = filename.lower()
    for extension, fmt in EXTENSIONS.items():
        if lowered.endswith(extension):
            return fmt
    raise LedgerUnreadable(f"cannot tell the format of {filename!r}: name it .csv or .jsonl, or give --format")


def check_readable(stream: IO[bytes]) -> None:
    """Raise LedgerUnreadable now when the stream is not UTF-8 text anywhere in it.

    Reading is streaming, so without this a bad byte deep in a file would be found after the
    rows before it were used; a caller that stores rows checks the whole file first.
    """
    decoder = codecs.getincrementaldecoder("utf-8")()  # a byte-order mark is UTF-8 too
    offset = 0
    while True:
        chunk = stream.read(1 << 20)
        held = len(decoder.getstate()[0])  # the start of a character the last chunk cut: the error counts from it
        try:
            decoder.decode(chunk, final=not chunk)
        except UnicodeDecodeError as error:
            raise LedgerUnreadable(_not_utf8(error, offset - held)) from None
        if not chunk:
            return
        offset += len(chunk)


def _not_utf8(error: UnicodeDecodeError, offset: int = 0) -> str:
    return f"not UTF-8 text ({error.reason} at byte {offset + error.start})"


def _text_lines(stream: IO[bytes]) -> Iterator[str]:
    reader = io.TextIOWrapper(stream, encoding="utf-8-sig", newline="")
    try:
        yield from reader
    except UnicodeDecodeError as error:
        if stream.seekable():  # the reader's error counts from its last chunk: find the byte in the whole file
            stream.seek(0)
            check_readable(stream)
        raise LedgerUnreadable(_not_utf8(error)) from None
    finally:
        if not stream.closed:  # a reader abandoned after its file was closed has nothing to hand back
            reader.detach()


def _csv_rows(stream: IO[bytes]) -> Iterator[tuple[int, dict[str, str] | str]]:
    lines = _text_lines(stream)
    reader = csv.reader(lines, strict=True)
    try:
        header = next(reader)
    except StopIteration:
        raise LedgerUnreadable("the file is empty: a CSV ledger needs a header row") from None
    except csv.Error as error:
        raise LedgerUnreadable(f"the header row is not valid CSV: {error}") from None
    header = [name.strip() for name in header]
    missing = [name for name in REQUIRED_FIELDS if name not in header]
    if missing:
        if not any(name in header for name in REQUIRED_FIELDS):
            raise LedgerUnreadable("no header row: the first line must name the columns (txn_id, account_id, ...)")
        raise LedgerUnreadable(f"missing required column(s): {', '.join(missing)}")
    line_end = reader.line_num
    while True:
        start = line_end + 1
        try:
            values = next(reader)
        except StopIteration:
            return
        except csv.Error as error:
            line_end = reader.line_num
            yield start, f"not valid CSV: {error}"
            continue
        line_end = reader.line_num
        if not values or all(not v.strip() for v in values):
            continue
        if len(values) != len(header):
            yield start, f"has {len(values)} fields where the header has {len(header)}"
            continue
        yield start, {name: value.strip() for name, value in zip(header, values, strict=True)}


def _jsonl_rows(stream: IO[bytes]) -> Iterator[tuple[int, dict[str, str] | str]]:
    for number, line in enumerate(_text_lines(stream), start=1):
        if not line.strip():
            continue
        try:
            # Numbers stay text: an amount must never pass through a float.
            value = json.loads(line, parse_float=str, parse_int=str)
        except json.JSONDecodeError as error:
            yield number, f"not valid JSON: {error.msg}"
            continue
        except RecursionError:  # a value nested thousands deep: no ledger row is
            yield number, "not a ledger row: JSON nested too deeply"
            continue
        if not isinstance(value, dict):
            yield number, "not a JSON object"
            continue
        yield number, {k: "" if v is None else (str(v) if not isinstance(v, str) else v.strip())
                       for k, v in value.items()}


def numbered_rows(
    stream: IO[bytes], fmt: str, first_line: int | None = None, id_max_length: int = ID_MAX_LENGTH
) -> Iterator[tuple[int, Transaction | RowError | None]]:
    """(line, item) for every row: a Transaction, a RowError, or None for a same-content repeat.

    The same txn_id twice with the same content is a no-op (None); with other content the later
    row is a conflict. Raises LedgerUnreadable when the file cannot be read at all. A part of a
    larger file gives `first_line`, the line its first row has in that file.
    """
    rows = _csv_rows(stream) if fmt == "csv" else _jsonl_rows(stream)
    shift = 0 if first_line is None else first_line - (2 if fmt == "csv" else 1)
    seen: dict[str, tuple[int, int]] = {}
    for line, raw in rows:
        yield line + shift, _checked(line + shift, raw, seen, id_max_length)


def read_ledger(
    stream: IO[bytes],
    fmt: str,
    accounts: Container[str] | None = None,
    dropped_lines: set[int] | None = None,
    id_max_length: int = ID_MAX_LENGTH,
) -> Iterator[Transaction | RowError]:
    """Every row of the file in order: a Transaction, or a RowError saying why not.

    A second pass over the same file may keep only `accounts`: rows of other accounts are not
    parsed, and lines in `dropped_lines` (what the first pass did not keep) are skipped. The
    first pass fills `dropped_lines` when given one.
    """
    if accounts is not None:
        skip = dropped_lines or set()
        for line, raw in _csv_rows(stream) if fmt == "csv" else _jsonl_rows(stream):
            if not isinstance(raw, str) and raw.get("account_id") in accounts and line not in skip:
                yield parse_row(raw, id_max_length=None)  # the first pass validated it
        return
    for line, item in numbered_rows(stream, fmt, id_max_length=id_max_length):
        if not isinstance(item, Transaction) and dropped_lines is not None:
            dropped_lines.add(line)
        if item is not None:
            yield item


def _checked(line: int, raw: dict[str, str] | str, seen: dict[str, tuple[int, int]],
             id_max_length: int) -> Transaction | RowError | None:
    if isinstance(raw, str):
        return RowError(line, None, "row", raw)
    try:
        txn = parse_row(raw, id_max_length)
    except RowRefused as bad:
        return refused(line, raw, bad)
    fingerprint = hash(tuple(sorted(txn.to_record().items())))
    earlier = seen.get(txn.txn_id)
    if earlier is None:
        seen[txn.txn_id] = (line, fingerprint)
        return txn
    if earlier[1] != fingerprint:
        return RowError(line, txn.txn_id, "txn_id", f"conflicts with line {earlier[0]}: same txn_id, other content")
    return None  # the same transaction again: a no-op
