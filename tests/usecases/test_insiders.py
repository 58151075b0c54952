"""Issue 28: whoever can write a table, without the use of a KMS key, cannot move money. Each test writes
the items an attacker would (the in-memory stores' items, shaped as the tables keep them) and looks at what
a person would: the AP file's rows, the case's status, the mail to operators."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, timedelta

from creditrefunds.domain.approvals import LinkState, Outcome
from creditrefunds.domain.history import record_hash
from creditrefunds.domain.ledger import parse_row
from creditrefunds.usecases import audit, operations
from creditrefunds.usecases.seal import seal_history

from tests.memory.cloud import OPERATORS, MemoryCloud

TIER1, TIER3 = "tier1.approver@example.org", "tier3.approver@example.org"


def credit(mem: MemoryCloud, account: str, paid: str = "-190.00", charge: str = "100.00") -> None:
    mem.drop([f"{account}-1,{account},P-{account},G-{account},CHARGE,{charge},2026-11-02,,,,,,,TX",
              f"{account}-2,{account},P-{account},G-{account},PAYMENT,{paid},2026-11-09,PATIENT,,,CHK-1,,,TX"])


def paid(mem: MemoryCloud) -> list[tuple[str, str]]:
    return sorted((r["payee_id"], r["amount"]) for r in mem.bucket.ap_rows())


def told_operators(mem: MemoryCloud, what: str) -> bool:
    return any(what in m.subject + m.text for m in mem.mailer.to(OPERATORS))


def test_a_planted_instruction_at_the_issue_steps_key_pays_nothing_and_stops_the_case(mem: MemoryCloud):
    credit(mem, "IN-PLANT")
    case = mem.case("IN-PLANT")
    [link] = mem.links(TIER1, "IN-PLANT")
    mem.refund_book.items[f"{case['case_id']}#0"] = {  # what the issue step would write, payee the attacker's
        "instruction_id": f"{case['case_id']}#0", "issued_on": "2026-11-20", "case_id": case["case_id"],
        "account_id": "IN-PLANT", "payee_type": "PATIENT", "payee_id": "ATTACKER", "amount": "2500.00",
        "method": "check", "reason": "PATIENT_OVERPAYMENT", "claim_id": "", "target_account_id": "",
        "due_date": "", "line": 0, "action": "REFUND", "ledger_at_issue": []}
    assert mem.decide(link).status == 200
    assert paid(mem) == []
    assert mem.case("IN-PLANT")["status"] == "FAILED" and told_operators(mem, "Tampered")


def test_the_ap_file_lists_only_instructions_the_issue_step_wrote(mem: MemoryCloud):
    credit(mem, "IN-BOOK")
    [link] = mem.links(TIER1, "IN-BOOK")
    assert mem.decide(link).status == 200
    assert paid(mem) == [("G-IN-BOOK", "90.00")]
    [issued] = [i for i in mem.refund_book.items.values() if i["account_id"] == "IN-BOOK"]
    issued["payee_id"] = "ATTACKER"  # the payee changed on the issued instruction
    mem.refund_book.items["NOCASE#0"] = {**issued, "instruction_id": "NOCASE#0", "case_id": "NOCASE",
                                         "amount": "9999.99"}  # an invented one, for no case
    credit(mem, "IN-BOOK2", paid="-150.00")  # the next refund of the day: a file of its own
    [link] = mem.links(TIER1, "IN-BOOK2")
    assert mem.decide(link).status == 200
    # The first file is as it was written (never rewritten); neither the changed row nor the invented one.
    assert paid(mem) == [("G-IN-BOOK", "90.00"), ("G-IN-BOOK2", "50.00")]
    found = audit.verify_all(mem.cases, mem.history, mem.trusted.refund_book, mem.seals,
                             [mem.case("IN-BOOK")["case_id"]], mem.trusted.transactions)
    assert not found.whole and "no valid MAC" in str(found.cases[0].breaks)
    # `report stuck` lists it, and the sweeper stops the case for a person (FAILED, operators told).
    [stuck] = operations.find_stuck(mem.ports, mem.now + timedelta(hours=1), timedelta(0))
    assert stuck.case_id == mem.case("IN-BOOK")["case_id"] and "no valid MAC" in stuck.problem
    operations.sweep(mem.ports, OPERATORS, mem.now + timedelta(hours=1), timedelta(0))
    assert mem.case("IN-BOOK")["status"] == "FAILED" and told_operators(mem, "Tampered")
    # Once FAILED, the sweeper leaves it to a person, and `report stuck` still lists it, with its error.
    later = mem.now + timedelta(hours=2)
    assert operations.find_stuck(mem.ports, later, timedelta(0)) == []
    [listed] = operations.find_stuck(mem.ports, later, timedelta(0), failed=True)
    assert listed.case_id == mem.case("IN-BOOK")["case_id"] and "Tampered" in listed.problem
    # Whoever can write the bucket adds a row to an AP file: every version of every one is held to the book.
    [key] = [k for k in mem.bucket.keys("outbound/refunds/") if mem.case("IN-BOOK2")["case_id"] in k]
    mem.bucket.put_text(key, mem.bucket.text(key) + "X#0,2026-11-20,X,X,PATIENT,ATTACKER,700.00,check,,,,\n")
    found = audit.verify_all(mem.cases, mem.history, mem.trusted.refund_book, mem.seals, bucket=mem.bucket)
    assert any("instruction 'X#0' pays 700.00 to PATIENT ATTACKER" in p for p in found.paid_problems)
    assert any("NOCASE#0 of 9999.99 to PATIENT names case NOCASE, which is not stored" in p
               for p in found.paid_problems)
    # IN-BOOK's file lists its row as issued, which the book no longer vouches for (changed since); the second
    # version of IN-BOOK2's adds X#0.
    assert len(found.paid_problems) == 3, found.paid_problems  # and the invented instruction


@contextmanager
def rejected_in_flight(mem: MemoryCloud, account: str) -> Iterator[dict]:
    """An approver rejects the account's credit; the link's item as it stands before the workflow takes the
    decision, which it does once the block ends."""
    credit(mem, account)
    [link] = mem.links(TIER1, account)
    with mem.paused():
        assert mem.decide(link, "reject", reason="not ours").status == 200
        [item] = [i for i in mem.approvals.items.values() if i["state"] == LinkState.DECIDING]
        yield item
    mem.run()


def test_a_rejection_changed_to_an_approval_in_the_table_issues_nothing(mem: MemoryCloud):
    with rejected_in_flight(mem, "IN-FLIP") as item:
        item["decision"] = Outcome.APPROVED  # before the workflow takes it
    assert paid(mem) == []
    assert mem.case("IN-FLIP")["status"] == "FAILED" and told_operators(mem, "Tampered")
    assert "DECIDED" not in mem.actions(mem.case("IN-FLIP")["case_id"])


def test_dual_control_is_not_met_by_a_forged_approval_of_the_deputy(mem: MemoryCloud):
    credit(mem, "IN-DUAL", paid="-12100.00")
    [link] = mem.links(TIER3, "IN-DUAL")
    case = mem.case("IN-DUAL")
    [real] = [i for i in mem.approvals.items.values() if i["case_id"] == case["case_id"]]
    mem.approvals.items["f" * 64] = {**real, "approval_key": "f" * 64, "approver": "deputy@example.org",
                                     "state": LinkState.USED, "decision": Outcome.APPROVED,
                                     "created_at": "2026-11-20T08:00:00+00:00"}
    page = mem.decide(link)
    assert page.status == 409 and "Nothing was decided" in page.html
    mem.time_out(case["case_id"])  # its wait runs out: the next step meets the forged item and stops
    assert paid(mem) == []
    assert mem.case("IN-DUAL")["status"] == "FAILED" and told_operators(mem, "Tampered")


def test_a_forged_ledger_row_moves_no_money(mem: MemoryCloud):
    credit(mem, "IN-LEDGER", paid="-100.00")  # settled: no credit
    assert mem.links(TIER1, "IN-LEDGER") == []
    forged = parse_row({"txn_id": "IN-LEDGER-X", "account_id": "IN-LEDGER", "patient_id": "P-IN-LEDGER",
                        "guarantor_id": "ATTACKER", "txn_type": "PAYMENT", "amount": "-5000.00",
                        "posting_date": "2026-11-10", "payer_type": "PATIENT"}, id_max_length=None)
    mem.transactions.rows["IN-LEDGER"]["IN-LEDGER-X"] = forged
    mem.drop(["IN-LEDGER-3,IN-LEDGER,P-IN-LEDGER,G-IN-LEDGER,CHARGE,10.00,2026-11-12,,,,,,,TX"])  # routine
    assert mem.links(TIER1, "IN-LEDGER") == [] and paid(mem) == []
    assert mem.ports.store["transactions"].rows and mem.trusted.transactions.forged("IN-LEDGER") == ["IN-LEDGER-X"]


def test_a_forged_return_match_does_not_close_the_case_or_pay_twice(mem: MemoryCloud):
    credit(mem, "IN-RET", paid="-180.00")
    [link] = mem.links(TIER1, "IN-RET")
    assert mem.decide(link).status == 200
    [issued] = [i for i in mem.refund_book.items.values() if i["account_id"] == "IN-RET"]
    issued.update(returned_by="IN-RET-FAKE", returned_on="2026-11-21")  # as if the refund had come back
    mem.drop(["IN-RET-3,IN-RET,P-IN-RET,G-IN-RET,CHARGE,0.00,2026-11-21,,,,,,,TX"])  # the next file
    assert mem.case("IN-RET")["status"] == "REFUND_ISSUED"
    assert paid(mem) == [("G-IN-RET", "80.00")]  # once
    mem.drop([f"IN-RET-9,IN-RET,P-IN-RET,G-IN-RET,REFUND,80.00,{date(2026, 11, 22)},PATIENT,,,,,,TX"])
    assert mem.case("IN-RET")["status"] == "RECONCILED"  # the real row still reconciles it


def test_a_chain_rewritten_consistently_is_refused_by_the_next_seal_not_laundered(mem: MemoryCloud):
    for account in ("IN-SEAL", "IN-GONE"):
        credit(mem, account)
        [link] = mem.links(TIER1, account)
        assert mem.decide(link).status == 200
    first = seal_history(mem.ports, mem.now, OPERATORS)
    assert first["refused"] == []
    case_id, gone = mem.case("IN-SEAL")["case_id"], mem.case("IN-GONE")["case_id"]
    chain = mem.history.chains[case_id]  # an extra DECIDED record, the chain re-hashed, the head moved
    extra = {**chain[2], "actor": "someone.else@example.org"}
    chain.insert(3, extra)
    previous = None
    for seq, record in enumerate(chain, start=1):
        record.update(seq=seq, prev_hash=previous["hash"] if previous else record["prev_hash"])
        record["hash"] = record_hash(record)
        previous = record
    mem.cases.items[case_id].update(history_seq=len(chain), history_hash=previous["hash"])
    del mem.cases.items[gone]  # an issued case deleted
    mem.tick(hours=1)
    second = seal_history(mem.ports, mem.now, OPERATORS)
    assert sorted(second["refused"]) == sorted([case_id, gone])
    assert told_operators(mem, "History changed under the seal")
    mem.tick(hours=1)
    seal_history(mem.ports, mem.now, OPERATORS)  # and again: still refused, not laundered
    found = audit.verify_all(mem.cases, mem.history, mem.trusted.refund_book, mem.seals)
    broken = [str(b) for v in found.cases for b in v.breaks] + found.seal_problems
    assert any(f"case {case_id}: record 7: is not the record that was sealed" in b for b in broken), broken
    assert any(f"case {gone}: the chain: was sealed with" in b for b in broken), broken
    assert any(b.startswith("seal ") and f"refused case {case_id}" in b for b in broken), broken
    assert sum("History changed under the seal" in m.subject for m in mem.mailer.to(OPERATORS)) == 1


def test_genuine_rows_copied_into_another_account_are_not_that_accounts(mem: MemoryCloud):
    credit(mem, "IN-VICTIM")
    mem.drop(["IN-ATT-1,IN-ATT,P-IN-ATT,G-ATT,CHARGE,1.00,2026-11-20,,,,,,,TX",
              "IN-ATT-2,IN-ATT,P-IN-ATT,G-ATT,PAYMENT,-1.00,2026-11-20,PATIENT,,,,,,TX"])
    ledger = mem.transactions
    for txn_id in ("IN-ATT-1", "IN-ATT-2"):  # as stored, with their manifest and path, under the victim
        ledger.rows["IN-VICTIM"][txn_id] = ledger.rows["IN-ATT"][txn_id]
        ledger.vouched[("IN-VICTIM", txn_id)] = ledger.vouched[("IN-ATT", txn_id)]
    [link] = mem.links(TIER1, "IN-VICTIM")
    mem.decide(link)
    assert paid(mem) == [] and mem.case("IN-VICTIM")["status"] == "FAILED"


def test_a_changed_instruction_stops_its_account_not_the_file(mem: MemoryCloud):
    credit(mem, "IN-STOP")
    [link] = mem.links(TIER1, "IN-STOP")
    assert mem.decide(link).status == 200
    [issued] = [i for i in mem.refund_book.items.values() if i["account_id"] == "IN-STOP"]
    issued["reason"] = "SOMETHING_ELSE"
    mem.refund_book.items["JUNK#0"] = {"instruction_id": "JUNK#0", "issued_on": "2026-11-20"}  # unreadable
    mem.drop(["IN-STOP-3,IN-STOP,P-IN-STOP,G-IN-STOP,CHARGE,1.00,2026-11-20,,,,,,,TX",
              "IN-NEXT-1,IN-NEXT,P-IN-NEXT,G-IN-NEXT,CHARGE,100.00,2026-11-02,,,,,,,TX",
              "IN-NEXT-2,IN-NEXT,P-IN-NEXT,G-IN-NEXT,PAYMENT,-160.00,2026-11-09,PATIENT,,,,,,TX"])
    [link] = mem.links(TIER1, "IN-NEXT")  # the file's other account is worked
    assert mem.decide(link).status == 200
    # The new refund's file is written; IN-STOP's, written when its instruction was whole, is as it was, and no
    # file was made of the unreadable item or the changed instruction.
    assert paid(mem) == [("G-IN-NEXT", "60.00"), ("G-IN-STOP", "90.00")]
    assert [row["reason"] for row in mem.bucket.ap_rows() if row["payee_id"] == "G-IN-STOP"] == ["PATIENT_OVERPAYMENT"]


def test_a_rejection_erased_from_the_table_stops_the_case(mem: MemoryCloud):
    with rejected_in_flight(mem, "IN-ERASE") as item:
        for name in ("decision", "reason", "decided_at", "decided_from", "decision_mac"):
            item.pop(name)
        item["state"] = LinkState.SUPERSEDED
    assert paid(mem) == [] and mem.case("IN-ERASE")["status"] == "FAILED" and told_operators(mem, "Tampered")


def test_a_snapshot_changed_in_the_table_is_not_shown_to_the_approver(mem: MemoryCloud):
    credit(mem, "IN-SHOWN")
    [link] = mem.links(TIER1, "IN-SHOWN")
    [item] = [i for i in mem.approvals.items.values() if i["state"] == LinkState.PENDING
              and i["snapshot"]["account_id"] == "IN-SHOWN"]
    item["snapshot"]["masked_name"] = "S***** J***"
    assert mem.show(link).status == 409 and mem.decide(link).status == 409
