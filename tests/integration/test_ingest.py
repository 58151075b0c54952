"""Ingest through the local cloud: overlapping extracts, conflicts, files refused whole (issue 3)."""

from __future__ import annotations

import json
import subprocess
import sys
from decimal import Decimal

HEADER = "txn_id,account_id,patient_id,guarantor_id,txn_type,amount,posting_date,payer_type,payer_id,patient_state\n"
ROWS = [
    "OV-1,OV-ACC,OV-P,OV-G,CHARGE,100.00,2026-09-01,,,TX\n",
    "OV-2,OV-ACC,OV-P,OV-G,PAYMENT,-80.00,2026-09-05,MEDICARE,MAC,TX\n",
    "OV-3,OV-ACC,OV-P,OV-G,PAYMENT,-60.00,2026-09-09,PATIENT,,TX\n",
]


def refunds(cloud, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "refunds_cli.main", "--endpoint-url", cloud.endpoint_url, *args],
                          capture_output=True, text=True, check=False, timeout=60)


def cases_of(cloud, account: str) -> list[dict]:
    return cloud.client("dynamodb").query(
        TableName=cloud.outputs["CasesTableName"], IndexName="by-account",
        KeyConditionExpression="account_id = :a", ExpressionAttributeValues={":a": {"S": account}})["Items"]


def stored_ids(cloud, account: str) -> list[str]:
    items = cloud.client("dynamodb").query(
        TableName=cloud.outputs["TransactionsTableName"], KeyConditionExpression="pk = :pk",
        ExpressionAttributeValues={":pk": {"S": f"ACCT#{account}"}})["Items"]
    return sorted(i["txn_id"]["S"] for i in items)


def test_overlapping_extracts_count_each_transaction_once_and_report_a_conflict(cloud, tmp_path):
    first, second = tmp_path / "extract-1.csv", tmp_path / "extract-2.csv"
    first.write_text(HEADER + ROWS[0] + ROWS[1])
    changed = ROWS[0].replace("100.00", "150.00")  # the same txn_id with other content
    second.write_text(HEADER + ROWS[1] + ROWS[2] + changed)
    for path in (first, second):
        done = refunds(cloud, "drop", str(path))
        assert done.returncode == 0, done.stderr
        assert done.stdout.strip() == f"dropped s3://{cloud.outputs['LedgerBucketName']}/incoming/{path.name}"
        cloud.wait_idle()
    assert stored_ids(cloud, "OV-ACC") == ["OV-1", "OV-2", "OV-3"]
    [case] = cases_of(cloud, "OV-ACC")
    assert Decimal(case["credit"]["N"]) == Decimal("40.00")  # 100 - 80 - 60: OV-2 counted once, OV-1 as first stored
    errors = cloud.client("s3").get_object(Bucket=cloud.outputs["LedgerBucketName"],
                                           Key="rejected/extract-2.csv.errors.jsonl")["Body"].read().decode()
    assert [json.loads(line) for line in errors.splitlines()] == [{
        "line": 4, "txn_id": "OV-1", "field": "txn_id",
        "reason": "conflicts with the stored transaction of the same txn_id; the stored one is kept"}]


def test_a_bad_byte_deep_in_a_file_stores_nothing_of_it(cloud, tmp_path):
    path = tmp_path / "broken-late.csv"
    good = "".join(f"BB-{n},BB-ACC,BB-P,BB-G,CHARGE,10.00,2026-09-01,,,TX\n" for n in range(50))
    path.write_bytes((HEADER + good).encode() + b"BB-X,BB-ACC,BB-P,BB-G,CHARGE,1.00,2026-09-01,,,\xff\n")
    assert refunds(cloud, "drop", str(path)).returncode == 0
    cloud.wait_idle()
    s3 = cloud.client("s3")
    reason = s3.get_object(Bucket=cloud.outputs["LedgerBucketName"],
                           Key="rejected/broken-late.csv.reason.txt")["Body"].read().decode()
    assert reason.startswith("not UTF-8 text (invalid start byte at byte ")
    assert stored_ids(cloud, "BB-ACC") == []


def test_drop_names_a_missing_file(cloud, tmp_path):
    done = refunds(cloud, "drop", str(tmp_path / "nope.csv"))
    assert done.returncode == 2 and "no such file" in done.stderr
