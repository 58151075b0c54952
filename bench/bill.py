"""Benchmark: the bill. What AWS would charge for a 100,000-row file and for 1,000 cases, from what the local
cloud served the product's functions (localcloud/meter.py), and a month at 100,000 and 2,000,000 rows a day.

    .venv/bin/python bench/bill.py [--rows 100000] [--cases 200]

1. A file: a seeded synthetic ledger of `--rows` rows dropped into incoming/, metered until every case it
   opens waits at its first stop. The file's share is what the ingest side made (the ingest, fan-out and
   detection functions and the fan-out state machine); the rest is its cases' first steps.
2. Cases: `--cases` Texas patients in credit, each taken the whole way: detected, reviewed, mailed, approved
   by the tier-1 approver signed in to the console, refund issued with its AP file; then one seal and one
   sweep as their schedules run them. The cases' share (everything but the ingest side) per 1,000 cases.
3. The schedules at rest: a seal, a sweep and the daily whole sweep with nothing changed (720, 2,880 and 30
   runs a month). And what the file and the cases leave stored (DynamoDB with its indexes, S3 versions),
   kept a year.

Prices: `PRICES`, us-east-1 on-demand list prices as AWS published them in 2025 (DynamoDB after its
November 2024 cut), arm64 Lambda as the template deploys. Read them against aws.amazon.com/pricing before
relying on a figure: this machine has no access to AWS. What the local cloud cannot count is said at the end.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "cli"), str(ROOT / "layers" / "core" / "python"), str(Path(__file__).parent)]

import synthetic  # noqa: E402
from creditrefunds.domain.approvals import link_key  # noqa: E402
from localcloud.cloud import LocalCloud  # noqa: E402
from localcloud.meter import Reading, projected_size  # noqa: E402
from refunds_cli.demo import decide_link  # noqa: E402

PRICES_DATE = "2025 (us-east-1 list prices)"
PRICES = {  # USD
    "DynamoDB write units": 0.625 / 1e6, "DynamoDB read units": 0.125 / 1e6,
    "Lambda GB-s (arm64)": 0.0000133334, "Lambda requests": 0.20 / 1e6,
    "X-Ray traces (at most one an invocation)": 5.00 / 1e6,
    "Step Functions transitions": 0.025 / 1000, "KMS requests": 0.03 / 10_000,
    "KMS asymmetric requests (seal Sign/Verify)": 0.15 / 10_000, "SES mails": 0.10 / 1000,
    "SQS requests": 0.40 / 1e6, "S3 PUT/LIST requests": 0.005 / 1000, "S3 GET requests": 0.0004 / 1000,
    "EventBridge events": 1.00 / 1e6,
}
STORAGE = {  # USD a GB-month: every table has point-in-time recovery
    "DynamoDB": 0.25 + 0.20, "S3": 0.023,
}
FIXED = {  # a month, whatever the volume: 8 KMS keys, 8 alarms, the dashboard, ~20 custom metrics (EMF)
    "KMS keys (8)": 8 * 1.00, "CloudWatch alarms (8)": 8 * 0.10, "dashboard": 3.00, "custom metrics (~20)": 20 * 0.30,
}
INGEST_SIDE = ("IngestFunction", "IngestFailedFunction", "StorePartFunction", "PlanDetectionFunction",
               "DetectBatchFunction", "FinishLedgerFunction", "LedgerFailedFunction", "LedgerFanOut")
FIRST_STOPS = {"AWAITING_APPROVAL", "INVESTIGATING", "WORK_ITEM", "RESOLVED_NO_REFUND", "FAILED"}
TIER1 = "tier1.approver@example.org"
DAYS = 30


def ingest_side(name: str) -> bool:
    return any(part in name for part in INGEST_SIDE)


def usage(reading: Reading) -> dict[str, float]:
    """The bill's lines, in their units."""
    calls = reading.by_service()

    def count(*prefixes: str) -> float:
        return sum(n for operation, n in calls.items() if operation.startswith(prefixes))

    return {
        "DynamoDB write units": sum(reading.write_units.values()),
        "DynamoDB read units": sum(reading.read_units.values()),
        "Lambda GB-s (arm64)": sum(reading.gb_seconds.values()),
        "Lambda requests": sum(reading.invocations.values()),
        "X-Ray traces (at most one an invocation)": sum(reading.invocations.values()),
        "Step Functions transitions": sum(reading.transitions.values()),
        "KMS requests": count("kms:") - calls["kms:Sign"] - calls["kms:Verify"],
        "KMS asymmetric requests (seal Sign/Verify)": calls["kms:Sign"] + calls["kms:Verify"],
        "SES mails": count("ses:Send"),
        "SQS requests": count("sqs:"),
        "S3 PUT/LIST requests": count("s3:Put", "s3:List", "s3:Copy"),
        "S3 GET requests": count("s3:Get"),
        "EventBridge events": count("events:PutEvents"),
    }


def stored_bytes(cloud: LocalCloud) -> dict[str, int]:
    """What the stack keeps, as AWS bills storage: DynamoDB items and each index's copy (100 bytes of overhead
    each), and every version of every S3 object."""
    from localcloud.names import ACCOUNT_ID
    from moto.dynamodb.models import dynamodb_backends
    from moto.s3.models import s3_backends

    dynamodb = 0
    for name, table in dynamodb_backends[ACCOUNT_ID][cloud.region].tables.items():
        if not name.startswith(cloud.stack_name):
            continue
        for item in table.all_items():
            dynamodb += item.size() + 100
            for index in table.all_indexes():
                if all(k in item.attrs for k in index.schema_key_attrs):
                    dynamodb += projected_size(index, item) + 100
    s3 = sum(getattr(version, "size", 0) for bucket in s3_backends[ACCOUNT_ID]["aws"].buckets.values()
             if bucket.name.startswith(cloud.stack_name) for versions in bucket.keys.lists() for version in versions[1])
    return {"DynamoDB": dynamodb, "S3": s3}


def by_function(reading: Reading) -> list[tuple[str, float]]:
    """Each function's (and state machine's) share, dearest first."""
    names = {who for who, _ in reading.requests} | set(reading.invocations) | set(reading.transitions)
    shares = {name.rsplit("-", 1)[-1]: dollars(usage(reading.only(lambda who, name=name: who == name)))
              for name in names}
    return sorted(shares.items(), key=lambda share: -share[1])


def dollars(lines: dict[str, float]) -> float:
    return sum(amount * PRICES[line] for line, amount in lines.items())


def show(title: str, lines: dict[str, float]) -> None:
    print(f"{title}: ${dollars(lines):,.4f}")
    for line, amount in lines.items():
        if amount:
            print(f"    {line:<28} {amount:>14,.1f}  ${amount * PRICES[line]:,.4f}")


def settle(cloud: LocalCloud, want: int, statuses: set[str], timeout: float,
           accounts: str = "") -> list[dict[str, Any]]:
    """The cases of the accounts starting `accounts` once `want` of them are in `statuses` (and every approval
    waited on is mailed)."""
    table, deadline = cloud.table("CasesTableName"), time.monotonic() + timeout
    while True:
        items, page = [], table.scan()
        items += page["Items"]
        while "LastEvaluatedKey" in page:
            page = table.scan(ExclusiveStartKey=page["LastEvaluatedKey"])
            items += page["Items"]
        cases = [item for item in items if "status" in item and item["account_id"].startswith(accounts)]
        waiting = sum(1 for c in cases if c["status"] == "AWAITING_APPROVAL")
        mailed = sum(1 for m in cloud.mailbox.messages() if m.links)
        if sum(1 for c in cases if c["status"] in statuses) >= want and mailed >= waiting:
            return cases
        if time.monotonic() > deadline:
            raise SystemExit(f"cases did not settle: {Counter(c['status'] for c in cases)}")
        time.sleep(2)


def a_file(cloud: LocalCloud, rows: int, timeout: float) -> tuple[Reading, int]:
    with tempfile.TemporaryDirectory() as workdir:
        ledger = Path(workdir) / "day.csv"
        with open(ledger, "w", newline="") as out:
            synthetic.write_csv(out, rows, seed=7)
        before = cloud.meter.reading()
        cloud.client("s3").upload_file(str(ledger), cloud.outputs["LedgerBucketName"], "incoming/day.csv")
    cloud.wait_idle(timeout=timeout)
    opened = len(settle(cloud, 0, set(), timeout))
    settle(cloud, opened, FIRST_STOPS, timeout)
    return cloud.meter.reading() - before, opened


def patient_credits(count: int) -> str:
    """`count` Texas patients who paid 150.00 on a 100.00 charge five days ago: tier-1 refunds."""
    paid = (datetime.now(UTC).date() - timedelta(days=5)).isoformat()
    charged = (datetime.now(UTC).date() - timedelta(days=12)).isoformat()
    lines = [",".join(synthetic.HEADER)]
    for n in range(count):
        fields = {"account_id": f"BILL-{n:05d}", "patient_id": f"P-BILL-{n}", "guarantor_id": f"G-BILL-{n}",
                  "patient_name": "Rivera, Ana", "patient_state": "TX", "facility_id": "FAC-1"}
        for k, (kind, amount, day, payer) in enumerate([("CHARGE", "100.00", charged, ""),
                                                       ("PAYMENT", "-150.00", paid, "PATIENT")]):
            row = {**fields, "txn_id": f"BILL-{n:05d}-{k}", "txn_type": kind, "amount": amount,
                   "posting_date": day, "payer_type": payer}
            lines.append(",".join(_csv(row.get(name, "")) for name in synthetic.HEADER))
    return "\n".join(lines) + "\n"


def _csv(value: str) -> str:
    return f'"{value}"' if "," in value else value


def cases_whole_way(cloud: LocalCloud, count: int, timeout: float) -> Reading:
    before = cloud.meter.reading()
    cloud.client("s3").put_object(Bucket=cloud.outputs["LedgerBucketName"], Key="incoming/credits.csv",
                                  Body=patient_credits(count).encode())
    cloud.wait_idle(timeout=timeout)
    settle(cloud, count, {"AWAITING_APPROVAL"}, timeout, accounts="BILL-")
    approved: set[str] = set()
    deadline = time.monotonic() + timeout
    while len(approved) < count:  # each through the link its case waits on, once that is mailed
        links = {link_key(link.rsplit("/", 1)[-1]): link
                 for m in cloud.mailbox.messages() if TIER1 in m.to for link in m.links}
        for case in settle(cloud, 0, set(), timeout, accounts="BILL-"):  # (as they are now)
            if case["case_id"] not in approved and case.get("approval_key") in links:
                status, _ = decide_link(cloud, links[case["approval_key"]], {"decision": "approve"})
                if status != 200:
                    raise SystemExit(f"approving {case['case_id']} answered {status}")
                approved.add(case["case_id"])
        if time.monotonic() > deadline:
            raise SystemExit(f"{count - len(approved)} cases never waited on a mailed link")
        time.sleep(1)
    settle(cloud, count, {"REFUND_ISSUED"}, timeout, accounts="BILL-")
    time.sleep(1.1)  # past the sweep's grace (1 s here)
    scheduled(cloud)
    return cloud.meter.reading() - before


SCHEDULES = {  # (function, its event) -> runs a month at the template's schedules
    ("SealHistoryFunction", '{"source": "aws.events"}'): 720, ("SweepFunction", '{"source": "aws.events"}'): 2880,
    ("SweepFunction", '{"whole": true}'): 30,
}


def scheduled(cloud: LocalCloud, only: tuple[str, str] | None = None) -> None:
    """Invoke the scheduled functions (or `only` one) as their schedules do."""
    for logical_id, event in [only] if only else list(SCHEDULES)[:2]:
        answer = cloud.client("lambda").invoke(FunctionName=cloud.function_name(logical_id), Payload=event.encode())
        if "FunctionError" in answer:
            raise SystemExit(f"{logical_id} failed: {answer['Payload'].read().decode()}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--cases", type=int, default=200)
    parser.add_argument("--timeout", type=float, default=1800)
    args = parser.parse_args()
    # The template's own timings (a day is a day: no escalation fires while it runs), the schedules run by hand.
    overrides = {"SealSchedule": "rate(1 day)", "SweepSchedule": "rate(1 day)", "SweepGraceSeconds": "1"}
    with LocalCloud(ROOT, stack_name="bench-bill", quiet=True, demo_users=True, profile="default",
                    parameter_overrides=overrides) as cloud:
        scheduled(cloud)  # the first seal (of nothing), and warm containers
        empty = stored_bytes(cloud)
        file_run, opened = a_file(cloud, args.rows, args.timeout)
        after_file = stored_bytes(cloud)
        cases_run = cases_whole_way(cloud, args.cases, args.timeout)
        after_cases = stored_bytes(cloud)
        at_rest = {}
        for schedule in SCHEDULES:
            before = cloud.meter.reading()
            scheduled(cloud, schedule)
            at_rest[schedule] = cloud.meter.reading() - before
    per_file = usage(file_run.only(ingest_side).scaled(100_000 / args.rows))
    per_1000 = usage(cases_run.only(lambda name: not ingest_side(name)).scaled(1000 / args.cases))
    first_steps = usage(file_run.only(lambda name: not ingest_side(name)))
    cases_per_100k = opened * 100_000 / args.rows
    print(f"prices: {PRICES_DATE}")
    show(f"a 100,000-row file (ingest, store, detect; {args.rows:,} rows measured)", per_file)
    show(f"1,000 cases the whole way, detected to refund issued, sealed and swept ({args.cases} measured)", per_1000)
    show(f"the file's {opened:,} cases to their first stop (inside the line above, for comparison)", first_steps)
    print("where a file's money goes (per 100,000 rows): " + ", ".join(
        f"{name} ${cost:,.4f}" for name, cost in by_function(file_run.only(ingest_side).scaled(100_000 / args.rows))))
    print("where a case's money goes (per 1,000 cases):")
    for name, cost in by_function(cases_run.only(lambda name: not ingest_side(name)).scaled(1000 / args.cases)):
        print(f"    {name:<28} ${cost:,.4f}")
    scheduled_month = 0.0
    for (function, event), runs in SCHEDULES.items():
        cost = dollars(usage(at_rest[(function, event)]))
        scheduled_month += cost * runs
        print(f"at rest, {function} {event}: ${cost:,.6f} a run, {runs} runs a month: ${cost * runs:,.2f}")
    file_bytes = {k: (after_file[k] - empty[k]) * 100_000 / args.rows for k in empty}
    case_bytes = {k: (after_cases[k] - after_file[k]) * 1000 / args.cases for k in empty}
    print("stored per 100,000-row file: " + ", ".join(f"{k} {v / 1e6:,.1f} MB" for k, v in file_bytes.items())
          + "; per 1,000 cases: " + ", ".join(f"{k} {v / 1e6:,.1f} MB" for k, v in case_bytes.items()))
    fixed = sum(FIXED.values())
    print(f"\nfixed a month: ${fixed:,.2f} ({', '.join(f'{k} ${v:,.2f}' for k, v in FIXED.items())}); "
          f"the schedules at rest: ${scheduled_month:,.2f}")
    for rows_a_day in (100_000, 2_000_000):
        files = dollars(per_file) * rows_a_day / 100_000 * DAYS
        cases = cases_per_100k * rows_a_day / 100_000
        workflow = dollars(per_1000) * cases / 1000 * DAYS
        monthly_gb = {k: (file_bytes[k] * rows_a_day / 100_000 + case_bytes[k] * cases / 1000) * DAYS / 1e9
                      for k in STORAGE}
        storage = sum(12 * monthly_gb[k] * STORAGE[k] for k in STORAGE)  # the 12th month's: a year kept
        total = files + workflow + scheduled_month + fixed + storage
        print(f"a month at {rows_a_day:,} rows a day ({cases:,.0f} cases a day, as the synthetic file's "
              f"{cases_per_100k:,.0f} per 100,000 rows): files ${files:,.2f} + cases ${workflow:,.2f} + "
              f"schedules ${scheduled_month:,.2f} + fixed ${fixed:,.2f} + storage in the 12th month "
              f"${storage:,.2f} ({12 * monthly_gb['DynamoDB']:,.1f} GB DynamoDB, {12 * monthly_gb['S3']:,.1f} GB S3)"
              f" = ${total:,.2f}")
    print("not priced: CloudWatch Logs (per GB ingested), Lambda INIT time, SQS pollers' empty receives, "
          "escalations, remittance files, reconciliation, the one-time WarmThroughput charge")


if __name__ == "__main__":
    main()
