"""Crash-safe workflow (issue 17): every step survives a throttle or a crash at any of its AWS calls,
and what no retry can finish is found by the sweeper or restarted by an operator.

Faults are injected by the local cloud (`localcloud.faults`) into the functions' own
calls: a crash before the k-th call is a function that died after its (k-1)-th write.
"""

from __future__ import annotations

import json
import time
from datetime import date

from creditrefunds.domain.approvals import link_key
from creditrefunds.domain.detection import case_id_for
from localcloud import faults
from refunds_cli.demo import http

from .conftest import (
    case_of,
    drop,
    history_actions,
    plain,
    refunds,
    wait_for_mail,
    wait_for_mail_subject,
    wait_for_status,
)
from .test_workflow import patient_credit

TIER1 = "tier1.approver@example.org"
STEPS = ("ReviewFunction", "RequestApprovalFunction", "AfterDecisionFunction", "IssueRefundFunction")


def case_id(account: str) -> str:
    """The case of `patient_credit(account)`: in credit from 2026-11-09, so its id is known before it opens."""
    return case_id_for(account, date(2026, 11, 9))


def approve_the_waiting_link(cloud, account: str, timeout: float = 60.0, approver: str = TIER1) -> None:
    """Approve through the link the case waits for now (a retried request may have mailed an earlier one)."""
    deadline = time.monotonic() + timeout
    while True:
        case = case_of(cloud, account)
        links = {link_key(link.rsplit("/", 1)[-1]): link for m in cloud.mailbox.messages()
                 if account in m.subject and approver in m.to for link in m.links}
        if case["status"] == "AWAITING_APPROVAL" and case.get("approval_key") in links:
            status, _ = http(links[case["approval_key"]], {"decision": "approve"})
            if status == 200:
                return
        assert time.monotonic() < deadline, f"{account} never waited for a link it mailed: {case['status']}"
        time.sleep(0.3)


def ap_rows(cloud, case: str) -> list[dict]:
    items = cloud.client("dynamodb").query(
        TableName=cloud.outputs["RefundsTableName"], IndexName="by-case", KeyConditionExpression="case_id = :c",
        ExpressionAttributeValues={":c": {"S": case}})["Items"]
    return [plain(i) for i in items]


def assert_paid_once(cloud, account: str) -> None:
    """One AP row per approved line, one record of each step, no FAILED, the chain and the book whole."""
    case = case_of(cloud, account)
    assert case["status"] == "REFUND_ISSUED", case["status"]
    actions = [a for a, _, _ in history_actions(cloud, case["case_id"])]
    assert [actions.count(a) for a in ("DETECTED", "DECIDED", "ISSUED", "FAILED")] == [1, 1, 1, 0], actions
    rows = ap_rows(cloud, case["case_id"])
    assert len(rows) == 1 and rows[0]["amount"] == "50.00"  # one instruction ...
    day_file = cloud.client("s3").get_object(Bucket=cloud.outputs["LedgerBucketName"],
                                             Key=f"outbound/refunds/{rows[0]['issued_on']}.csv")["Body"].read()
    lines = [line for line in day_file.decode().splitlines() if case["case_id"] in line]
    assert len(lines) == 1 and lines[0].startswith(f"{case['case_id']}#0,")  # ... one row in the AP file
    verified = refunds(cloud, "audit", "verify", "--case", case["case_id"])
    assert verified.returncode == 0, verified.stdout + verified.stderr


def test_a_crash_or_a_throttle_at_any_call_of_any_step_is_finished_by_its_retry(cloud):
    """The k-th AWS call of ingest and of every workflow step fails once (crash and throttle in turn), for
    every k until no step makes that many calls; each time the case is paid exactly once."""
    covered, k = 0, 0
    while True:
        k += 1
        account, kind = f"CS-K{k}", "crash" if k % 2 else "throttle"
        armed = [faults.inject(cloud.function_name(step), at=k, kind=kind, about=case_id(account)) for step in STEPS]
        armed.append(faults.inject(cloud.function_name("IngestFunction"), at=k, kind=kind, about=f"{account}.csv"))
        try:
            drop(cloud, f"{account}.csv", patient_credit(account))
            approve_the_waiting_link(cloud, account)
            wait_for_status(cloud, account, {"REFUND_ISSUED", "FAILED"}, timeout=60)
        finally:
            faults.clear()
        assert_paid_once(cloud, account)
        fired = sum(f.fired for f in armed)
        covered += fired
        if not fired:
            break
    print(f"fault points covered: {covered} (calls 1..{k - 1} of ingest and of {len(STEPS)} workflow steps)")
    assert covered >= 40  # every step makes several calls: a fault that never fires would be a broken harness


def test_a_step_failing_until_its_retries_run_out_is_failed_then_retried_by_an_operator(cloud):
    account = "CS-RETRY"
    review = faults.inject(cloud.function_name("ReviewFunction"), at=1, times=1000, about=case_id(account))
    try:
        drop(cloud, f"{account}.csv", patient_credit(account))
        failed = wait_for_status(cloud, account, {"FAILED"}, timeout=60)
    finally:
        faults.clear()
    assert review.fired == 5  # the first attempt and the state machine's four retries
    assert "Sandbox.Timedout" in wait_for_mail_subject(cloud, "operators@example.org", failed["case_id"]).text
    done = refunds(cloud, "case", failed["case_id"], "--retry")
    assert done.returncode == 0 and "from review" in done.stdout, done.stdout + done.stderr
    approve_the_waiting_link(cloud, account)
    wait_for_status(cloud, account, {"REFUND_ISSUED"})
    actions = history_actions(cloud, failed["case_id"])
    assert ("RETRIED", "FAILED", "OPEN") in actions
    assert refunds(cloud, "case", failed["case_id"], "--retry").returncode == 1  # only a FAILED case


def test_money_out_then_a_crash_is_found_by_the_sweeper_and_finished_by_a_retry(cloud):
    """IssueRefund dies after the instruction is written, every attempt: the case is FAILED with its money
    out. The sweeper writes the missing ISSUED record; the operator's retry finishes the issue step; the
    refund row coming back reconciles it."""
    account = "CS-ISSUED"
    issue = faults.inject(cloud.function_name("IssueRefundFunction"), at=1, times=1000, action="events:PutEvents",
                          about=case_id(account))
    try:
        drop(cloud, f"{account}.csv", patient_credit(account))
        approve_the_waiting_link(cloud, account)
        failed = wait_for_status(cloud, account, {"FAILED"}, timeout=60)
    finally:
        faults.clear()
    assert issue.fired == 5 and len(ap_rows(cloud, failed["case_id"])) == 1
    time.sleep(3.5)  # the sweeper's grace (SweepGraceSeconds in the tests)
    listed = refunds(cloud, "report", "stuck", "--grace-minutes", "0.05", "--json")
    problems = [s["problem"] for s in json.loads(listed.stdout) if s["case_id"] == failed["case_id"]]
    assert listed.returncode == 1 and any("no ISSUED record tells of it" in p for p in problems), listed.stdout
    assert refunds(cloud, "sweep").returncode == 0
    assert ("ISSUED", "FAILED", "REFUND_ISSUED") in history_actions(cloud, failed["case_id"])
    done = refunds(cloud, "case", failed["case_id"], "--retry")
    assert done.returncode == 0 and "from the issue step" in done.stdout, done.stdout + done.stderr
    wait_for_status(cloud, account, {"REFUND_ISSUED"})
    rows = ap_rows(cloud, failed["case_id"])
    assert len(rows) == 1
    verified = refunds(cloud, "audit", "verify", "--case", failed["case_id"])
    assert verified.returncode == 0, verified.stdout + verified.stderr


def test_a_case_whose_workflow_never_started_is_started_by_the_sweeper(cloud):
    account = "CS-NOFLOW"
    start = faults.inject(cloud.function_name("IngestFunction"), at=1, times=1000, action="states:StartExecution",
                          about=f"{account}.csv")
    try:
        drop(cloud, f"{account}.csv", patient_credit(account))
    finally:
        faults.clear()
    assert start.fired == 3  # the first delivery and Lambda's two retries
    assert case_of(cloud, account)["status"] == "OPEN"
    time.sleep(3.5)
    assert refunds(cloud, "sweep").returncode == 0
    approve_the_waiting_link(cloud, account)
    wait_for_status(cloud, account, {"REFUND_ISSUED"})
    assert "WORKFLOW_STARTED" in [a for a, _, _ in history_actions(cloud, case_id(account))]


def test_a_case_whose_workflow_ended_while_it_was_worked_is_failed_for_operators(cloud):
    """A case still APPROVED whose run has ended (its last write lost, or a run ended by hand): no
    step will ever move it. The sweeper records it FAILED, and operators hear of it."""
    account = "CS-ENDED"
    drop(cloud, f"{account}.csv", patient_credit(account))
    approve_the_waiting_link(cloud, account)
    case = wait_for_status(cloud, account, {"REFUND_ISSUED"})
    cloud.table("CasesTableName").update_item(Key={"case_id": case["case_id"]}, UpdateExpression="SET #s = :s",
                                              ExpressionAttributeNames={"#s": "status"},
                                              ExpressionAttributeValues={":s": "APPROVED"})
    time.sleep(3.5)
    listed = refunds(cloud, "report", "stuck", "--grace-minutes", "0.05")
    assert listed.returncode == 1 and f"{case['case_id']}  {account}  APPROVED: its workflow run ended SUCCEEDED" \
        in listed.stdout, listed.stdout
    assert refunds(cloud, "sweep").returncode == 0
    assert wait_for_status(cloud, account, {"FAILED"})["case_id"] == case["case_id"]
    assert "WorkflowEnded" in wait_for_mail_subject(cloud, "operators@example.org", case["case_id"]).text


def test_a_decision_that_could_not_reach_the_workflow_is_told_and_the_case_moves_on(cloud):
    """The page's answer to Step Functions fails on the way: whether it landed is known only there, so the
    link stays DECIDING. It did not land: when the wait runs out, the escalation makes the link LATE, says
    so in the history, and the next tier is asked; that approval pays once."""
    account = "CS-PAGE"
    drop(cloud, f"{account}.csv", patient_credit(account))
    case = wait_for_status(cloud, account, {"AWAITING_APPROVAL"})
    link = wait_for_mail(cloud, "tier1.approver@example.org", account).links[0]  # mailed just after
    throttle = faults.inject(cloud.function_name("ApprovalWebFunction"), at=1, action="states:SendTaskSuccess",
                             kind="throttle", times=1)
    try:
        status, page = http(link, {"decision": "approve"})
    finally:
        faults.clear()
    assert throttle.fired == 1 and status >= 500 and "Decision recorded" not in page
    deadline = time.monotonic() + 40
    while "DECISION_LATE" not in (actions := [a for a, _, _ in history_actions(cloud, case["case_id"])]):
        assert time.monotonic() < deadline, actions  # the wait runs out, and the escalation says so
        time.sleep(0.3)
    assert "DECIDED" not in actions
    used = link_key(link.rsplit("/", 1)[-1])  # the link that was clicked (the table keeps its hash)
    link_state = cloud.table("ApprovalsTableName").get_item(Key={"approval_key": used})["Item"]
    assert link_state["state"] == "LATE"
    approve_the_waiting_link(cloud, account, approver="tier2.approver@example.org")
    wait_for_status(cloud, account, {"REFUND_ISSUED"})
    assert_paid_once(cloud, account)
