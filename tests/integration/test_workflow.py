"""The refund workflow on moto's Step Functions, every path driven as people would (issue 4)."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from datetime import UTC, datetime

from creditrefunds.adapters.case_store import CaseStore, case_from_item
from creditrefunds.adapters.history_store import HistoryStore
from creditrefunds.domain.approvals import link_key
from creditrefunds.domain.history import Entry
from refunds_cli.demo import http

from .conftest import (
    case_of,
    drop,
    history_actions,
    history_until,
    wait_for_mail,
    wait_for_mail_subject,
    wait_for_status,
)

TIER1, TIER2, TIER3 = "tier1.approver@example.org", "tier2.approver@example.org", "tier3.approver@example.org"



def patient_credit(account: str, paid: str = "150.00") -> list[str]:
    """A Texas patient who paid `paid` on a 100.00 charge: a tier-1 refund to the guarantor."""
    return [f"{account}-1,{account},P-{account},G-{account},CHARGE,100.00,2026-11-02,,,,,,\"Rivera, Ana\",TX",
            f"{account}-2,{account},P-{account},G-{account},PAYMENT,-{paid},2026-11-09,PATIENT,,,CHK-1,,"
            f"\"Rivera, Ana\",TX"]


def outbound(cloud, key: str) -> str:
    return cloud.client("s3").get_object(Bucket=cloud.outputs["LedgerBucketName"], Key=key)["Body"].read().decode()


def wait_for_object(cloud, key: str, timeout: float = 30.0) -> str:
    """The object once a workflow step has written it (the step after a decision writes work items)."""
    s3 = cloud.client("s3")
    deadline = time.monotonic() + timeout
    while True:
        try:
            return outbound(cloud, key)
        except s3.exceptions.NoSuchKey:
            assert time.monotonic() < deadline, f"no {key}"
            time.sleep(0.3)


def test_approve_issues_the_refund_once_and_get_never_decides(cloud):
    drop(cloud, "wf-approve.csv", patient_credit("WF-APPROVE"))
    mail = wait_for_mail(cloud, TIER1, "WF-APPROVE")
    assert "50.00" in mail.subject and "Rivera" not in mail.subject
    assert "R*****, A**" in mail.text and "Rivera" not in mail.text
    for _ in range(2):  # a mail scanner opening the link decides nothing
        status, page = http(mail.links[0])
        assert status == 200 and "WF-APPROVE" in page and "Approve" in page and "Investigate" not in page
    assert wait_for_status(cloud, "WF-APPROVE", {"AWAITING_APPROVAL"})["status"] == "AWAITING_APPROVAL"

    status, page = http(mail.links[0], {"decision": "approve", "reason": ""})
    assert status == 200 and "Decision recorded" in page
    case = wait_for_status(cloud, "WF-APPROVE", {"REFUND_ISSUED"})
    rows = [line for line in outbound(cloud, f"outbound/refunds/{mail.sent_at[:10]}.csv").splitlines()
            if case["case_id"] in line]
    assert rows == [f"{case['case_id']}#0,{mail.sent_at[:10]},{case['case_id']},WF-APPROVE,PATIENT,G-WF-APPROVE,"
                    f"50.00,check,PATIENT_OVERPAYMENT,,,{rows[0].split(',')[-1]}"]
    actions = [a for a, _, _ in history_actions(cloud, case["case_id"])]
    assert actions == ["DETECTED", "REVIEWED", "EMAILED", "DECIDED", "RECHECKED", "ISSUED"]

    again, page = http(mail.links[0], {"decision": "approve"})
    assert again == 410 and "already been used" in page

    # The issue step delivered twice more: nothing is issued again.
    lam = cloud.client("lambda")
    for _ in range(2):
        answer = json.load(lam.invoke(FunctionName=cloud.stack.physical["IssueRefundFunction"],
                                      Payload=json.dumps({"case_id": case["case_id"]}).encode())["Payload"])
        assert answer["new"] == [] and answer["issued"] == [f"{case['case_id']}#0"]
    rows = [line for line in outbound(cloud, f"outbound/refunds/{mail.sent_at[:10]}.csv").splitlines()
            if case["case_id"] in line]
    assert len(rows) == 1
    assert [a for a, _, _ in history_actions(cloud, case["case_id"])].count("ISSUED") == 1


def test_reject_needs_a_reason_and_becomes_a_work_item(cloud):
    drop(cloud, "wf-reject.csv", patient_credit("WF-REJECT"))
    mail = wait_for_mail(cloud, TIER1, "WF-REJECT")
    status, page = http(mail.links[0], {"decision": "reject", "reason": ""})
    assert status == 400 and "needs a reason" in page
    assert case_of(cloud, "WF-REJECT")["status"] == "AWAITING_APPROVAL"
    status, page = http(mail.links[0], {"decision": "reject", "reason": "guarantor disputes the charge"})
    assert status == 200
    case = wait_for_status(cloud, "WF-REJECT", {"WORK_ITEM"})
    item = json.loads(wait_for_object(cloud, f"outbound/work-items/{case['case_id']}.json"))
    assert item["instruction"] == "refund rejected by the approver: guarantor disputes the charge"
    assert item["credit"] == "50.00"
    decided = [h for h in history_until(cloud, case["case_id"], "DECIDED") if h[0] == "DECIDED"]
    assert decided == [("DECIDED", "AWAITING_APPROVAL", "WORK_ITEM")]


def test_an_overdue_approval_escalates_to_the_next_tier_who_approves(cloud):
    """The wiring of escalation; its rules (once per news, the top tier) are tested in milliseconds in
    tests/unit/test_escalation_rules.py."""
    # Medicare paid as primary in January and so did a commercial plan: due 60 days after January.
    account = "WF-OVERDUE"
    drop(cloud, "wf-overdue.csv", [
        f"{account}-1,{account},P-OD,G-OD,CHARGE,500.00,2026-01-05,,,,,,\"Chen, R\",CA",
        f"{account}-2,{account},P-OD,G-OD,PAYMENT,-400.00,2026-01-20,MEDICARE,MAC-J1,1,EFT-M,ICN-1,\"Chen, R\",CA",
        f"{account}-3,{account},P-OD,G-OD,PAYMENT,-450.00,2026-01-25,COMMERCIAL,AETNA,1,EFT-A,CLM-2,\"Chen, R\",CA",
    ])
    first = wait_for_mail(cloud, TIER1, account)
    case = wait_for_status(cloud, account, {"AWAITING_APPROVAL"})
    assert case["overdue"] is True  # flagged by the review, before any wait ran out
    second = wait_for_mail(cloud, TIER2, account)  # after the tier-1 wait ran out
    status, _ = http(second.links[0], {"decision": "approve"})  # at once: before the tier-2 wait runs out too
    assert status == 200
    moved = [m for m in cloud.mailbox.messages() if TIER1 in m.to and m.subject.startswith("Approval moved on")
             and account in m.subject]
    assert moved, "the waiting approver is told"
    status, page = http(first.links[0], {"decision": "approve"})
    assert status == 410 and "escalated" in page
    told = wait_for_mail_subject(cloud, "compliance@example.org", account)
    assert "past its due date" in told.subject
    assert int(case_of(cloud, account)["escalation_level"]) >= 1
    assert cases_listing(cloud)[case["case_id"]]["overdue"] is True
    wait_for_status(cloud, account, {"REFUND_ISSUED"})


def cases_listing(cloud) -> dict:
    done = subprocess.run([sys.executable, "-m", "refunds_cli.main", "--endpoint-url", cloud.endpoint_url,
                           "cases", "--json"], capture_output=True, text=True, check=True, timeout=60)
    return {c["case_id"]: c for c in json.loads(done.stdout)}


def test_investigate_pauses_then_the_approval_resumes(cloud):
    account = "WF-INVEST"
    drop(cloud, "wf-invest.csv", [
        f"{account}-1,{account},P-IV,G-IV,CHARGE,300.00,2026-11-02,,,,,,\"Okafor, G\",NY",
        f"{account}-2,{account},P-IV,G-IV,PAYMENT,-300.00,2026-11-10,MEDICARE,MAC-J5,1,EFT-1,ICN-9,\"Okafor, G\",NY",
        f"{account}-3,{account},P-IV,G-IV,PAYMENT,-300.00,2026-11-12,MEDICARE,MAC-J5,1,EFT-2,ICN-9,\"Okafor, G\",NY",
    ])
    mail = wait_for_mail(cloud, TIER1, account)
    status, page = http(mail.links[0])
    assert "Investigate" in page
    before = case_of(cloud, account)["due_date"]
    status, _ = http(mail.links[0], {"decision": "investigate", "reason": "related claims under review"})
    assert status == 200
    resumed = wait_for_mail(cloud, TIER1, account, seen=1)  # after the pause: a new approval
    case = case_of(cloud, account)
    # The workflow took the decision, then paused: the history says so.
    assert ("DECIDED", "AWAITING_APPROVAL", "INVESTIGATING") in history_actions(cloud, case["case_id"])
    assert case["status"] == "AWAITING_APPROVAL" and case["due_date"] > before  # the clock paused
    status, _ = http(resumed.links[0], {"decision": "approve"})
    assert status == 200
    wait_for_status(cloud, account, {"REFUND_ISSUED"})


def test_credit_gone_before_issuing_closes_resolved_no_refund(cloud):
    drop(cloud, "wf-gone.csv", patient_credit("WF-GONE"))
    mail = wait_for_mail(cloud, TIER1, "WF-GONE")
    drop(cloud, "wf-gone-2.csv", ["WF-GONE-3,WF-GONE,P-WF-GONE,G-WF-GONE,CHARGE,50.00,2026-11-20,,,,,,,TX"])
    status, _ = http(mail.links[0], {"decision": "approve"})
    assert status == 200
    case = wait_for_status(cloud, "WF-GONE", {"RESOLVED_NO_REFUND"})
    assert history_until(cloud, case["case_id"], "RECHECKED")[-1] == ("RECHECKED", "APPROVED", "RESOLVED_NO_REFUND")


def test_amount_changed_before_issuing_is_approved_again(cloud):
    drop(cloud, "wf-changed.csv", patient_credit("WF-CHANGED"))
    first = wait_for_mail(cloud, TIER1, "WF-CHANGED")
    drop(cloud, "wf-changed-2.csv",
         ["WF-CHANGED-3,WF-CHANGED,P-WF-CHANGED,G-WF-CHANGED,PAYMENT,-20.00,2026-11-20,PATIENT,,,CHK-2,,,TX"])
    http(first.links[0], {"decision": "approve"})
    second = wait_for_mail(cloud, TIER1, "WF-CHANGED", seen=1)
    assert "70.00" in second.subject
    http(second.links[0], {"decision": "approve"})
    case = wait_for_status(cloud, "WF-CHANGED", {"REFUND_ISSUED"})
    rows = [line for line in outbound(cloud, f"outbound/refunds/{second.sent_at[:10]}.csv").splitlines()
            if case["case_id"] in line]
    assert len(rows) == 1 and ",70.00,check," in rows[0]


def test_a_function_error_lands_in_failed_with_its_history_record(cloud):
    table = cloud.outputs["CasesTableName"]
    db = cloud.client("dynamodb")
    db.put_item(TableName=table, Item={
        "case_id": {"S": "CB-BROKEN"}, "account_id": {"S": "WF-BROKEN"}, "patient_id": {"S": "P"},
        "guarantor_id": {"S": "G"}, "credit": {"N": "10"}, "identified_on": {"S": "2026-11-01"},
        "tier": {"N": "1"}, "status": {"S": "OPEN"}, "due_date": {"S": "2026-12-01"},
        "lines": {"L": [{"M": {"action": {"S": "REFUND"}}}]},  # a line with no amount: the review step fails
    })
    cloud.client("stepfunctions").start_execution(stateMachineArn=cloud.outputs["RefundStateMachineArn"],
                                                  name="CB-BROKEN", input=json.dumps({"case_id": "CB-BROKEN"}))
    wait_for_status(cloud, "WF-BROKEN", {"FAILED"})
    assert history_until(cloud, "CB-BROKEN", "FAILED") == [("FAILED", "OPEN", "FAILED")]
    operators = wait_for_mail_subject(cloud, "operators@example.org", "CB-BROKEN")
    assert "KeyError" in operators.text


def test_whoever_reviewed_a_case_cannot_approve_it(cloud):
    drop(cloud, "wf-sod.csv", patient_credit("WF-SOD"))
    mail = wait_for_mail(cloud, TIER1, "WF-SOD")
    cases = cloud.table("CasesTableName")
    item = cases.get_item(Key={"case_id": case_of(cloud, "WF-SOD")["case_id"]})["Item"]
    HistoryStore(cloud.table("HistoryTableName"), CaseStore(cases)).append(
        case_from_item(item), Entry(TIER1, "REVIEWED", "AWAITING_APPROVAL", "AWAITING_APPROVAL", "checked the lines"),
        datetime.now(UTC))
    status, page = http(mail.links[0], {"decision": "approve"})
    assert status == 403 and "segregation of duties" in page
    assert case_of(cloud, "WF-SOD")["status"] == "AWAITING_APPROVAL"


def test_refund_rows_back_in_a_ledger_reconcile_the_case_and_case_shows_it_all(cloud):
    drop(cloud, "wf-recon.csv", patient_credit("WF-RECON"))
    mail = wait_for_mail(cloud, TIER1, "WF-RECON")
    http(mail.links[0], {"decision": "approve"})
    case = wait_for_status(cloud, "WF-RECON", {"REFUND_ISSUED"})
    # Accounts payable cut the check; the billing system's next extract carries the REFUND row.
    drop(cloud, "wf-recon-2.csv",
         [f"WF-RECON-9,WF-RECON,P-WF-RECON,G-WF-RECON,REFUND,50.00,{datetime.now(UTC).date()},PATIENT,,,CHK-500,,,TX"])
    wait_for_status(cloud, "WF-RECON", {"RECONCILED"})
    history_until(cloud, case["case_id"], "RECONCILED")
    done = subprocess.run([sys.executable, "-m", "refunds_cli.main", "--endpoint-url", cloud.endpoint_url, "case",
                           case["case_id"], "--json"], capture_output=True, text=True, check=True, timeout=60)
    shown = json.loads(done.stdout)
    assert shown["status"] == "RECONCILED" and shown["credit"] == "50.00"
    assert shown["lines"][0]["action"] == "REFUND" and shown["lines"][0]["amount"] == "50.00"
    assert [(r["action"], r["status_after"]) for r in shown["history"]][-2:] == [
        ("ISSUED", "REFUND_ISSUED"), ("RECONCILED", "RECONCILED")]


def test_an_expired_link_only_says_so(cloud):
    drop(cloud, "wf-expired.csv", patient_credit("WF-EXPIRED"))
    mail = wait_for_mail(cloud, TIER1, "WF-EXPIRED")
    key = link_key(mail.links[0].rsplit("/", 1)[-1])  # the table keeps the link id's hash, never the id
    cloud.client("dynamodb").update_item(
        TableName=cloud.outputs["ApprovalsTableName"], Key={"approval_key": {"S": key}},
        UpdateExpression="SET expires_at = :past", ExpressionAttributeValues={":past": {"N": "1"}})
    for form in (None, {"decision": "approve"}):
        status, page = http(mail.links[0], form)
        assert status == 410 and "expired" in page and "Traceback" not in page
    assert case_of(cloud, "WF-EXPIRED")["status"] == "AWAITING_APPROVAL"
