"""Ingest: a ledger file dropped in incoming/ is validated, stored, and its credits detected."""

from __future__ import annotations

import json
import os
import tempfile
from datetime import UTC, datetime
from typing import Any
from urllib.parse import unquote_plus

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit
from creditrefunds.aws import Aws
from creditrefunds.cases import Case
from creditrefunds.ingest import detect_accounts, store_file
from creditrefunds.ledger import LedgerUnreadable, format_for

logger = Logger()
metrics = Metrics()

INCOMING = "incoming/"
REJECTED = "rejected/"


@logger.inject_lambda_context(log_event=False)  # events name files; rows never reach the logs
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    aws = Aws()
    results = [ingest_object(aws, record) for record in event.get("Records", [])]
    return {"files": results}


def ingest_object(aws: Aws, record: dict[str, Any]) -> dict[str, Any]:
    bucket = record["s3"]["bucket"]["name"]
    key = unquote_plus(record["s3"]["object"]["key"])
    if not key.startswith(INCOMING):
        logger.warning("ignored an object outside incoming/", extra={"key": key})
        return {"key": key, "ignored": True}
    today = datetime.fromisoformat(record["eventTime"].replace("Z", "+00:00")).date()
    name = key[len(INCOMING):]
    s3 = aws.client("s3")
    with tempfile.TemporaryDirectory() as workdir:
        local = os.path.join(workdir, "ledger")
        s3.download_file(bucket, key, local)
        try:
            report = store_file(local, format_for(name), aws.transactions)
        except LedgerUnreadable as error:
            _reject_file(s3, bucket, key, name, str(error))
            metrics.add_metric(name="FilesRejected", unit=MetricUnit.Count, value=1)
            return {"key": key, "rejected": str(error)}
    if report.rejects:
        body = "".join(json.dumps(r.to_json()) + "\n" for r in report.rejects)
        s3.put_object(Bucket=bucket, Key=f"{REJECTED}{name}.errors.jsonl", Body=body.encode())
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
    detect_accounts(report.accounts, aws.transactions, aws.cases, today, aws.settings, start_workflow, report,
                    record=lambda case, entry: aws.history.append(case, entry, now))
    metrics.add_metric(name="RowsRead", unit=MetricUnit.Count, value=report.rows_read)
    metrics.add_metric(name="RowsRejected", unit=MetricUnit.Count, value=len(report.rejects))
    metrics.add_metric(name="CasesOpened", unit=MetricUnit.Count, value=len(report.cases_opened))
    summary = {
        "key": key,
        "rows_read": report.rows_read,
        "stored": report.stored,
        "repeated": report.repeated,
        "rejected": len(report.rejects),
        "cases_opened": report.cases_opened,
        "cases_updated": report.cases_updated,
        "cases_reconciled": report.cases_reconciled,
    }
    logger.info("ledger file ingested", extra=summary)
    return summary


def _reject_file(s3: Any, bucket: str, key: str, name: str, reason: str) -> None:
    """Move an unreadable file to rejected/ with its reason beside it: nothing is lost."""
    s3.copy_object(Bucket=bucket, Key=f"{REJECTED}{name}", CopySource={"Bucket": bucket, "Key": key})
    s3.put_object(Bucket=bucket, Key=f"{REJECTED}{name}.reason.txt", Body=(reason + "\n").encode())
    s3.delete_object(Bucket=bucket, Key=key)
    logger.warning("ledger file rejected whole", extra={"key": key, "reason": reason})
