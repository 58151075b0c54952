"""Ingest: a ledger file dropped in incoming/ is validated, stored, and its credits detected.

A file larger than the split threshold is cut into parts (`work/<file>/`) and handed to the
fan-out state machine, whose steps are in `fanout`.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import mmap
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, BinaryIO

from creditrefunds.domain import fastpass
from creditrefunds.domain.checks import is_check_register, read_register
from creditrefunds.domain.ledger import Dropped, LedgerGone, LedgerReplaced, LedgerUnreadable, RowError, Transaction
from creditrefunds.domain.ledger_files import EXTENSIONS, check_readable, format_for, numbered_rows
from creditrefunds.domain.mail import ledger_empty, ledger_failed
from creditrefunds.domain.parts import split_ledger
from creditrefunds.domain.remittance import is_remittance
from creditrefunds.usecases.checks import take_register
from creditrefunds.usecases.detection import DetectionReport, detect_accounts
from creditrefunds.usecases.ports import Bucket, Ledger, Ports

logger = logging.getLogger(__name__)
CHUNK = 2000  # transactions stored per round: memory stays bounded, writers stay busy
Count = Callable[[str, int], None]  # a metric: its name and how many


@dataclass
class StoreReport:
    """What storing one file (or part) did: counts for metrics, rejects for the operator, and the
    accounts it touched, each with (posting date, txn_id, guarantor) of its latest row."""

    rows_read: int = 0
    reader: str = ""  # "compiled" or "reference"
    stored: int = 0
    repeated: int = 0
    rejects: list[RowError] = field(default_factory=list)
    latest: dict[str, tuple[str, str, str]] = field(default_factory=dict)

    def saw(self, account: str, row: tuple[str, str, str]) -> None:
        """Keep `row` as the account's latest when it is later than the one kept."""
        self.latest[account] = max(row, self.latest.get(account, row))

    def merge(self, other: dict[str, Any]) -> None:
        """Add a part's report (`to_json`) to this one."""
        self.rows_read += other["rows_read"]
        self.stored += other["stored"]
        self.repeated += other["repeated"]
        self.rejects += [RowError(**r) for r in other["rejects"]]
        for account, row in other["latest"].items():
            self.saw(account, (row[0], row[1], row[2]))

    def to_json(self) -> dict[str, Any]:
        return {"rows_read": self.rows_read, "stored": self.stored, "repeated": self.repeated,
                "latest": self.latest, "rejects": [r.to_json() for r in self.rejects]}

    def counts(self) -> dict[str, int]:
        return {"rows_read": self.rows_read, "stored": self.stored, "repeated": self.repeated,
                "rejected": len(self.rejects)}


def store_file(path: Path, fmt: str, ledger: Ledger, id_max_length: int, first_line: int | None = None,
               source: str = "") -> StoreReport:
    """Validate and store every row; a repeated transaction is a no-op, another one a conflict.

    The file is checked readable first, so that a file refused whole stores nothing. A CSV file
    (at most the split threshold, or a part) is read by the compiled pass when the layer has it;
    any other, and one the compiled pass leaves to it, by the reference reader: the same rows.
    `source` (the file's key, with its first line for a part) is named in each stored chunk's manifest.
    """
    report = StoreReport()
    pending: list[tuple[int, Transaction]] = []
    with open(path, "rb") as stream, _compiled_rows(stream, fmt, first_line, id_max_length) as compiled:
        report.reader = "reference" if compiled is None else "compiled"
        if compiled is None:
            check_readable(stream)
            stream.seek(0)
        rows = compiled if compiled is not None else numbered_rows(stream, fmt, first_line, id_max_length)
        for line, item in rows:
            report.rows_read += 1
            if item is None:
                report.repeated += 1
            elif isinstance(item, RowError):
                report.rejects.append(item)
            else:
                pending.append((line, item))
                if len(pending) >= CHUNK:
                    _store(pending, ledger, report, source)
                    pending = []
    _store(pending, ledger, report, source)
    report.rejects.sort(key=lambda r: r.line)
    return report


@contextlib.contextmanager
def _compiled_rows(stream: BinaryIO, fmt: str, first_line: int | None, id_max_length: int
                   ) -> Iterator[Iterator[tuple[int, Transaction | RowError | None]] | None]:
    """The rows as `numbered_rows` gives them, from the compiled pass; None where it does not read the file."""
    if fmt != "csv" or not os.fstat(stream.fileno()).st_size:
        yield None
        return
    if fastpass.UNAVAILABLE is not None:
        _say_once(f"the compiled pass is not in the layer ({fastpass.UNAVAILABLE}): the reference reader reads")
        yield None
        return
    with contextlib.ExitStack() as stack:
        data = stack.enter_context(mmap.mmap(stream.fileno(), 0, access=mmap.ACCESS_READ))
        try:
            rows = stack.enter_context(fastpass.numbered_rows(data, first_line, id_max_length))
        except fastpass.NotClean as why:
            logger.info("a file the reference reader reads", extra={"why": str(why)})
            rows = None
        yield rows


def _say_once(message: str) -> None:
    if message not in _SAID:  # once per process: a warm Lambda runs many files
        _SAID.add(message)
        logger.warning(message)


_SAID: set[str] = set()


def _store(pending: list[tuple[int, Transaction]], ledger: Ledger, report: StoreReport, source: str) -> None:
    outcomes = ledger.put_all([txn for _, txn in pending], source)
    for (line, txn), outcome in zip(pending, outcomes, strict=True):
        if outcome.result == "conflict":
            report.rejects.append(RowError(line, txn.txn_id, "txn_id", "conflicts with the stored transaction of "
                                           "the same txn_id; the stored one is kept"))
            continue
        report.saw(txn.account_id, (txn.posting_date.isoformat(), txn.txn_id, txn.guarantor_id))
        if outcome.result == "new":
            report.stored += 1
        else:
            report.repeated += 1


def save_rejects(bucket: Bucket, name: str, upload: str, rejects: list[RowError], count: Count) -> None:
    """The upload's rejected rows in rejected/<file>/<upload>/, in line order, and counted."""
    bucket.save_rejects(name, upload, [r.to_json() for r in sorted(rejects, key=lambda r: r.line)])
    count("RowsRejected", len(rejects))


def ingest_file(ports: Ports, dropped: Dropped, split_threshold: int, rows_per_part: int, now: datetime,
                count: Count, operators: str) -> dict[str, Any]:
    """Store a dropped file and detect what it touched, then retire it from incoming/ (kept as the
    original); a large one is split and fanned out, and retired when the fan-out finishes. A file with
    no rows is a notice to operators."""
    name = ports.bucket.incoming_name(dropped.key)
    if name is None:
        logger.warning("ignored an object outside incoming/", extra={"key": dropped.key})
        return {"key": dropped.key, "ignored": True}
    try:
        if _remittance(ports, dropped, name):
            count("RemittancesHandedOn", 1)
            return {"key": dropped.key, "remittance": "handed to the remittance function"}
        if not name.lower().endswith(".jsonl") and is_check_register(ports.bucket.head(dropped.key, dropped.etag)):
            return _register(ports, dropped, name, now, count)
        fmt = format_for(name)
        if ports.bucket.size(dropped.key, dropped.etag) > split_threshold:
            # A large file is read twice as a stream (checked whole, then cut into parts): no copy in /tmp.
            with ports.bucket.open(dropped.key, dropped.etag) as stream:
                check_readable(stream)
            return _fan_out(ports, dropped, name, fmt, rows_per_part)
        with ports.bucket.download(dropped.key, dropped.etag) as local:  # at most the split threshold
            report = store_file(local, fmt, ports.transactions, ports.settings.id_max_length, source=dropped.key)
    except LedgerGone:
        logger.info("ledger file already read and moved: a repeated notification", extra={"key": dropped.key})
        return {"key": dropped.key, "gone": True}
    except LedgerReplaced:
        logger.info("ledger file uploaded again while read: its new upload is read instead",
                    extra={"key": dropped.key})
        return {"key": dropped.key, "replaced": True}
    except LedgerUnreadable as error:
        ports.bucket.reject(dropped.key, name, dropped.upload, str(error), dropped.etag)
        logger.warning("ledger file rejected whole", extra={"key": dropped.key, "reason": str(error)})
        count("FilesRejected", 1)
        return {"key": dropped.key, "rejected": str(error)}
    save_rejects(ports.bucket, name, dropped.upload, report.rejects, count)
    count("RowsRead", report.rows_read)
    count("FilesStored", 1)
    detected = DetectionReport()
    detect_accounts(ports, set(report.latest), dropped.event_time.date(), now, detected)
    count("CasesOpened", len(detected.opened))
    if not report.rows_read:
        _no_rows(ports, dropped, name, operators, now, count)
    ports.bucket.retire(dropped.key, name, dropped.upload, dropped.etag)  # last: a retry reads it all again
    summary = {"key": dropped.key, "reader": report.reader, **report.counts(), **detected.to_json()}
    logger.info("ledger file ingested", extra=summary)
    return summary


def _register(ports: Ports, dropped: Dropped, name: str, now: datetime, count: Count) -> dict[str, Any]:
    """A check register (told by its header): each row recorded on its refund's case, bad rows kept with
    their reasons beside the upload, the file retired."""
    with ports.bucket.open(dropped.key, dropped.etag) as stream:
        events, rejects = read_register(stream)
    taken = take_register(ports, events, rejects, now)
    save_rejects(ports.bucket, name, dropped.upload, taken.rejects, count)
    count("CheckRowsRecorded", taken.recorded)
    ports.bucket.retire(dropped.key, name, dropped.upload, dropped.etag)
    summary = {"key": dropped.key, "check_register": True, **taken.to_json()}
    logger.info("check register read", extra=summary)
    return summary


def _no_rows(ports: Ports, dropped: Dropped, name: str, operators: str, now: datetime, count: Count) -> None:
    """A file with a header and no rows stores nothing: a notice beside its upload, and operators told."""
    where = ports.bucket.notice(name, dropped.upload, "The file holds its header and no transaction rows: nothing "
                                                      "was stored and no credit detected from it.")
    ports.mailer.send(ledger_empty(operators, name, where), now)
    count("EmptyFiles", 1)
    logger.warning("ledger file without rows", extra={"key": dropped.key})


def _remittance(ports: Ports, dropped: Dropped, name: str) -> bool:
    """An X12 835 (by extension, or, for a name no ledger format claims, by its ISA header) is evidence, not
    a ledger: it goes on to the remittance function."""
    if name.lower().endswith(tuple(EXTENSIONS)):
        return False
    if not (is_remittance(name) or is_remittance(name, ports.bucket.head(dropped.key, dropped.etag))):
        return False
    ports.handoff.remittance(dropped.key, dropped.etag, dropped.sequencer, dropped.event_time.isoformat())
    logger.info("remittance handed on", extra={"key": dropped.key})
    return True


def _fan_out(ports: Ports, dropped: Dropped, name: str, fmt: str, rows_per_part: int) -> dict[str, Any]:
    """Put the file's parts under work/<name>/ and start the fan-out (once per upload of the file)."""
    listed = []
    with ports.bucket.open(dropped.key, dropped.etag) as stream:
        for part in split_ledger(stream, fmt, rows_per_part):
            key = ports.bucket.put_text(ports.bucket.work_key(name, f"{part.name}.{fmt}"), part.text, "text/plain")
            listed.append({"key": key, "first_line": part.first_line, "format": fmt})
    upload = f"{dropped.key}|{dropped.etag}|{dropped.sequencer}"
    execution = "ledger-" + hashlib.sha256(upload.encode()).hexdigest()[:40]
    started = ports.workflows.start_fan_out(execution, {
        "key": dropped.key, "name": name, "etag": dropped.etag, "upload": dropped.upload, "parts": listed,
        "event_time": dropped.event_time.isoformat()})
    logger.info("ledger file split", extra={"key": dropped.key, "parts": len(listed), "started": started})
    return {"key": dropped.key, "parts": len(listed), "fan_out": execution}


def file_failed(ports: Ports, dropped: Dropped, error: str, operators: str, now: datetime) -> dict[str, Any]:
    """A dropped file whose ingest failed after Lambda's retries: moved to rejected/ with the error as
    its reason, and operators told. Nothing is silent."""
    key = dropped.key
    incoming = ports.bucket.incoming_name(key)
    name = incoming or key.rsplit("/", 1)[-1]
    reason = f"ingest failed after its retries: {error}"
    moved = incoming is not None and ports.bucket.reject(key, name, dropped.upload, reason, dropped.etag)
    if not moved:
        reason += " (the file is no longer in incoming/)"
    logger.error("ledger file failed", extra={"key": key, "error": error[:500]})
    ports.mailer.send(ledger_failed(operators, name, reason), now)
    return {"key": key, "rejected": moved, "reason": reason}
