"""The fan-out of a large ledger file (statemachine/ledger_fanout.asl.json), one function per step:
store each part, plan the detection, detect each batch, finish, or report the failure.

Storage is idempotent by txn_id, so a part retried by the map stores nothing twice; detection
is idempotent by case id.
"""

from __future__ import annotations

import logging
from datetime import datetime
from pathlib import Path
from typing import Any

from creditrefunds.domain.mail import ledger_failed
from creditrefunds.domain.parts import detection_batches
from creditrefunds.usecases.detection import DetectionReport, detect_accounts
from creditrefunds.usecases.failures import step_error
from creditrefunds.usecases.ingest import Count, StoreReport, save_rejects, store_file
from creditrefunds.usecases.ports import Ports

logger = logging.getLogger(__name__)


def result_key(part_key: str) -> str:
    return part_key + ".result.json"


def store_part(ports: Ports, part_key: str, fmt: str, first_line: int) -> dict[str, Any]:
    """One part: validate and store its rows; its rejects and touched accounts are left beside it."""
    with ports.bucket.download(part_key) as local:
        report = store_file(Path(local), fmt, ports.transactions, ports.settings.id_max_length, first_line,
                            f"{part_key}@{first_line}")
    ports.bucket.put_json(result_key(part_key), report.to_json())
    return {"rows_read": report.rows_read, "rejected": len(report.rejects)}


def plan_detection(ports: Ports, key: str, name: str, upload: str, part_keys: list[str], batch_size: int,
                   count: Count) -> dict[str, Any]:
    """After every part is stored: one rejects report, and the touched accounts in batches
    (`work/<file>/detect-NNNNN.json`, a guarantor's accounts in one) for the map to detect."""
    report = StoreReport()
    for part_key in part_keys:
        report.merge(ports.bucket.get_json(result_key(part_key)))
    save_rejects(ports.bucket, name, upload, report.rejects, count)
    count("RowsRead", report.rows_read)
    count("FilesStored", 1)
    batches = [{"key": ports.bucket.put_json(ports.bucket.work_key(name, f"detect-{number:05d}.json"), accounts)}
               for number, accounts in enumerate(detection_batches(report.latest, batch_size))]
    logger.info("ledger file stored", extra={"key": key, "parts": len(part_keys), "batches": len(batches)})
    return {"batches": batches, **report.counts()}


def detect_batch(ports: Ports, batch_key: str, event_time: datetime, now: datetime, count: Count) -> dict[str, Any]:
    """One batch of touched accounts: detect them, open or update their cases."""
    report = DetectionReport()
    detect_accounts(ports, set(ports.bucket.get_json(batch_key)), event_time.date(), now, report)
    count("CasesOpened", len(report.opened))
    return {name: len(ids) for name, ids in report.to_json().items()}


def finish(ports: Ports, key: str, name: str, etag: str, upload: str, parts: int, plan: dict[str, Any],
           detected: list[dict[str, int]]) -> dict[str, Any]:
    """Every batch is detected: the file's summary in the log, work/ cleaned, the file retired from
    incoming/ (kept as the original)."""
    summary = {"key": key, "parts": parts, "batches": len(detected),
               **{k: plan[k] for k in ("rows_read", "stored", "repeated", "rejected")},
               **{k: sum(d[k] for d in detected) for k in ("cases_opened", "cases_updated", "cases_reconciled")}}
    logger.info("ledger file ingested", extra=summary)
    ports.bucket.clear_work(name)
    ports.bucket.retire(key, name, upload, etag)
    return summary


def fail(ports: Ports, key: str, name: str, etag: str, upload: str, error: dict[str, Any] | None, operators: str,
         now: datetime) -> dict[str, Any]:
    """A part could not be stored, or a batch detected: the file in rejected/ with the reason,
    work/ cleaned, operators told."""
    error_name, cause = step_error(error, 2000)
    reason = f"the fan-out failed: {error_name}: {cause}"
    if not ports.bucket.reject(key, name, upload, reason, etag):
        reason += " (the file is no longer in incoming/)"
    logger.warning("ledger file rejected whole", extra={"key": key, "reason": reason})
    ports.bucket.clear_work(name)
    ports.mailer.send(ledger_failed(operators, name, reason), now)
    return {"key": key, "rejected": reason}
