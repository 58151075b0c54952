"""Issue 28 on the local cloud, what only it shows: the functions' own KMS keys and grants (each role may
MAC only what it writes, and verify what it reads) turn a table writer's items into a stopped case, not a
payment. Judged by outcome: the rows of the AP files in the bucket, the case's status, operators' mail.
The rules themselves are in tests/usecases/test_insiders.py."""

from __future__ import annotations

import csv
import io

from .conftest import drop, wait_for_mail, wait_for_mail_subject, wait_for_status
from .test_crash_safe import approve_the_waiting_link, case_id
from .test_workflow import patient_credit

TIER1 = "tier1.approver@example.org"


def paid_to(cloud, payee: str) -> list[dict[str, str]]:
    """Every row of every AP file in the bucket that pays `payee`."""
    s3, bucket = cloud.client("s3"), cloud.outputs["LedgerBucketName"]
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket=bucket, Prefix="outbound/refunds/").get("Contents", [])]
    return [row for key in keys for row in csv.DictReader(io.StringIO(
        s3.get_object(Bucket=bucket, Key=key)["Body"].read().decode())) if row["payee_id"] == payee]


def test_an_instruction_planted_before_the_approval_pays_nothing_and_stops_the_case(cloud):
    account = "IN-PLANTED"
    drop(cloud, f"{account}.csv", patient_credit(account))
    wait_for_mail(cloud, TIER1, account)
    planted = f"{case_id(account)}#0"
    cloud.table("RefundsTableName").put_item(Item={
        "instruction_id": planted, "issued_on": "2026-11-20", "case_id": case_id(account), "account_id": account,
        "payee_type": "PATIENT", "payee_id": "ATTACKER", "amount": "2500.00", "method": "check",
        "reason": "PATIENT_OVERPAYMENT", "claim_id": "", "target_account_id": "", "due_date": "", "line": 0,
        "action": "REFUND", "ledger_at_issue": [], "approved_by": [], "mac": "bm90IGEgTUFD"})
    approve_the_waiting_link(cloud, account)
    wait_for_status(cloud, account, {"FAILED"})
    assert paid_to(cloud, "ATTACKER") == [] and paid_to(cloud, f"G-{account}") == []
    assert "Tampered" in wait_for_mail_subject(cloud, "operators@example.org", case_id(account)).text


def test_a_forged_ledger_row_opens_no_case_and_pays_no_one(cloud):
    account = "IN-FORGED"
    drop(cloud, f"{account}.csv", [f"{account}-1,{account},P-{account},G-{account},CHARGE,100.00,2026-11-02,,,,,,,TX",
                                   f"{account}-2,{account},P-{account},G-{account},PAYMENT,-100.00,2026-11-09,"
                                   "PATIENT,,,,,,TX"])
    # As the store would keep it, under a manifest it made, but with no path to that manifest's root.
    [kept] = [i for i in cloud.table("TransactionsTableName").query(
        KeyConditionExpression="pk = :p", ExpressionAttributeValues={":p": f"ACCT#{account}"})["Items"]
        if i["sk"] == f"TXN#{account}-2"]
    cloud.table("TransactionsTableName").put_item(Item={
        **kept, "sk": f"TXN#{account}-X", "txn_id": f"{account}-X", "amount": "-5000.00", "guarantor_id": "ATTACKER"})
    drop(cloud, f"{account}-2.csv", [f"{account}-3,{account},P-{account},G-{account},CHARGE,10.00,2026-11-12,,,,,,,TX"])
    opened = cloud.client("dynamodb").query(
        TableName=cloud.outputs["CasesTableName"], IndexName="by-account", KeyConditionExpression="account_id = :a",
        ExpressionAttributeValues={":a": {"S": account}})["Items"]
    assert opened == [] and not [m for m in cloud.mailbox.messages() if account in m.subject]
    assert paid_to(cloud, "ATTACKER") == [] and paid_to(cloud, f"G-{account}") == []
