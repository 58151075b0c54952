"""Unclaimed property's rules (DOMAIN.md section 9), pure: the check register read like a ledger, a refund's
path to the state over four simulated years, state by state, and the NAUPA file a validator accepts."""

from __future__ import annotations

import io
from dataclasses import replace
from datetime import date
from decimal import Decimal

import pytest
from creditrefunds.domain.checks import CheckEvent, is_check_register, read_register
from creditrefunds.domain.escheat import Property, assess, reports_due
from creditrefunds.domain.ledger import LedgerUnreadable
from creditrefunds.domain.naupa import RECORD, Item, Owner, TooWide, fields_of, report
from creditrefunds.domain.settings import SettingsError, parse_settings
from creditrefunds.domain.unclaimed import Calendar, Unclaimed

from tests.naupa_check import problems

RULES = Unclaimed()
ISSUED = date(2026, 12, 1)


def check(status: str, day: date, number: str = "100200", amount: str = "75.00") -> CheckEvent:
    return CheckEvent(day, "CB-1#0", number, Decimal(amount), status)


def refund(state: str = "TX", amount: str = "75.00", payee: str = "PATIENT", *events: CheckEvent) -> Property:
    return Property("CB-1#0", "CB-1", "A-1", payee, "G-1", "Rivera, Ana", state, Decimal(amount), ISSUED,
                    events or (check("ISSUED", ISSUED),))


# ---------------------------------------------------------------- the register


def register(text: str) -> tuple[list[CheckEvent], list]:
    return read_register(io.BytesIO(text.encode()))


def test_a_register_is_told_by_its_header_in_any_order_whatever_its_name():
    assert is_check_register(b"instruction_id,check_number,amount,status,status_date\r\nX#0,1,2.00,ISSUED,2026-01-01")
    assert is_check_register(b"\xef\xbb\xbfstatus,status_date,amount,check_number,instruction_id\n")
    assert not is_check_register(b"txn_id,account_id,patient_id,guarantor_id,txn_type,amount,posting_date\n")
    assert not is_check_register(b"")


def test_bad_rows_are_kept_with_line_field_and_reason_and_good_rows_count_once():
    events, rejects = register(
        "instruction_id,check_number,amount,status,status_date\n"
        "CB-1#0,100200,75.00,ISSUED,2026-12-01\n"
        "CB-1#0,100200,75.00,ISSUED,2026-12-01\n"  # the same row twice: one event
        "CB-1#0,100200,75.001,CLEARED,2026-12-09\n"
        "CB-2#0,100201,20.00,LOST,2026-12-09\n"
        "CB-3#0,,20.00,VOIDED,2026-12-09\n"
        "CB-4#1,100203,20.00,RETURNED_MAIL,2026-02-30\n"
        "no-hash,100204,20.00,VOIDED,2026-12-09\n"
        "CB-5#0,100205,20.00\n")
    assert [(e.instruction_id, e.status, e.line) for e in events] == [("CB-1#0", "ISSUED", 2)]
    assert [(r.line, r.field) for r in rejects] == [(4, "amount"), (5, "status"), (6, "check_number"),
                                                    (7, "status_date"), (8, "instruction_id"), (9, "(row)")]
    assert "LOST" in rejects[1].reason and "ISSUED" in rejects[1].reason


def test_a_file_that_is_no_register_is_refused_whole():
    with pytest.raises(LedgerUnreadable, match="misses column"):
        register("instruction_id,check_number,amount\nX#0,1,2.00\n")
    with pytest.raises(LedgerUnreadable, match="UTF-8"):
        read_register(io.BytesIO(b"instruction_id,check_number,amount,status,status_date\n\xff\xfe"))


# ---------------------------------------------------------------- four years of one check


def test_a_texas_check_never_cashed_goes_to_the_state_in_four_years():
    p = refund("TX")
    at = {day: assess(p, RULES, date.fromisoformat(day)) for day in (
        "2026-12-20", "2027-05-31", "2027-06-01", "2030-01-15", "2030-03-10", "2030-05-20", "2030-06-01")}
    assert at["2026-12-20"].stage == "OUTSTANDING" and at["2026-12-20"].next_date == date(2027, 5, 30)
    assert at["2027-06-01"].stage == "UNCLAIMED" and at["2027-06-01"].unclaimed_since == date(2027, 5, 30)
    # dormant three years after the check; Texas reports by 1 July what was dormant by 1 March
    assert at["2027-06-01"].dormant_on == date(2029, 12, 1) and at["2027-06-01"].report_due == date(2030, 7, 1)
    # the letter goes 60 to 120 days before the report: 2 March to 2 May 2030
    assert (at["2030-01-15"].letter_from, at["2030-01-15"].letter_by) == (date(2030, 3, 3), date(2030, 5, 2))
    # dormant, but not reportable before its letter's window: the letter goes first
    assert at["2030-01-15"].stage == "UNCLAIMED" and at["2030-01-15"].next_date == date(2030, 3, 3)
    assert not at["2030-01-15"].reportable
    assert at["2030-03-10"].stage == "LETTER_DUE" and at["2030-03-10"].next_date == date(2030, 5, 2)
    assert at["2030-05-20"].stage == "LETTER_LATE" and "no due-diligence letter" in at["2030-05-20"].notes[0]
    assert at["2030-05-20"].reportable  # reported anyway, its reader told the letter did not go
    early = replace(p, letters_on=(date(2030, 2, 1),))  # before the window: no due diligence
    assert assess(early, RULES, date(2030, 3, 10)).stage == "LETTER_DUE"
    sent = replace(p, letters_on=(date(2030, 3, 10),))
    assert assess(sent, RULES, date(2030, 6, 1)).stage == "REPORTABLE"
    assert assess(sent, RULES, date(2030, 6, 1)).reportable
    reported = replace(sent, reported=("R1", date(2030, 6, 30)))
    assert assess(reported, RULES, date(2030, 7, 2)).stage == "REPORTED"
    assert assess(reported, RULES, date(2030, 6, 29)).stage == "REPORTABLE"  # not known yet on that day
    closed = replace(reported, remitted=("T-9", date(2030, 7, 3)))
    assert assess(closed, RULES, date(2030, 12, 31)).stage == "CLOSED"


def test_a_report_names_this_cycles_property_and_not_the_next_ones():
    ohio = [replace(refund("OH", amount), instruction_id=f"CB-{n}#0", letters_on=(date(2029, 8, 1),),
                    checks=(check("ISSUED", issued, amount=amount),))
            for n, (issued, amount) in enumerate(((date(2026, 3, 15), "75.00"), (date(2026, 8, 1), "20.00")))]
    due = RULES.calendar_of("OH").due_on_or_after(date(2029, 10, 15))
    assert due == date(2029, 11, 1)
    paths = [assess(p, RULES, date(2029, 10, 15)) for p in ohio]
    assert [p.report_due for p in paths] == [date(2029, 11, 1), date(2030, 11, 1)]
    assert [p.stage for p in paths] == ["REPORTABLE", "REPORTABLE"]  # (20.00 needs no letter)
    assert [p.in_report(due) for p in paths] == [True, False]  # dormant by 30 June 2029, or a year later


def test_a_states_report_is_reminded_a_month_before_it_is_due_and_weekly_once_late_until_it_is_filed():
    sent = replace(refund("TX"), letters_on=(date(2030, 3, 10),))  # reportable, its report due 1 July 2030
    younger = replace(refund("TX", "40.00"), instruction_id="CB-2#0", issued_on=date(2028, 1, 5),
                      checks=(check("ISSUED", date(2028, 1, 5), amount="40.00"),))  # not dormant yet: not counted

    def due(day: str, *more: Property) -> list[tuple[str, date, int, Decimal, int]]:
        paths = [assess(p, RULES, date.fromisoformat(day)) for p in (sent, younger, *more)]
        return [(d.state, d.due, d.count, d.amount, d.days_left) for d in reports_due(paths, date.fromisoformat(day))]

    assert due("2030-05-31") == []
    assert due("2030-06-01") == [("TX", date(2030, 7, 1), 1, Decimal("75.00"), 30)]
    assert [due(day)[0][-1] for day in ("2030-06-17", "2030-06-24", "2030-06-30", "2030-07-01")] == [14, 7, 1, 0]
    assert due("2030-06-02") == due("2030-07-02") == due("2030-07-07") == []
    assert due("2030-07-08")[0][-1] == -7 and due("2030-07-15")[0][-1] == -14  # late: every week
    late = reports_due([assess(sent, RULES, date(2030, 7, 8))], date(2030, 7, 8))[0].line()
    assert "was due 2030-07-01, 7 day(s) ago: file it now" in late and "75.00" in late
    filed = replace(sent, reported=("R1", date(2030, 7, 9)))
    assert reports_due([assess(filed, RULES, date(2030, 7, 15))], date(2030, 7, 15)) == []
    again = replace(sent, instruction_id="CB-3#0", amount=Decimal("5.00"),
                    checks=(check("ISSUED", ISSUED, amount="5.00"),))  # two of Texas's: one line, their sum
    assert due("2030-06-01", again) == [("TX", date(2030, 7, 1), 2, Decimal("80.00"), 30)]


def test_a_refund_row_reversed_back_onto_the_account_leaves_the_path_unless_the_state_was_told():
    voided = refund("TX", "75.00", "PATIENT", check("ISSUED", ISSUED), check("VOIDED", date(2027, 6, 1)))
    back = replace(voided, reversed=("T-REV", date(2027, 6, 3)))
    assert assess(back, RULES, date(2027, 6, 2)).stage == "UNCLAIMED"  # not known yet that day
    path = assess(back, RULES, date(2031, 1, 1))
    assert (path.stage, path.next_date, path.reportable) == ("REVERSED", None, False)
    assert "T-REV" in path.notes[0]
    told = replace(back, reported=("R1", date(2027, 6, 2)))  # reported first (a made-up day): still the state's
    late = assess(told, RULES, date(2027, 6, 10))
    assert late.stage == "REPORTED" and "the state's, to remit, not to refund" in late.notes[-1]


def test_a_check_issued_and_cleared_on_one_day_is_cleared():
    same_day = refund("TX", "75.00", "PATIENT", check("CLEARED", ISSUED), check("ISSUED", ISSUED))
    assert assess(same_day, RULES, date(2031, 1, 1)).stage == "CLEARED"


def test_a_cleared_check_leaves_the_path_and_a_returned_one_is_unclaimed_at_once():
    cleared = refund("TX", "75.00", "PATIENT", check("ISSUED", ISSUED), check("CLEARED", date(2027, 1, 4)))
    assert assess(cleared, RULES, date(2031, 1, 1)).stage == "CLEARED"
    assert assess(cleared, RULES, date(2027, 1, 3)).stage == "OUTSTANDING"
    returned = refund("TX", "75.00", "PATIENT", check("ISSUED", ISSUED), check("RETURNED_MAIL", date(2026, 12, 15)))
    path = assess(returned, RULES, date(2026, 12, 16))
    assert path.stage == "UNCLAIMED" and path.unclaimed_since == date(2026, 12, 15) and path.reissues_left == 1
    assert "reissue to a corrected address" in path.next_step


def test_a_reissued_check_starts_its_own_clock_and_no_second_reissue_is_offered():
    p = refund("TX", "75.00", "PATIENT", check("ISSUED", ISSUED), check("RETURNED_MAIL", date(2026, 12, 15)),
               check("ISSUED", date(2027, 1, 10), "100999"))
    p = replace(p, reissued_on=(date(2027, 1, 8),))
    path = assess(p, RULES, date(2027, 2, 1))
    assert (path.stage, path.check_number, path.reissues_left) == ("OUTSTANDING", "100999", 0)
    later = assess(p, RULES, date(2027, 8, 1))
    assert later.dormant_on == date(2030, 1, 10) and later.report_due == date(2030, 7, 1)
    cashed = replace(p, checks=(*p.checks, check("CLEARED", date(2027, 2, 3), "100999")))
    assert assess(cashed, RULES, date(2027, 3, 1)).stage == "CLEARED"


@pytest.mark.parametrize(("state", "amount", "needed", "window"), [
    ("CA", "50.00", True, (date(2029, 11, 1), date(2030, 5, 2))),  # 6 to 12 months before 1 November 2030
    ("AK", "99.99", False, None), ("AK", "100.00", True, None), ("CO", "25.00", True, None),
    ("CT", "0.01", True, None), ("NY", "49.99", False, None)])
def test_each_state_has_its_minimum_and_window(state, amount, needed, window):
    path = assess(refund(state, amount), RULES, date(2028, 1, 1))
    assert path.letter_needed is needed
    if window:
        assert (path.letter_from, path.letter_by) == window
    if not needed:
        assert "dormant on" in path.next_step and "letter" not in path.next_step


def test_a_payers_credit_is_not_reported_where_the_state_exempts_business_to_business():
    rules = Unclaimed(b2b_exempt_states=["TX"])
    assert assess(refund("TX", "900.00", "COMMERCIAL"), rules, date(2031, 1, 1)).stage == "EXEMPT"
    assert assess(refund("TX", "900.00", "COMMERCIAL"), RULES, date(2031, 1, 1)).reportable


def test_the_owners_state_is_the_patients_else_the_holders_incorporation():
    rules = Unclaimed.model_validate({"holder": {"incorporation_state": "de"}})
    assert rules.owner_state("PATIENT", "ca") == "CA"
    assert rules.owner_state("PATIENT", None) == "DE" and rules.owner_state("MEDICARE", "CA") == "DE"


def test_a_calendar_gives_the_first_report_whose_cutoff_the_property_is_dormant_by():
    cal = Calendar(dormant_by="06-30", due="11-01")
    assert cal.report_due(date(2029, 6, 30)) == date(2029, 11, 1)
    assert cal.report_due(date(2029, 7, 1)) == date(2030, 11, 1)
    early = Calendar(dormant_by="12-31", due="04-15")  # a due date early in the year: the year before's property
    assert early.report_due(date(2029, 12, 31)) == date(2030, 4, 15)


def test_settings_add_to_the_state_tables_and_refuse_what_is_wrong():
    s = parse_settings('{"unclaimed": {"letter_minimum": {"ny": "20.00"}, "stale_days": 90}}', "t")
    assert s.unclaimed.minimum("NY") == Decimal("20.00") and s.unclaimed.minimum("AK") == Decimal("100.00")
    assert s.unclaimed.stale_days == 90 and s.unclaimed.window("CA") == (183, 365)
    for bad in ('{"unclaimed": {"holder": {"tax_id": "12-34"}}}', '{"unclaimed": {"property_code_patient": "X"}}',
                '{"unclaimed": {"letter_window_days": {"OH": [90, 30]}}}', '{"unclaimed": {"stale": 1}}'):
        with pytest.raises(SettingsError, match="unclaimed"):
            parse_settings(bad, "t")


# ---------------------------------------------------------------- the NAUPA file

HOLDER = {"HOLDER-TAX-ID": "741234567", "HOLDER-REPORT-YEAR": 2030, "HOLDER-NAME": "Saint Ann's Hospital",
          "HOLDER-REPORT-STATE": "TX", "HOLDER-AS-OF-DATE": date(2030, 3, 1), "HOLDER-CONTACT-PHONE": "5125550100"}


def items() -> list[Item]:
    return [Item(Owner("Núñez", "José", "Á"), Decimal("75.00"), "MS11", date(2026, 12, 1), date(2027, 5, 30),
                 "100200", "CB-1#0", "HEALTHCARE REFUND", True, Owner("GUARANTOR G-1")),
            Item(Owner("BCBS-TX", kind="B", state="TX"), Decimal("1234.56"), "MS11", date(2026, 12, 1),
                 date(2026, 12, 1), "100201", "CB-2#1", "HEALTHCARE REFUND")]


def test_a_report_passes_the_validator_with_its_totals_and_folds_accents():
    data = report(HOLDER, items())
    assert problems(data) == []
    lines = data.split(b"\r\n")[:-1]
    assert [chr(line[0]) for line in lines] == ["1", "2", "3", "2", "9"] and all(len(x) == RECORD for x in lines)
    first = fields_of(lines[1])
    assert first["PROP-OWNER-NAME-LAST"].rstrip() == "NUNEZ" and first["PROP-OWNER-NAME-FIRST"].rstrip() == "JOSE"
    assert first["PROP-AMOUNT-REPORTED"] == "0000007500" and first["PROP-START-TRANS-DATE"] == "20261201"
    total = fields_of(lines[-1])
    assert total["SUM-AMOUNT-REPORTED"] == "000000130956" and total["SUM-AMOUNT-ADVERTISED"] == "000000007500"
    assert fields_of(lines[0])["HOLDER-NAME"].startswith("SAINT ANN'S HOSPITAL")


def test_the_validator_catches_a_cut_record_a_wrong_total_and_a_right_justified_name():
    data = report(HOLDER, items())
    assert any("bytes, not 577" in p for p in problems(data.replace(b"SAINT ANN'S", b"SAINT ANNS", 1)))
    wrong = data.replace(b"000000130956", b"000000130957")
    assert any("SUM-AMOUNT-REPORTED" in p for p in problems(wrong))
    shifted = data.replace(b"NUNEZ ", b" NUNEZ", 1)
    assert any("not left-justified" in p for p in problems(shifted))


def test_nothing_to_report_is_a_negative_report_and_an_amount_too_wide_is_refused():
    empty = report(HOLDER, [])
    assert problems(empty) == [] and fields_of(empty.split(b"\r\n")[0])["HOLDER-REPORT-TYPE"] == "N"
    with pytest.raises(TooWide):
        report(HOLDER, [replace(items()[1], amount=Decimal("123456789.00"))])


def test_an_owner_who_answered_waits_for_the_reissue_that_pays_them_beyond_the_reissue_limit():
    returned = refund("TX", "75.00", "PATIENT", check("ISSUED", ISSUED), check("RETURNED_MAIL", date(2026, 12, 15)),
                      check("ISSUED", date(2027, 1, 10), "100999"), check("VOIDED", date(2027, 8, 1), "100999"))
    p = replace(returned, reissued_on=(date(2027, 1, 8),), answered_on=date(2027, 9, 1))
    path = assess(p, RULES, date(2027, 9, 2))
    assert (path.stage, path.reissues_left, path.next_date) == ("ANSWERED", 1, date(2027, 9, 1))
    assert not path.reportable and assess(p, RULES, date(2031, 1, 1)).stage == "ANSWERED"
    # An answer is contact, not payment: unpaid when the next letter's window opens, it is on the path again
    # (dormant three years after the answer, Texas's report of 1 July 2031, its letter from 2 March).
    again = assess(p, RULES, date(2031, 3, 3))
    assert (again.stage, again.report_due, again.letter_from) == ("LETTER_DUE", date(2031, 7, 1), date(2031, 3, 3))
    assert "the owner answered on 2027-09-01 and was not paid by 2031-03-03" in again.notes[0]
    assert assess(p, RULES, date(2031, 3, 2)).stage == "ANSWERED"
    paid_again = replace(p, reissued_on=(date(2027, 1, 8), date(2027, 9, 5)),
                         checks=(*p.checks, check("ISSUED", date(2027, 9, 6), "101500")))
    later = assess(paid_again, RULES, date(2028, 6, 1))  # that check too went uncashed: back on the path
    assert (later.stage, later.check_number, later.reissues_left) == ("UNCLAIMED", "101500", 0)
    assert later.dormant_on == date(2030, 9, 6)  # three years from the latest contact
