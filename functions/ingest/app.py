"""Ingest: a ledger file dropped in incoming/ is validated, stored, and its credits detected.

A file larger than SPLIT_THRESHOLD_BYTES is split into parts (`work/<file>/`) and handed to the
fan-out state machine, which calls back here: once per part to store it (`store_part`), once to
merge the parts' rejects and batch the accounts they touched (`plan_detection`), once per batch
to detect it (`detect_batch`), once to finish (`finish_parts`), or to report a failure
(`fail_parts`).
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any
from urllib.parse import unquote_plus

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit
from creditrefunds.aws import Aws
from creditrefunds.cases import Case
from creditrefunds.ingest import IngestReport, detect_accounts, store_file
from creditrefunds.ledger import LedgerUnreadable, RowError, check_readable, format_for
from creditrefunds.parts import detection_batches, split_ledger

logger = Logger()
metrics = Metrics()

INCOMING = "incoming/"
REJECTED = "rejected/"
WORK = "work/"


@logger.inject_lambda_context(log_event=False)  # events name files; rows never reach the logs
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    aws = Aws()
    action = event.get("action")
    if action == "store_part":
        return store_part(aws, event)
    if action == "plan_detection":
        return plan_detection(aws, event)
    if action == "detect_batch":
        return detect_batch(aws, event)
    if action == "finish_parts":
        return finish_parts(aws, event)
    if action == "fail_parts":
        return fail_parts(aws, event)
    return {"files": [ingest_object(aws, record) for record in event.get("Records", [])]}


def ingest_object(aws: Aws, record: dict[str, Any]) -> dict[str, Any]:
    bucket = record["s3"]["bucket"]["name"]
    key = unquote_plus(record["s3"]["object"]["key"])
    if not key.startswith(INCOMING):
        logger.warning("ignored an object outside incoming/", extra={"key": key})
        return {"key": key, "ignored": True}
    event_time = record["eventTime"]
    name = key[len(INCOMING):]
    s3 = aws.client("s3")
    with tempfile.TemporaryDirectory() as workdir:
        local = Path(workdir) / "ledger"
        s3.download_file(bucket, key, str(local))
        try:
            fmt = format_for(name)
            if local.stat().st_size > aws.int_env("SPLIT_THRESHOLD_BYTES", 16 << 20):
                check_readable(local)
                return _fan_out(aws, bucket, key, name, fmt, local, event_time, record)
            report = store_file(local, fmt, aws.transactions)
        except LedgerUnreadable as error:
            _reject_file(aws, bucket, key, name, str(error))
            metrics.add_metric(name="FilesRejected", unit=MetricUnit.Count, value=1)
            return {"key": key, "rejected": str(error)}
    _write_rejects(s3, bucket, name, report.rejects)
    return _detect(aws, key, report, event_time)


def _day(event_time: str) -> date:
    return datetime.fromisoformat(event_time.replace("Z", "+00:00")).date()


def _write_rejects(s3: Any, bucket: str, name: str, rejects: list[RowError]) -> None:
    if rejects:
        body = "".join(json.dumps(r.to_json()) + "\n" for r in sorted(rejects, key=lambda r: r.line))
        s3.put_object(Bucket=bucket, Key=f"{REJECTED}{name}.errors.jsonl", Body=body.encode())


def _detect(aws: Aws, key: str, report: IngestReport, event_time: str) -> dict[str, Any]:
    """Detection over every account the file touched, and the file's summary in the log."""
    _count_rows(report)
    _detect_accounts(aws, report.accounts, report, event_time)
    return _log_summary(key, report)


def _count_rows(report: IngestReport) -> None:
    metrics.add_metric(name="RowsRead", unit=MetricUnit.Count, value=report.rows_read)
    metrics.add_metric(name="RowsRejected", unit=MetricUnit.Count, value=len(report.rejects))


def _detect_accounts(aws: Aws, accounts: set[str], report: IngestReport, event_time: str) -> None:
    """Detection over `accounts`, counted in `report`; one workflow per new case."""
    sfn = aws.client("stepfunctions")

    def start_workflow(case: Case) -> None:
        try:  # the execution is named after the case: a repeat delivery starts nothing new
            sfn.start_execution(
                stateMachineArn=aws.env["STATE_MACHINE_ARN"], name=case.case_id,
                input=json.dumps({"case_id": case.case_id}),
            )
        except sfn.exceptions.ExecutionAlreadyExists:
            logger.info("workflow already started", extra={"case_id": case.case_id})

    now = datetime.now(UTC)
    detect_accounts(accounts, aws.transactions, aws.cases, _day(event_time), aws.settings, start_workflow,
                    report, record=lambda case, entry: aws.history.append(case, entry, now))
    metrics.add_metric(name="CasesOpened", unit=MetricUnit.Count, value=len(report.cases_opened))


def _log_summary(key: str, report: IngestReport) -> dict[str, Any]:
    summary = {
        "key": key, "rows_read": report.rows_read, "stored": report.stored, "repeated": report.repeated,
        "rejected": len(report.rejects), "cases_opened": report.cases_opened, "cases_updated": report.cases_updated,
        "cases_reconciled": report.cases_reconciled,
    }  # fmt: skip
    logger.info("ledger file ingested", extra=summary)
    return summary


# -- the fan-out of a large file ---------------------------------------------------------------
def _fan_out(aws: Aws, bucket: str, key: str, name: str, fmt: str, local: Path, event_time: str,
             record: dict[str, Any]) -> dict[str, Any]:
    """Split the file into parts under work/<name>/ and start the fan-out (once per object version)."""
    s3 = aws.client("s3")
    with tempfile.TemporaryDirectory() as partdir:
        parts = split_ledger(local, fmt, aws.int_env("ROWS_PER_PART", 250_000), Path(partdir))
        listed = []
        for part in parts:
            part_key = f"{WORK}{name}/{part.path.name}"
            s3.upload_file(str(part.path), bucket, part_key)
            listed.append({"key": part_key, "first_line": part.first_line, "format": fmt})
    identity = f"{key}|{record['s3']['object'].get('eTag', '')}|{record['s3']['object'].get('sequencer', '')}"
    execution = "ledger-" + hashlib.sha256(identity.encode()).hexdigest()[:40]
    sfn = aws.client("stepfunctions")
    try:
        sfn.start_execution(stateMachineArn=aws.env["FANOUT_STATE_MACHINE_ARN"], name=execution, input=json.dumps(
            {"bucket": bucket, "key": key, "name": name, "parts": listed, "event_time": event_time}))
    except sfn.exceptions.ExecutionAlreadyExists:
        logger.info("fan-out already started", extra={"key": key})
    logger.info("ledger file split", extra={"key": key, "parts": len(listed)})
    return {"key": key, "parts": len(listed), "fan_out": execution}


def store_part(aws: Aws, event: dict[str, Any]) -> dict[str, Any]:
    """One part: validate and store its rows; leave its rejects and touched accounts beside it."""
    s3, bucket, part = aws.client("s3"), event["bucket"], event["part"]
    with tempfile.TemporaryDirectory() as workdir:
        local = os.path.join(workdir, "part")
        s3.download_file(bucket, part["key"], local)
        report = store_file(Path(local), part["format"], aws.transactions, first_line=int(part["first_line"]))
    result = {"rows_read": report.rows_read, "stored": report.stored, "repeated": report.repeated,
              "latest": report.latest, "rejects": [r.to_json() for r in report.rejects]}
    s3.put_object(Bucket=bucket, Key=part["key"] + ".result.json", Body=json.dumps(result).encode())
    return {"rows_read": report.rows_read, "rejected": len(report.rejects)}


def plan_detection(aws: Aws, event: dict[str, Any]) -> dict[str, Any]:
    """After every part is stored: one rejects report, and the touched accounts in batches
    (`work/<file>/detect-NNNNN.json`, a guarantor's accounts in one) for the map to detect."""
    s3, bucket, name = aws.client("s3"), event["bucket"], event["name"]
    report = IngestReport()
    for part in event["parts"]:
        result = json.loads(s3.get_object(Bucket=bucket, Key=part["key"] + ".result.json")["Body"].read())
        report.rows_read += result["rows_read"]
        report.stored += result["stored"]
        report.repeated += result["repeated"]
        for account, (posting, txn_id, guarantor) in result["latest"].items():
            report.saw(account, (posting, txn_id, guarantor))
        report.rejects += [RowError(**r) for r in result["rejects"]]
    _write_rejects(s3, bucket, name, report.rejects)
    _count_rows(report)
    batches = []
    for number, accounts in enumerate(detection_batches(report.latest, aws.int_env("DETECT_BATCH_ACCOUNTS", 5000))):
        batch_key = f"{WORK}{name}/detect-{number:05d}.json"
        s3.put_object(Bucket=bucket, Key=batch_key, Body=json.dumps(accounts).encode())
        batches.append({"key": batch_key})
    logger.info("ledger file stored", extra={"key": event["key"], "parts": len(event["parts"]),
                                             "batches": len(batches)})
    return {"batches": batches, "rows_read": report.rows_read, "stored": report.stored,
            "repeated": report.repeated, "rejected": len(report.rejects)}


def detect_batch(aws: Aws, event: dict[str, Any]) -> dict[str, Any]:
    """One batch of touched accounts: detect them, open or update their cases."""
    body = aws.client("s3").get_object(Bucket=event["bucket"], Key=event["batch"]["key"])["Body"].read()
    report = IngestReport()
    _detect_accounts(aws, set(json.loads(body)), report, event["event_time"])
    return {"cases_opened": len(report.cases_opened), "cases_updated": len(report.cases_updated),
            "cases_reconciled": len(report.cases_reconciled)}


def finish_parts(aws: Aws, event: dict[str, Any]) -> dict[str, Any]:
    """Every batch is detected: the file's summary in the log, and work/ cleaned."""
    plan, detected = event["plan"], event["detected"]
    summary = {"key": event["key"], "parts": len(event["parts"]), "batches": len(detected),
               **{k: plan[k] for k in ("rows_read", "stored", "repeated", "rejected")},
               **{k: sum(d[k] for d in detected) for k in ("cases_opened", "cases_updated", "cases_reconciled")}}
    logger.info("ledger file ingested", extra=summary)
    _clean(aws.client("s3"), event["bucket"], event["name"])
    return summary


def fail_parts(aws: Aws, event: dict[str, Any]) -> dict[str, Any]:
    """A part could not be stored, or a batch detected: the reason beside the file in rejected/,
    operators told."""
    error = event.get("error") or {}
    cause = str(error.get("Cause") or "")
    try:  # a function's error: its type and message, not its stack
        cause = json.loads(cause)["errorMessage"]
    except (ValueError, KeyError, TypeError):
        pass
    reason = f"the fan-out failed: {error.get('Error')}: {cause[:2000]}"
    _reject_file(aws, event["bucket"], event["key"], event["name"], reason)
    _clean(aws.client("s3"), event["bucket"], event["name"])
    now = datetime.now(UTC)
    text = (f"The ledger file {event['name']} could not be stored and detected in full: {reason}\n"
            f"It is kept in rejected/ with the reason beside it. Rows already stored stay stored (by txn_id); "
            f"drop the file again once the cause is fixed.")
    aws.mail([aws.env["OPERATORS_EMAIL"]], f"Ledger file failed: {event['name']}", text, f"<pre>{text}</pre>", now)
    return {"key": event["key"], "rejected": reason}


def _clean(s3: Any, bucket: str, name: str) -> None:
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=f"{WORK}{name}/"):
        for item in page.get("Contents", []):
            s3.delete_object(Bucket=bucket, Key=item["Key"])


def _reject_file(aws: Aws, bucket: str, key: str, name: str, reason: str) -> None:
    """Move a refused file to rejected/ with its reason beside it: nothing is lost."""
    s3 = aws.client("s3")
    s3.copy_object(Bucket=bucket, Key=f"{REJECTED}{name}", CopySource={"Bucket": bucket, "Key": key})
    s3.put_object(Bucket=bucket, Key=f"{REJECTED}{name}.reason.txt", Body=(reason + "\n").encode())
    s3.delete_object(Bucket=bucket, Key=key)
    logger.warning("ledger file rejected whole", extra={"key": key, "reason": reason})
