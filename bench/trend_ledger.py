"""A seeded billing extract over months, for trends (DOMAIN §11): the same rates every month, with noise, and
on request three planted billing problems.

Each month opens about `per_month` encounters (synthetic.py's, served that month) that end settled, and at the
same rates every month (with noise) credits of each payer and kind; most are refunded 10 to 70 days later.
Every encounter has its own guarantor, so that no account or guarantor is back in credit unless planted.
Planted (`planted=True`):
- a spike: in month SPIKE_MONTH, HUMANA pays PLANTED_SPIKE claims twice under a second trace number;
- a posting process that double-posts: in months REPOST_MONTHS, CIGNA's remittance REPOST_REFERENCE is posted
  twice on each of its accounts; in month DOUBLE_POSTING_MONTH, DOUBLE_POSTED more of BCBS's checks than usual
  are posted twice, each its own;
- recurring credits: RECURRING accounts refunded, then in credit again 30 days after the refund.
"""

from __future__ import annotations

import csv
import random
import sys
from collections.abc import Iterator
from datetime import date, timedelta
from decimal import Decimal
from typing import IO

from synthetic import HEADER, _Account, _encounter

START = date(2025, 1, 1)
SPIKE_MONTH, PLANTED_SPIKE = 17, 30
REPOST_MONTHS, REPOST_REFERENCE, REPOSTED = (19, 21), "EFT-CIGNA-REPOST", 4
DOUBLE_POSTING_MONTH, DOUBLE_POSTED = 19, 25
RECURRING = 3
PAYERS = [("COMMERCIAL", "BCBS"), ("COMMERCIAL", "AETNA"), ("COMMERCIAL", "CIGNA"), ("COMMERCIAL", "UHC"),
          ("COMMERCIAL", "HUMANA"), ("MEDICARE", "MEDICARE-JH"), ("MEDICAID", "MEDICAID-TX")]
KINDS = [(t, p, k) for t, p in PAYERS for k in ("twice", "posted_twice")] + [("COMMERCIAL", "BCBS", "patient"),
                                                                           ("MEDICARE", "MEDICARE-JH", "patient")]
CREDITS_PER_PAYER = 10
REFUNDED_SHARE = 0.8


def month_start(n: int) -> date:
    return date(START.year + (START.month - 1 + n) // 12, (START.month - 1 + n) % 12 + 1, 1)


def _cents(rows: list[dict[str, str]]) -> int:
    return sum(int(Decimal(r["amount"].replace(",", ".")) * 100) for r in rows)


class _Month:
    def __init__(self, rng: random.Random, n: int, first_number: int) -> None:
        self.rng, self.n, self.number = rng, n, first_number

    def account(self, last_posting: int = 0) -> _Account:
        """A new account served so that rows posted up to `last_posting` days after its service fall in this
        month (a credit made then is identified in it)."""
        self.number += 1
        a = _Account(self.rng, self.number, self.number)
        a.service = month_start(self.n) + timedelta(days=self.rng.randrange(0, 28) - last_posting)
        return a

    def credit(self, payer_type: str, payer: str, kind: str, last_posting: int = 45) -> list[dict[str, str]]:
        """An encounter that ends in credit: `payer` paid twice under two trace numbers (`twice`), a payment of
        `payer` posted twice (`posted_twice`), or the patient paid more than they owed (`patient`)."""
        a = self.account(last_posting)
        charge = self.rng.randrange(20_000, 200_000)
        paid = charge * 8 // 10
        a.add("CHARGE", charge, 2)
        a.add("PAYMENT", -paid, 20, payer_type, payer, coverage_rank="1", reference=f"EFT-{a.id}")
        a.add("PAYMENT", -(charge - paid), 25, "PATIENT", reference=f"CHK-{a.id}")
        if kind == "twice":
            a.add("PAYMENT", -paid, 40, payer_type, payer, coverage_rank="1", reference=f"EFT-{a.id}-2")
        elif kind == "posted_twice":
            a.add("PAYMENT", -paid, 21, payer_type, payer, coverage_rank="1", reference=f"EFT-{a.id}")
        else:
            a.add("PAYMENT", -self.rng.randrange(1_000, 20_000), 45, "PATIENT", reference=f"CARD-{a.id}")
        return a.rows

    def encounter(self, credit: bool) -> list[dict[str, str]]:
        self.number += 1
        rows = _encounter(self.rng, self.number, self.number, 1.0 if credit else 0.0)
        shift = (month_start(self.n) + timedelta(days=self.rng.randrange(0, 28) - 30)) - date.fromisoformat(
            rows[0]["service_date"])
        for row in rows:
            for field in ("posting_date", "service_date"):
                row[field] = (date.fromisoformat(row[field]) + shift).isoformat()
        return rows


def refund(rows: list[dict[str, str]], rng: random.Random, days: int | None = None) -> dict[str, str] | None:
    """The row that refunds the encounter's credit whole, to whoever paid last, `days` after its last row."""
    owed = -_cents(rows)
    if owed <= 0:
        return None
    last = max(rows, key=lambda r: r["posting_date"])
    payer = next(r for r in reversed(rows) if r["txn_type"] == "PAYMENT")
    after = days if days is not None else rng.randrange(10, 70)
    when = date.fromisoformat(last["posting_date"]) + timedelta(days=after)
    return {**last, "txn_id": f"{last['account_id']}-RF{len(rows)}", "txn_type": "REFUND",
            "amount": f"{Decimal(owed) / 100:.2f}", "posting_date": when.isoformat(),
            "payer_type": payer["payer_type"], "payer_id": payer["payer_id"], "reference": f"RF-{last['account_id']}",
            "adj_code": "", "reversal_of": "", "claim_id": "", "patient_resp": "", "coverage_rank": ""}


def rows(months: int, per_month: int, seed: int, planted: bool = False, credits_per_payer: int = CREDITS_PER_PAYER
         ) -> Iterator[dict[str, str]]:
    """The extract's rows, month by month: the same for the same arguments. Each month: about `per_month`
    encounters that end settled, and credits at the same rates every month (each within 20% of
    `credits_per_payer` per payer and kind), most refunded later."""
    rng = random.Random(seed)  # noqa: S311 (synthetic data, not secrets)
    for n in range(months):
        month = _Month(rng, n, n * 10_000_000)
        for _ in range(max(1, round(per_month * rng.uniform(0.9, 1.1)))):
            yield from month.encounter(False)
        for payer_type, payer, kind in KINDS:
            for _ in range(round(credits_per_payer * rng.uniform(0.8, 1.2))):
                credit = month.credit(payer_type, payer, kind)
                back = refund(credit, rng) if rng.random() < REFUNDED_SHARE else None
                yield from credit + ([back] if back else [])
        if planted:
            yield from _planted(month, n)


def _planted(month: _Month, n: int) -> Iterator[dict[str, str]]:
    rng = month.rng
    if n == SPIKE_MONTH:
        for _ in range(PLANTED_SPIKE):  # paid twice under another trace number
            a = month.account(last_posting=40)
            a.add("CHARGE", 100_000, 2)
            a.add("PAYMENT", -80_000, 20, "COMMERCIAL", "HUMANA", coverage_rank="1", reference=f"EFT-{a.id}")
            a.add("PAYMENT", -20_000, 25, "PATIENT", reference=f"CHK-{a.id}")
            a.add("PAYMENT", -80_000, 40, "COMMERCIAL", "HUMANA", coverage_rank="1", reference=f"EFT-{a.id}-2")
            yield from a.rows
    if n == DOUBLE_POSTING_MONTH:
        for _ in range(DOUBLE_POSTED):
            yield from month.credit("COMMERCIAL", "BCBS", "posted_twice", last_posting=21)  # (posted that month)
    if n in REPOST_MONTHS:
        for _ in range(REPOSTED):  # one remittance posted twice, on each of its accounts
            a = month.account(last_posting=20)
            a.add("CHARGE", 50_000, 2)
            for _again in range(2):
                a.add("PAYMENT", -40_000, 20, "COMMERCIAL", "CIGNA", coverage_rank="1", reference=REPOST_REFERENCE)
            a.add("PAYMENT", -10_000, 25, "PATIENT", reference=f"CHK-{a.id}")
            yield from a.rows
    if n == 3:
        for _ in range(RECURRING):  # refunded, then in credit again on the same account 30 days later
            a = month.account(last_posting=70)
            a.add("CHARGE", 30_000, 2)
            a.add("PAYMENT", -30_000, 20, "MEDICAID", "MEDICAID-TX", coverage_rank="1", reference=f"EFT-{a.id}")
            a.add("PAYMENT", -5_000, 25, "PATIENT", reference=f"CHK-{a.id}")
            first = refund(a.rows, rng, days=15)
            assert first is not None
            a.rows.append(first)
            a.add("PAYMENT", -7_000, 70, "PATIENT", reference=f"CHK2-{a.id}")
            yield from a.rows


def write_csv(out: IO[str], months: int, per_month: int, seed: int, planted: bool = False,
              credits_per_payer: int = CREDITS_PER_PAYER) -> int:
    writer = csv.DictWriter(out, fieldnames=HEADER, lineterminator="\n")
    writer.writeheader()
    written = 0
    for row in rows(months, per_month, seed, planted, credits_per_payer):
        writer.writerow(row)
        written += 1
    return written


if __name__ == "__main__":
    print(write_csv(sys.stdout, int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), "--planted" in sys.argv),
          file=sys.stderr)
