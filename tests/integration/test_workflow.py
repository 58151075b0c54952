"""The refund workflow on moto's Step Functions, driven over HTTP as people would: the approval that issues a
refund (task tokens, the page, the AP file in S3) and the escalation when a wait really runs out. Every other
path of the workflow is run from the same ASL over the in-memory ports: tests/usecases/test_workflow_paths.py."""

from __future__ import annotations

import json
import subprocess
import sys
import time

from refunds_cli.demo import decide_link

from .conftest import (
    ap_day_file,
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
        status, page = decide_link(cloud, mail.links[0])
        assert status == 200 and "WF-APPROVE" in page and "Approve" in page and "Investigate" not in page
    assert wait_for_status(cloud, "WF-APPROVE", {"AWAITING_APPROVAL"})["status"] == "AWAITING_APPROVAL"

    status, page = decide_link(cloud, mail.links[0], {"decision": "approve", "reason": ""})
    assert status == 200 and "Decision recorded" in page
    case = wait_for_status(cloud, "WF-APPROVE", {"REFUND_ISSUED"})
    rows = [line for line in ap_day_file(cloud, mail.sent_at[:10]).splitlines() if case["case_id"] in line]
    assert rows == [f"{case['case_id']}#0,{mail.sent_at[:10]},{case['case_id']},WF-APPROVE,PATIENT,G-WF-APPROVE,"
                    f"50.00,check,PATIENT_OVERPAYMENT,,,{rows[0].split(',')[-1]}"]
    actions = [a for a, _, _ in history_until(cloud, case["case_id"], "LETTER_WRITTEN")]  # the patient's notice
    assert actions == ["DETECTED", "REVIEWED", "EMAILED", "DECIDED", "RECHECKED", "ISSUED", "LETTER_WRITTEN"]

    again, page = decide_link(cloud, mail.links[0], {"decision": "approve"})
    assert again == 410 and "already been used" in page

    # The issue step delivered twice more: nothing is issued again.
    lam = cloud.client("lambda")
    for _ in range(2):
        answer = json.load(lam.invoke(FunctionName=cloud.stack.physical["IssueRefundFunction"],
                                      Payload=json.dumps({"case_id": case["case_id"]}).encode())["Payload"])
        assert answer.get("new") == [] and answer.get("issued") == [f"{case['case_id']}#0"], answer
    rows = [line for line in ap_day_file(cloud, mail.sent_at[:10]).splitlines() if case["case_id"] in line]
    assert len(rows) == 1
    assert [a for a, _, _ in history_actions(cloud, case["case_id"])].count("ISSUED") == 1


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
    # at once: before the tier-2 wait runs out too
    status, _ = decide_link(cloud, second.links[0], {"decision": "approve"})
    assert status == 200
    moved = [m for m in cloud.mailbox.messages() if TIER1 in m.to and m.subject.startswith("Approval moved on")
             and account in m.subject]
    assert moved, "the waiting approver is told"
    status, page = decide_link(cloud, first.links[0], {"decision": "approve"})
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
