"""The console's worklist and pages over the in-memory ports: what billing staff, compliance, auditors and
operators see and may do, each action a history record under the signed-in person."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

import pytest
from creditrefunds.domain.history import Entry
from creditrefunds.domain.identity import Forbidden
from creditrefunds.domain.worklist import Narrowed, WorkItem
from creditrefunds.usecases import console, worklist

from tests.memory.cloud import MemoryCloud

TIER1 = "tier1.approver@example.org"
BILLING, AUDITOR = "billing@example.org", "auditor@example.org"
TODAY = date(2026, 11, 20)


def credit(account: str, paid: str = "150.00", day: str = "2026-11-09") -> list[str]:
    return [f"{account}-1,{account},P-{account},G-{account},CHARGE,100.00,2026-11-02,,,,,,\"Rivera, Ana\",TX",
            f"{account}-2,{account},P-{account},G-{account},PAYMENT,-{paid},{day},PATIENT,,,CHK-1,,"
            "\"Rivera, Ana\",TX"]


def rejected(mem: MemoryCloud, account: str, paid: str = "150.00", day: str = "2026-11-09") -> str:
    mem.drop(credit(account, paid, day))
    [link] = mem.links(TIER1, account)
    assert mem.decide(link, "reject", "guarantor disputes the charge").status == 200
    return str(mem.case(account)["case_id"])


def test_a_rejected_refund_is_an_open_item_billing_staff_take_and_work(mem: MemoryCloud):
    case_id = rejected(mem, "CO-REJ")
    billing = mem.signed_in(BILLING)
    shown = console.worklist(mem.ports, billing, "due", "", False, TODAY)
    [row] = shown.items
    assert (row["account"], row["amount"], row["reason"], row["due"], row["overdue"]) == (
        "CO-REJ", "50.00", "Refund rejected by the approver", "2026-12-20", False)
    assert "guarantor disputes the charge" in row["todo"]
    assert console.worklist(mem.ports, billing, "due", "", False, date(2026, 12, 21)).items[0]["overdue"]

    worklist.take(mem.ports, row["item_id"], billing, mem.now)
    [mine] = console.worklist(mem.ports, billing, "due", "", True, TODAY).items
    assert mine["assignee"] == BILLING
    worklist.note(mem.ports, case_id, billing, "called the guarantor", mem.now)
    worklist.done(mem.ports, row["item_id"], billing, "posted a transfer to the next visit", mem.now)
    assert console.worklist(mem.ports, billing, "due", "", False, TODAY).items == []
    records = [(r["actor"], r["action"]) for r in mem.history.records(case_id)][-3:]
    assert records == [(billing.actor, "ASSIGNED"), (billing.actor, "NOTED"), (billing.actor, "WORKED")]
    with pytest.raises(LookupError):
        worklist.done(mem.ports, row["item_id"], billing, "again", mem.now)  # once


def test_views_page_by_due_date_amount_and_age_in_order(mem: MemoryCloud):
    for n, (paid, day) in enumerate([("150.00", "2026-11-09"), ("400.00", "2026-10-20"), ("120.00", "2026-11-15")]):
        mem.tick(minutes=1)
        rejected(mem, f"CO-V{n}", paid, day)
    billing = mem.signed_in(BILLING)
    by = {view: [r["account"] for r in console.worklist(mem.ports, billing, view, "", False, TODAY).items]
          for view in ("due", "amount", "age")}
    assert by == {"due": ["CO-V1", "CO-V0", "CO-V2"], "amount": ["CO-V1", "CO-V0", "CO-V2"],
                  "age": ["CO-V0", "CO-V1", "CO-V2"]}
    first, following = mem.worklist.page("due", "", "", 2)
    rest, last = mem.worklist.page("due", following, "", 2)
    assert [i.account_id for i in first + rest] == by["due"] and last == ""


def test_roles_auditors_read_only_and_billing_staff_do_not_read_compliance(mem: MemoryCloud):
    case_id = rejected(mem, "CO-ROLE")
    auditor, billing = mem.signed_in(AUDITOR), mem.signed_in(BILLING)
    [row] = console.worklist(mem.ports, auditor, "due", "", False, TODAY).items  # may read
    for act in (lambda: worklist.take(mem.ports, row["item_id"], auditor, mem.now),
                lambda: worklist.note(mem.ports, case_id, auditor, "looks fine", mem.now),
                lambda: worklist.done(mem.ports, row["item_id"], auditor, "done", mem.now)):
        with pytest.raises(Forbidden):
            act()
    with pytest.raises(Forbidden):
        console.compliance(mem.ports, billing, TODAY)
    with pytest.raises(Forbidden):
        console.worklist(mem.ports, mem.signed_in(TIER1), "due", "", False, TODAY)  # approvers decide, by link
    assert "NOTED" not in [r["action"] for r in mem.history.records(case_id)]


def test_the_case_page_shows_lines_ledger_rows_history_and_its_verdict(mem: MemoryCloud):
    mem.drop(credit("CO-CASE"))
    mem.decide(mem.links(TIER1, "CO-CASE")[0])
    case_id = mem.case("CO-CASE")["case_id"]
    shown = console.case_view(mem.ports, mem.signed_in(AUDITOR), case_id)
    assert shown.case["status"] == "REFUND_ISSUED" and shown.verified == []
    assert [(r["txn_id"], r["amount"]) for r in shown.ledger] == [("CO-CASE-1", "100.00"), ("CO-CASE-2", "-150.00")]
    assert [(i["payee_id"], i["amount"]) for i in shown.instructions] == [("G-CO-CASE", "50.00")]
    assert [r["action"] for r in shown.history] == ["DETECTED", "REVIEWED", "EMAILED", "DECIDED", "RECHECKED",
                                                    "ISSUED", "LETTER_WRITTEN"]
    mem.history.chains[case_id][1]["reason"] = "rewritten"  # by someone who can write the table
    assert console.case_view(mem.ports, mem.signed_in(AUDITOR), case_id).verified != []


def test_a_work_item_closes_when_the_ledger_shows_the_credit_cleared(mem: MemoryCloud):
    rejected(mem, "CO-CLEAR")
    mem.drop(["CO-CLEAR-3,CO-CLEAR,P-CO-CLEAR,G-CO-CLEAR,CHARGE,50.00,2026-11-18,,,,,,\"Rivera, Ana\",TX"])
    assert mem.case("CO-CLEAR")["status"] == "RESOLVED_NO_REFUND"
    assert console.worklist(mem.ports, mem.signed_in(BILLING), "due", "", False, TODAY).items == []


def test_compliance_sees_deadlines_and_only_operators_retry(mem: MemoryCloud):
    mem.drop(credit("CO-DUE"))  # a Texas patient's credit found on the 20th of November: due in 30 days
    compliance = mem.signed_in("compliance@example.org")
    assert [r for r in console.compliance(mem.ports, compliance, TODAY).deadlines if r["account"] == "CO-DUE"] == []
    [near] = [r for r in console.compliance(mem.ports, compliance, date(2026, 12, 12)).deadlines
              if r["account"] == "CO-DUE"]
    assert near["due"] == "2026-12-20" and not near["overdue"]
    [late] = [r for r in console.compliance(mem.ports, compliance, date(2026, 12, 21)).deadlines
              if r["account"] == "CO-DUE"]
    assert late["overdue"]
    with pytest.raises(Forbidden):
        from creditrefunds.usecases.operations import retry_by
        retry_by(mem.ports, str(mem.case("CO-DUE")["case_id"]), compliance, datetime(2026, 11, 20))


def test_one_taker_and_only_the_taker_works_an_item(mem: MemoryCloud):
    rejected(mem, "CO-TAKER")
    first, second = mem.signed_in(BILLING), mem.signed_in(mem.user("billing2@example.org", "billing-staff").email)
    [row] = console.worklist(mem.ports, first, "due", "", False, TODAY).items
    with pytest.raises(Forbidden):
        worklist.done(mem.ports, row["item_id"], first, "fixed", mem.now)  # not taken yet
    worklist.take(mem.ports, row["item_id"], first, mem.now)
    with pytest.raises(LookupError):
        worklist.take(mem.ports, row["item_id"], second, mem.now)  # taken a moment ago
    with pytest.raises(Forbidden):
        worklist.done(mem.ports, row["item_id"], second, "fixed", mem.now)
    worklist.done(mem.ports, row["item_id"], first, "fixed", mem.now)


def test_an_item_planted_in_the_table_writes_nothing_into_a_case(mem: MemoryCloud):
    """A writer of the work items table names a case waiting for approval: taking it would put a record of
    the taker into that case's history (and make them unable to approve it)."""
    mem.drop(credit("CO-PLANT"))
    case = mem.case("CO-PLANT")
    planted = WorkItem.of(case["case_id"], "CO-PLANT", "lines", Decimal("50.00"), "call me", None, mem.now)
    mem.worklist.items[planted.item_id] = planted.to_item()
    before = len(mem.history.records(case["case_id"]))
    with pytest.raises(LookupError, match="not opened by the workflow"):
        worklist.take(mem.ports, planted.item_id, mem.signed_in(BILLING), mem.now)
    assert len(mem.history.records(case["case_id"])) == before


def test_who_worked_a_case_may_not_approve_it(mem: MemoryCloud):
    both = mem.user("both@example.org", "billing-staff", "approver-tier-1")
    mem.config.directory[1] = ["both@example.org"]
    mem.drop(credit("CO-BOTH"))
    case_id = str(mem.case("CO-BOTH")["case_id"])
    mem.history.append(mem.cases.get(case_id).case, Entry(both.actor, "WORKED", "AWAITING_APPROVAL",
                                                           "AWAITING_APPROVAL", "posted a transfer"), mem.now)
    [link] = mem.links("both@example.org", "CO-BOTH")
    page = mem.decide(link)
    assert page.status == 403 and "segregation of duties" in page.html


def test_views_narrowed_on_their_own_keys_and_by_kind(mem: MemoryCloud):
    for n, (paid, day) in enumerate([("150.00", "2026-11-09"), ("400.00", "2026-10-20"), ("120.00", "2026-11-15")]):
        mem.tick(days=10)
        rejected(mem, f"CO-N{n}", paid, day)
    billing, later = mem.signed_in(BILLING), date(2027, 1, 2)

    def accounts(view: str, **narrowing: object) -> list[str]:
        narrowed = Narrowed.of(view, later, **narrowing)  # type: ignore[arg-type]
        return [r["account"] for r in console.worklist(mem.ports, billing, view, "", False, later, narrowed).items]

    assert accounts("due", overdue=True) == ["CO-N0"]  # due 2026-12-30; the others in January
    assert accounts("amount", min_amount=Decimal("50.00")) == ["CO-N1", "CO-N0"]  # 300.00 and 50.00, not 20.00
    assert accounts("age", older_than_days=30) == ["CO-N0"]  # opened on the 30th of November
    assert accounts("due", kind="rejected") == ["CO-N0", "CO-N1", "CO-N2"] and accounts("due", kind="returns") == []
