"""Benchmark: the deployed stack's trends report over 100,000 cases and 24 months (the issue's bar: 5 s).

    .venv/bin/python bench/trends_deployed.py [--cases 100000] [--months 24] [--rolled 300]

Starts the local cloud, then fills its trends table with the counters of `--cases` seeded cases over
`--months` months (8 payers, 5 reasons, 4 facilities; most refunded 10 to 90 days later). The counters are
what the roll-up would have left after counting each case's identification and close: the increments are
summed per counter and written once, because the report reads only the counters, never the cases or their
markers. It then times `refunds report trends --json` over the months as an auditor runs it (a fresh process
against the local cloud), and the roll-up's own cost per case: `--rolled` cases counted one at a time through
the trends store, each a transaction with its marker.
"""

from __future__ import annotations

import argparse
import json
import random
import subprocess
import sys
import time
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "cli"), str(ROOT / "layers" / "core" / "python")]

from creditrefunds.adapters.rollup_store import RollupStore  # noqa: E402
from creditrefunds.domain.rollups import Counted, Increments, closed, identified  # noqa: E402
from creditrefunds.domain.trends import Credit, Part, month_of, months_from  # noqa: E402
from localcloud.cloud import LocalCloud  # noqa: E402

PAYERS = [("COMMERCIAL", p) for p in ("BCBS", "AETNA", "CIGNA", "UHC", "HUMANA")] + [
    ("MEDICARE", "MEDICARE-JH"), ("MEDICAID", "MEDICAID-TX"), ("PATIENT", "PATIENT")]
REASONS = ["DUPLICATE_PAYMENT", "DUPLICATE_POSTING", "PATIENT_OVERPAYMENT", "PAYER_OVERPAYMENT", "COB_ERROR"]
FACILITIES = ["FAC-1", "FAC-2", "FAC-3", "FAC-4"]
START = date(2025, 1, 1)


def credits(count: int, months: int, rng: random.Random) -> list[Credit]:
    found = []
    for n in range(count):
        began = START + timedelta(days=rng.randrange(months * 30))
        payer_type, payer = rng.choice(PAYERS)
        amount = Decimal(rng.randrange(500, 500_000)) / 100
        closed_on = began + timedelta(days=rng.randrange(10, 90)) if rng.random() < 0.8 else None
        found.append(Credit(f"CB-BENCH{n:08d}", f"ACC-{n:08d}", f"G-{n:08d}", rng.choice(FACILITIES), began,
                            month_of(began), amount, (Part(rng.choice(REASONS), payer_type, payer, amount),),
                            began + timedelta(days=60), closed_on, closed_on is not None))
    return found


def summed(every: list[Credit]) -> Increments:
    total: Increments = {}
    for credit in every:
        counted = Counted.of(credit)
        parts = [identified(counted)]
        if credit.closed is not None:
            parts.append(closed(counted, credit.closed, credit.refunded))
        for increments in parts:
            for at, counters in increments.items():
                mine = total.setdefault(at, {})
                for name, value in counters.items():
                    mine[name] = mine.get(name, 0) + value
    return total


def write(table: Any, total: Increments) -> None:
    with table.batch_writer() as batch:
        for (key, month), counters in total.items():
            batch.put_item(Item={"key": key, "month": month, **counters})
    table.put_item(Item={"key": "keys", "month": "-", "keys": {key for key, _ in total}})


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cases", type=int, default=100_000)
    parser.add_argument("--months", type=int, default=24)
    parser.add_argument("--rolled", type=int, default=300)
    parser.add_argument("--seed", type=int, default=33)
    args = parser.parse_args()
    rng = random.Random(args.seed)  # noqa: S311 (synthetic data)
    every = credits(args.cases, args.months, rng)
    total = summed(every)
    months = months_from(month_of(START), month_of(START + timedelta(days=args.months * 30 - 1)))
    with LocalCloud(ROOT, quiet=True) as cloud:
        table = cloud.table("TrendsTableName")
        write(table, total)
        print(f"{args.cases:,} cases over {len(months)} months: {len(total):,} counters in "
              f"{len({key for key, _ in total})} keys")
        command = [sys.executable, "-m", "refunds_cli.main", "--endpoint-url", cloud.endpoint_url, "report",
                   "trends", "--from", months[0], "--to", months[-1], "--json"]
        runs = []
        for _ in range(3):
            started = time.perf_counter()
            done = subprocess.run(command, capture_output=True, text=True, check=True)
            runs.append(time.perf_counter() - started)
        result = json.loads(done.stdout)
        identified_total = sum(m["identified"]["count"] for m in result["months"])
        assert identified_total == args.cases, identified_total
        print(f"refunds report trends: best {min(runs):.2f} s of 3 (the whole command: Python's start, the "
              f"reads, the figures); {identified_total:,} cases identified in its months")
        store = RollupStore(table)
        started = time.perf_counter()
        for credit in credits(args.rolled, args.months, random.Random(args.seed + 1)):  # noqa: S311
            counted = Counted.of(credit)
            case_id = credit.case_id.replace("BENCH", "ROLLED")
            store.apply(case_id, "identified", counted.to_json(), identified(counted))
            if credit.closed is not None:
                store.apply(case_id, "closed", {}, closed(counted, credit.closed, credit.refunded))
        per_case = (time.perf_counter() - started) / args.rolled * 1000
        print(f"the roll-up's writes: {per_case:.1f} ms a case on the local cloud ({args.rolled} cases, each its "
              "identification and, for most, its close: a transaction each)")
    return 0 if min(runs) <= 5 else 2


if __name__ == "__main__":
    raise SystemExit(main())
