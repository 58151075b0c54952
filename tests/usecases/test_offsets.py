"""A debit is offset once (DOMAIN §4), over the real use-cases: one guarantor owes 100.00 on account D and
has two other accounts in credit. Whether both credits come in one file or in two, whichever case is
reviewed or approved first, D receives at most the 100.00 it owes; the rest goes to the guarantor."""

from __future__ import annotations

from collections import Counter
from decimal import Decimal

from tests.memory.cloud import MemoryCloud

TIER1 = "tier1.approver@example.org"


def debt(account: str = "OF-D", owed: str = "100.00") -> list[str]:
    return [f"{account}-1,{account},P-OF,G-OF,CHARGE,{owed},2026-10-01,,,,,,,NY"]


def credit(account: str, amount: str, day: str = "2026-11-02") -> list[str]:
    """A patient who paid `amount` more than the 20.00 charged on `account`."""
    paid = Decimal(amount) + 20
    return [f"{account}-1,{account},P-OF,G-OF,CHARGE,20.00,{day},,,,,,,NY",
            f"{account}-2,{account},P-OF,G-OF,PAYMENT,-{paid:.2f},{day},PATIENT,,,CHK-{account},,,NY"]


def lines(mem: MemoryCloud, account: str) -> list[tuple[str, str, str | None]]:
    return [(li["action"], li["amount"], li.get("target_account_id")) for li in mem.case(account)["lines"]]


def approve_all(mem: MemoryCloud) -> None:
    for link in mem.links(TIER1):
        if mem.show(link).status == 200:
            mem.decide(link)


def into(mem: MemoryCloud) -> Counter[str]:
    """What the AP files move into each account by offset."""
    moved: Counter[str] = Counter()
    for row in mem.bucket.ap_rows():
        if row["target_account_id"]:
            moved[row["target_account_id"]] += Decimal(row["amount"])
    return moved


def test_two_credits_in_one_file_offset_the_debt_once(mem: MemoryCloud):
    mem.drop(debt() + credit("OF-A", "130.00") + credit("OF-B", "130.00"))
    assert lines(mem, "OF-A") == [("OFFSET", "100.00", "OF-D"), ("REFUND", "30.00", None)]
    assert lines(mem, "OF-B") == [("REFUND", "130.00", None)]
    approve_all(mem)
    assert into(mem) == {"OF-D": Decimal("100.00")}
    assert sorted((r["account_id"], r["amount"]) for r in mem.bucket.ap_rows()) == [
        ("OF-A", "100.00"), ("OF-A", "30.00"), ("OF-B", "130.00")]


def test_a_second_credit_in_a_later_file_finds_the_debt_already_promised(mem: MemoryCloud):
    mem.drop(debt() + credit("OF-A", "130.00"))
    assert lines(mem, "OF-A") == [("OFFSET", "100.00", "OF-D"), ("REFUND", "30.00", None)]
    # B's credit comes while A still waits for approval: A's promise stands, whichever is reviewed first.
    mem.drop(credit("OF-B", "130.00", day="2026-11-10"))
    assert lines(mem, "OF-B") == [("REFUND", "130.00", None)]
    approve_all(mem)
    assert into(mem) == {"OF-D": Decimal("100.00")}
    # A third credit after A's offset was issued and before it is posted back: still nothing for D.
    mem.drop(credit("OF-C", "50.00", day="2026-11-20"))
    assert lines(mem, "OF-C") == [("REFUND", "50.00", None)]
    approve_all(mem)
    assert into(mem) == {"OF-D": Decimal("100.00")}


def test_credits_no_larger_than_the_debt_share_it_once(mem: MemoryCloud):
    mem.drop(debt() + credit("OF-A", "60.00"))
    assert lines(mem, "OF-A") == [("OFFSET", "60.00", "OF-D")]
    assert mem.case("OF-A")["status"] == "WORK_ITEM"  # an offset only: billing staff transfer it
    mem.drop(credit("OF-B", "60.00", day="2026-11-10"))
    assert lines(mem, "OF-B") == [("OFFSET", "40.00", "OF-D"), ("REFUND", "20.00", None)]
    approve_all(mem)
    assert into(mem) == {"OF-D": Decimal("40.00")}  # the work item's 60.00 is billing's transfer, not the AP's


def test_an_offset_posted_back_leaves_the_debt_to_the_ledger(mem: MemoryCloud):
    mem.drop(debt() + credit("OF-A", "130.00"))
    approve_all(mem)
    assert into(mem) == {"OF-D": Decimal("100.00")}
    [offset] = [i for i in mem.trusted.refund_book.of_account("OF-A") if i.target]
    # The billing system posts the transfer (out of A, into D), and D is charged 50.00 more: D owes 50.00 now.
    mem.drop([f"OF-A-3,OF-A,P-OF,G-OF,TRANSFER,100.00,2026-11-25,PATIENT,,,{offset.instruction_id},,,NY",
              f"OF-D-2,OF-D,P-OF,G-OF,TRANSFER,-100.00,2026-11-25,PATIENT,,,{offset.instruction_id},,,NY",
              "OF-D-3,OF-D,P-OF,G-OF,CHARGE,50.00,2026-11-25,,,,,,,NY"])
    mem.drop(credit("OF-B", "80.00", day="2026-11-26"))
    assert lines(mem, "OF-B") == [("OFFSET", "50.00", "OF-D"), ("REFUND", "30.00", None)]


def test_audit_verify_names_a_debit_offset_twice(mem: MemoryCloud, monkeypatch):
    """The bug as it was (no case saw another's promise): `refunds audit verify` names the debit."""
    from creditrefunds.usecases import audit, offsets

    monkeypatch.setattr(offsets, "promised_offsets", lambda ports, accounts, debits: offsets.Promised())
    mem.drop(debt() + credit("OF-A", "130.00"))
    approve_all(mem)
    mem.drop(credit("OF-B", "130.00", day="2026-11-10"))
    approve_all(mem)
    assert into(mem) == {"OF-D": Decimal("200.00")}
    found = audit.verify_all(mem.cases, mem.history, mem.trusted.refund_book, mem.seals, None,
                             mem.trusted.transactions)
    [twice] = found.over_offsets
    assert (twice.account_id, twice.received, twice.over) == ("OF-D", Decimal("200.00"), Decimal("100.00"))
    assert not found.whole and found.exposures == []


def issued_offset(mem: MemoryCloud) -> str:
    """D owes 100.00; A's 130.00 credit is approved: OFFSET 100.00 into D issued. Its instruction id."""
    mem.drop(debt() + credit("OF-A", "130.00"))
    approve_all(mem)
    [offset] = [i for i in mem.trusted.refund_book.of_account("OF-A") if i.target]
    return offset.instruction_id


def test_an_offset_counts_until_the_debit_s_own_ledger_shows_it_arrived(mem: MemoryCloud):
    iid = issued_offset(mem)
    # Only the leg out of A posts: A's instruction is back, but nothing has reached D yet.
    mem.drop([f"OF-A-3,OF-A,P-OF,G-OF,TRANSFER,100.00,2026-11-25,PATIENT,,,{iid},,,NY"])
    mem.drop(credit("OF-B", "130.00", day="2026-11-26"))
    assert lines(mem, "OF-B") == [("REFUND", "130.00", None)]


def test_an_offset_that_arrived_first_in_the_debit_is_not_counted_twice(mem: MemoryCloud):
    iid = issued_offset(mem)
    # The leg into D posts first, and D is charged 50.00 more: D owes 50.00, nothing of it promised.
    mem.drop([f"OF-D-2,OF-D,P-OF,G-OF,TRANSFER,-100.00,2026-11-25,PATIENT,,,{iid},,,NY",
              "OF-D-3,OF-D,P-OF,G-OF,CHARGE,50.00,2026-11-25,,,,,,,NY"])
    mem.drop(credit("OF-B", "80.00", day="2026-11-26"))
    assert lines(mem, "OF-B") == [("OFFSET", "50.00", "OF-D"), ("REFUND", "30.00", None)]


def test_an_offset_in_flight_counts_after_the_debit_moves_to_another_guarantor(mem: MemoryCloud):
    issued_offset(mem)
    # D's rows now name G-2, and G-2's account B comes into credit.
    mem.drop(["OF-D-2,OF-D,P-OF,G-2,CHARGE,0.01,2026-11-25,,,,,,,NY",
              "OF-D-3,OF-D,P-OF,G-2,ADJUSTMENT,-0.01,2026-11-25,PATIENT,,,,,,NY"])
    mem.drop([row.replace("G-OF", "G-2") for row in credit("OF-B", "130.00", day="2026-11-26")])
    assert lines(mem, "OF-B") == [("REFUND", "130.00", None)]
