"""Money goes only where an approver said (issue 11): an approval decides the lines it showed, the
workflow's task output decides nothing, nothing stored lets a reader decide, dual control and
segregation of duties fire through the real pages."""

from __future__ import annotations

import csv
import io
import json
import time
from datetime import date

from creditrefunds.domain.detection import case_id_for
from localcloud import faults
from refunds_cli.demo import http

from .conftest import (
    case_of,
    drop,
    history_actions,
    history_reasons,
    wait_for_mail,
    wait_for_mail_subject,
    wait_for_status,
)
from .test_history import refunds

TIER1, TIER2, TIER3 = "tier1.approver@example.org", "tier2.approver@example.org", "tier3.approver@example.org"


def ap_rows(cloud, case_id: str) -> list[dict]:
    """The case's refund instructions, as the accounts-payable file gets them."""
    items = cloud.table("RefundsTableName").scan()["Items"]
    return sorted((i for i in items if i["case_id"] == case_id), key=lambda i: i["instruction_id"])


def wait_for_action(cloud, case_id: str, action: str, timeout: float = 30.0) -> list[tuple]:
    deadline = time.monotonic() + timeout
    while True:
        actions = history_actions(cloud, case_id)
        if action in [a for a, _, _ in actions]:
            return actions
        assert time.monotonic() < deadline, f"no {action} in {history_reasons(cloud, case_id)}"
        time.sleep(0.3)


def test_an_approval_decides_the_lines_it_showed_not_the_total(cloud):
    account = "MS-LINES"
    drop(cloud, "ms-lines-1.csv", [
        f"{account}-1,{account},P-MS,G-1,CHARGE,100.00,2026-11-02,,,,,,\"Ames, Jo\",TX",
        f"{account}-2,{account},P-MS,G-1,PAYMENT,-130.00,2026-11-09,PATIENT,,,CHK-1,,\"Ames, Jo\",TX"])
    shown = wait_for_mail(cloud, TIER1, account)
    status, page = http(shown.links[0])
    assert status == 200 and "G-1" in page and "30.00" in page
    # Before the click, a file moves the same 30.00 to another guarantor (the total is unchanged).
    drop(cloud, "ms-lines-2.csv", [
        f"{account}-3,{account},P-MS,G-2,CHARGE,20.00,2026-11-20,,,,,,\"Ames, Jo\",TX",
        f"{account}-4,{account},P-MS,G-2,PAYMENT,-20.00,2026-11-21,PATIENT,,,CHK-2,,\"Ames, Jo\",TX"])
    withdrawn = [m for m in cloud.mailbox.messages() if TIER1 in m.to and m.subject.startswith("Approval withdrawn")
                 and account in m.subject]
    assert withdrawn, "the approver asked about the old lines is told"
    status, page = http(shown.links[0], {"decision": "approve"})
    assert status == 410 and "Nothing was decided" in page
    again = wait_for_mail(cloud, TIER1, account, seen=1)
    status, page = http(again.links[0])
    assert "G-2" in page and "G-1" not in page
    assert http(again.links[0], {"decision": "approve"})[0] == 200
    case = wait_for_status(cloud, account, {"REFUND_ISSUED"})
    rows = ap_rows(cloud, case["case_id"])
    assert [(r["payee_id"], r["amount"]) for r in rows] == [("G-2", "30.00")]


def test_a_forged_task_success_pays_nothing_and_is_told(cloud):
    account = "MS-FORGE"
    drop(cloud, "ms-forge.csv", [
        f"{account}-1,{account},P-MF,G-MF,CHARGE,100.00,2026-11-02,,,,,,\"Beck, Al\",TX",
        f"{account}-2,{account},P-MF,G-MF,PAYMENT,-150.00,2026-11-09,PATIENT,,,CHK-1,,\"Beck, Al\",TX"])
    wait_for_mail(cloud, TIER1, account)
    case_id = case_of(cloud, account)["case_id"]
    sfn = cloud.client("stepfunctions")
    arn = next(e["executionArn"] for e in sfn.list_executions(stateMachineArn=cloud.outputs["RefundStateMachineArn"])
               ["executions"] if e["name"] == case_id)
    # Whoever can read the execution history finds the task token, and answers the task themselves.
    scheduled = [e for e in sfn.get_execution_history(executionArn=arn)["events"] if e["type"] == "TaskScheduled"
                 and "task_token" in e["taskScheduledEventDetails"]["parameters"]]
    token = json.loads(scheduled[-1]["taskScheduledEventDetails"]["parameters"])["Payload"]["task_token"]
    sfn.send_task_success(taskToken=token, output=json.dumps({"outcome": "APPROVED", "credit": "50.00"}))
    actions = wait_for_action(cloud, case_id, "REFUSED")
    assert "DECIDED" not in [a for a, _, _ in actions]
    assert wait_for_mail_subject(cloud, "operators@example.org", case_id).subject.startswith("Refund decision refused")
    wait_for_mail(cloud, TIER1, account, seen=1)  # the approver is asked again, with a new link
    assert case_of(cloud, account)["status"] == "AWAITING_APPROVAL"
    assert ap_rows(cloud, case_id) == []


def test_nothing_a_reader_of_the_tables_sees_decides(cloud):
    account = "MS-READ"
    drop(cloud, "ms-read.csv", [
        f"{account}-1,{account},P-MR,G-MR,CHARGE,100.00,2026-11-02,,,,,,,TX",
        f"{account}-2,{account},P-MR,G-MR,PAYMENT,-140.00,2026-11-09,PATIENT,,,CHK-1,,,TX"])
    mail = wait_for_mail(cloud, TIER1, account)
    link_id = mail.links[0].rsplit("/", 1)[-1]
    case = wait_for_status(cloud, account, {"AWAITING_APPROVAL"})
    stored = json.dumps([case, *cloud.table("ApprovalsTableName").scan()["Items"]], default=str)
    assert link_id not in stored  # the mail holds the only copy of the link's id
    base = mail.links[0].rsplit("/", 1)[0]
    status, page = http(f"{base}/{case['approval_key']}", {"decision": "approve"})
    assert status == 404 and "unknown" in page
    assert case_of(cloud, account)["status"] == "AWAITING_APPROVAL"


def test_dual_control_two_different_approvers_then_money_moves(cloud):
    account = "MS-DUAL"
    drop(cloud, "ms-dual.csv", [
        f"{account}-1,{account},P-MD,G-MD,CHARGE,1000.00,2026-11-02,,,,,,,NY",
        f"{account}-2,{account},P-MD,G-MD,PAYMENT,-13000.00,2026-11-09,PATIENT,,,CHK-1,,,NY"])
    first = wait_for_mail(cloud, TIER3, account)
    assert http(first.links[0], {"decision": "approve"})[0] == 200
    second = wait_for_mail(cloud, TIER2, account)  # the tier-3 directory's other approver
    case_id = case_of(cloud, account)["case_id"]
    assert case_of(cloud, account)["status"] == "AWAITING_APPROVAL" and ap_rows(cloud, case_id) == []
    assert http(second.links[0], {"decision": "approve"})[0] == 200
    wait_for_status(cloud, account, {"REFUND_ISSUED"})
    decided = [r for a, r in history_reasons(cloud, case_id) if a == "DECIDED"]
    assert [r.split(" (")[0] for r in decided] == [f"approved by {TIER3}", f"approved by {TIER2}"]
    assert [(r["payee_id"], r["amount"]) for r in ap_rows(cloud, case_id)] == [("G-MD", "12000.00")]


def test_one_who_decided_at_tier_2_is_refused_as_a_tier_3_second_approver(cloud):
    account = "MS-SOD"
    # Medicare and a commercial plan both paid as primary: 5,000.00 back to Medicare, tier 2.
    drop(cloud, "ms-sod-1.csv", [
        f"{account}-1,{account},P-MS,G-MS,CHARGE,6000.00,2026-11-01,,,,,,,NY",
        f"{account}-2,{account},P-MS,G-MS,PAYMENT,-5000.00,2026-11-05,MEDICARE,MAC-J1,1,EFT-1,ICN-1,,NY",
        f"{account}-3,{account},P-MS,G-MS,PAYMENT,-6000.00,2026-11-06,COMMERCIAL,AETNA,1,EFT-2,CLM-1,,NY"])
    asked = wait_for_mail(cloud, TIER2, account)
    assert "5000.00" in asked.subject
    assert http(asked.links[0], {"decision": "investigate", "reason": "related claims"})[0] == 200
    # While the investigation pauses the approval, Medicare's second payment lands: 11,000.00, tier 3.
    drop(cloud, "ms-sod-2.csv",
         [f"{account}-4,{account},P-MS,G-MS,PAYMENT,-6000.00,2026-11-07,MEDICARE,MAC-J1,1,EFT-3,ICN-1,,NY"])
    first = wait_for_mail(cloud, TIER3, account, about="11000.00")
    assert http(first.links[0], {"decision": "approve"})[0] == 200
    second = wait_for_mail(cloud, TIER2, account, about="11000.00")  # the tier-3 list's other approver
    status, page = http(second.links[0], {"decision": "approve"})
    assert status == 403 and "dual control" in page
    case_id = case_of(cloud, account)["case_id"]
    assert wait_for_action(cloud, case_id, "REFUSED")[-1][0] == "REFUSED"
    assert case_of(cloud, account)["status"] == "AWAITING_APPROVAL" and ap_rows(cloud, case_id) == []


def test_a_decision_after_the_case_moved_on_decides_nothing(cloud):
    """A click on a link the case no longer waits for (it escalated, changed) answers no task and
    records nothing: it can never overwrite a later step."""
    account = "MS-LATE"
    drop(cloud, "ms-late.csv", [
        f"{account}-1,{account},P-ML,G-ML,CHARGE,100.00,2026-11-02,,,,,,,TX",
        f"{account}-2,{account},P-ML,G-ML,PAYMENT,-125.00,2026-11-09,PATIENT,,,CHK-1,,,TX"])
    mail = wait_for_mail(cloud, TIER1, account)
    case = wait_for_status(cloud, account, {"AWAITING_APPROVAL"})
    cloud.table("CasesTableName").update_item(  # as if an escalation had already asked another link
        Key={"case_id": case["case_id"]}, UpdateExpression="SET approval_key = :other",
        ExpressionAttributeValues={":other": "0" * 64})
    status, page = http(mail.links[0], {"decision": "approve"})
    assert status == 410 and "Nothing was decided" in page
    assert case_of(cloud, account)["status"] == "AWAITING_APPROVAL"
    assert "DECIDED" not in [a for a, _, _ in history_actions(cloud, case["case_id"])]
    assert http(mail.links[0], {"decision": "approve"})[0] == 410  # and the link decides nothing later either


def test_values_from_the_ledger_cannot_script_a_page_or_a_spreadsheet(cloud):
    account, guarantor = "<img src=x onerror=alert(1)>", "=HYPERLINK(\"http://x.example\",\"pay\")"
    quoted = '"' + guarantor.replace('"', '""') + '"'  # as a CSV cell
    drop(cloud, "ms-inject.csv", [
        f"MS-INJ-1,{account},P-INJ,{quoted},CHARGE,100.00,2026-11-02,,,,,,\"<b>Bold</b>, Eve\",TX",
        f"MS-INJ-2,{account},P-INJ,{quoted},PAYMENT,-120.00,2026-11-09,PATIENT,,,CHK-1,,\"<b>Bold</b>, Eve\",TX"])
    mail = wait_for_mail(cloud, TIER1, "onerror")
    assert "<img" not in mail.html and "&lt;img src=x onerror=alert(1)&gt;" in mail.html
    status, page = http(mail.links[0])
    assert status == 200 and "<img" not in page and "&lt;img" in page and "<b>" not in page
    assert http(mail.links[0], {"decision": "approve"})[0] == 200
    case = wait_for_status(cloud, account, {"REFUND_ISSUED"})
    [row] = [r for r in outbound_rows(cloud, mail.sent_at[:10]) if r["case_id"] == case["case_id"]]
    assert row["payee_id"] == "'" + guarantor  # an apostrophe first: a spreadsheet shows text, runs no formula
    done = refunds(cloud, "audit", "search", "--account", account, "--csv")
    assert done.returncode == 0 and "\n'<" not in done.stdout and "<img src=x onerror=alert(1)>" in done.stdout


def outbound_rows(cloud, day: str) -> list[dict[str, str]]:
    body = cloud.client("s3").get_object(Bucket=cloud.outputs["LedgerBucketName"],
                                         Key=f"outbound/refunds/{day}.csv")["Body"].read().decode()
    return list(csv.DictReader(io.StringIO(body)))


def test_a_decision_the_workflow_no_longer_waits_for_is_not_recorded(cloud):
    """Issue 17: a decision is recorded only once Step Functions accepted it. The approval's wait runs out
    and its escalation cannot run (it crashes, as an outage would): the link is still PENDING when the
    approver clicks, but the task is gone."""
    account = "MS-GONE"
    crash = faults.inject(cloud.function_name("EscalateFunction"), at=1, times=1000,
                          about=case_id_for(account, date(2026, 11, 9)))  # this case's escalation only
    try:
        drop(cloud, "ms-gone.csv", [
            f"{account}-1,{account},P-MG,G-MG,CHARGE,100.00,2026-11-02,,,,,,,TX",
            f"{account}-2,{account},P-MG,G-MG,PAYMENT,-125.00,2026-11-09,PATIENT,,,CHK-1,,,TX"])
        mail = wait_for_mail(cloud, TIER1, account)
        case = wait_for_status(cloud, account, {"AWAITING_APPROVAL"})
        deadline = time.monotonic() + 30
        while not crash.fired:  # the wait ran out: the workflow tried to escalate
            assert time.monotonic() < deadline, "the approval never timed out"
            time.sleep(0.2)
        status, page = http(mail.links[0], {"decision": "approve"})
    finally:
        faults.clear()  # the escalation's next attempt runs: it finds the decision that came too late
    assert status == 410 and "waited too long" in page and "Nothing was decided" in page
    actions = [a for a, _, _ in wait_for_action(cloud, case["case_id"], "DECISION_LATE")]
    assert "DECIDED" not in actions
    assert not ap_rows(cloud, case["case_id"])
    link = cloud.table("ApprovalsTableName").get_item(Key={"approval_key": case["approval_key"]})["Item"]
    assert link["state"] == "LATE"  # never USED: no approval of record
