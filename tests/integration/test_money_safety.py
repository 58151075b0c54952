"""Money goes only where an approver said (issue 11), where only the local cloud shows it: a task token read
from Step Functions' own execution history decides nothing, and values from the ledger script neither the
served page nor a spreadsheet. The rest of issue 11 (the lines shown, dual control, segregation of duties,
decisions that come late) runs over the in-memory ports: tests/usecases/test_money_safety.py."""

from __future__ import annotations

import csv
import io
import json
import time

from refunds_cli.demo import decide_link

from .conftest import (
    ap_day_file,
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
    # Whoever can read the execution history finds the task token, and answers the task themselves (the token of
    # the wait there is now: the test cloud's 8 s wait may have ended the one read a moment before).
    deadline = time.monotonic() + 60
    while True:
        scheduled = [e for e in sfn.get_execution_history(executionArn=arn)["events"] if e["type"] == "TaskScheduled"
                     and "task_token" in e["taskScheduledEventDetails"]["parameters"]]
        token = json.loads(scheduled[-1]["taskScheduledEventDetails"]["parameters"])["Payload"]["task_token"]
        try:
            sfn.send_task_success(taskToken=token, output=json.dumps({"outcome": "APPROVED", "credit": "50.00"}))
            break
        except (sfn.exceptions.InvalidToken, sfn.exceptions.TaskTimedOut, sfn.exceptions.TaskDoesNotExist):
            assert time.monotonic() < deadline, "no wait took the forged answer"
            time.sleep(0.3)
    actions = wait_for_action(cloud, case_id, "REFUSED")
    assert "DECIDED" not in [a for a, _, _ in actions]
    assert wait_for_mail_subject(cloud, "operators@example.org", case_id).subject.startswith("Refund decision refused")
    # Asked again with a new link: of tier 1, or of the tier the test cloud's 8 s wait has escalated it to.
    deadline = time.monotonic() + 60
    while len([m for m in cloud.mailbox.messages() if account in m.subject and m.links]) < 2:
        assert time.monotonic() < deadline, "the approval was not asked again"
        time.sleep(0.3)
    assert case_of(cloud, account)["status"] == "AWAITING_APPROVAL"
    assert ap_rows(cloud, case_id) == []


def test_values_from_the_ledger_cannot_script_a_page_or_a_spreadsheet(cloud):
    account, guarantor = "<img src=x onerror=alert(1)>", "=HYPERLINK(\"http://x.example\",\"pay\")"
    quoted = '"' + guarantor.replace('"', '""') + '"'  # as a CSV cell
    drop(cloud, "ms-inject.csv", [
        f"MS-INJ-1,{account},P-INJ,{quoted},CHARGE,100.00,2026-11-02,,,,,,\"<b>Bold</b>, Eve\",TX",
        f"MS-INJ-2,{account},P-INJ,{quoted},PAYMENT,-120.00,2026-11-09,PATIENT,,,CHK-1,,\"<b>Bold</b>, Eve\",TX"])
    mail = wait_for_mail(cloud, TIER1, "onerror")
    assert "<img" not in mail.html and "&lt;img src=x onerror=alert(1)&gt;" in mail.html
    status, page = decide_link(cloud, mail.links[0])
    assert status == 200 and "<img" not in page and "&lt;img" in page and "<b>" not in page
    assert decide_link(cloud, mail.links[0], {"decision": "approve"})[0] == 200
    case = wait_for_status(cloud, account, {"REFUND_ISSUED"})
    [row] = [r for r in outbound_rows(cloud, mail.sent_at[:10]) if r["case_id"] == case["case_id"]]
    assert row["payee_id"] == "'" + guarantor  # an apostrophe first: a spreadsheet shows text, runs no formula
    done = refunds(cloud, "audit", "search", "--account", account, "--csv")
    assert done.returncode == 0 and "\n'<" not in done.stdout and "<img src=x onerror=alert(1)>" in done.stdout


def outbound_rows(cloud, day: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(ap_day_file(cloud, day))))
