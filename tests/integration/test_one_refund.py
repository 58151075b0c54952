"""One credit, one refund (issue 16), as a billing system's daily files arrive on the local cloud.

Each scenario paid the same 50.00 twice before: a second case opened for money an open case (or an
issued refund) already covered, and one REFUND row reconciled both.
"""

from __future__ import annotations

from datetime import UTC, datetime

from refunds_cli.demo import http

from .conftest import case_of, drop, history_reasons, history_until, refunds, wait_for_mail, wait_for_status
from .test_crash_safe import approve_the_waiting_link
from .test_workflow import TIER1, outbound, wait_for_object


def rows(account: str, *specs: tuple[str, str, str, str]) -> list[str]:
    """Ledger rows of a Texas patient's account: (suffix, type, amount, posting date) each."""
    return [f"{account}-{n},{account},P-{account},G-{account},{kind},{amount},{day},"
            f"{'' if kind == 'CHARGE' else 'PATIENT'},,,{ref},,,TX" for n, kind, amount, day, ref in
            ((n, kind, amount, day, f"CHK-{n}" if kind != "CHARGE" else "") for n, kind, amount, day in specs)]




def today() -> str:
    """Accounts payable's rows come back on or after the day the refund was issued (the local cloud's today)."""
    return datetime.now(UTC).date().isoformat()


FIRST = (("1", "CHARGE", "100.00", "2026-11-01"), ("2", "PAYMENT", "-150.00", "2026-11-05"))
# The next day's file: a new visit charged and paid in full. The balance touched +50.00 between the two
# rows and is back at -50.00: the same 50.00 credit, not a new one.
SECOND = (("3", "CHARGE", "100.00", "2026-11-06"), ("4", "PAYMENT", "-100.00", "2026-11-07"))


def ap_rows(cloud, day: str, case_id: str) -> list[str]:
    return [line for line in outbound(cloud, f"outbound/refunds/{day}.csv").splitlines() if case_id in line]


def approve_and_issue(cloud, account: str) -> tuple[dict, str]:
    """Approve by the link the case waits for (a request step retried under load mails a new one and
    supersedes the first, which then answers 410, as designed)."""
    mail = wait_for_mail(cloud, TIER1, account)
    approve_the_waiting_link(cloud, account)
    return wait_for_status(cloud, account, {"REFUND_ISSUED"}), mail.sent_at[:10]


def test_a_file_while_the_case_awaits_approval_updates_that_case_and_one_refund_is_issued(cloud):
    drop(cloud, "one-open-1.csv", rows("ONE-OPEN", *FIRST))
    first = wait_for_mail(cloud, TIER1, "ONE-OPEN")
    drop(cloud, "one-open-2.csv", rows("ONE-OPEN", *SECOND))
    case = case_of(cloud, "ONE-OPEN")  # asserts the account has exactly one case
    assert case["credit"] == "50.00" and case["status"] == "AWAITING_APPROVAL"
    http(first.links[0], {"decision": "approve"})
    issued = wait_for_status(cloud, "ONE-OPEN", {"REFUND_ISSUED"})
    assert issued["case_id"] == case["case_id"]
    lines = ap_rows(cloud, first.sent_at[:10], case["case_id"])
    assert len(lines) == 1 and ",50.00,check," in lines[0]
    assert not [m for m in cloud.mailbox.messages() if "ONE-OPEN" in m.subject and m is not first and m.links]


def test_an_issued_refund_not_yet_posted_back_opens_no_second_case_and_one_row_reconciles_it(cloud):
    drop(cloud, "one-issued-1.csv", rows("ONE-ISSUED", *FIRST))
    case, day = approve_and_issue(cloud, "ONE-ISSUED")
    drop(cloud, "one-issued-2.csv", rows("ONE-ISSUED", *SECOND))
    assert case_of(cloud, "ONE-ISSUED")["status"] == "REFUND_ISSUED"  # still the one case, nothing asked again
    drop(cloud, "one-issued-3.csv", rows("ONE-ISSUED", ("9", "REFUND", "50.00", today())))
    wait_for_status(cloud, "ONE-ISSUED", {"RECONCILED"})
    reasons = dict(history_reasons(cloud, case["case_id"]))
    assert (f"50.00 to PATIENT (instruction {case['case_id']}#0) by REFUND row ONE-ISSUED-9"
            in reasons["RECONCILED"])
    assert len(ap_rows(cloud, day, case["case_id"])) == 1
    assert len([line for line in outbound(cloud, f"outbound/refunds/{day}.csv").splitlines()
                if ",ONE-ISSUED," in line]) == 1
    verified = refunds(cloud, "audit", "verify", "--case", case["case_id"])
    assert verified.returncode == 0 and "no account refunded more than it held" in verified.stdout, verified.stdout


def test_a_refund_row_of_another_amount_reconciles_nothing_and_becomes_a_work_item(cloud):
    drop(cloud, "one-wrong-1.csv", rows("ONE-WRONG", *FIRST))
    case, _ = approve_and_issue(cloud, "ONE-WRONG")
    # A day's extract large enough to go through the fan-out: its detection batches see the row.
    filler = [f"ONE-PAD-{n},ONE-PAD,P-PAD,G-PAD,CHARGE,10.00,2026-11-20,,,,,,,TX" for n in range(160)]
    drop(cloud, "one-wrong-2.csv", [*rows("ONE-WRONG", ("8", "REFUND", "80.00", today())), *filler])
    # 80.00 went out of the account but posts back nothing: a stray row, and the credit it cleared leaves
    # the refund in flight larger than what the ledger holds (a possible double payment): both are told.
    actions = [a for a, _, _ in history_until(cloud, case["case_id"], "CLEARED_ELSEWHERE")]
    assert "RETURN_UNMATCHED" in actions
    assert case_of(cloud, "ONE-WRONG")["status"] == "REFUND_ISSUED"
    assert "the ledger now shows a credit of only 0.00" in wait_for_object(
        cloud, f"outbound/work-items/{case['case_id']}.cleared.json")
    item = wait_for_object(cloud, f"outbound/work-items/{case['case_id']}.returns.json")
    assert "REFUND row ONE-WRONG-8 of 80.00 to PATIENT" in item and f"instruction {case['case_id']}#0" in item
    drop(cloud, "one-wrong-3.csv", rows("ONE-WRONG", ("7", "REFUND", "20.00", today())))  # a partial one
    unmatched = [why for action, why in history_reasons(cloud, case["case_id"]) if action == "RETURN_UNMATCHED"]
    assert len(unmatched) == 2 and "REFUND row ONE-WRONG-7 of 20.00 to PATIENT" in unmatched[1]
    filler = [f"ONE-PAD4-{n},ONE-PAD4,P-PAD,G-PAD,CHARGE,10.00,2026-11-20,,,,,,,TX" for n in range(160)]
    drop(cloud, "one-wrong-4.csv", [*rows("ONE-WRONG", ("9", "REFUND", "50.00", today())), *filler])  # fan-out
    wait_for_status(cloud, "ONE-WRONG", {"RECONCILED"})
    assert [a for a, _ in history_reasons(cloud, case["case_id"])].count("RETURN_UNMATCHED") == 2


def test_audit_verify_names_an_account_refunded_more_than_it_ever_held(cloud):
    drop(cloud, "one-exposed.csv", rows("ONE-EXPOSED", *FIRST))
    case, _ = approve_and_issue(cloud, "ONE-EXPOSED")
    refunds_table = cloud.table("RefundsTableName")
    issued = refunds_table.get_item(Key={"instruction_id": f"{case['case_id']}#0"})["Item"]
    forged = {**issued, "instruction_id": "CB-FORGED#0", "case_id": "CB-FORGED"}  # as a second case would have
    refunds_table.put_item(Item=forged)
    try:
        verified = refunds(cloud, "audit", "verify", "--case", case["case_id"])
    finally:
        refunds_table.delete_item(Key={"instruction_id": "CB-FORGED#0"})
    assert verified.returncode == 1
    assert "EXPOSED account ONE-EXPOSED: 100.00 refunded or in flight, of which 50.00 went out" in verified.stdout
    assert "it may have been paid twice" in verified.stdout


def ca_rows(account: str, *specs: tuple[str, str, str, str]) -> list[str]:
    """A California patient (small credits under 5.00 are held, not refunded)."""
    return [line.replace(",TX", ",CA") for line in rows(account, *specs)]


def test_a_held_credit_that_grows_into_a_refund_is_asked_approval_by_its_own_case(cloud):
    drop(cloud, "one-held-1.csv", ca_rows("ONE-HELD", ("1", "CHARGE", "100.00", "2026-11-01"),
                                          ("2", "PAYMENT", "-103.00", "2026-11-05")))
    held = wait_for_status(cloud, "ONE-HELD", {"WORK_ITEM"})
    drop(cloud, "one-held-2.csv", ca_rows("ONE-HELD", ("3", "PAYMENT", "-50.00", "2026-11-09")))
    mail = wait_for_mail(cloud, TIER1, "ONE-HELD")  # the same case, reviewed again, asks approval of 53.00
    assert "53.00" in mail.subject
    case = case_of(cloud, "ONE-HELD")
    assert case["case_id"] == held["case_id"] and case["status"] == "AWAITING_APPROVAL"
    assert "REOPENED" in dict(history_reasons(cloud, case["case_id"]))


def test_a_work_item_whose_credit_clears_closes(cloud):
    drop(cloud, "one-clear-1.csv", ca_rows("ONE-CLEAR", ("1", "CHARGE", "100.00", "2026-11-01"),
                                           ("2", "PAYMENT", "-103.00", "2026-11-05")))
    wait_for_status(cloud, "ONE-CLEAR", {"WORK_ITEM"})
    drop(cloud, "one-clear-2.csv", ca_rows("ONE-CLEAR", ("3", "CHARGE", "3.00", "2026-11-09")))
    case = wait_for_status(cloud, "ONE-CLEAR", {"RESOLVED_NO_REFUND"})
    assert dict(history_reasons(cloud, case["case_id"]))["RESOLVED"] == "the ledger shows the credit cleared"
