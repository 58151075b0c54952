"""Crash-safe workflow (issue 17) where only the local cloud shows it: faults inside the functions' workers,
Lambda's and the state machine's own retries, the operator's `case --retry` and the sweep function. Every
call of every step, and the sweeper's repairs, are run over the in-memory ports: tests/usecases/test_crash_safe.py.

Faults are injected by the local cloud (`localcloud.faults`) into the functions' own
calls: a crash before the k-th call is a function that died after its (k-1)-th write.
"""

from __future__ import annotations

import time
from datetime import date

from creditrefunds.domain.approvals import link_key
from creditrefunds.domain.detection import case_id_for
from localcloud import faults
from refunds_cli.demo import decide_link

from .conftest import (
    ap_day_file,
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


def approve_the_waiting_link(cloud, account: str, timeout: float = 60.0, approver: str | None = TIER1) -> None:
    """Approve through the link the case waits for now (a retried request may have mailed an earlier one);
    `approver` None: whoever it was mailed to (the test cloud's short wait may have escalated it)."""
    deadline = time.monotonic() + timeout
    while True:
        case = case_of(cloud, account)
        links = {link_key(link.rsplit("/", 1)[-1]): link for m in cloud.mailbox.messages(wait=0)
                 if account in m.subject and (approver is None or approver in m.to) for link in m.links}
        if case["status"] == "AWAITING_APPROVAL" and case.get("approval_key") in links:
            status, _ = decide_link(cloud, links[case["approval_key"]], {"decision": "approve"})
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
    lines = [line for line in ap_day_file(cloud, rows[0]["issued_on"]).splitlines() if case["case_id"] in line]
    assert len(lines) == 1 and lines[0].startswith(f"{case['case_id']}#0,")  # ... one row in the AP file
    verified = refunds(cloud, "audit", "verify", "--case", case["case_id"])
    assert verified.returncode == 0, verified.stdout + verified.stderr


def test_a_crash_and_a_throttle_inside_the_functions_are_retried_by_lambda_and_the_state_machine(cloud):
    """The local cloud's faults fail a function's own AWS calls in its worker: ingest dies before its 3rd call
    (Lambda retries the notification), Review is throttled at its 2nd, RequestApproval dies before its mail and
    IssueRefund before its 4th call (the state machine's Retry). The case is paid exactly once. Every call of
    every step, crash and throttle, is run over the in-memory ports: tests/usecases/test_crash_safe.py."""
    account = "CS-FAULTS"
    armed = [faults.inject(cloud.function_name("IngestFunction"), at=3, about=f"{account}.csv"),
             faults.inject(cloud.function_name("ReviewFunction"), at=2, kind="throttle", about=case_id(account)),
             faults.inject(cloud.function_name("IssueRefundFunction"), at=4, about=case_id(account)),
             # dies before queueing its mail: the retry finds the link never mailed (read by key) and asks anew
             faults.inject(cloud.function_name("RequestApprovalFunction"), at=1, action="sqs:SendMessage",
                           about=case_id(account))]
    try:
        drop(cloud, f"{account}.csv", patient_credit(account))
        approve_the_waiting_link(cloud, account)
        wait_for_status(cloud, account, {"REFUND_ISSUED", "FAILED"}, timeout=60)
    finally:
        faults.clear()
    assert [f.fired for f in armed] == [1, 1, 1, 1]
    assert_paid_once(cloud, account)


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


def test_a_fault_armed_for_a_function_calling_aws_from_threads_neither_hangs_nor_garbles(cloud):
    """Ingest detects a file's guarantors in parallel (8 threads): with a fault armed, every call asks the local
    cloud first, from each thread. One question and its answer at a time (was: one pipe unlocked, and the
    function hung until its timeout). The crash fires once, Lambda's retry finishes the file."""
    accounts = [f"CS-THREADS-{n}" for n in range(12)]
    crash = faults.inject(cloud.function_name("IngestFunction"), at=6, action="states:StartExecution",
                          about="cs-threads.csv")
    try:
        started = time.monotonic()
        drop(cloud, "cs-threads.csv", [row for account in accounts for row in patient_credit(account)])
    finally:
        faults.clear()
    assert time.monotonic() - started < 60
    assert crash.fired == 1
    for account in accounts:
        wait_for_status(cloud, account, {"AWAITING_APPROVAL"})


def test_lost_replies_to_the_link_s_writes_and_the_approver_s_click_change_nothing(cloud):
    """Issue 30's reproductions on the deployed functions: every write RequestApproval makes lands and its answer
    is lost (botocore sends it again), then every call the approval page makes. The case does not fail, the
    approver is told the decision was taken (never "already used" or "no longer waiting"), and it is paid once."""
    account = "CS-LOST"
    asked = faults.inject(cloud.function_name("RequestApprovalFunction"), at=1, times=1000, action="dynamodb:PutItem",
                          kind="lost", about=case_id(account))
    try:
        drop(cloud, f"{account}.csv", patient_credit(account))
        mail = wait_for_mail(cloud, TIER1, account)  # RequestApproval ran (review set the status before it) ...
        deadline = time.monotonic() + 30
        while "EMAILED" not in [a for a, _, _ in history_actions(cloud, case_id(account))]:  # ... to its end
            assert time.monotonic() < deadline, "RequestApproval never recorded its mail"
            time.sleep(0.3)
    finally:
        faults.clear()
    assert mail.links and asked.fired >= 3, asked  # the token, the link, the history record
    clicked = faults.inject(cloud.function_name("ApprovalWebFunction"), at=1, times=1000, kind="lost")
    try:
        status, page = click_the_waiting_link(cloud, account)
    finally:
        faults.clear()
    assert clicked.fired > 0 and status in (200, 202), page
    assert "already used" not in page and "no longer waiting" not in page
    wait_for_status(cloud, account, {"REFUND_ISSUED"})
    assert_paid_once(cloud, account)


def click_the_waiting_link(cloud, account: str, timeout: float = 60.0) -> tuple[int, str]:
    """Approve through the link the case waits for now, whoever it was mailed to (the test cloud's short wait may
    have escalated it meanwhile); the page's answer."""
    deadline = time.monotonic() + timeout
    while True:
        case = case_of(cloud, account)
        links = {link_key(link.rsplit("/", 1)[-1]): link for m in cloud.mailbox.messages(wait=0)
                 if account in m.subject for link in m.links}
        if case["status"] == "AWAITING_APPROVAL" and case.get("approval_key") in links:
            status, page = decide_link(cloud, links[case["approval_key"]], {"decision": "approve"})
            if status != 410:  # not moved on before the click
                return status, page
        assert time.monotonic() < deadline, f"{account} never waited for a link it mailed: {case['status']}"
        time.sleep(0.3)


def test_a_withdrawal_whose_reply_was_lost_ends_the_wait_and_tells_the_approver(cloud):
    """A second file changes the lines awaiting approval while every UpdateItem ingest makes loses its answer
    (botocore sends it again): the link's move is read back as this ingest's own, so its wait ends at once and
    its approver is told; the lines as they are now are asked and paid once."""
    account = "CS-LOSTW"
    drop(cloud, f"{account}-1.csv", patient_credit(account))
    wait_for_mail(cloud, TIER1, account)
    lost = faults.inject(cloud.function_name("IngestFunction"), at=1, times=1000, action="dynamodb:UpdateItem",
                         kind="lost", about=f"{account}-2.csv")
    try:
        drop(cloud, f"{account}-2.csv", [f"{account}-3,{account},P-{account},G-{account},PAYMENT,-20.00,2026-11-10,"
                                         "PATIENT,,,CHK-2,,\"Rivera, Ana\",TX"])
    finally:
        faults.clear()
    assert lost.fired >= 2, lost  # the case's figures and the link's withdrawal, at least
    told = [m for m in cloud.mailbox.messages() if m.subject == f"Approval withdrawn: account {account}"]
    assert len(told) == 1, [m.subject for m in cloud.mailbox.messages() if account in m.subject]
    approve_the_waiting_link(cloud, account, approver=None)
    case = wait_for_status(cloud, account, {"REFUND_ISSUED"})
    actions = [a for a, _, _ in history_actions(cloud, case["case_id"])]
    assert "FAILED" not in actions and actions.count("ISSUED") == 1, actions
    assert [r["amount"] for r in ap_rows(cloud, case["case_id"])] == ["70.00"]


def test_an_escalation_whose_writes_lost_their_replies_escalates_each_timeout_once(cloud):
    """Every UpdateItem Escalate makes (the waiting link's move, the case's new tier) lands and loses its answer:
    each timeout is one ESCALATED record, each superseded approver told once, and the case is paid once."""
    account = "CS-LOSTE"
    lost = faults.inject(cloud.function_name("EscalateFunction"), at=1, times=1000, action="dynamodb:UpdateItem",
                         kind="lost", about=case_id(account))
    try:
        drop(cloud, f"{account}.csv", patient_credit(account))
        wait_for_mail_subject(cloud, TIER1, f"Approval moved on: account {account}", timeout=60)
        deadline = time.monotonic() + 30
        while not escalated_links(cloud, case_id(account)):  # the mail goes before the record
            assert time.monotonic() < deadline, "Escalate never recorded the escalation"
            time.sleep(0.3)
    finally:
        faults.clear()
    assert lost.fired >= 2, lost
    approve_the_waiting_link(cloud, account, approver=None)
    wait_for_status(cloud, account, {"REFUND_ISSUED"})
    assert_paid_once(cloud, account)
    escalated = escalated_links(cloud, case_id(account))
    moved_on = [m for m in cloud.mailbox.messages() if m.subject == f"Approval moved on: account {account}"]
    assert len(escalated) == len(set(escalated)) == len(moved_on) >= 1, (escalated, len(moved_on))


def escalated_links(cloud, case: str) -> list[str]:
    """The timed-out link each ESCALATED record of the case names, oldest first."""
    items = cloud.client("dynamodb").query(
        TableName=cloud.outputs["HistoryTableName"], KeyConditionExpression="case_id = :c",
        ExpressionAttributeValues={":c": {"S": case}})["Items"]
    return [r.get("link", "") for r in map(plain, items) if r["action"] == "ESCALATED"]
