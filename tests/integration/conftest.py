from __future__ import annotations

import subprocess
import sys
import time
from typing import Any

from boto3.dynamodb.types import TypeDeserializer
from creditrefunds.domain.refunds import AP_FILES, ap_day
from localcloud.cloud import LocalCloud

_deserialize = TypeDeserializer().deserialize


def plain(item: dict[str, Any]) -> dict[str, Any]:
    """A DynamoDB item from the low-level client as Python values."""
    return {name: _deserialize(value) for name, value in item.items()}


def wait_for_executions(cloud: LocalCloud, names: set[str], timeout: float = 60.0) -> list[dict]:
    """The named executions, once each exists and none of them is running (others may wait on people)."""
    sfn = cloud.client("stepfunctions")
    deadline = time.monotonic() + timeout
    while True:
        executions = [e for e in sfn.list_executions(stateMachineArn=cloud.outputs["RefundStateMachineArn"])[
            "executions"] if e["name"] in names]
        if len(executions) == len(names) and all(e["status"] != "RUNNING" for e in executions):
            return executions
        assert time.monotonic() < deadline, f"executions did not settle: {executions}"
        time.sleep(0.3)


HEADER = ("txn_id,account_id,patient_id,guarantor_id,txn_type,amount,posting_date,payer_type,payer_id,"
          "coverage_rank,reference,claim_id,patient_name,patient_state\n")


def drop(cloud: LocalCloud, name: str, rows: list[str]) -> None:
    """A ledger file into incoming/, and wait until the ingest function is done with it."""
    cloud.client("s3").put_object(Bucket=cloud.outputs["LedgerBucketName"], Key=f"incoming/{name}",
                                  Body=(HEADER + "".join(r + "\n" for r in rows)).encode())
    cloud.wait_idle()


def rejected(cloud: LocalCloud, name: str, leaf: str) -> bytes | None:
    """What is kept of the one upload of `name` that has `leaf` (errors.jsonl, reason.txt, notice.txt, the file
    itself) in rejected/<name>/<upload>/; None when no upload has it."""
    s3, bucket = cloud.client("s3"), cloud.outputs["LedgerBucketName"]
    listed = s3.list_objects_v2(Bucket=bucket, Prefix=f"rejected/{name}/").get("Contents", [])
    found = [item["Key"] for item in listed if item["Key"].endswith("/" + leaf)]
    assert len(found) <= 1, found
    return s3.get_object(Bucket=bucket, Key=found[0])["Body"].read() if found else None


def case_of(cloud: LocalCloud, account: str) -> dict:
    items = cloud.client("dynamodb").query(
        TableName=cloud.outputs["CasesTableName"], IndexName="by-account",
        KeyConditionExpression="account_id = :a", ExpressionAttributeValues={":a": {"S": account}})["Items"]
    assert len(items) == 1, [(plain(i)["case_id"], plain(i).get("status"), history_reasons(cloud, plain(i)["case_id"]))
                             for i in items]
    return plain(items[0])


def wait_for_status(cloud: LocalCloud, account: str, statuses: set[str], timeout: float = 45.0) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        case = case_of(cloud, account)
        if case["status"] in statuses:
            return case
        assert time.monotonic() < deadline, (f"{account} stayed {case['status']}, not {statuses}; its history: "
                                             f"{history_reasons(cloud, case['case_id'])}")
        time.sleep(0.3)


def wait_for_mail(cloud: LocalCloud, to: str, account: str, seen: int = 0, timeout: float = 60.0,
                  about: str = ""):
    """The (seen+1)-th mail to `to` about `account` with an approval link (and `about` in its subject)."""
    deadline = time.monotonic() + timeout
    while True:
        found = [m for m in cloud.mailbox.messages(wait=0)  # (this loop is the wait: no 5 s per look)
                 if to in m.to and account in m.subject and about in m.subject and m.links]
        if len(found) > seen:
            return found[seen]
        if time.monotonic() > deadline:
            sent = [(m.to, m.subject) for m in cloud.mailbox.messages() if account in m.subject]
            raise AssertionError(f"no mail #{seen + 1} to {to} about {account} {about}; sent: {sent}")
        time.sleep(0.3)


def history_until(cloud: LocalCloud, case_id: str, last_action: str, timeout: float = 30.0) -> list[tuple]:
    """The case's history once its latest record is `last_action` (a status can show a moment before
    the step's history record is written)."""
    deadline = time.monotonic() + timeout
    while True:
        actions = history_actions(cloud, case_id)
        if actions and actions[-1][0] == last_action:
            return actions
        assert time.monotonic() < deadline, f"{case_id} history ends {actions[-1:]}, not {last_action}"
        time.sleep(0.3)


def history_actions(cloud: LocalCloud, case_id: str) -> list[tuple[str, str | None, str | None]]:
    items = cloud.client("dynamodb").query(
        TableName=cloud.outputs["HistoryTableName"], KeyConditionExpression="case_id = :c",
        ExpressionAttributeValues={":c": {"S": case_id}})["Items"]
    return [(r["action"], r.get("status_before"), r.get("status_after")) for r in map(plain, items)]


def history_reasons(cloud: LocalCloud, case_id: str) -> list[tuple[str, str | None]]:
    """(action, reason) of each record: what a failed wait shows."""
    items = cloud.client("dynamodb").query(
        TableName=cloud.outputs["HistoryTableName"], KeyConditionExpression="case_id = :c",
        ExpressionAttributeValues={":c": {"S": case_id}})["Items"]
    return [(r["action"], r.get("reason")) for r in map(plain, items)]


def refunds(cloud: LocalCloud, *args: str) -> subprocess.CompletedProcess[str]:
    """The operator's CLI against the local cloud."""
    return subprocess.run([sys.executable, "-m", "refunds_cli.main", "--endpoint-url", cloud.endpoint_url, *args],
                          capture_output=True, text=True, check=False, timeout=60)


def all_cases(cloud: LocalCloud) -> list[dict[str, Any]]:
    """Every case item (the table also keeps one hold per account, naming the case open on it)."""
    return [item for item in cloud.table("CasesTableName").scan()["Items"] if "status" in item]


def wait_for_mail_subject(cloud: LocalCloud, to: str, about: str, timeout: float = 45.0):
    """The first mail to `to` whose subject names `about` (a case or an account)."""
    deadline = time.monotonic() + timeout
    while True:
        found = [m for m in cloud.mailbox.messages(wait=0) if to in m.to and about in m.subject]
        if found:
            return found[0]
        assert time.monotonic() < deadline, f"no mail to {to} about {about}"
        time.sleep(0.3)


def ap_day_file(cloud: LocalCloud, day: str) -> str:
    """The day's AP files (one per instruction) as the one file accounts payable imports."""
    s3, bucket = cloud.client("s3"), cloud.outputs["LedgerBucketName"]
    listed = s3.list_objects_v2(Bucket=bucket, Prefix=f"{AP_FILES}{day}/").get("Contents", [])
    return ap_day(s3.get_object(Bucket=bucket, Key=o["Key"])["Body"].read().decode() for o in listed)
