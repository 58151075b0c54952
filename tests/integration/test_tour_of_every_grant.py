"""Every grant of every role, used on the local cloud (what `test_least_privilege` counts after the run).

The behaviour of these paths is tested over the in-memory ports (tests/usecases/); here each runs once
through the deployed functions, under their own roles, so that a grant the code needs and a grant it never
uses both show. Each test names the grants it exercises.

It runs after the files whose checks read the whole local cloud (test_history's `audit verify` of every
case, test_ingest's count of fan-outs): its stray refund rows are exposures, as they should be.
"""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime

from creditrefunds.adapters.case_store import CaseStore, case_from_item
from creditrefunds.adapters.history_store import HistoryStore
from creditrefunds.domain.history import Entry
from localcloud import faults
from refunds_cli.demo import decide_link, http, token_of

from tests.remittances import MAC_OFFSET, medicare_paid_twice, offset_of, payment_of

from .conftest import (
    case_of,
    drop,
    history_actions,
    refunds,
    rejected,
    wait_for_mail,
    wait_for_mail_subject,
    wait_for_status,
)
from .test_crash_safe import ap_rows, approve_the_waiting_link, case_id
from .test_remittance import drop_835
from .test_workflow import TIER1, patient_credit, wait_for_object

FILLER = 160  # rows of another account that take a file past the test cloud's split threshold (10 kB)


def today() -> str:
    """Accounts payable's rows come back on or after the day the refund was issued (the local cloud's today)."""
    return time.strftime("%Y-%m-%d", time.gmtime())


def returning(account: str, amount: str, n: int) -> str:
    """A REFUND row of `amount` to the patient of `patient_credit(account)`, posted today."""
    return f"{account}-R{n},{account},P-{account},G-{account},REFUND,{amount},{today()},PATIENT,,,CHK-R{n},,,TX"


def padding(name: str) -> list[str]:
    return [f"{name}-{n},{name},P-{name},G-{name},CHARGE,10.00,2026-11-20,,,,,,,TX" for n in range(FILLER)]


def test_a_rejection_and_an_approver_refused_write_as_their_own_roles(cloud):
    """AfterDecision: WriteWorkItems, PublishEvents. ApprovalWeb: AppendHistory, RecordTheDecisionOnTheCase
    (the REFUSED record and the chain's head on the case)."""
    drop(cloud, "gr-reject.csv", patient_credit("GR-REJECT"))
    rejecting = wait_for_mail(cloud, TIER1, "GR-REJECT").links[0]
    status, _ = decide_link(cloud, rejecting, {"decision": "reject", "reason": "disputed"})
    assert status == 200
    case = wait_for_status(cloud, "GR-REJECT", {"WORK_ITEM"})
    assert "disputed" in wait_for_object(cloud, f"outbound/work-items/{case['case_id']}.json")

    drop(cloud, "gr-sod.csv", patient_credit("GR-SOD"))  # an approver who reviewed the case is refused
    link = wait_for_mail(cloud, TIER1, "GR-SOD").links[0]
    cases = cloud.table("CasesTableName")
    item = cases.get_item(Key={"case_id": case_of(cloud, "GR-SOD")["case_id"]})["Item"]
    reviewer = cloud.client("cognito-idp").get_user(AccessToken=token_of(cloud, TIER1))["UserAttributes"]
    actor = "user:" + next(a["Value"] for a in reviewer if a["Name"] == "sub")
    HistoryStore(cloud.table("HistoryTableName"), CaseStore(cases)).append(
        case_from_item(item), Entry(actor, "REVIEWED", "AWAITING_APPROVAL", "AWAITING_APPROVAL", "checked the lines"),
        datetime.now(UTC))
    status, page = decide_link(cloud, link, {"decision": "approve"})
    assert status == 403 and "segregation of duties" in page
    assert history_actions(cloud, item["case_id"])[-1][0] == "REFUSED"


def test_refunds_coming_back_in_small_files_and_in_a_fan_out(cloud):
    """Ingest: WithdrawChangedApprovals, EndWithdrawnTasks, SendMail (a file changes lines awaiting approval);
    KeepRefundsPostedBack, WriteWorkItems, PublishEvents (a refund row matched, one matching nothing).
    DetectBatch: the same three, for rows that come in a file large enough to fan out."""
    drop(cloud, "gr-small-1.csv", patient_credit("GR-SMALL"))
    wait_for_mail(cloud, TIER1, "GR-SMALL")
    drop(cloud, "gr-small-2.csv", ["GR-SMALL-3,GR-SMALL,P-GR-SMALL,G-GR-SMALL,PAYMENT,-20.00,2026-11-20,PATIENT,,,"
                                   "CHK-2,,,TX"])
    assert "70.00" in wait_for_mail(cloud, TIER1, "GR-SMALL", seen=1).subject  # withdrawn, asked again
    approve_the_waiting_link(cloud, "GR-SMALL")
    small = wait_for_status(cloud, "GR-SMALL", {"REFUND_ISSUED"})
    drop(cloud, "gr-small-3.csv", [returning("GR-SMALL", "70.00", 1), returning("GR-SMALL", "80.00", 2)])
    wait_for_status(cloud, "GR-SMALL", {"RECONCILED"})
    assert "80.00" in wait_for_object(cloud, f"outbound/work-items/{small['case_id']}.returns.json")
    shown = json.loads(refunds(cloud, "case", small["case_id"], "--json").stdout)  # what an operator reads
    assert (shown["status"], shown["credit"], shown["lines"][0]["amount"]) == ("RECONCILED", "70.00", "70.00")
    assert ("RECONCILED", "RECONCILED") in [(r["action"], r["status_after"]) for r in shown["history"]]
    # ApprovalWeb: InstructionReadersVerify, MatchReadersVerify (a case's page shows its instructions, checked)
    status, page = http(f"{cloud.outputs['ApprovalSiteUrl']}cases/{small['case_id']}", token=token_of(
        cloud, "auditor@example.org"))
    assert status == 200 and "Verified" in page and f"{small['case_id']}#0" in page
    verified = refunds(cloud, "audit", "verify", "--case", small["case_id"])  # the stray 80.00 went out too
    assert verified.returncode == 1 and "EXPOSED account GR-SMALL: 150.00 refunded or in flight" in verified.stdout

    drop(cloud, "gr-fan-1.csv", patient_credit("GR-FAN"))
    approve_the_waiting_link(cloud, "GR-FAN")
    fanned = wait_for_status(cloud, "GR-FAN", {"REFUND_ISSUED"})
    drop(cloud, "gr-fan-2.csv", [returning("GR-FAN", "80.00", 1), *padding("GR-PAD1")])
    wait_for_object(cloud, f"outbound/work-items/{fanned['case_id']}.returns.json")
    drop(cloud, "gr-fan-3.csv", [returning("GR-FAN", "50.00", 2), *padding("GR-PAD2")])
    wait_for_status(cloud, "GR-FAN", {"RECONCILED"})




def test_remittance_evidence_is_read_by_ingest_and_the_issue_step_and_a_broken_835_moved(cloud):
    """Ingest: VerifyRemittanceEvidence (a ledger after the 835 that took its claim back). IssueRefund:
    VerifyRemittanceEvidence (a refund of an account with remitted payments). Remit: ReadAndRetireDroppedFiles,
    WriteRejects (an 835 rejected whole)."""
    drop_835(cloud, "gr-early.835", offset_of("GR-EARLY"))
    drop(cloud, "gr-early.csv", medicare_paid_twice("GR-EARLY"))
    assert [li["reason"] for li in wait_for_status(cloud, "GR-EARLY", {"WORK_ITEM"})["lines"]] == ["PAYER_RECOUPED"]

    drop(cloud, "gr-paid.csv", medicare_paid_twice("GR-PAID"))
    wait_for_mail(cloud, TIER1, "GR-PAID")
    drop_835(cloud, "gr-paid-1.835", payment_of("GR-PAID", "EFT-1"))
    drop_835(cloud, "gr-paid-2.835", payment_of("GR-PAID", "EFT-2"))
    deadline = time.monotonic() + 60
    while not case_of(cloud, "GR-PAID")["lines"][0].get("evidence", "").startswith("remitted twice"):
        assert time.monotonic() < deadline, "the remittances never proved the duplicate"
        time.sleep(0.3)
    # The line now names its proof: asked again, at whatever tier the test cloud's short wait has reached.
    approve_the_waiting_link(cloud, "GR-PAID", approver=None)
    assert wait_for_status(cloud, "GR-PAID", {"REFUND_ISSUED"})["lines"][0]["evidence"].startswith("remitted twice")

    drop_835(cloud, "gr-broken.edi", MAC_OFFSET.replace("IEA*1*000000101~", "IEA*1*000000109~"))
    s3, bucket = cloud.client("s3"), cloud.outputs["LedgerBucketName"]
    assert s3.list_objects_v2(Bucket=bucket, Prefix="incoming/gr-broken.edi").get("KeyCount") == 0
    assert rejected(cloud, "gr-broken.edi", "reason.txt") is not None


def test_a_failed_file_gone_from_incoming_is_still_told(cloud):
    """IngestFailed: FindTheUploadsVersions (the upload is looked for among the versions; someone removed it for
    good, every version: nothing to keep, and operators are still told)."""
    s3, bucket = cloud.client("s3"), cloud.outputs["LedgerBucketName"]
    crash = faults.inject(cloud.function_name("IngestFunction"), at=1, times=1000, about="gr-gone.csv")
    try:
        drop(cloud, "gr-gone.csv", patient_credit("GR-GONE"))  # every attempt dies at its first call
        for version in s3.list_object_versions(Bucket=bucket, Prefix="incoming/gr-gone.csv").get("Versions", []):
            s3.delete_object(Bucket=bucket, Key="incoming/gr-gone.csv", VersionId=version["VersionId"])
        told = wait_for_mail_subject(cloud, "operators@example.org", "gr-gone.csv")
    finally:
        faults.clear()
    assert crash.fired == 3 and "no longer in incoming/" in told.text


def test_the_sweeper_fails_a_case_whose_run_ended_and_records_the_money_it_had_sent(cloud):
    """Sweep: TellOperators (a case whose workflow run ended while it was still APPROVED) and
    PublishRefundsIssued (the ISSUED record of the instruction a crash left untold). The issue step dies
    after writing the instruction; an operator stops the run; then the operator's `case --retry` finishes it."""
    account = "GR-SWEEP"
    issue = faults.inject(cloud.function_name("IssueRefundFunction"), at=1, times=1000, action="events:PutEvents",
                          about=case_id(account))
    sfn = cloud.client("stepfunctions")
    try:
        drop(cloud, f"{account}.csv", patient_credit(account))
        approve_the_waiting_link(cloud, account)
        deadline = time.monotonic() + 30
        while not issue.fired:  # the instruction is written, its event never goes
            assert time.monotonic() < deadline, "the issue step never ran"
            time.sleep(0.2)
        arn = cloud.outputs["RefundStateMachineArn"].replace(":stateMachine:", ":execution:")
        sfn.stop_execution(executionArn=f"{arn}:{case_id(account)}", error="StoppedByOperator")
    finally:
        faults.clear()
    stuck = case_of(cloud, account)
    assert stuck["status"] == "APPROVED" and len(ap_rows(cloud, stuck["case_id"])) == 1
    time.sleep(3.5)  # the sweeper's grace (SweepGraceSeconds in the tests)
    assert refunds(cloud, "sweep").returncode == 0  # the run ended: FAILED, operators told
    assert case_of(cloud, account)["status"] == "FAILED"
    assert "WorkflowEnded" in wait_for_mail_subject(cloud, "operators@example.org", stuck["case_id"]).text
    time.sleep(3.5)
    assert refunds(cloud, "sweep").returncode == 0  # the instruction no record tells of: its ISSUED record
    assert ("ISSUED", "FAILED", "REFUND_ISSUED") in history_actions(cloud, stuck["case_id"])
    done = refunds(cloud, "case", stuck["case_id"], "--retry")  # the operator's retry finishes the issue step
    assert done.returncode == 0 and "from the issue step" in done.stdout, done.stdout + done.stderr
    wait_for_status(cloud, account, {"REFUND_ISSUED"})
    assert ("RETRIED", "FAILED", "APPROVED") in history_actions(cloud, stuck["case_id"])
    assert len(ap_rows(cloud, stuck["case_id"])) == 1
    assert refunds(cloud, "case", stuck["case_id"], "--retry").returncode == 1  # only a FAILED case


def test_an_offset_promised_by_one_case_is_not_taken_by_another(cloud):
    """Review, AfterDecision, IssueRefund: ReadWhatOtherCasesPromised (the holds of the guarantor's other
    accounts, read to net their cases' OFFSET lines out of its debits). One guarantor owes 100.00 on GR-DEBT;
    GR-OFF-A's 130.00 credit offsets it, and GR-OFF-B's later 130.00 credit refunds all of it."""
    debt = "GR-DEBT-1,GR-DEBT,P-GR-OFF,G-GR-OFF,CHARGE,100.00,2026-10-01,,,,,,,TX"
    def credit(account: str) -> list[str]:
        return [row.replace(f"P-{account}", "P-GR-OFF").replace(f"G-{account}", "G-GR-OFF")
                for row in patient_credit(account, paid="230.00")]
    drop(cloud, "gr-off-1.csv", [debt, *credit("GR-OFF-A")])
    first = wait_for_status(cloud, "GR-OFF-A", {"AWAITING_APPROVAL"})
    assert [(li["action"], li["amount"], li.get("target_account_id")) for li in first["lines"]] == [
        ("OFFSET", "100.00", "GR-DEBT"), ("REFUND", "30.00", None)]
    drop(cloud, "gr-off-2.csv", credit("GR-OFF-B"))
    second = wait_for_status(cloud, "GR-OFF-B", {"AWAITING_APPROVAL"})
    assert [(li["action"], li["amount"]) for li in second["lines"]] == [("REFUND", "130.00")]
    for account in ("GR-OFF-A", "GR-OFF-B"):
        approve_the_waiting_link(cloud, account, approver=None)  # at tier 1, or where the short wait moved it
        wait_for_status(cloud, account, {"REFUND_ISSUED"})
    moved = [row for account in ("GR-OFF-A", "GR-OFF-B") for row in ap_rows(cloud, case_id(account))
             if row.get("target_account_id")]
    assert [(row["target_account_id"], row["amount"]) for row in moved] == [("GR-DEBT", "100.00")]


def test_a_detection_batch_withdraws_the_approval_of_lines_it_changed(cloud):
    """DetectBatch: WithdrawChangedApprovals, EndTheWaitsOfWithdrawnLinks, EndWithdrawnTasks, SendMail. A case
    awaits approval; its guarantor comes to owe 20.00 elsewhere (a file of that account alone re-detects only
    it); a detection batch naming the case's account re-splits its lines (an offset now) and withdraws the link.
    The batch is run directly, moments after the approval is mailed: the test cloud's 8 s approval wait cannot
    escalate the link first (as it can in the fan-out test on a loaded machine). Up to three accounts are tried."""
    s3, bucket = cloud.client("s3"), cloud.outputs["LedgerBucketName"]
    for attempt in range(3):
        account, debt = f"GR-BATCH-{attempt}", f"GR-BATCH-DEBT-{attempt}"
        drop(cloud, f"gr-batch-{attempt}.csv", patient_credit(account))
        wait_for_mail(cloud, TIER1, account)
        drop(cloud, f"gr-batch-debt-{attempt}.csv", [f"{debt}-1,{debt},P-{account},G-{account},CHARGE,20.00,"
                                                     "2026-10-01,,,,,,,TX"])
        key = f"work/gr-batch-{attempt}/detect-00000.json"
        s3.put_object(Bucket=bucket, Key=key, Body=json.dumps([account]).encode())
        answer = cloud.client("lambda").invoke(
            FunctionName=cloud.function_name("DetectBatchFunction"),
            Payload=json.dumps({"batch": {"key": key}, "event_time": datetime.now(UTC).isoformat()}).encode())
        s3.delete_object(Bucket=bucket, Key=key)
        assert "FunctionError" not in answer, answer["Payload"].read()
        if any(m.subject == f"Approval withdrawn: account {account}" for m in cloud.mailbox.messages()):
            break
    else:
        raise AssertionError("each link was escalated before the batch ran")
    lines = wait_for_status(cloud, account, {"AWAITING_APPROVAL"})["lines"]
    assert [(li["action"], li["amount"]) for li in lines] == [("OFFSET", "20.00"), ("REFUND", "30.00")]
