"""Trends (DOMAIN §11): the months' figures a manager reads, and the patterns that point to a billing problem."""

from __future__ import annotations

import csv
import functools
import io
import json
import sys
from datetime import date
from pathlib import Path

import pytest
from creditrefunds.domain.detection import detect
from creditrefunds.domain.ledger import Transaction
from creditrefunds.domain.ledger_files import read_ledger
from creditrefunds.domain.settings import Settings
from creditrefunds.domain.trends import ledger_credits, months_from
from refunds_cli.trends import report

from tests.unit.helpers import charge, payment, row

sys.path.insert(0, str(Path(__file__).parents[2] / "bench"))
import trend_ledger

SETTINGS = Settings()


def month(result: dict, name: str, dimension: str | None = None, value: str | None = None) -> dict:
    months = result["months"] if dimension is None else result["series"][dimension][value]
    return next(m for m in months if m["month"] == name)


def patient_overpaid(account: str, paid_on: str, refunded_on: str | None = None, state: str = "TX",
                     guarantor: str = "G1") -> list:
    """A charge of 100.00 the patient paid twice (credit 100.00 from `paid_on`), refunded on `refunded_on`."""
    mine = {"account": account, "guarantor_id": guarantor}
    rows = [charge("100.00", posted="2026-01-02", patient_state=state, **mine),
            payment("100.00", "PATIENT", posted="2026-01-10", reference=f"C-{account}", **mine),
            payment("100.00", "PATIENT", posted=paid_on, reference=f"D-{account}", **mine)]
    if refunded_on:
        rows.append(row("REFUND", "100.00", posted=refunded_on, payer_type="PATIENT", **mine))
    return rows


def test_a_credit_is_identified_in_the_month_it_began_if_still_open_at_its_end():
    ledger = (patient_overpaid("A1", "2026-02-10")  # open: February's
              + patient_overpaid("A2", "2026-02-03", refunded_on="2026-02-20")  # closed within February: never seen
              + patient_overpaid("A3", "2026-02-25", refunded_on="2026-03-10"))  # February's, refunded in March
    result = report(ledger, "2026-01", "2026-04", SETTINGS)
    assert [m["identified"] for m in result["months"]] == [
        {"count": 0, "amount": "0.00"}, {"count": 2, "amount": "200.00"}, {"count": 0, "amount": "0.00"},
        {"count": 0, "amount": "0.00"}]  # an empty month is a zero, not a gap
    assert month(result, "2026-02")["open"] == {"count": 2, "amount": "200.00"}
    march = month(result, "2026-03")
    assert march["open"] == {"count": 1, "amount": "100.00"}
    # A3 began 2026-02-25 and was refunded 2026-03-10: 13 days, within Texas's 30.
    assert march["refunded"] == {"count": 1, "amount": "100.00", "days_median": 13.0, "days_p90": 13}
    assert march["on_time"] == {"count": 1, "share": 1.0}
    # A1 (Texas: due 30 days after 2026-02-10, on 2026-03-12) is overdue at March's end, not at February's.
    assert month(result, "2026-02")["overdue"]["count"] == 0
    assert march["overdue"] == {"count": 1, "amount": "100.00"}
    assert month(result, "2026-04")["on_time"] == {"count": 0, "share": None}


def test_a_late_refund_is_not_on_time_and_days_are_counted_from_the_credit():
    ledger = (patient_overpaid("L1", "2026-02-01", refunded_on="2026-04-15", state="TX")  # 73 days, due in 30
              + patient_overpaid("L2", "2026-02-01", refunded_on="2026-04-15", state="NY"))  # 73 days, due in 60
    april = month(report(ledger, "2026-02", "2026-04", SETTINGS), "2026-04")
    assert april["refunded"]["days_median"] == 73.0
    assert april["on_time"] == {"count": 0, "share": 0.0}


def test_each_payer_counts_its_own_part_of_a_credit():
    ledger = [charge("500.00", posted="2026-05-01", account="M1"),
              payment("500.00", "COMMERCIAL", "AETNA", posted="2026-05-10", account="M1", coverage_rank="1",
                      reference="E1"),
              payment("200.00", "COMMERCIAL", "AETNA", posted="2026-05-12", account="M1", coverage_rank="1",
                      reference="E2"),
              payment("50.00", "PATIENT", posted="2026-05-20", account="M1", reference="C1")]
    result = report(ledger, "2026-05", "2026-05", SETTINGS)
    assert month(result, "2026-05")["identified"] == {"count": 1, "amount": "250.00"}
    assert month(result, "2026-05", "payer", "AETNA")["identified"] == {"count": 1, "amount": "200.00"}
    assert month(result, "2026-05", "payer", "PATIENT")["identified"] == {"count": 1, "amount": "50.00"}
    assert month(result, "2026-05", "payer_type", "COMMERCIAL")["identified"]["amount"] == "200.00"
    assert month(result, "2026-05", "facility", "(none)")["identified"] == {"count": 1, "amount": "250.00"}


@functools.cache
def extract(planted: bool, seed: int = 7) -> list[Transaction]:
    text = io.StringIO()
    trend_ledger.write_csv(text, 24, 20, seed, planted)
    return [t for t in read_ledger(io.BytesIO(text.getvalue().encode()), "csv") if isinstance(t, Transaction)]


def test_where_no_credit_closes_the_months_add_up_to_what_detection_finds_on_the_last_day():
    no_refunds = [t for t in extract(False) if t.txn_type != "REFUND" and t.posting_date <= date(2026, 12, 31)]
    result = report(no_refunds, "2024-11", "2026-12", SETTINGS)
    detected = detect(no_refunds, date(2026, 12, 31), SETTINGS)
    assert sum(m["identified"]["count"] for m in result["months"]) == len(detected)
    assert {c.case_id for c in ledger_credits(no_refunds, "2026-12", SETTINGS)} == {c.case_id for c in detected}


def test_the_planted_billing_problems_are_found_with_their_evidence():
    result = report(extract(True), "2025-01", "2026-12", SETTINGS)
    found = {(p["kind"], p["dimension"], p["value"], p["month"]) for p in result["patterns"]}
    assert found == {
        ("spike", "payer", "HUMANA", "2026-06"),  # HUMANA paid 30 claims twice
        ("spike", "payer", "BCBS", "2026-08"), ("repeat_posting", "payer", "BCBS", "2026-08"),  # 25 checks posted twice
        ("repeat_posting", "reference", "CIGNA", "2026-10"),  # one remittance posted twice whole, twice
        *(("recurring_credit", "account", p["value"], p["month"]) for p in result["patterns"]
          if p["kind"] == "recurring_credit"),
    }
    [humana] = [p for p in result["patterns"] if p["kind"] == "spike" and p["value"] == "HUMANA"]
    assert humana["count"] >= 2 * float(humana["trailing_mean"]) and humana["count"] >= 5
    assert len(humana["trailing_counts"]) == 6 and len(humana["examples"]) == 5
    [bcbs] = [p for p in result["patterns"] if p["kind"] == "repeat_posting" and p["value"] == "BCBS"]
    assert bcbs["count"] >= trend_ledger.DOUBLE_POSTED and all(
        e["txn_ids"][0] != e["txn_ids"][1] for e in bcbs["examples"])
    [repost] = [p for p in result["patterns"] if p["dimension"] == "reference"]
    assert (repost["reference"], repost["count"], repost["months"]) == (
        trend_ledger.REPOST_REFERENCE, 2 * trend_ledger.REPOSTED, ["2026-08", "2026-10"])
    recurring = [p for p in result["patterns"] if p["kind"] == "recurring_credit"]
    assert len(recurring) == trend_ledger.RECURRING
    assert all(p["days_after"] == 30 and p["paid_back"]["txn_type"] == "REFUND" for p in recurring)


@pytest.mark.parametrize("seed", [7, 8, 9])
def test_a_stationary_history_raises_no_pattern(seed):
    assert report(extract(False, seed), "2025-01", "2026-12", SETTINGS)["patterns"] == []


def test_months_from_spans_years():
    assert months_from("2025-11", "2026-02") == ["2025-11", "2025-12", "2026-01", "2026-02"]


LEDGER_HEAD = ("txn_id,account_id,patient_id,guarantor_id,txn_type,amount,posting_date,payer_type,payer_id,"
               "reference,facility_id,patient_state\n")


def a_ledger(tmp_path: Path) -> Path:
    """Two good credits (one at a facility whose id is a formula) and two bad rows."""
    path = tmp_path / "extract.csv"
    path.write_text(LEDGER_HEAD + "\n".join([
        "T1,A1,P1,G1,CHARGE,100.00,2026-01-02,,,,=HYPERLINK(\"x\"),TX",
        "T2,A1,P1,G1,PAYMENT,-100.00,2026-01-10,PATIENT,,C1,=HYPERLINK(\"x\"),TX",
        "T3,A1,P1,G1,PAYMENT,-40.00,2026-02-10,PATIENT,,C2,=HYPERLINK(\"x\"),TX",
        "T4,A2,P2,G2,CHARGE,80.00,2026-01-05,,,,FAC-2,NY",
        "T5,A2,P2,G2,PAYMENT,-90.00,2026-03-01,PATIENT,,C3,FAC-2,NY",
        "T6,A3,P3,G3,PAYMENT,-12.5x,2026-03-01,PATIENT,,C4,FAC-2,NY",  # line 7: the amount
        "T7,A3,P3,G3,PAYMENT,-12.50,2026-02-30,PATIENT,,C5,FAC-2,NY",  # line 8: the date
    ]) + "\n")
    return path


def test_refunds_trends_counts_the_good_rows_and_names_each_bad_one(tmp_path, capsys):
    from refunds_cli.main import main

    rejects = tmp_path / "rejects.jsonl"
    assert main(["trends", str(a_ledger(tmp_path)), "--from", "2026-01", "--to", "2026-03", "--json",
                 "--rejects", str(rejects)]) == 0
    out, err = capsys.readouterr()
    result = json.loads(out)
    assert [m["identified"] for m in result["months"]] == [
        {"count": 0, "amount": "0.00"}, {"count": 1, "amount": "40.00"}, {"count": 1, "amount": "10.00"}]
    assert result["series"]["facility"]["FAC-2"][2]["identified"] == {"count": 1, "amount": "10.00"}
    assert "2 rejected row(s); 5 transaction(s), 2026-01 to 2026-03" in err
    refused = [json.loads(line) for line in rejects.read_text().splitlines()]
    assert [(r["line"], r["field"]) for r in refused] == [(7, "amount"), (8, "posting_date")]
    assert all(r["file"].endswith("extract.csv") and r["reason"] for r in refused)


def test_refunds_trends_as_csv_neutralises_what_a_spreadsheet_would_run(tmp_path, capsys):
    from refunds_cli.main import main

    assert main(["trends", str(a_ledger(tmp_path)), "--from", "2026-01", "--to", "2026-03", "--csv"]) == 0
    rows = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    facility = [r for r in rows if r["dimension"] == "facility" and r["month"] == "2026-02"]
    assert [r["value"] for r in facility] == ["'=HYPERLINK(\"x\")", "FAC-2"]
    assert facility[0]["identified_amount"] == "40.00" and facility[0]["open_count"] == "1"


def test_refunds_trends_says_when_the_months_are_outside_the_extract(tmp_path, capsys):
    from refunds_cli.main import main

    assert main(["trends", str(a_ledger(tmp_path)), "--from", "2027-01", "--to", "2027-06"]) == 2
    assert "2027-01 to 2027-06 is outside the ledgers, which hold 2026-01 to 2026-03" in capsys.readouterr().err
    assert main(["trends", str(a_ledger(tmp_path)), "--from", "2026-03", "--to", "2026-01"]) == 2
    assert main(["trends", str(a_ledger(tmp_path)), "--from", "2025-12", "--to", "2026-04"]) == 0
    assert "2025-12 and 2026-04 outside them (counted as zeros)" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["trends", str(a_ledger(tmp_path)), "--from", "2026-13", "--to", "2026-04"])


def test_refunds_trends_draws_its_charts(tmp_path):
    from refunds_cli.main import main

    chart = tmp_path / "trends.png"
    ledger = tmp_path / "planted.csv"
    with open(ledger, "w", encoding="utf-8") as out:
        trend_ledger.write_csv(out, 24, 5, 7, planted=True)
    assert main(["trends", str(ledger), "--from", "2025-01", "--to", "2026-12", "--chart", str(chart)]) == 0
    assert chart.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and chart.stat().st_size > 20_000


def test_a_refund_reversed_later_was_not_a_refund():
    ledger = patient_overpaid("V1", "2026-02-10", refunded_on="2026-03-05")
    ledger.append(row("REVERSAL", "-100.00", posted="2026-04-02", account="V1", payer_type="PATIENT",
                      reversal_of=ledger[-1].txn_id))  # the check was voided: the money is held again
    result = report(ledger, "2026-02", "2026-04", SETTINGS)
    assert month(result, "2026-03")["refunded"]["count"] == 0
    assert month(result, "2026-04")["identified"] == {"count": 1, "amount": "100.00"}


def test_a_guarantor_back_in_patient_credit_after_a_patient_refund_on_another_account_recurs():
    family = [*patient_overpaid("GA", "2026-02-10", refunded_on="2026-03-01"),
              *patient_overpaid("GB", "2026-04-15"),  # 45 days after GA's refund
              charge("100.00", posted="2026-01-02", account="GC", guarantor_id="G9"),
              payment("100.00", "COMMERCIAL", "UHC", posted="2026-01-10", account="GC", guarantor_id="G9",
                      coverage_rank="1", reference="E1"),
              payment("30.00", "COMMERCIAL", "UHC", posted="2026-02-10", account="GC", guarantor_id="G9",
                      coverage_rank="1", reference="E2"),
              row("REFUND", "30.00", posted="2026-03-01", account="GC", guarantor_id="G9", payer_type="COMMERCIAL",
                  payer_id="UHC"),
              *patient_overpaid("GD", "2026-04-15", guarantor="G9")]
    recurring = [p for p in report(family, "2026-01", "2026-06", SETTINGS)["patterns"]
                 if p["kind"] == "recurring_credit"]
    # GB's guarantor had a patient refund 45 days before; GD's (G9) had only an insurer's refund: not the family's.
    assert [(p["dimension"], p["value"], p["account_id"], p["days_after"]) for p in recurring] == [
        ("guarantor", "G1", "GB", 45)]


def test_two_extracts_with_one_txn_id_of_two_contents_reject_the_later(tmp_path, capsys):
    from refunds_cli.main import main

    first, second = tmp_path / "a.csv", tmp_path / "b.csv"
    first.write_text(LEDGER_HEAD + "T1,A1,P1,G1,CHARGE,100.00,2026-01-02,,,,F1,TX\n"
                     "T2,A1,P1,G1,PAYMENT,-150.00,2026-01-10,PATIENT,,C1,F1,TX\n")
    second.write_text(LEDGER_HEAD + "T2,A1,P1,G1,PAYMENT,-150.00,2026-01-10,PATIENT,,C1,F1,TX\n"  # the same: once
                      "T1,A1,P1,G1,CHARGE,120.00,2026-01-02,,,,F1,TX\n")  # other content: a conflict
    rejects = tmp_path / "rejects.jsonl"
    assert main(["trends", str(first), str(second), "--from", "2026-01", "--to", "2026-01", "--json",
                 "--rejects", str(rejects)]) == 0
    assert json.loads(capsys.readouterr().out)["months"][0]["identified"] == {"count": 1, "amount": "50.00"}
    [conflict] = [json.loads(line) for line in rejects.read_text().splitlines()]
    assert (conflict["file"], conflict["line"], conflict["txn_id"], conflict["field"]) == (str(second), 3, "T1",
                                                                                             "txn_id")


def test_ids_that_a_terminal_or_a_chart_would_run_are_shown_as_text(tmp_path, capsys):
    from refunds_cli.main import main

    ledger = tmp_path / "odd.csv"
    ledger.write_text(LEDGER_HEAD + "".join(
        f"{account}1,{account},P1,G1,CHARGE,100.00,2026-01-02,,,,F1\x1b[31m,TX\n"
        f"{account}2,{account},P1,G1,PAYMENT,-100.00,2026-01-10,COMMERCIAL,{payer},E1,F1\x1b[31m,TX\n"
        f"{account}3,{account},P1,G1,PAYMENT,-100.00,2026-01-20,COMMERCIAL,{payer},E2,F1\x1b[31m,TX\n"
        for account, payer in (("A", "$\\undefinedcmd$"), ("B", "_hidden"))))  # each paid twice
    chart = tmp_path / "odd.png"
    assert main(["trends", str(ledger), "--from", "2026-01", "--to", "2026-01", "--csv", "--chart", str(chart)]) == 0
    out = capsys.readouterr().out
    assert chart.exists() and "_hidden" in out and "$\\undefinedcmd$" in out
    assert "\x1b" not in out and "F1\\x1b[31m" in out
