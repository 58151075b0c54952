"""`refunds demo`: the product's main job, end to end, on the local cloud.

Starts the local cloud, drops the sample ledger into incoming/ as a billing system would,
and reports what the stack did with it: rejected rows, credit balances detected, and where
each case's workflow went.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import IO, Any

from refunds_cli.localcloud.cloud import LocalCloud

SAMPLE = "events/ledger-sample.csv"


def run_demo(root: Path, out: IO[str] = sys.stdout, settle_seconds: float = 120.0) -> int:
    with LocalCloud(root, quiet=True) as cloud:
        outputs = cloud.outputs
        print(f"Local cloud up: AWS endpoint {cloud.endpoint_url}, approvals site {outputs['ApprovalSiteUrl']}",
              file=out)
        bucket = outputs["LedgerBucketName"]
        s3 = cloud.client("s3")
        name = Path(SAMPLE).name
        s3.upload_file(str(root / SAMPLE), bucket, f"incoming/{name}")
        print(f"Dropped {SAMPLE} into s3://{bucket}/incoming/", file=out)
        cloud.wait_idle()
        _print_rejects(s3, bucket, name, out)
        executions = _settle(cloud, settle_seconds, out)
        _print_cases(cloud, executions, out)
    return 0


def _print_rejects(s3: Any, bucket: str, name: str, out: IO[str]) -> None:
    key = f"rejected/{name}.errors.jsonl"
    try:
        body = s3.get_object(Bucket=bucket, Key=key)["Body"].read().decode()
    except s3.exceptions.NoSuchKey:
        print("No rows rejected.", file=out)
        return
    rows = [json.loads(line) for line in body.splitlines() if line]
    print(f"\n{len(rows)} row(s) rejected, kept in s3://{bucket}/{key}:", file=out)
    for row in rows:
        print(f"  line {row['line']} ({row['txn_id']}): {row['field']}: {row['reason']}", file=out)


def _settle(cloud: LocalCloud, timeout: float, out: IO[str]) -> dict[str, dict[str, Any]]:
    """Wait, showing progress, until no workflow execution is running."""
    sfn = cloud.client("stepfunctions")
    arn = cloud.outputs["RefundStateMachineArn"]
    deadline = time.monotonic() + timeout
    while True:
        executions = sfn.list_executions(stateMachineArn=arn)["executions"]
        running = [e for e in executions if e["status"] == "RUNNING"]
        print(f"\r  workflows: {len(executions) - len(running)} settled, {len(running)} running   ", end="",
              file=out, flush=True)
        if not running or time.monotonic() > deadline:
            print(file=out)
            return {e["name"]: sfn.describe_execution(executionArn=e["executionArn"]) for e in executions}
        time.sleep(0.5)


def _print_cases(cloud: LocalCloud, executions: dict[str, dict[str, Any]], out: IO[str]) -> None:
    table = cloud.client("dynamodb")
    items = table.scan(TableName=cloud.outputs["CasesTableName"])["Items"]
    cases = sorted(items, key=lambda i: i["account_id"]["S"])
    print(f"\n{len(cases)} credit balance case(s) detected:", file=out)
    for item in cases:
        case_id = item["case_id"]["S"]
        due = item["due_date"]["S"] if item["due_date"]["S"] != "9999-12-31" else "(held)"
        print(f"  {item['account_id']['S']}  credit {item['credit']['N']:>9}  due {due:<10}  "
              f"tier {item['tier']['N']}  status {item['status']['S']}  ({case_id})", file=out)
        for line in item["lines"]["L"]:
            li = {k: next(iter(v.values())) for k, v in line["M"].items()}
            payee = f"{li.get('payee_type', '-')} {li.get('payee_id', '')}".strip()
            target = f" -> {li['target_account_id']}" if "target_account_id" in li else ""
            print(f"      {li['action']:<8} {li['reason']:<20} {payee:<22} {li['amount']:>9}{target}", file=out)
        execution = executions.get(case_id)
        if execution and execution["status"] == "FAILED":
            print(f"      workflow stopped: {_cause(cloud, execution)}", file=out)
    failed = sum(1 for e in executions.values() if e["status"] == "FAILED")
    print(f"\nSummary: {len(cases)} cases, {len(executions)} workflows, {failed} stopped for a person to see.",
          file=out)


def _cause(cloud: LocalCloud, execution: dict[str, Any]) -> str:
    """The error of the step that failed, as its execution history tells it."""
    events = cloud.client("stepfunctions").get_execution_history(
        executionArn=execution["executionArn"], reverseOrder=True
    )["events"]
    for event in events:
        details = event.get("taskFailedEventDetails")
        if details:
            try:
                message = json.loads(details.get("cause", "{}")).get("errorMessage", "")
            except json.JSONDecodeError:
                message = details.get("cause", "")
            return f"{details.get('error')}: {message}"
    return str(execution.get("cause") or execution.get("error") or "")
