"""Benchmark: a simulated year of sealing and sweeping on the local cloud, against the cases kept.

    .venv/bin/python bench/year.py [--months 12] [--days 4] [--cases-per-day 250]

Starts the local cloud (its schedules slowed to a day: the benchmark runs them) and simulates compressed
days: each day's cases are written as the steps leave them (the case item with its chain head, four history
records: detected, reviewed, decided, reconciled; a tenth still REFUND_ISSUED), then the seal function and the
sweep function are invoked as their schedules would, and their handlers' time is read off the local runtime.

What to look for: seal and sweep time per run stay flat while the cases kept grow (each reads the cases that
moved since its last run through a sparse index, never every case); the seal's size is the day's cases, not
every case. Printed per run, then the first and last month's medians.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "cli"), str(ROOT / "layers" / "core" / "python")]

from creditrefunds.adapters.case_store import _figures, check_shard, to_check  # noqa: E402
from creditrefunds.domain.cases import Case, Line  # noqa: E402
from creditrefunds.domain.history import Entry, next_record  # noqa: E402
from creditrefunds.domain.status import Status  # noqa: E402
from localcloud.cloud import LocalCloud  # noqa: E402

STEPS = [("system:ingest", "DETECTED", None, "OPEN"), ("system:review", "REVIEWED", "OPEN", "AWAITING_APPROVAL"),
         ("user:bench-approver", "DECIDED", "AWAITING_APPROVAL", "APPROVED"),
         ("system:issue-refund", "ISSUED", "APPROVED", "REFUND_ISSUED"),
         ("system:reconcile", "RECONCILED", "REFUND_ISSUED", "RECONCILED")]


def a_day_of_cases(cloud: LocalCloud, day: date, count: int, first: int) -> None:
    """`count` cases of `day`, as the workflow leaves them: most reconciled, a tenth still REFUND_ISSUED."""
    cases, history = cloud.table("CasesTableName"), cloud.table("HistoryTableName")
    with cases.batch_writer() as case_batch, history.batch_writer() as record_batch:
        for n in range(first, first + count):
            case = Case(f"CB-YEAR{n:08d}", f"ACC-Y{n:08d}", f"P-Y{n}", f"G-Y{n}", Decimal("40.00"), day,
                        [Line("REFUND", "PATIENT_OVERPAYMENT", "PATIENT", f"G-Y{n}", Decimal("40.00"),
                              day + timedelta(days=30))], tier=1)
            steps = STEPS[:-1] if n % 10 == 0 else STEPS
            last = None
            for hour, (actor, action, before, after) in enumerate(steps):
                at = datetime(day.year, day.month, day.day, 8 + hour, tzinfo=UTC)
                last = next_record(case, Entry(actor, action, before, after, "simulated", Decimal("40.00")), at, last)
                record_batch.put_item(Item=last)
            case_batch.put_item(Item={**_figures(case), "status": steps[-1][3], "escalation_level": 0,
                                      "overdue": False, "opened_at": f"{day.isoformat()}T08:00:00+00:00",
                                      "history_seq": last["seq"], "history_hash": last["hash"],
                                      **to_check(case.case_id, last["at"]), "seal_shard": check_shard(case.case_id)})


def timed(cloud: LocalCloud, logical_id: str) -> tuple[float, dict]:
    """Invoke a scheduled function as its schedule does (synchronously here), and its handler's time in ms."""
    name = cloud.function_name(logical_id)
    answer = cloud.client("lambda").invoke(FunctionName=name, Payload=json.dumps({"source": "aws.events"}).encode())
    result = json.load(answer["Payload"])
    if "FunctionError" in answer:
        raise SystemExit(f"{logical_id} failed: {result}")
    seconds = next(s for n, s in reversed(cloud.runtime.durations) if n.endswith(logical_id))
    return seconds * 1000, result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--months", type=int, default=12)
    parser.add_argument("--days", type=int, default=4, help="simulated days per month")
    parser.add_argument("--cases-per-day", type=int, default=250)
    args = parser.parse_args()
    overrides = {"SealSchedule": "rate(1 day)", "SweepSchedule": "rate(1 day)", "SweepGraceSeconds": "1"}
    runs: list[tuple[int, int, float, int, float, int]] = []
    with LocalCloud(ROOT, stack_name="bench-year", quiet=True, parameter_overrides=overrides) as cloud:
        timed(cloud, "SealHistoryFunction")  # the first seal (of nothing), and warm containers
        timed(cloud, "SweepFunction")
        total = 0
        start = datetime.now(UTC).date() - timedelta(days=30 * args.months + 1)  # a year that ends today
        print(f"{'month':>5} {'day':>3} {'cases kept':>10} {'seal ms':>8} {'sealed':>6} {'sweep ms':>8} {'looked':>6}")
        for month in range(args.months):
            for day_of_month in range(args.days):
                day = start + timedelta(days=30 * month + 7 * day_of_month)
                a_day_of_cases(cloud, day, args.cases_per_day, total)
                total += args.cases_per_day
                time.sleep(1.1)  # past the sweep's grace
                seal_ms, sealed = timed(cloud, "SealHistoryFunction")
                sweep_ms, swept = timed(cloud, "SweepFunction")
                runs.append((month, total, seal_ms, sealed["cases"], sweep_ms, swept["looked"]))
                print(f"{month + 1:>5} {day_of_month + 1:>3} {total:>10} {seal_ms:>8.0f} {sealed['cases']:>6} "
                      f"{sweep_ms:>8.0f} {swept['looked']:>6}", flush=True)
    first = [r for r in runs if r[0] == 0]
    last = [r for r in runs if r[0] == args.months - 1]
    for label, group in (("first month", first), ("last month", last)):
        print(f"{label}: {group[-1][1]} cases kept; seal median {statistics.median(r[2] for r in group):.0f} ms, "
              f"sweep median {statistics.median(r[4] for r in group):.0f} ms")
    print(f"{total} cases kept ({total // 10} still {Status.REFUND_ISSUED.value}) over {len(runs)} runs")


if __name__ == "__main__":
    main()
