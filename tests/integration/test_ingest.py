"""Ingest through the local cloud (issue 3): the CLI's drop, and the fan-out of a large file (its Distributed
Maps, its failure). Overlapping extracts, conflicts and files refused whole are in tests/usecases/test_ingest.py."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

from boto3.dynamodb.conditions import Key

from .conftest import case_of, history_actions, refunds, rejected, wait_for_mail

HEADER = "txn_id,account_id,patient_id,guarantor_id,txn_type,amount,posting_date,payer_type,payer_id,patient_state\n"
ROWS = [
    "OV-1,OV-ACC,OV-P,OV-G,CHARGE,100.00,2026-09-01,,,TX\n",
    "OV-2,OV-ACC,OV-P,OV-G,PAYMENT,-80.00,2026-09-05,MEDICARE,MAC,TX\n",
    "OV-3,OV-ACC,OV-P,OV-G,PAYMENT,-60.00,2026-09-09,PATIENT,,TX\n",
]


def small_file(tmp_path, name: str, rows: list[str]):
    path = tmp_path / name
    path.write_text(HEADER + "".join(r + "\n" for r in rows))
    return path


def test_drop_puts_a_file_in_incoming_and_names_a_missing_file(cloud, tmp_path):
    done = refunds(cloud, "drop", str(tmp_path / "nope.csv"))
    assert done.returncode == 2 and "no such file" in done.stderr
    extract = tmp_path / "extract-drop.csv"
    extract.write_text("txn_id,account_id\n")  # read by ingest as a file without its required columns
    done = refunds(cloud, "drop", str(extract))
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == f"dropped s3://{cloud.outputs['LedgerBucketName']}/incoming/extract-drop.csv"
    cloud.wait_idle()


def stored_case(cloud, account: str) -> dict | None:
    """The account's case as `refunds detect` prints one, or None."""
    from creditrefunds.adapters.case_store import case_from_item

    table = cloud.table("CasesTableName")
    items = table.query(IndexName="by-account", KeyConditionExpression=Key("account_id").eq(account))["Items"]
    return case_from_item(items[0]).to_json() if items else None


ACCOUNTS = 60


def test_a_large_file_fans_out_and_gives_what_one_pass_gives(cloud, tmp_path):
    import time

    rows = []
    # 60 California accounts, 4 rows each: every fifth patient paid 3.00 too much (held under CA's
    # 5.00 floor, so no approval waits), the others carry a zero adjustment that is rejected. Every
    # tenth guarantor also owes 2.00 on another account, which the credit pays first (an offset):
    # the detection batches must keep a guarantor's accounts together for that.
    for n in range(ACCOUNTS):
        account = f"FO-{n:03d}"
        rows += [f"FO-{n}-1,{account},P{n},G{n},CHARGE,100.00,2026-09-01,,,CA",
                 f"FO-{n}-2,{account},P{n},G{n},PAYMENT,-80.00,2026-09-05,COMMERCIAL,AETNA,CA",
                 f"FO-{n}-3,{account},P{n},G{n},PAYMENT,-20.00,2026-09-09,PATIENT,,CA"]
        rows.append(f"FO-{n}-4,{account},P{n},G{n},PAYMENT,-3.00,2026-09-10,PATIENT,,CA" if n % 5 == 0 else
                    f"FO-{n}-4,{account},P{n},G{n},ADJUSTMENT,-0.00,2026-09-10,COMMERCIAL,AETNA,CA")
        if n % 10 == 0:
            rows.append(f"FO-{n}-5,FO-DEBT-{n:03d},P{n},G{n},CHARGE,2.00,2026-08-01,,,CA")
    # G0 has a second account in credit: the 2.00 debt is offset once, by FO-000 (first in order), as
    # one pass does, though detection works guarantors in parallel, and whichever case is reviewed first.
    rows += ["FO-T-1,FO-TWIN-000,P0,G0,PAYMENT,-3.00,2026-09-11,PATIENT,,CA"]
    quoted = rows.index("FO-25-2,FO-025,P25,G25,PAYMENT,-80.00,2026-09-05,COMMERCIAL,AETNA,CA")
    rows[quoted] = 'FO-25-2,FO-025,P25,G25,PAYMENT,"-80.00",2026-09-05,COMMERCIAL,"AETNA\nWEST",CA'
    rows.append(rows[0])  # the same transaction again, in a later part: stored once, counted as a repeat
    # FO-WAIT waits for approval from an earlier file; this one changes its lines: its link is withdrawn.
    waiting = small_file(tmp_path, "fo-wait.csv", ["FO-W-1,FO-WAIT,PW,GW,CHARGE,100.00,2026-09-01,,,TX",
                                                   "FO-W-2,FO-WAIT,PW,GW,PAYMENT,-130.00,2026-09-02,PATIENT,,TX"])
    assert refunds(cloud, "drop", str(waiting)).returncode == 0
    wait_for_mail(cloud, "tier1.approver@example.org", "FO-WAIT")
    rows.append("FO-W-3,FO-WAIT,PW,GW,PAYMENT,-10.00,2026-09-03,PATIENT,,TX")
    path = tmp_path / "big-extract.csv"
    path.write_text(HEADER + "".join(r + "\n" for r in rows))
    assert path.stat().st_size > 10000  # past the test cloud's SplitThresholdBytes: 7 parts of 40 rows
    today = datetime.now(UTC).date().isoformat()  # the day the cloud identifies the credits
    expected = subprocess.run([sys.executable, "-m", "refunds_cli.main", "detect", str(path), "--as-of", today,
                               "--rejects", str(tmp_path / "expected-rejects.jsonl")],
                              capture_output=True, text=True, check=True)
    expected_cases = {c["account_id"]: c for c in map(json.loads, expected.stdout.splitlines())}
    del expected_cases["FO-WAIT"]  # the stack holds the earlier file of it too
    expected_rejects = (tmp_path / "expected-rejects.jsonl").read_text().splitlines()
    # The -0.00 adjustments, and FO-25's payer id with a line break in it (a record over two lines).
    assert len(expected_cases) == 12 and len(expected_rejects) == 49
    offsets = [line for case in expected_cases.values() for line in case["lines"] if line["action"] == "OFFSET"]
    assert [(line["target_account_id"], line["amount"]) for line in offsets] == [
        (f"FO-DEBT-{n:03d}", "2.00") for n in range(0, ACCOUNTS, 10)]

    assert refunds(cloud, "drop", str(path)).returncode == 0
    cloud.wait_idle()
    s3 = cloud.client("s3")
    deadline = time.monotonic() + 120
    while True:
        found = {a: case for a in expected_cases if (case := stored_case(cloud, a)) is not None}
        if len(found) == len(expected_cases):
            break
        assert time.monotonic() < deadline, f"the fan-out opened {len(found)} of {len(expected_cases)} cases"
        time.sleep(0.5)
    assert found == expected_cases
    errors = rejected(cloud, "big-extract.csv", "errors.jsonl").decode().splitlines()
    assert [json.loads(e) for e in errors] == [json.loads(e) for e in expected_rejects]
    sfn = cloud.client("stepfunctions")
    [fan_out] = [m["stateMachineArn"] for m in sfn.list_state_machines()["stateMachines"]
                 if m["name"].endswith("-ledger-fanout")]
    while (executions := sfn.list_executions(stateMachineArn=fan_out)["executions"])[0]["status"] == "RUNNING":
        assert time.monotonic() < deadline, "the fan-out did not finish"
        time.sleep(0.3)  # detection is done; the clean-up of work/ may still be running
    assert [e["status"] for e in executions] == ["SUCCEEDED"]
    work = s3.list_objects_v2(Bucket=cloud.outputs["LedgerBucketName"], Prefix="work/")
    assert "Contents" not in work
    # The approver asked about the old lines is told: the ledger change withdraws the link, or, when the
    # test cloud's 8 s approval wait ran out before the file's detection reached FO-WAIT (a loaded
    # machine), the escalation had already superseded it and said so.
    told = {m.subject for m in cloud.mailbox.messages() if m.subject.endswith(": account FO-WAIT")}
    if "Approval withdrawn: account FO-WAIT" not in told:
        actions = [action for action, _, _ in history_actions(cloud, case_of(cloud, "FO-WAIT")["case_id"])]
        assert "ESCALATED" in actions and "LEDGER_CHANGED" in actions, actions
        assert "Approval moved on: account FO-WAIT" in told, told
    while not [m for m in cloud.mailbox.messages() if "FO-WAIT" in m.subject and "40.00" in m.subject and m.links]:
        assert time.monotonic() < deadline, "approval of the new lines (40.00) was not asked"
        time.sleep(0.3)  # asked again at its tier, or at the next one if its wait ran out meanwhile


def test_a_fan_out_that_fails_keeps_the_file_in_rejected_and_tells_operators(cloud):
    """A part that cannot be read (here: gone from S3) stops the fan-out; nothing is silent."""
    import time

    s3, sfn = cloud.client("s3"), cloud.client("stepfunctions")
    bucket = cloud.outputs["LedgerBucketName"]
    # A dropped file the fan-out took over: in incoming/, but not ingested again (its notification paused).
    notifications = s3.get_bucket_notification_configuration(Bucket=bucket)
    notifications.pop("ResponseMetadata")
    s3.put_bucket_notification_configuration(Bucket=bucket, NotificationConfiguration={})
    try:
        etag = s3.put_object(Bucket=bucket, Key="incoming/lost-part.csv", Body=(HEADER + ROWS[0]).encode())["ETag"]
    finally:
        s3.put_bucket_notification_configuration(Bucket=bucket, NotificationConfiguration=notifications)
    s3.put_object(Bucket=bucket, Key="work/lost-part.csv/part-00002.csv", Body=(HEADER + ROWS[1]).encode())
    [fan_out] = [m["stateMachineArn"] for m in sfn.list_state_machines()["stateMachines"]
                 if m["name"].endswith("-ledger-fanout")]
    execution = sfn.start_execution(stateMachineArn=fan_out, name="lost-part", input=json.dumps({
        "bucket": bucket, "key": "incoming/lost-part.csv", "name": "lost-part.csv", "etag": etag.strip('"'),
        "upload": "20261127T080000Z-" + etag.strip('"')[:8],
        "event_time": "2026-11-27T08:00:00Z",
        "parts": [{"key": "work/lost-part.csv/part-00001.csv", "first_line": 2, "format": "csv"}]}))
    deadline = time.monotonic() + 60
    while (status := sfn.describe_execution(executionArn=execution["executionArn"]))["status"] == "RUNNING":
        assert time.monotonic() < deadline, "the fan-out did not end"
        time.sleep(0.3)
    assert status["status"] == "FAILED"
    reason = rejected(cloud, "lost-part.csv", "reason.txt").decode()
    assert reason == ("the fan-out failed: NoSuchKey: An error occurred (NoSuchKey) when calling the GetObject "
                      "operation: The specified key does not exist.\n")
    assert rejected(cloud, "lost-part.csv", "lost-part.csv").decode() == HEADER + ROWS[0]
    assert "Contents" not in s3.list_objects_v2(Bucket=bucket, Prefix="incoming/lost-part.csv")
    assert "Contents" not in s3.list_objects_v2(Bucket=bucket, Prefix="work/lost-part.csv/")  # its parts cleared
    [mail] = [m for m in cloud.mailbox.messages() if "lost-part.csv" in m.subject]
    assert mail.to == ["operators@example.org"] and "rejected/" in mail.text


def test_a_27_digit_amount_is_a_kept_reject_and_the_file_s_good_rows_are_stored(cloud, tmp_path):
    """Issue 29: ingest's compiled reader in the deployed function (it raised InvalidOperation, masked as
    `BufferError: cannot close exported pointers exist`, and the whole file went to rejected/ three times over)."""
    path = small_file(tmp_path, "huge-amount.csv", [
        "HA-1,HA-ACC,HA-P,HA-G,CHARGE,100.00,2026-09-01,,,TX",
        "HA-2,HA-ACC,HA-P,HA-G,PAYMENT,-123456789012345678901234567,2026-09-05,PATIENT,,TX",
        "HA-3,HA-ACC,HA-P,HA-G,PAYMENT,-160.00,2026-09-09,PATIENT,,TX"])
    assert refunds(cloud, "drop", str(path)).returncode == 0
    cloud.wait_idle()
    s3, bucket = cloud.client("s3"), cloud.outputs["LedgerBucketName"]
    [reject] = [json.loads(line) for line in rejected(cloud, "huge-amount.csv", "errors.jsonl").decode().splitlines()]
    assert (reject["line"], reject["txn_id"], reject["field"]) == (3, "HA-2", "amount")
    assert "more than ten integer digits" in reject["reason"]
    assert rejected(cloud, "huge-amount.csv", "reason.txt") is None
    assert "Contents" not in s3.list_objects_v2(Bucket=bucket, Prefix="incoming/huge-amount.csv")  # read: retired
    assert case_of(cloud, "HA-ACC")["credit"] == "60.00"  # the good rows were stored and detected


def test_a_read_file_leaves_incoming_kept_as_it_came_and_its_notification_again_changes_nothing(cloud):
    """Issue 30: ingest retires a stored file to the originals bucket (locked); S3's notification delivered once
    more finds the upload gone (S3 says NoSuchKey, not AccessDenied, only to a role that may list the bucket:
    KnowWhatIsMissing) and changes nothing."""
    s3, bucket = cloud.client("s3"), cloud.outputs["LedgerBucketName"]
    body = (HEADER + "RT-1,RT-ACC,RT-P,RT-G,CHARGE,100.00,2026-09-01,,,TX\n"
            "RT-2,RT-ACC,RT-P,RT-G,PAYMENT,-130.00,2026-09-05,PATIENT,,TX\n").encode()
    etag = s3.put_object(Bucket=bucket, Key="incoming/retired.csv", Body=body)["ETag"].strip('"')
    cloud.wait_idle()
    assert s3.list_object_versions(Bucket=bucket, Prefix="incoming/retired.csv").get("Versions", []) == []
    [kept] = s3.list_objects_v2(Bucket=cloud.outputs["OriginalsBucketName"], Prefix="retired.csv/")["Contents"]
    original = s3.get_object(Bucket=cloud.outputs["OriginalsBucketName"], Key=kept["Key"])
    assert original["Body"].read() == body and original["ObjectLockMode"] == "COMPLIANCE"
    case = case_of(cloud, "RT-ACC")
    assert case["credit"] == "30.00"
    event = json.loads((Path(__file__).parents[2] / "events" / "ingest.json").read_text())
    event["Records"][0]["s3"]["bucket"]["name"] = bucket
    event["Records"][0]["s3"]["object"].update({"key": "incoming/retired.csv", "eTag": etag})
    answer = cloud.client("lambda").invoke(FunctionName=cloud.function_name("IngestFunction"),
                                           Payload=json.dumps(event).encode())
    assert json.loads(answer["Payload"].read()) == {"files": [{"key": "incoming/retired.csv", "gone": True}]}
    cloud.wait_idle()
    again = case_of(cloud, "RT-ACC")  # the one case, as it was (its workflow may have moved it meanwhile)
    assert (again["case_id"], again["credit"], again["lines"]) == (case["case_id"], case["credit"], case["lines"])
