"""835 remittances on the local cloud (issue 15), what only it shows: a Medicare credit whose contractor later
recoups it by PLB WO never reaches the accounts-payable file through the S3 hand-off, its old approval link
decides nothing and the same 835 twice changes nothing; a remittance that fails Lambda's every attempt goes
to rejected/ by the failure destination; evidence without the KMS MAC stops the step. The use-cases' own
behaviour is in tests/usecases/test_remittances.py."""

from __future__ import annotations

import json
import secrets
from dataclasses import replace
from pathlib import Path

from creditrefunds.adapters.remittance_store import item_of
from creditrefunds.adapters.x835 import read_835
from localcloud import faults
from refunds_cli.demo import decide_link

from tests.remittances import medicare_paid_twice, offset_of

from .conftest import (
    case_of,
    drop,
    history_reasons,
    plain,
    refunds,
    wait_for_mail,
    wait_for_mail_subject,
    wait_for_status,
)
from .test_crash_safe import approve_the_waiting_link
from .test_money_safety import ap_rows

TIER1 = "tier1.approver@example.org"



def drop_835(cloud, name: str, text: str) -> None:
    cloud.client("s3").put_object(Bucket=cloud.outputs["LedgerBucketName"], Key=f"incoming/{name}", Body=text.encode())
    cloud.wait_idle()




def mails_about(cloud, account: str) -> list[str]:
    return [m.subject for m in cloud.mailbox.messages() if account in m.subject]


def evidence_items(cloud) -> list[dict]:
    return [plain(i) for i in cloud.client("dynamodb").scan(TableName=cloud.outputs["RemittancesTableName"])["Items"]]


def test_a_medicare_credit_recouped_by_offset_never_reaches_the_ap_file(cloud):
    account = "RM-WAIT"
    drop(cloud, "rm-wait.csv", medicare_paid_twice(account))
    asked = wait_for_mail(cloud, TIER1, account)
    drop_835(cloud, "rm-wait-era.835", offset_of(account))
    case = wait_for_status(cloud, account, {"WORK_ITEM"})
    [line] = case["lines"]
    assert (line["action"], line["reason"], line["payee_type"], line["payee_id"], line["amount"]) == (
        "CORRECT", "PAYER_RECOUPED", "MEDICARE", "MAC-JL", "500.00")
    assert line["evidence"] == (f"PLB WO of 500.00: 835 rm-wait-era.835, trace EFT-3001, claim ICN-{account}, "
                                "segment 17")
    reasons = history_reasons(cloud, case["case_id"])
    assert ("REMITTANCE", "the 835 remittance rm-wait-era.835 changed the lines; the approval asked of them is "
                          "withdrawn and asked again") in reasons
    # The link mailed for the refund decides nothing now, and nothing was issued.
    status, page = decide_link(cloud, asked.links[0], {"decision": "approve"})
    assert status == 410 and "Nothing was decided" in page
    assert ap_rows(cloud, case["case_id"]) == []
    # The same interchange again (under another name, too) changes nothing.
    before = (evidence_items(cloud), history_reasons(cloud, case["case_id"]), mails_about(cloud, account))
    drop_835(cloud, "rm-wait-era.835", offset_of(account))
    drop_835(cloud, "rm-wait-era-resent.x12", offset_of(account))
    after = (evidence_items(cloud), history_reasons(cloud, case["case_id"]), mails_about(cloud, account))
    assert after == before
    assert case_of(cloud, account)["status"] == "WORK_ITEM"
    # Billing staff see the takeback to post, and the claim of an account the ledger does not know.
    listed = json.loads(refunds(cloud, "report", "remittance", "--json").stdout)
    assert {"kind": "takeback not posted", "account_id": account, "claim_id": f"ICN-{account}", "payer_id": "MAC-JL",
            "amount": "500.00", "evidence": line["evidence"]} in listed
    assert {(r["kind"], r["account_id"], r["amount"]) for r in listed} >= {("unknown account", "ACCT-OTHER", "700.00")}
    report = refunds(cloud, "report", "remittance", "--csv").stdout.splitlines()
    assert report[0] == "kind,account_id,claim_id,payer_id,amount,evidence" and len(report) == len(listed) + 1


def test_a_remittance_whose_function_crashes_is_finished_by_its_retry(cloud):
    """Lambda retries an asynchronous invocation that failed: each attempt cut short at its k-th AWS call
    is finished by the next one, with one alert-free WORK_ITEM and one REMITTANCE record, and the 835 leaves
    incoming/ for the originals bucket. (Back in the suite: the local cloud's fault switch no longer deadlocks
    a function calling AWS from several threads.)"""
    s3 = cloud.client("s3")
    for k in (1, 4, 8):
        account = f"RM-CRASH-{k}"
        drop(cloud, f"{account}.csv", medicare_paid_twice(account))
        wait_for_mail(cloud, TIER1, account)
        fault = faults.inject(cloud.function_name("RemitFunction"), at=k, about=f"{account}.835")
        try:
            drop_835(cloud, f"{account}.835", offset_of(account))
        finally:
            faults.clear()
        assert fault.fired == 1
        case = wait_for_status(cloud, account, {"WORK_ITEM"})
        assert [li["reason"] for li in case["lines"]] == ["PAYER_RECOUPED"]
        assert [a for a, _ in history_reasons(cloud, case["case_id"])].count("REMITTANCE") == 1
        cloud.wait_idle()
        incoming = s3.list_objects_v2(Bucket=cloud.outputs["LedgerBucketName"], Prefix=f"incoming/{account}.835")
        kept = s3.list_objects_v2(Bucket=cloud.outputs["OriginalsBucketName"], Prefix=f"{account}.835/")
        assert incoming.get("KeyCount") == 0 and kept.get("KeyCount") == 1


def test_a_remittance_that_fails_every_attempt_is_rejected_and_operators_are_told(cloud):
    s3, bucket = cloud.client("s3"), cloud.outputs["LedgerBucketName"]
    name = "rm-fails.835"
    faults.inject(cloud.function_name("RemitFunction"), at=1, times=1000, about=name)
    try:
        drop_835(cloud, name, offset_of("RM-FAILS"))
        mail = wait_for_mail_subject(cloud, "operators@example.org", name)
    finally:
        faults.clear()
    assert mail.subject == f"Dropped file failed: {name}" and "rejected/" in mail.text
    [kept] = [item for item in s3.list_objects_v2(Bucket=bucket, Prefix=f"rejected/{name}/")["Contents"]
              if item["Key"].endswith("/" + name)]
    etag = kept["ETag"].strip('"')
    # The notification delivered once more (S3 may): the file is gone from incoming/, nothing is read.
    event = json.loads((Path(__file__).parents[2] / "events" / "remit.json").read_text())
    event["Records"][0]["s3"]["bucket"]["name"] = bucket
    event["Records"][0]["s3"]["object"].update({"key": f"incoming/{name}", "eTag": etag})
    answer = cloud.client("lambda").invoke(FunctionName=cloud.function_name("RemitFunction"),
                                           Payload=json.dumps(event).encode())
    assert json.loads(answer["Payload"].read()) == {"files": [{"key": f"incoming/{name}", "skipped": "LedgerGone"}]}


def test_evidence_forged_in_the_table_stops_the_step_instead_of_keeping_the_money(cloud):
    """Someone who can write the remittances table adds a takeback to keep a refund from going out: it
    carries no MAC the evidence key made, so the step that reads it fails, and a person is told."""
    account = "RM-FORGE"
    drop(cloud, "rm-forge.csv", medicare_paid_twice(account))
    wait_for_mail(cloud, TIER1, account)
    [takeback] = read_835(offset_of(account).encode(), "forged.835").takebacks()
    forged = item_of(replace(takeback, account_id=account))  # as the remittance function would store it
    table = cloud.table("RemittancesTableName")
    table.put_item(Item={**forged, "mac": secrets.token_bytes(32)})
    try:
        approve_the_waiting_link(cloud, account)
        case = wait_for_status(cloud, account, {"FAILED"})
    finally:  # the forgery stays in no later test's way (the remittance report reads the whole table)
        table.delete_item(Key={"pk": forged["pk"], "sk": forged["sk"]})
    assert ap_rows(cloud, case["case_id"]) == []
    assert any("TamperedEvidence" in (why or "") for _, why in history_reasons(cloud, case["case_id"]))
    assert "TamperedEvidence" in wait_for_mail_subject(cloud, "operators@example.org", case["case_id"]).text


def test_a_takeback_deleted_from_the_table_is_noticed_and_reopens_no_refund(cloud):
    """Issue 28, attack 7: deleting the TAKE# item would turn the recouped line back into a refund to the
    payer that already took its money back. The interchange's manifest in the partition names the item:
    whoever reads the account's evidence stops (TamperedEvidence), and the report says what is gone."""
    account = "RM-GONE"
    drop(cloud, "rm-gone.csv", medicare_paid_twice(account))
    wait_for_mail(cloud, TIER1, account)
    drop_835(cloud, "rm-gone-era.835", offset_of(account))
    case = wait_for_status(cloud, account, {"WORK_ITEM"})
    table = cloud.table("RemittancesTableName")
    [taken] = [i for i in table.query(KeyConditionExpression="pk = :p",
                                      ExpressionAttributeValues={":p": f"ACCT#{account}"})["Items"]
               if i["sk"].startswith("TAKE#")]
    table.delete_item(Key={"pk": taken["pk"], "sk": taken["sk"]})
    try:
        report = refunds(cloud, "report", "remittance", "--json")
        assert report.returncode != 0 and f"ACCT#{account}/{taken['sk']}" in report.stderr, report.stderr
        assert "is gone: deleted" in report.stderr
        routine = f"{account}-9,{account},P-{account},G-{account},CHARGE,0.00,2026-11-20,,,,,,,TX"
        drop(cloud, "rm-gone-2.csv", [routine])
        assert ap_rows(cloud, case["case_id"]) == []
        assert case_of(cloud, account)["status"] in ("WORK_ITEM", "FAILED")
    finally:  # put it back: later tests read the whole table
        table.put_item(Item=taken)
    assert refunds(cloud, "report", "remittance", "--json").returncode == 0
