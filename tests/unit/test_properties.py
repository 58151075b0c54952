"""Property-based: what must hold for every ledger (issue 3)."""

from __future__ import annotations

import csv
import io
import json
from collections import defaultdict
from decimal import Decimal

from creditrefunds.domain.detection import detect
from creditrefunds.domain.ledger_files import read_ledger
from creditrefunds.domain.settings import Settings
from creditrefunds.domain.split import cancel_reversals
from hypothesis import given, settings
from hypothesis import strategies as st

from .helpers import AS_OF

PAYERS = [("PATIENT", ""), ("MEDICARE", "MAC"), ("MEDICAID", "MCD"), ("COMMERCIAL", "BCBS"), ("OTHER", "AUTO")]
FIELDS = ["txn_id", "account_id", "patient_id", "guarantor_id", "txn_type", "amount", "posting_date", "payer_type",
          "payer_id", "coverage_rank", "reference", "claim_id", "patient_resp", "adj_code", "patient_state"]


@st.composite
def ledgers(draw):
    rows = []
    for n in range(draw(st.integers(1, 18))):
        account = draw(st.sampled_from(["A1", "A2", "A3"]))
        kind = draw(st.sampled_from(["CHARGE", "PAYMENT", "PAYMENT", "ADJUSTMENT", "REFUND"]))
        cents = draw(st.integers(1, 50_000))
        payer_type, payer_id = draw(st.sampled_from(PAYERS))
        amount = Decimal(cents) / 100
        if kind == "PAYMENT" or (kind == "ADJUSTMENT" and draw(st.booleans())):
            amount = -amount
        row = {
            "txn_id": f"T{n}", "account_id": account, "patient_id": f"P{account}",
            "guarantor_id": draw(st.sampled_from(["G1", "G2"])) if account == "A3" else "G1",
            "txn_type": kind, "amount": f"{amount:.2f}",
            "posting_date": f"2026-0{draw(st.integers(1, 9))}-1{draw(st.integers(0, 9))}",
            "payer_type": "" if kind == "CHARGE" else payer_type,
            "payer_id": "" if kind == "CHARGE" else payer_id,
            "coverage_rank": str(draw(st.integers(1, 3))) if kind != "CHARGE" and payer_type != "PATIENT" else "",
            "reference": draw(st.sampled_from(["", "R1", "R2"])),
            "claim_id": draw(st.sampled_from(["", "C1"])),
            "patient_resp": (f"{draw(st.integers(0, 9999)) / 100:.2f}"
                             if kind == "PAYMENT" and payer_type != "PATIENT" and draw(st.booleans()) else ""),
            "adj_code": draw(st.sampled_from(["", "CO-45"])) if kind == "ADJUSTMENT" else "",
            "patient_state": draw(st.sampled_from(["", "TX", "CA", "NY"])),
        }
        rows.append(row)
    # The guarantor of an account is the one on its latest row: keep the generated data coherent.
    return rows


INSURERS = [("MEDICARE", "MAC"), ("COMMERCIAL", "UHC"), ("COMMERCIAL", "BCBS"), ("COMMERCIAL", "AETNA")]


@st.composite
def dense_ledgers(draw):
    """One account, rule-dense (issue 13): several rank-1 insurers paying a few amounts, referenced
    and unreferenced payments mixed, and exact repeats (duplicate postings) among them."""
    rows = [{"txn_id": "T0", "account_id": "A1", "patient_id": "P1", "guarantor_id": "G1", "txn_type": "CHARGE",
             "amount": draw(st.sampled_from(["1000.00", "4.97", "12.00"])), "posting_date": "2026-09-01",
             **{f: "" for f in FIELDS if f not in ("txn_id", "account_id", "patient_id", "guarantor_id", "txn_type",
                                                     "amount", "posting_date")}}]
    for n in range(1, draw(st.integers(2, 9))):
        if n > 1 and draw(st.integers(0, 3)) == 0:
            rows.append({**draw(st.sampled_from(rows[1:])), "txn_id": f"T{n}",
                         "posting_date": f"2026-10-{10 + n:02d}"})  # the same payment posted again later
            continue
        payer_type, payer_id = draw(st.sampled_from(INSURERS))
        rows.append({**rows[0], "txn_id": f"T{n}", "txn_type": "PAYMENT", "payer_type": payer_type,
                     "payer_id": payer_id, "amount": "-" + draw(st.sampled_from(["800.00", "4.05", "3.50", "0.37"])),
                     "posting_date": f"2026-10-{n:02d}", "coverage_rank": draw(st.sampled_from(["1", "1", "2"])),
                     "reference": draw(st.sampled_from(["", "R1", "R2", "R3"])),
                     "claim_id": draw(st.sampled_from(["", "C1"]))})
    return rows


def as_csv(rows):
    out = io.StringIO()
    writer = csv.DictWriter(out, FIELDS)
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue().encode()


def as_jsonl(rows):
    return "".join(json.dumps({k: v for k, v in r.items() if v != ""}) + "\n" for r in rows).encode()


def cases_of(data: bytes, fmt: str):
    txns = list(read_ledger(io.BytesIO(data), fmt))
    return detect(txns, AS_OF, Settings()), txns


@settings(max_examples=200, deadline=None)
@given(st.one_of(ledgers(), dense_ledgers()))
def test_lines_sum_to_credit_and_nobody_gets_more_than_they_paid_net(rows):
    cases, txns = cases_of(as_csv(rows), "csv")
    by_account = defaultdict(list)
    for t in txns:
        by_account[t.account_id].append(t)
    for case in cases:
        assert sum(li.amount for li in case.lines) == case.credit
        assert all(li.amount > 0 for li in case.lines)
        paid = defaultdict(Decimal)
        for t in cancel_reversals(by_account[case.account_id]):
            if t.txn_type in ("PAYMENT", "REFUND", "RECOUPMENT") and t.payer_type:
                paid[("PATIENT", case.guarantor_id) if t.payer_type == "PATIENT" else t.payer] -= t.amount
        given_to = defaultdict(Decimal)
        for li in case.lines:
            if li.action in ("REFUND", "OFFSET", "HOLD"):
                given_to[(li.payee_type, li.payee_id)] += li.amount
        for payee, amount in given_to.items():
            assert amount <= paid[payee], (payee, amount, paid[payee])


@settings(max_examples=100, deadline=None)
@given(st.one_of(ledgers(), dense_ledgers()), st.randoms())
def test_row_order_and_format_do_not_change_the_cases(rows, rnd):
    expected = [c.to_json() for c in cases_of(as_csv(rows), "csv")[0]]
    shuffled = list(rows)
    rnd.shuffle(shuffled)
    assert [c.to_json() for c in cases_of(as_csv(shuffled), "csv")[0]] == expected
    assert [c.to_json() for c in cases_of(as_jsonl(rows), "jsonl")[0]] == expected
