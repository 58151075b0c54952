"""Issue 32: throttling slows the work down, it does not fail it. A fan-out file whose parts' writes are
throttled again and again (as a new on-demand table throttles a large file's first burst) ends stored, not
rejected: the state machine retries a throttled step with jitter for minutes."""

from __future__ import annotations

import json
import time

from localcloud import faults

from .conftest import drop

ACCOUNTS = 70  # 280 rows: past the test cloud's 10 kB split threshold, 7 parts of 40 rows


def test_a_file_whose_writes_are_throttled_again_and_again_is_stored_not_rejected(cloud):
    rows = []
    for n in range(ACCOUNTS):  # no credit in it: the test is the storing
        account = f"TH-{n:03d}"
        rows += [f"TH-{n}-1,{account},TP{n},TG{n},CHARGE,100.00,2026-09-01,,,,,CLM-{n},Tan Ana,TX",
                 f"TH-{n}-2,{account},TP{n},TG{n},PAYMENT,-60.00,2026-09-05,COMMERCIAL,AETNA,1,R{n}a,CLM-{n},,TX",
                 f"TH-{n}-3,{account},TP{n},TG{n},PAYMENT,-30.00,2026-09-06,PATIENT,,,CHK-{n},,,TX",
                 f"TH-{n}-4,{account},TP{n},TG{n},PAYMENT,-10.00,2026-09-07,PATIENT,,,CHK-{n}b,,,TX"]
    # One part's writes are throttled 16 times in a row, as a table that keeps throttling does (five tries of the
    # step, each past botocore's own retries): more than the old budget of four tries of a step could take.
    throttled = faults.inject(cloud.function_name("StorePartFunction"), at=1, action="dynamodb:BatchWriteItem",
                              kind="throttle", times=16, about="part-00003")
    try:
        drop(cloud, "throttled.csv", rows)
        sfn = cloud.client("stepfunctions")
        [fan_out] = [m["stateMachineArn"] for m in sfn.list_state_machines()["stateMachines"]
                     if m["name"] == f"{cloud.stack_name}-ledger-fanout"]  # (not another stack's)
        deadline = time.monotonic() + 300
        while True:
            runs = [e for e in sfn.list_executions(stateMachineArn=fan_out)["executions"]
                    if "throttled" in json.dumps(sfn.describe_execution(executionArn=e["executionArn"])["input"])]
            if runs and runs[0]["status"] != "RUNNING":
                break
            assert time.monotonic() < deadline, "the fan-out did not end"
            time.sleep(1)
    finally:
        faults.clear()
    assert throttled.fired == 16
    assert runs[0]["status"] == "SUCCEEDED"
    s3, bucket = cloud.client("s3"), cloud.outputs["LedgerBucketName"]
    assert "Contents" not in s3.list_objects_v2(Bucket=bucket, Prefix="rejected/throttled.csv/")
    table = cloud.table("TransactionsTableName")
    stored = [table.get_item(Key={"pk": f"TXN#TH-{n}-{k}", "sk": "TXN"}).get("Item") for n in range(ACCOUNTS)
              for k in range(1, 5)]
    assert all(stored) and len(stored) == 4 * ACCOUNTS


def mail_queue_emptied(cloud, timeout: float = 120.0) -> None:
    """Wait until no mail is on the mail queue, neither waiting nor taken by a sender."""
    sqs, url = cloud.client("sqs"), cloud.stack.physical["MailQueue"]
    deadline = time.monotonic() + timeout
    while True:
        counts = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=[
            "ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"])["Attributes"]
        if not any(int(n) for n in counts.values()):
            return
        assert time.monotonic() < deadline, f"mail still queued: {counts}"
        time.sleep(0.5)


def test_a_burst_of_approvals_with_ses_at_one_mail_a_second_is_mailed_whole_and_nothing_fails(cloud):
    """Approval mail waits on the mail queue and goes out at the account's sending rate (read at run time from
    GetSendQuota): with SES at 1 mail a second, a file opening 8 cases at once gets every approval mailed,
    a second apart, and no case FAILED."""
    from datetime import datetime

    from localcloud.patches.ses import limit_sending

    from .conftest import case_of, wait_for_mail
    from .test_workflow import patient_credit

    accounts = [f"SES-BURST-{n}" for n in range(8)]
    limit_sending(1.0)
    try:
        drop(cloud, "ses-burst.csv", [row for account in accounts for row in patient_credit(account)])
        mails = [wait_for_mail(cloud, "tier1.approver@example.org", account, timeout=90) for account in accounts]
    finally:
        limit_sending(None)
        # The sender reads the rate once a minute for its container's life, and a batch taken at 1 a second
        # goes out at 1 a second: fresh containers read the rate at once, and the tests after this one wait
        # until the batches already taken (the escalations of these 8 cases) are out, so that their own
        # mail is not paced behind them past their 8 s approvals.
        cloud.runtime.recycle(cloud.function_name("MailSenderFunction"))
        mail_queue_emptied(cloud)
    sent = sorted(datetime.fromisoformat(m.sent_at) for m in mails)
    assert (sent[-1] - sent[0]).total_seconds() >= len(accounts) - 2  # paced, not all at once (to the second)
    assert [case_of(cloud, account)["status"] for account in accounts].count("FAILED") == 0
