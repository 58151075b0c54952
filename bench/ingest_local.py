"""Benchmark: the ingest function on the local cloud, and the AWS requests it makes per row.

    .venv/bin/python bench/ingest_local.py [--rows 2000] [--seed 7]

Starts the local cloud, drops a seeded synthetic ledger into incoming/, and times the ingest
function (validation, idempotent storage of every transaction, detection, cases opened,
executions started) until it is done, counting its AWS requests by operation.

The local time says little about AWS: moto answers one request at a time, its Query scans
the whole table and its TransactWriteItems copies the table, so it slows as the table grows.
What carries over is the number of requests per row; the projection for a 1,000,000-row file
assumes DynamoDB's usual single-digit-millisecond latency with the function's 16 writers.
Measure the real figure in AWS with the same file (`refunds drop`) and the REPORT log line.
"""

from __future__ import annotations

import argparse
import collections
import resource
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
import synthetic

ROOT = Path(__file__).resolve().parents[1]


def main() -> int:
    import boto3
    from refunds_cli.localcloud.cloud import LocalCloud

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=2_000)
    parser.add_argument("--latency-ms", type=float, default=8.0, help="assumed DynamoDB latency for the projection")
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as workdir:
        ledger = Path(workdir) / f"ledger-{args.rows}.csv"
        with open(ledger, "w", newline="") as out:
            rows = synthetic.write_csv(out, args.rows, args.seed)
        with LocalCloud(ROOT, quiet=True) as cloud:
            s3 = cloud.client("s3")
            bucket = cloud.outputs["LedgerBucketName"]
            calls: collections.Counter[str] = collections.Counter()

            def count(model, **_):  # every request of every client made in this process
                calls[f"{model.service_model.service_name}:{model.name}"] += 1

            boto3.setup_default_session()
            boto3.DEFAULT_SESSION.events.register("before-call", count)
            start = time.perf_counter()
            s3.upload_file(str(ledger), bucket, f"incoming/{ledger.name}")
            cloud.wait_idle(timeout=3600)
            elapsed = time.perf_counter() - start
            table = cloud.outputs["CasesTableName"]
            cases = cloud.client("dynamodb").scan(TableName=table, Select="COUNT")["Count"]
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024
    dynamodb = {k: v for k, v in calls.items() if k.startswith("dynamodb:")}
    per_row = sum(dynamodb.values()) / rows
    print(f"local cloud      {rows:,} rows in {elapsed:.1f} s, {cases:,} cases opened, peak {peak} MiB (moto included)")
    print(f"DynamoDB         {per_row:.3f} requests per row: "
          + ", ".join(f"{k.split(':')[1]} {v}" for k, v in sorted(dynamodb.items())))
    projected = 1_000_000 * per_row * args.latency_ms / 1000 / 16 / 60
    print(f"projection       1,000,000 rows: {1_000_000 * per_row:,.0f} requests, about {projected:.1f} min of "
          f"DynamoDB time at {args.latency_ms:g} ms and 16 writers (Lambda allows 15 min)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
