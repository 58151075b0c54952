"""One credit, one refund (issue 16), as a billing system's daily files arrive, over the real use-cases.

Each scenario paid the same 50.00 twice before: a second case opened for money an open case (or an
issued refund) already covered, and one REFUND row reconciled both.
"""

from __future__ import annotations

from typing import Any

from creditrefunds.domain.instructions import Instruction
from creditrefunds.usecases import audit

from tests.memory.cloud import MemoryCloud

from .test_crash_safe import approve_the_waiting_link
from .test_workflow_paths import TIER1


def rows(account: str, *specs: tuple[str, str, str, str]) -> list[str]:
    """Ledger rows of a Texas patient's account: (suffix, type, amount, posting date) each."""
    return [f"{account}-{n},{account},P-{account},G-{account},{kind},{amount},{day},"
            f"{'' if kind == 'CHARGE' else 'PATIENT'},,,{ref},,,TX" for n, kind, amount, day, ref in
            ((n, kind, amount, day, f"CHK-{n}" if kind != "CHARGE" else "") for n, kind, amount, day in specs)]


def ca_rows(account: str, *specs: tuple[str, str, str, str]) -> list[str]:
    """A California patient (small credits under 5.00 are held, not refunded)."""
    return [line.replace(",TX", ",CA") for line in rows(account, *specs)]


FIRST = (("1", "CHARGE", "100.00", "2026-11-01"), ("2", "PAYMENT", "-150.00", "2026-11-05"))
# The next day's file: a new visit charged and paid in full. The balance touched +50.00 between the two
# rows and is back at -50.00: the same 50.00 credit, not a new one.
SECOND = (("3", "CHARGE", "100.00", "2026-11-06"), ("4", "PAYMENT", "-100.00", "2026-11-07"))


def today(mem: MemoryCloud) -> str:
    """Accounts payable's rows come back on or after the day the refund was issued (the clock's today)."""
    return mem.now.date().isoformat()


def ap_rows(mem: MemoryCloud, case_id: str) -> list[dict[str, str]]:
    """The case's rows of the accounts-payable files."""
    return [row for row in mem.bucket.ap_rows() if row["case_id"] == case_id]


def reasons(mem: MemoryCloud, case_id: str) -> list[tuple[str, str | None]]:
    """(action, reason) of each history record of the case."""
    return [(r["action"], r.get("reason")) for r in mem.history.records(case_id)]


def approve_and_issue(mem: MemoryCloud, account: str) -> dict[str, Any]:
    """Approve by the link the case waits for; the case once issued."""
    assert mem.links(TIER1, account)
    approve_the_waiting_link(mem, account)
    case = mem.case(account)
    assert case["status"] == "REFUND_ISSUED", reasons(mem, case["case_id"])
    return case


# The test cloud's fan-out settings (tests/conftest.py): a file over 10,000 bytes is split into parts of 40
# rows, and its touched accounts detected 10 to a batch.
SPLIT_THRESHOLD, ROWS_PER_PART, DETECT_BATCH = 10_000, 40, 10


def drop_fanned_out(mem: MemoryCloud, rows_: list[str], name: str) -> dict[str, Any]:
    """A file past the split threshold: ingest splits it and starts the fan-out, which the in-memory workflows
    run from `statemachine/ledger_fanout.asl.json` (every part stored, the detection planned, every batch
    detected, the file finished), then every workflow it started. The fan-out's input."""
    config = mem.config
    saved = config.split_threshold, config.rows_per_part, config.detect_batch_accounts
    config.split_threshold, config.rows_per_part, config.detect_batch_accounts = SPLIT_THRESHOLD, ROWS_PER_PART, \
        DETECT_BATCH
    try:
        summary = mem.drop(rows_, name)
    finally:
        config.split_threshold, config.rows_per_part, config.detect_batch_accounts = saved
    assert summary["parts"] > 1, summary
    payload = mem.workflows.fan_outs[summary["fan_out"]]
    assert mem.bucket.keys(f"work/{name}/") == [] and mem.bucket.keys(f"incoming/{name}") == []
    assert f"{name}/{payload['upload']}/{name}" in mem.bucket.originals  # retired: kept as it came
    return payload


def test_a_file_while_the_case_awaits_approval_updates_that_case_and_one_refund_is_issued(mem: MemoryCloud):
    mem.drop(rows("ONE-OPEN", *FIRST), "one-open-1.csv")
    [first] = mem.links(TIER1, "ONE-OPEN")
    mem.drop(rows("ONE-OPEN", *SECOND), "one-open-2.csv")
    case = mem.case("ONE-OPEN")  # asserts the account has exactly one case
    assert case["credit"] == "50.00" and case["status"] == "AWAITING_APPROVAL"
    assert mem.decide(first).status == 200  # the link first mailed still decides: nothing changed its lines
    issued = mem.case("ONE-OPEN")
    assert issued["status"] == "REFUND_ISSUED" and issued["case_id"] == case["case_id"]
    [line] = ap_rows(mem, case["case_id"])
    assert (line["amount"], line["method"]) == ("50.00", "check")
    asked = [m for m in mem.mailer.sent if "ONE-OPEN" in m.subject and "/approve/" in m.text]
    assert len(asked) == 1 and first in asked[0].text  # no other mail asked about the account


def test_an_issued_refund_not_yet_posted_back_opens_no_second_case_and_one_row_reconciles_it(mem: MemoryCloud):
    mem.drop(rows("ONE-ISSUED", *FIRST), "one-issued-1.csv")
    case = approve_and_issue(mem, "ONE-ISSUED")
    mem.drop(rows("ONE-ISSUED", *SECOND), "one-issued-2.csv")
    assert mem.case("ONE-ISSUED")["status"] == "REFUND_ISSUED"  # still the one case, nothing asked again
    assert len(mem.links(TIER1, "ONE-ISSUED")) == 1
    mem.drop(rows("ONE-ISSUED", ("9", "REFUND", "50.00", today(mem))), "one-issued-3.csv")
    assert mem.case("ONE-ISSUED")["status"] == "RECONCILED"
    said = dict(reasons(mem, case["case_id"]))
    assert f"50.00 to PATIENT (instruction {case['case_id']}#0) by REFUND row ONE-ISSUED-9" in said["RECONCILED"]
    assert len(ap_rows(mem, case["case_id"])) == 1
    assert len([r for r in mem.bucket.ap_rows() if r["account_id"] == "ONE-ISSUED"]) == 1
    verified = audit.verify_all(mem.cases, mem.history, mem.trusted.refund_book, mem.seals, [case["case_id"]],
                                mem.trusted.transactions)
    assert verified.whole and verified.cases[0].known, (verified.exposures, verified.cases)
    assert verified.exposures == []  # `refunds audit verify`: no account refunded more than it held


def test_a_refund_row_of_another_amount_reconciles_nothing_and_becomes_a_work_item(mem: MemoryCloud):
    mem.drop(rows("ONE-WRONG", *FIRST), "one-wrong-1.csv")
    case = approve_and_issue(mem, "ONE-WRONG")
    case_id = case["case_id"]
    # A day's extract large enough to go through the fan-out: its detection batches see the row.
    filler = [f"ONE-PAD-{n},ONE-PAD,P-PAD,G-PAD,CHARGE,10.00,2026-11-20,,,,,,,TX" for n in range(160)]
    drop_fanned_out(mem, [*rows("ONE-WRONG", ("8", "REFUND", "80.00", today(mem))), *filler], "one-wrong-2.csv")
    # 80.00 went out of the account but posts back nothing: a stray row, and the credit it cleared leaves
    # the refund in flight larger than what the ledger holds (a possible double payment): both are told.
    actions = mem.actions(case_id)
    assert actions[-1] == "CLEARED_ELSEWHERE" and "RETURN_UNMATCHED" in actions, actions
    assert mem.case("ONE-WRONG")["status"] == "REFUND_ISSUED"
    assert "the ledger now shows a credit of only 0.00" in mem.bucket.text(
        f"outbound/work-items/{case_id}.cleared.json")
    item = mem.bucket.text(f"outbound/work-items/{case_id}.returns.json")
    assert "REFUND row ONE-WRONG-8 of 80.00 to PATIENT" in item and f"instruction {case_id}#0" in item
    mem.drop(rows("ONE-WRONG", ("7", "REFUND", "20.00", today(mem))), "one-wrong-3.csv")  # a partial one
    unmatched = [why for action, why in reasons(mem, case_id) if action == "RETURN_UNMATCHED"]
    assert len(unmatched) == 2 and "REFUND row ONE-WRONG-7 of 20.00 to PATIENT" in unmatched[1]
    filler = [f"ONE-PAD4-{n},ONE-PAD4,P-PAD,G-PAD,CHARGE,10.00,2026-11-20,,,,,,,TX" for n in range(160)]
    drop_fanned_out(mem, [*rows("ONE-WRONG", ("9", "REFUND", "50.00", today(mem))), *filler], "one-wrong-4.csv")
    assert mem.case("ONE-WRONG")["status"] == "RECONCILED"
    assert mem.actions(case_id).count("RETURN_UNMATCHED") == 2


def test_audit_verify_names_an_account_refunded_more_than_it_ever_held(mem: MemoryCloud):
    mem.drop(rows("ONE-EXPOSED", *FIRST), "one-exposed.csv")
    case = approve_and_issue(mem, "ONE-EXPOSED")
    issued = mem.refund_book.items[f"{case['case_id']}#0"]
    # As a second case would have issued it (a bug, not a forgery: the issue step's own MAC): 50.00 again.
    mem.trusted.refund_book.issue(Instruction.from_item({**issued, "instruction_id": "CB-AGAIN#0",
                                                         "case_id": "CB-AGAIN"}))
    found = audit.verify_all(mem.cases, mem.history, mem.trusted.refund_book, mem.seals, [case["case_id"]],
                             mem.trusted.transactions)
    assert not found.whole  # `refunds audit verify` exits 1
    printed = [f"EXPOSED {e.why()}" for e in found.exposures]  # as `refunds audit verify` prints them
    [line] = printed
    assert line.startswith("EXPOSED account ONE-EXPOSED: 100.00 refunded or in flight, of which 50.00 went out")
    assert "it may have been paid twice" in line


def test_a_held_credit_that_grows_into_a_refund_is_asked_approval_by_its_own_case(mem: MemoryCloud):
    mem.drop(ca_rows("ONE-HELD", ("1", "CHARGE", "100.00", "2026-11-01"), ("2", "PAYMENT", "-103.00", "2026-11-05")),
             "one-held-1.csv")
    held = mem.case("ONE-HELD")
    assert held["status"] == "WORK_ITEM"
    mem.drop(ca_rows("ONE-HELD", ("3", "PAYMENT", "-50.00", "2026-11-09")), "one-held-2.csv")
    [asked] = [m for m in mem.mailer.to(TIER1) if "ONE-HELD" in m.subject and "/approve/" in m.text]
    assert "53.00" in asked.subject  # the same case, reviewed again, asks approval of 53.00
    case = mem.case("ONE-HELD")
    assert case["case_id"] == held["case_id"] and case["status"] == "AWAITING_APPROVAL"
    assert "REOPENED" in mem.actions(case["case_id"])


def test_a_work_item_whose_credit_clears_closes(mem: MemoryCloud):
    mem.drop(ca_rows("ONE-CLEAR", ("1", "CHARGE", "100.00", "2026-11-01"), ("2", "PAYMENT", "-103.00", "2026-11-05")),
             "one-clear-1.csv")
    assert mem.case("ONE-CLEAR")["status"] == "WORK_ITEM"
    mem.drop(ca_rows("ONE-CLEAR", ("3", "CHARGE", "3.00", "2026-11-09")), "one-clear-2.csv")
    case = mem.case("ONE-CLEAR")
    assert case["status"] == "RESOLVED_NO_REFUND"
    assert dict(reasons(mem, case["case_id"]))["RESOLVED"] == "the ledger shows the credit cleared"
