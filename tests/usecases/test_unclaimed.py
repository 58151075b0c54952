"""Unclaimed property and letters (issue 34), over the real use-cases in memory: the letters a refund sends at
issue, the check register, four years of an uncashed check on its way to Texas, the state report, a reissue
that needs a second person, and every letter written again with the SHA-256 its record holds."""

from __future__ import annotations

import hashlib
import io
import json
from datetime import date

import pytest
from creditrefunds.domain.identity import BILLING
from creditrefunds.domain.pages import console_page
from creditrefunds.usecases import audit, console, escheat
from creditrefunds.usecases.checks import NotAllowed, address_seen, ask_reissue, confirm_reissue, owner_answered
from creditrefunds.usecases.letters import drafts, rewrite
from pypdf import PdfReader

from tests.memory.cloud import COMPLIANCE, MemoryCloud
from tests.naupa_check import problems

from .test_one_refund import approve_and_issue
from .test_workflow_paths import TIER1

REGISTER = "instruction_id,check_number,amount,status,status_date\n"
HEADER = ("txn_id,account_id,patient_id,guarantor_id,txn_type,amount,posting_date,payer_type,payer_id,coverage_rank,"
          "reference,claim_id,service_date,mbi,patient_name,patient_state\n")


def patient(account: str, name: str, state: str = "TX") -> list[str]:
    """A patient who paid 50.00 more than the visit's charge (a refund by check to the guarantor)."""
    return [f'{account}-1,{account},P-{account},G-{account},CHARGE,100.00,2026-11-01,,,,,,2026-10-28,,"{name}",{state}',
            f'{account}-2,{account},P-{account},G-{account},PAYMENT,-150.00,2026-11-05,PATIENT,,,CHK-1,,2026-10-28,,'
            f'"{name}",{state}']


def issued(mem: MemoryCloud, account: str, name: str, state: str = "TX") -> str:
    mem.drop(patient(account, name, state), header=HEADER)
    return f"{approve_and_issue(mem, account)['case_id']}#0"


def text(data: bytes) -> str:
    return "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(data)).pages)


def records(mem: MemoryCloud, iid: str, action: str | None = None) -> list[dict]:
    case_id = iid.split("#")[0]
    return [r for r in mem.history.records(case_id) if r.get("instruction_id") == iid
            and (action is None or r["action"] == action)]


def letter_of(mem: MemoryCloud, record: dict) -> tuple[str, bytes]:
    facts = json.loads(record["evidence"])
    data = mem.bucket.objects[facts["key"]]
    assert hashlib.sha256(data).hexdigest() == facts["sha256"]  # the history lists the letter as kept
    return facts["key"], data


def drop_register(mem: MemoryCloud, *rows: str) -> dict:
    return mem.drop(list(rows), name=f"ap-checks-{mem.drops}.csv", header=REGISTER)


def test_a_patients_refund_is_issued_with_its_notice_naming_only_that_patient(mem: MemoryCloud):
    iid = issued(mem, "UP-NOTE", "Nguyễn, Thị Hồng")
    issued(mem, "UP-OTHER", "Zoë Ångström")
    [record] = records(mem, iid, "LETTER_WRITTEN")
    key, data = letter_of(mem, record)
    assert key == f"letters/{iid.split('#')[0]}/patient-notice-line0.pdf"
    shown = text(data)
    for expected in ("Nguyễn, Thị Hồng", "50.00", "UP-NOTE", "2026-10-28", "Example Community Hospital"):
        assert expected in shown
    assert "Ångström" not in shown and "UP-OTHER" not in shown


def test_each_payer_letter_names_that_payers_claims_and_medicares_carries_the_refund_forms_fields(mem: MemoryCloud):
    rows = ["UP-MED-1,UP-MED,P-M,P-M,CHARGE,100.00,2026-11-01,,,,,,2026-10-20,,\"Doe, Jan\",TX",
            "UP-MED-2,UP-MED,P-M,P-M,PAYMENT,-100.00,2026-11-03,MEDICARE,MCR,1,EFT-1,ICN-111,2026-10-20,1EG4TE5MK73,"
            "\"Doe, Jan\",TX",
            "UP-MED-3,UP-MED,P-M,P-M,PAYMENT,-100.00,2026-11-09,MEDICARE,MCR,1,EFT-2,ICN-111,2026-10-20,1EG4TE5MK73,"
            "\"Doe, Jan\",TX",
            "UP-MED-4,UP-MED,P-M,P-M,PAYMENT,-20.00,2026-11-10,COMMERCIAL,BCBS,2,EFT-9,BC-999,2026-10-20,,"
            "\"Doe, Jan\",TX"]
    mem.drop(rows, header=HEADER)
    case = approve_and_issue(mem, "UP-MED")
    letters = {}
    for line in range(len(case["lines"])):
        for record in records(mem, f"{case['case_id']}#{line}", "LETTER_WRITTEN"):
            letters[case["lines"][line]["payee_type"]] = text(letter_of(mem, record)[1])
    medicare, bcbs = letters["MEDICARE"], letters["COMMERCIAL"]
    for expected in ("Voluntary refund: Medicare", "ICN-111", "1EG4TE5MK73", "100.00", "1234567893",
                     "Duplicate payment", "CMS-838 reason code", "Doe, Jan"):
        assert expected in medicare
    assert "BC-999" not in medicare and "BCBS" not in medicare
    assert "BC-999" in bcbs and "20.00" in bcbs
    assert "ICN-111" not in bcbs and "1EG4TE5MK73" not in bcbs


def test_a_check_register_is_recorded_once_and_its_bad_rows_kept_with_their_reasons(mem: MemoryCloud):
    iid = issued(mem, "UP-REG", "Rivera, Ana")
    summary = drop_register(mem, f"{iid},100200,50.00,ISSUED,2026-11-20", f"{iid},100200,51.00,CLEARED,2026-11-30",
                            "CB-NOPE#0,100300,10.00,ISSUED,2026-11-20", f"{iid},100200,50.00,SHREDDED,2026-11-30",
                            f"{iid},100999,50.00,ISSUED,2026-11-30")
    assert (summary["recorded"], summary["rejected"]) == (1, 4)
    again = drop_register(mem, f"{iid},100200,50.00,ISSUED,2026-11-20")
    assert (again["recorded"], again["repeated"]) == (0, 1)
    [record] = records(mem, iid, "CHECK_STATUS")
    assert record["reason"] == "check 100200 ISSUED on 2026-11-20"
    [errors] = [k for k in mem.bucket.keys("rejected/ap-checks-") if k.endswith("errors.jsonl")]
    rejected = [json.loads(x) for x in mem.bucket.text(errors).splitlines()]
    assert [(r["line"], r["field"]) for r in rejected] == [(3, "amount"), (4, "instruction_id"), (5, "status"),
                                                          (6, "check_number")]
    assert "no confirmed reissue" not in rejected[3]["reason"] and "0 confirmed reissue" in rejected[3]["reason"]
    assert "not the instruction's amount (50.00)" in rejected[0]["reason"]
    assert mem.bucket.keys("incoming/ap-checks-") == []  # retired, kept as the original


def test_a_tracked_refund_deleted_from_the_unclaimed_table_is_named_by_the_audit(mem: MemoryCloud):
    """A writer of the unclaimed table who deletes a refund's item stops its letters and its report to the state:
    the history still tells of its check, and the audit names the refund until the register tracks it again."""
    iid = issued(mem, "UP-DEL", "Rivera, Ana")
    drop_register(mem, f"{iid},100200,50.00,RETURNED_MAIL,2026-11-20")
    assert audit.verify_all(mem.cases, mem.history, mem.trusted.refund_book, mem.seals, unclaimed=mem.unclaimed).whole
    del mem.unclaimed.items[iid]
    assert [t.instruction.instruction_id for t in escheat.tracked(mem.ports, date(2031, 1, 1))] == []
    found = audit.verify_all(mem.cases, mem.history, mem.trusted.refund_book, mem.seals, unclaimed=mem.unclaimed)
    assert not found.whole and len(found.untracked) == 1
    assert iid in found.untracked[0] and "does not track it" in found.untracked[0]
    drop_register(mem, f"{iid},100200,50.00,RETURNED_MAIL,2026-11-20")  # the same row again: tracked, not recorded
    assert len(records(mem, iid, "CHECK_STATUS")) == 1
    assert audit.verify_all(mem.cases, mem.history, mem.trusted.refund_book, mem.seals, unclaimed=mem.unclaimed).whole


def test_a_voided_check_reversed_into_the_account_leaves_the_states_path_and_is_a_credit_again(mem: MemoryCloud):
    """Accounts payable void a stale check and the billing system reverses the refund row: the money is back on
    the account. Detection finds the credit again (a new case asks for approval); the old refund leaves the
    state's path, so the same money is never both refunded again and reported."""
    iid = issued(mem, "UP-REV", "Rivera, Ana")
    row = '"Rivera, Ana",TX'
    mem.drop([f"UP-REV-5,UP-REV,P-UP-REV,G-UP-REV,REFUND,50.00,2026-11-21,PATIENT,,,100200,,,,{row},"],
             header=HEADER.rstrip() + ",reversal_of\n")
    drop_register(mem, f"{iid},100200,50.00,ISSUED,2026-11-20", f"{iid},100200,50.00,VOIDED,2027-06-01")
    assert escheat.advance(mem.ports, date(2027, 6, 2), mem.now, COMPLIANCE).written == [f"{iid} CHECK_STALE"]
    mem.drop([f"UP-REV-6,UP-REV,P-UP-REV,G-UP-REV,REVERSAL,-50.00,2027-06-03,PATIENT,,,100200,,,,{row},UP-REV-5"],
             header=HEADER.rstrip() + ",reversal_of\n")
    assert sorted((s.status.value, str(s.case.refund_total)) for s in mem.cases.of_account("UP-REV")) == [
        ("AWAITING_APPROVAL", "50.00"), ("RECONCILED", "50.00")]  # the credit again: a new case

    moved = escheat.advance(mem.ports, date(2027, 6, 4), mem.now, COMPLIANCE)
    assert moved.written == [f"{iid} REFUND_REVERSED"]
    [back] = records(mem, iid, "REFUND_REVERSED")
    assert "reversed by ledger row UP-REV-6 on 2027-06-03" in back["reason"]
    later = escheat.advance(mem.ports, date(2030, 6, 1), mem.now, COMPLIANCE)  # years on: no letter, no report
    assert later.written == [] and later.letters == [] and later.due == []
    [path] = [t.path for t in escheat.tracked(mem.ports, date(2030, 6, 1))]
    assert path.stage == "REVERSED" and "back on account UP-REV" in path.notes[0]
    assert escheat.state_report(mem.ports, "TX", date(2030, 6, 30))[1] == []
    mem.tick(days=(date(2027, 6, 4) - mem.now.date()).days)
    with pytest.raises(NotAllowed, match="is REVERSED: nothing to reissue"):  # the money is the new case's
        ask_reissue(mem.ports, iid, {"line1": "1 Elm St", "city": "Austin", "state": "TX", "zip": "78701"},
                    mem.signed_in("billing@example.org"), mem.now)


def test_a_reported_refund_reversed_onto_its_account_stays_the_states_and_compliance_is_told(mem: MemoryCloud):
    """The report named the refund; then the billing system reverses its refund row, without the remittance's
    adjustment: the credit is back on the account and a new case asks for its approval. The money is the state's:
    the path stays REPORTED, the history says so once, and the compliance officer is told not to refund it."""
    iid = issued(mem, "UP-RR", "Rivera, Ana")
    rows = HEADER.rstrip() + ",reversal_of\n"
    mem.drop(['UP-RR-5,UP-RR,P-UP-RR,G-UP-RR,REFUND,50.00,2026-11-21,PATIENT,,,100200,,,,"Rivera, Ana",TX,'],
             header=rows)
    drop_register(mem, f"{iid},100200,50.00,ISSUED,2026-11-20")
    assert len(escheat.advance(mem.ports, date(2030, 3, 10), mem.now, COMPLIANCE).reportable) == 1
    data, named = escheat.state_report(mem.ports, "TX", date(2030, 6, 30))
    escheat.record_report(mem.ports, "TX", date(2030, 6, 30), data, named, mem.now, "operator:me")
    mem.drop(['UP-RR-8,UP-RR,P-UP-RR,G-UP-RR,REVERSAL,-50.00,2030-07-15,PATIENT,,,100200,,,,"Rivera, Ana",TX,UP-RR-5'],
             header=rows)
    assert sorted(s.status.value for s in mem.cases.of_account("UP-RR")) == ["AWAITING_APPROVAL", "RECONCILED"]

    moved = escheat.advance(mem.ports, date(2030, 7, 16), mem.now, COMPLIANCE)
    assert moved.written == [f"{iid} REFUND_REVERSED"] and [p.instruction_id for p in moved.reported_reversed] == [iid]
    told = [m for m in mem.mailer.to(COMPLIANCE) if m.subject.startswith("Unclaimed property")][-1]
    assert "1 reported and reversed" in told.subject and "do not approve a refund of it" in told.text
    assert iid in told.text and "Rivera" not in told.text
    [back] = records(mem, iid, "REFUND_REVERSED")
    assert "after a report named it: the credit is the state's" in back["reason"]
    [path] = [t.path for t in escheat.tracked(mem.ports, date(2030, 7, 16))]
    assert path.stage == "REPORTED" and "to remit, not to refund" in path.notes[-1]
    assert escheat.advance(mem.ports, date(2030, 7, 17), mem.now, COMPLIANCE).written == []  # once


def test_four_years_of_an_uncashed_check_on_its_way_to_texas(mem: MemoryCloud):
    iid = issued(mem, "UP-TX", "Rivera, Ana")
    mem.drop(["UP-TX-5,UP-TX,P-UP-TX,G-UP-TX,REFUND,50.00,2026-11-21,PATIENT,,,100200,,,,\"Rivera, Ana\",TX"],
             header=HEADER)
    assert mem.case("UP-TX")["status"] == "RECONCILED"  # the check was cut: the refund row came back
    drop_register(mem, f"{iid},100200,50.00,ISSUED,2026-11-20")

    def advance(day: str) -> escheat.Advanced:
        return escheat.advance(mem.ports, date.fromisoformat(day), mem.now, COMPLIANCE)

    assert advance("2027-01-01").written == []
    assert advance("2027-06-01").written == [f"{iid} CHECK_STALE"]
    assert advance("2027-06-02").written == []  # each step once
    assert advance("2030-01-10").written == []  # dormant since 2029-11-20, its letter's window not yet open
    letters = advance("2030-03-10")
    assert [p.instruction_id for p in letters.letters] == [iid] == [p.instruction_id for p in letters.reportable]
    [letter] = [r for r in records(mem, iid, "LETTER_WRITTEN") if "due-diligence" in r["evidence"]]
    shown = text(letter_of(mem, letter)[1])
    assert "Rivera, Ana" in shown and "50.00" in shown and "State of TX" in shown and "2030-06-30" in shown
    told = [m for m in mem.mailer.to(COMPLIANCE) if m.subject.startswith("Unclaimed property")]
    assert len(told) == 1 and "report due 2030-07-01" in told[-1].text and "Rivera" not in told[-1].text
    assert advance("2030-03-11").written == []
    month_before = advance("2030-06-01")  # Texas's report is due 1 July: the compliance officer is reminded
    assert month_before.written == [] and [(d.state, d.due, d.count) for d in month_before.due] == [
        ("TX", date(2030, 7, 1), 1)]
    told = [m for m in mem.mailer.to(COMPLIANCE) if m.subject.startswith("Unclaimed property")]
    assert len(told) == 2 and "1 report(s) due" in told[-1].subject and "Rivera" not in told[-1].text
    assert "- TX: due 2030-07-01, in 30 day(s); 1 refund(s), 50.00" in told[-1].text
    assert advance("2030-06-02").due == []

    data, named = escheat.state_report(mem.ports, "TX", date(2030, 6, 30))
    assert problems(data) == [] and [t.instruction.instruction_id for t in named] == [iid]
    assert b"RIVERA" in data and b"0000005000" in data
    key = escheat.record_report(mem.ports, "TX", date(2030, 6, 30), data, named, mem.now, "operator:me")
    assert mem.bucket.objects[key] == data and key.startswith("outbound/escheat/TX/2030-06-30-")
    assert records(mem, iid, "ESCHEAT_REPORTED")[0]["actor"] == "operator:me"
    assert escheat.state_report(mem.ports, "TX", date(2030, 6, 30))[1] == []  # reported once
    assert advance("2030-07-01").due == []  # filed: no reminder on the day it was due
    assert escheat.state_report(mem.ports, "CA", date(2030, 6, 30))[1] == []

    # Accounts payable voids the check and remits it: the refund row reversed, the money moved to the state.
    mem.drop(["UP-TX-8,UP-TX,P-UP-TX,G-UP-TX,REVERSAL,-50.00,2030-07-15,PATIENT,,,,UP-TX-5,,TX",
              "UP-TX-9,UP-TX,P-UP-TX,G-UP-TX,ADJUSTMENT,50.00,2030-07-15,OTHER,UNCLAIMED-TX,100200,,,ESCHEAT,TX"],
             header="txn_id,account_id,patient_id,guarantor_id,txn_type,amount,posting_date,payer_type,payer_id,"
                    "reference,claim_id,reversal_of,adj_code,patient_state\n")
    assert advance("2030-07-20").written == [f"{iid} ESCHEAT_REMITTED"]
    [path] = [t.path for t in escheat.tracked(mem.ports, date(2030, 7, 20))]
    assert path.stage == "CLOSED"
    steps = [r["action"] for r in records(mem, iid)]
    assert steps == ["ISSUED", "LETTER_WRITTEN", "CHECK_STATUS", "CHECK_STALE", "LETTER_WRITTEN",
                     "ESCHEAT_REPORTABLE", "ESCHEAT_REPORTED", "ESCHEAT_REMITTED"]
    assert mem.case("UP-TX")["status"] == "RECONCILED" and len(mem.cases.of_account("UP-TX")) == 1


def test_a_reissue_to_a_corrected_address_is_given_by_one_person_and_confirmed_by_another(mem: MemoryCloud):
    iid = issued(mem, "UP-RE", "Rivera, Ana")
    billing, other_billing = mem.signed_in("billing@example.org"), mem.user("clerk@example.org", BILLING)
    address = {"line1": "12 Elm St", "city": "Dallas", "state": "TX", "zip": "75201"}
    with pytest.raises(NotAllowed, match="not a refund the check register told of"):
        ask_reissue(mem.ports, iid, address, billing, mem.now)
    drop_register(mem, f"{iid},100200,50.00,ISSUED,2026-11-20", f"{iid},100200,50.00,RETURNED_MAIL,2026-12-01")
    mem.tick(days=15)
    with pytest.raises(NotAllowed, match="billing staff"):
        ask_reissue(mem.ports, iid, address, mem.signed_in(TIER1), mem.now)
    ask_reissue(mem.ports, iid, address, billing, mem.now)
    assert mem.bucket.keys("outbound/reissues/") == []  # nothing goes out on one person's word
    seen = address_seen(address)  # what the confirmer's page showed
    with pytest.raises(NotAllowed, match="confirmed by the compliance officer or an approver"):
        confirm_reissue(mem.ports, iid, other_billing, mem.now, seen)
    both = mem.user("billing@example.org", "approver-tier-1")
    with pytest.raises(NotAllowed, match="who gave the address cannot confirm"):
        confirm_reissue(mem.ports, iid, both, mem.now, seen)
    swapped = {**address, "line1": "1 Clerk's Own Rd"}  # a writer of the table, after the confirmer looked
    mem.unclaimed.items[iid]["asked"] = swapped
    with pytest.raises(NotAllowed, match="not the one you were shown"):
        confirm_reissue(mem.ports, iid, mem.signed_in("compliance@example.org"), mem.now, seen)
    assert mem.bucket.keys("outbound/reissues/") == []
    mem.unclaimed.items[iid]["asked"] = address
    key = confirm_reissue(mem.ports, iid, mem.signed_in("compliance@example.org"), mem.now, seen)
    sent = json.loads(mem.bucket.text(key))
    assert (sent["address"], sent["amount"], sent["payee_id"], sent["reissue"]) == (address, "50.00", "G-UP-RE", 1)
    assert [r["action"] for r in records(mem, iid)][-2:] == ["REISSUE_ASKED", "REISSUED"]
    assert records(mem, iid, "REISSUED")[0]["actor"] == mem.people.by_email("compliance@example.org").actor
    ask_reissue(mem.ports, iid, address, billing, mem.now)
    with pytest.raises(NotAllowed, match="reissued 1 time"):
        confirm_reissue(mem.ports, iid, mem.signed_in("compliance@example.org"), mem.now, seen)


def test_an_owner_who_answers_leaves_the_states_path_and_is_paid_by_a_reissue(mem: MemoryCloud):
    iid = issued(mem, "UP-ANS", "Rivera, Ana")
    drop_register(mem, f"{iid},100200,50.00,ISSUED,2026-11-20", f"{iid},100200,50.00,VOIDED,2027-06-10")
    mem.tick(days=300)
    billing = mem.signed_in("billing@example.org")
    owner_answered(mem.ports, iid, date(2027, 9, 1), billing, mem.now)
    with pytest.raises(NotAllowed, match="ANSWERED"):
        owner_answered(mem.ports, iid, date(2027, 9, 2), billing, mem.now)
    [t] = escheat.tracked(mem.ports, date(2031, 1, 1))
    assert t.path.stage == "ANSWERED" and t.path.next_step.startswith("pay the owner")
    assert escheat.state_report(mem.ports, "TX", date(2031, 1, 1))[1] == []
    rows = console.unclaimed(mem.ports, billing, mem.now.date())  # the console offers the reissue, not a 2nd answer
    shown = console_page("unclaimed.html", "Unclaimed property", "billing@example.org", "t", today=mem.now.date(),
                         rows=rows, can_work=True, can_confirm=False).html
    assert "Reissue to this address" in shown and "The owner answered" not in shown
    address = {"line1": "3 Oak Ave", "city": "Austin", "state": "TX", "zip": "78702"}
    ask_reissue(mem.ports, iid, address, billing, mem.now)
    confirm_reissue(mem.ports, iid, mem.signed_in("compliance@example.org"), mem.now, address_seen(address))
    drop_register(mem, f"{iid},100777,50.00,ISSUED,2027-09-20", f"{iid},100777,50.00,CLEARED,2027-10-02")
    [t] = escheat.tracked(mem.ports, date(2031, 1, 1))
    assert (t.path.stage, t.path.check_number) == ("CLEARED", "100777")


def test_every_letter_of_a_case_written_again_is_the_one_its_record_lists(mem: MemoryCloud):
    iid = issued(mem, "UP-AGAIN", "Ørsted, Ünal")
    drop_register(mem, f"{iid},100200,50.00,ISSUED,2026-11-20")
    [draft] = drafts(mem.ports, iid.split("#")[0], date(2030, 3, 10))  # due then, not written yet
    assert "Ørsted, Ünal" in text(draft.data) and mem.bucket.keys("letters/") == [
        f"letters/{iid.split('#')[0]}/patient-notice-line0.pdf"]
    escheat.advance(mem.ports, date(2030, 3, 10), mem.now, COMPLIANCE)
    assert drafts(mem.ports, iid.split("#")[0], date(2030, 3, 10)) == []
    again = rewrite(mem.ports, iid.split("#")[0])
    assert sorted(r.kind for r in again) == ["due-diligence", "patient-notice"]
    assert all(r.same and mem.bucket.objects[r.key] == r.data for r in again)
