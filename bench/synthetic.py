"""A seeded synthetic ledger: a realistic mix of encounters, a few percent of them in credit.

Each account is one encounter: a charge (sometimes two), the insurers' payments with the
patient responsibility they determined, the contractual adjustment, the patient's payment,
and now and then a reversed posting, a refund or a recoupment. A few percent of accounts end
in credit the way real ones do: a patient who paid twice, an insurer that paid twice,
Medicare paying when a commercial plan was primary, a payment posted twice.
"""

from __future__ import annotations

import csv
import random
from collections.abc import Iterator
from datetime import date, timedelta
from decimal import Decimal
from typing import IO

from creditrefunds.domain.ledger import OPTIONAL_FIELDS, REQUIRED_FIELDS

HEADER = list(REQUIRED_FIELDS) + list(OPTIONAL_FIELDS)
STATES = ["TX", "CA", "NY", "FL", "IL", "OH", "PA", "GA"]
COMMERCIAL = ["BCBS", "AETNA", "CIGNA", "UHC", "HUMANA"]
LAST = ["Rivera", "Chen", "Okafor", "Novak", "Haddad", "Lindqvist", "Moreau", "Tanaka", "Walsh", "Singh"]
FIRST = ["Ana", "Robert", "Grace", "Tomas", "Leila", "Erik", "Claire", "Kenji", "Siobhan", "Priya"]
START = date(2025, 1, 1)
CREDIT_SHARE = 0.04
BAD_SHARE = 0.0005  # a billing extract is never perfect: an amount typed with a decimal comma


class _Account:
    def __init__(self, rng: random.Random, number: int, guarantor: int) -> None:
        self.rng = rng
        self.id = f"ACC-{number:08d}"
        self.patient = f"PAT-{guarantor:07d}-{number % 3}"
        self.guarantor = f"GUA-{guarantor:07d}"
        self.state = rng.choice(STATES)
        self.service = START + timedelta(days=rng.randrange(600))
        self.name = f"{rng.choice(LAST)}, {rng.choice(FIRST)}"
        self.mbi = f"{rng.randrange(1, 10)}EG{rng.randrange(10)}TE{rng.randrange(10)}MK{rng.randrange(10, 100)}"
        self.rows: list[dict[str, str]] = []
        self.seq = 0

    def add(self, txn_type: str, cents: int, days: int, payer_type: str = "", payer_id: str = "",
            **extra: str) -> str:
        self.seq += 1
        txn_id = f"{self.id}-{self.seq:03d}"
        row = {
            "txn_id": txn_id, "account_id": self.id, "patient_id": self.patient,
            "guarantor_id": self.guarantor, "txn_type": txn_type, "amount": _money(cents),
            "posting_date": (self.service + timedelta(days=days)).isoformat(), "payer_type": payer_type,
            "payer_id": payer_id, "service_date": self.service.isoformat(), "patient_state": self.state,
            "facility_id": "FAC-1", "patient_name": self.name, **extra,
        }
        if payer_type == "MEDICARE":
            row["mbi"] = self.mbi
        if self.rng.random() < BAD_SHARE:
            row["amount"] = row["amount"].replace(".", ",")
        self.rows.append(row)
        return txn_id


def _money(cents: int) -> str:
    return f"{Decimal(cents) / 100:.2f}"


def _encounter(rng: random.Random, number: int, guarantor: int, credit_share: float = CREDIT_SHARE
               ) -> list[dict[str, str]]:
    a = _Account(rng, number, guarantor)
    charge = rng.randrange(5_000, 2_500_000)
    a.add("CHARGE", charge, 2)
    if rng.random() < 0.3:
        extra_charge = rng.randrange(1_000, 50_000)
        a.add("CHARGE", extra_charge, 4)
        charge += extra_charge
    medicare = rng.random() < 0.35
    payer_type, payer_id = ("MEDICARE", "MEDICARE-JH") if medicare else ("COMMERCIAL", rng.choice(COMMERCIAL))
    allowed = charge * rng.randrange(40, 80) // 100
    patient_resp = allowed * rng.choice([0, 10, 20]) // 100
    insurer_paid = allowed - patient_resp
    claim = f"CLM-{number:08d}"
    a.add("ADJUSTMENT", -(charge - allowed), 30, payer_type, payer_id, adj_code="CO-45", claim_id=claim)
    paid_id = a.add("PAYMENT", -insurer_paid, 30, payer_type, payer_id, coverage_rank="1",
                    reference=f"EFT-{number}", claim_id=claim, patient_resp=_money(patient_resp))
    if rng.random() < 0.03:  # a posting reversed and posted again
        a.add("REVERSAL", insurer_paid, 32, payer_type, payer_id, reversal_of=paid_id)
        a.add("PAYMENT", -insurer_paid, 33, payer_type, payer_id, coverage_rank="1",
              reference=f"EFT-{number}R", claim_id=claim, patient_resp=_money(patient_resp))
    if patient_resp:
        a.add("PAYMENT", -patient_resp, 45, "PATIENT", reference=f"CHK-{number}")
    if rng.random() < credit_share:
        _make_credit(rng, a, payer_type, payer_id, insurer_paid, patient_resp, claim, number)
    elif rng.random() < 0.05:  # an underpayment recouped and paid again: no credit
        recouped = max(insurer_paid // 10, 100)
        a.add("RECOUPMENT", recouped, 60, payer_type, payer_id, claim_id=claim)
        a.add("PAYMENT", -recouped, 75, payer_type, payer_id, coverage_rank="1", reference=f"EFT-{number}B",
              claim_id=claim)
    return a.rows


def _make_credit(rng: random.Random, a: _Account, payer_type: str, payer_id: str, insurer_paid: int,
                 patient_resp: int, claim: str, number: int) -> None:
    kind = rng.randrange(4)
    if kind == 0 or not patient_resp:  # the patient paid more than they owed
        a.add("PAYMENT", -rng.randrange(1_000, 60_000), 50, "PATIENT", reference=f"CARD-{number}")
    elif kind == 1:  # the insurer paid twice under another trace number
        a.add("PAYMENT", -insurer_paid, 55, payer_type, payer_id, coverage_rank="1", reference=f"EFT-{number}D",
              claim_id=claim)
    elif kind == 2:  # a payment posted twice
        a.add("PAYMENT", -insurer_paid, 31, payer_type, payer_id, coverage_rank="1", reference=f"EFT-{number}",
              claim_id=claim, patient_resp=_money(patient_resp))
    else:  # another plan paid as primary too
        other = ("COMMERCIAL", "AETNA") if payer_type == "MEDICARE" else ("MEDICARE", "MEDICARE-JH")
        a.add("PAYMENT", -(insurer_paid // 2), 40, *other, coverage_rank="1", reference=f"EFT-{number}P",
              claim_id=claim)


def rows(count: int, seed: int, credit_share: float = CREDIT_SHARE) -> Iterator[dict[str, str]]:
    """At least `count` rows (whole encounters), the same ones for the same seed and share of
    encounters that end in credit."""
    rng = random.Random(seed)  # noqa: S311 (synthetic data, not secrets)
    written = number = 0
    while written < count:
        number += 1
        guarantor = number if rng.random() < 0.8 else max(1, number - rng.randrange(1, 50))
        for row in _encounter(rng, number, guarantor, credit_share):
            yield row
            written += 1


def write_csv(out: IO[str], count: int, seed: int, credit_share: float = CREDIT_SHARE) -> int:
    writer = csv.DictWriter(out, fieldnames=HEADER, lineterminator="\n")
    writer.writeheader()
    written = 0
    for row in rows(count, seed, credit_share):
        writer.writerow(row)
        written += 1
    return written
