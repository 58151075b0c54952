"""Benchmark: a day's ledger on the local cloud, and the AWS requests ingest makes per row.

    .venv/bin/python bench/ingest_local.py [--rows 100000] [--seed 7]

Starts the local cloud (its [local] waits: minutes), drops a seeded synthetic ledger into
incoming/ and times, from the upload: every case open (ingest done), and every case's workflow
settled on its first wait (each approval mailed; CORRECT/REVIEW/HOLD cases in WORK_ITEM). It
samples the local cloud's memory (this process, which runs moto and Step Functions, plus the
function workers) and threads, counts the DynamoDB requests moto answers by operation, and
checks the cases against `refunds detect` on the same file.

What carries over to AWS is the number of requests per row, not the local time; the
projection for a 1,000,000-row file assumes DynamoDB's usual single-digit-millisecond latency
with the function's 16 writers.

It then measures the function's own CPU, which does not depend on where DynamoDB is: the CPU
time and peak memory of validating a fan-out part's rows as the ingest function does before it
stores a row, with each reader (the compiled pass the layer carries where it is built for the
functions' processor, and the reference reader), projected to 1,000,000 rows, and the boto3 client's CPU per
request of each kind (build, sign, send, parse), against a moto server in another process so
that only the client is counted (moto closes every connection, so each request also pays a TCP
connect here: an upper bound). Both are scaled to the share of a vCPU Lambda gives a 1024 MB
function. Measure the real figure in AWS with the same file (`refunds drop`) and the REPORT
log line.
"""

from __future__ import annotations

import argparse
import collections
import csv
import os
import subprocess
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parent))
import synthetic

ROOT = Path(__file__).resolve().parents[1]
TIMES = 50  # requests of each kind timed
SPLIT_THRESHOLD_BYTES, ROWS_PER_PART, DETECT_BATCH = 16 << 20, 250_000, 5_000  # template.yaml's defaults
LAMBDA_VCPU_AT_1024_MB = 1024 / 1769  # Lambda gives a full vCPU at 1769 MB, in proportion below
SETTLED = {"AWAITING_APPROVAL", "INVESTIGATING", "WORK_ITEM", "RESOLVED_NO_REFUND", "FAILED"}  # a workflow's first stop
VALIDATE = """
import mmap, resource, sys
from creditrefunds.domain import fastpass
from creditrefunds.domain.ledger_files import check_readable, numbered_rows
with open(sys.argv[1], "rb") as stream:
    if sys.argv[2] == "compiled":  # as store_file does where the layer has the compiled pass
        with mmap.mmap(stream.fileno(), 0, access=mmap.ACCESS_READ) as data, fastpass.numbered_rows(data) as read:
            rows = sum(1 for _ in read)
    else:
        check_readable(stream)
        stream.seek(0)
        rows = sum(1 for _ in numbered_rows(stream, "csv"))
usage = resource.getrusage(resource.RUSAGE_SELF)
# VmHWM, not ru_maxrss: Linux carries ru_maxrss over exec from the (large) parent.
peak = next(int(line.split()[1]) for line in open("/proc/self/status") if line.startswith("VmHWM:"))
print(rows, usage.ru_utime + usage.ru_stime, peak // 1024)
"""

def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=2_000)
    parser.add_argument("--latency-ms", type=float, default=8.0, help="assumed DynamoDB latency for the projection")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--timeout", type=float, default=1800, help="seconds to wait for the workflows")
    parser.add_argument("--validate-rows", type=int, default=ROWS_PER_PART,
                        help="rows of the CPU and memory measure (default: a fan-out part's)")
    args = parser.parse_args()
    request_ms = request_cpu_ms()  # first, apart from the local cloud and its settings
    with tempfile.TemporaryDirectory() as workdir:
        ledger = Path(workdir) / f"ledger-{args.rows}.csv"
        with open(ledger, "w", newline="") as out:
            rows = synthetic.write_csv(out, args.rows, args.seed)
        with open(ledger, newline="") as text:
            accounts = len({row["account_id"] for row in csv.DictReader(text)})
        size_mb = ledger.stat().st_size / 1e6
        bytes_per_row = ledger.stat().st_size / rows
        run = run_on_local_cloud(ledger, args.timeout)
    calls = run.pop("calls")
    dynamodb = {k: v for k, v in calls.items() if k.startswith("dynamodb:")}
    per_row = sum(dynamodb.values()) / rows
    print(f"local cloud      {rows:,} rows ({size_mb:.1f} MB): "
          f"every case open after {run['open_s']:.0f} s, every workflow at its first wait and every approval "
          f"mailed after {run['settled_s']:.0f} s ({rows / run['settled_s']:,.0f} rows/s)")
    print(f"                 {run['cases']:,} cases ({run['statuses']}), {run['mailed']:,} approvals mailed; "
          f"same cases as `refunds detect`: {run['same']}")
    print(f"                 peak memory {run['peak_mib']:,} MiB (moto, Step Functions and the function workers), "
          f"at most {run['threads']:,} threads")
    print(f"DynamoDB         {per_row:.3f} requests per row: "
          + ", ".join(f"{k.split(':')[1]} {v}" for k, v in sorted(dynamodb.items())))
    projected = 1_000_000 * per_row * args.latency_ms / 1000 / 16 / 60
    print(f"projection       1,000,000 rows: {1_000_000 * per_row:,.0f} requests, about {projected:.1f} min of "
          f"DynamoDB time at {args.latency_ms:g} ms and 16 writers (Lambda allows 15 min)")
    validate_ms = {}  # CPU per row, by reader
    with tempfile.TemporaryDirectory() as workdir:
        ledger = Path(workdir) / "ledger.csv"
        with open(ledger, "w", newline="") as out:  # a part's rows: what one invocation validates
            validated = synthetic.write_csv(out, args.validate_rows, args.seed)
        for reader in ("compiled", "reference"):
            done = subprocess.run([sys.executable, "-c", VALIDATE, str(ledger), reader], capture_output=True,
                                  text=True, check=True)
            _, cpu, peak = done.stdout.split()
            validate_ms[reader] = float(cpu) / validated * 1000
            in_lambda = validate_ms[reader] * 1000 / LAMBDA_VCPU_AT_1024_MB / 60  # per 1,000,000 rows
            print(f"validation       {reader:9} {validated:,} rows: {float(cpu):.2f} s of CPU here, peak {peak} MiB;"
                  f" per 1,000,000 rows about {in_lambda:.1f} min at 1024 MB ({LAMBDA_VCPU_AT_1024_MB:.2f} vCPU),"
                  " before any request")
    ms = {op: calls[f"dynamodb:{op}"] * cost for op, cost in request_ms.items()}  # client CPU of the run
    validate_ms_row = validate_ms["compiled"]  # the layer's reader where it is built for the processor
    store_ms = (ms["TransactWriteItems"] + ms["BatchWriteItem"]) / rows + validate_ms_row  # per row
    detect_ms = (sum(ms.values()) - ms["TransactWriteItems"] - ms["BatchWriteItem"]) / accounts  # per account

    print(f"client CPU       {sum(ms.values()) / rows:.2f} ms per row of boto3 requests here "
          f"(storing {store_ms - validate_ms_row:.2f} ms a row, detecting {detect_ms:.2f} ms an account); "
          f"at 1024 MB, CPU only:")
    per_row = store_ms + accounts / rows * detect_ms  # one function does both
    largest = SPLIT_THRESHOLD_BYTES / bytes_per_row
    for label, cpu_ms, why in [
        ("one function, 1,000,000 rows", 1_000_000 * per_row, "over Lambda's 15 min: such a file fans out"),
        (f"one function, {largest:,.0f} rows", largest * per_row,
         f"the largest file one function takes: SplitThresholdBytes {SPLIT_THRESHOLD_BYTES >> 20} MiB"),
        (f"a part of {ROWS_PER_PART:,} rows", ROWS_PER_PART * store_ms, "the fan-out stores parts in parallel"),
        (f"a batch of {DETECT_BATCH:,} accounts", DETECT_BATCH * detect_ms, "and detects batches in parallel"),
    ]:
        print(f"  {label:<30} {cpu_ms / 1000 / LAMBDA_VCPU_AT_1024_MB / 60:5.1f} min  ({why})")
    return 0 if run["same"] and run["settled"] else 1


def run_on_local_cloud(ledger: Path, timeout: float) -> dict[str, Any]:
    """Drop `ledger` into a fresh local cloud; time it until every workflow waits; compare the cases."""
    from creditrefunds.domain.settings import Settings
    from localcloud.cloud import LocalCloud
    from moto.dynamodb.responses import DynamoHandler
    from refunds_cli.detect import detect_file_by_rows

    today = datetime.now(UTC).date()
    expected = {case.case_id: case for case in detect_file_by_rows(ledger, "csv", today, Settings())}
    calls: collections.Counter[str] = collections.Counter()
    sampler = _Sampler()
    with LocalCloud(ROOT, quiet=True) as cloud:
        answer = DynamoHandler.call_action  # the local cloud's (one request at a time)

        def counted(handler: Any) -> Any:
            calls["dynamodb:" + handler.headers.get("X-Amz-Target", ".").split(".")[-1]] += 1
            return answer(handler)

        DynamoHandler.call_action = counted  # type: ignore[method-assign]
        try:
            sampler.start()
            start = time.perf_counter()
            cloud.client("s3").upload_file(str(ledger), cloud.outputs["LedgerBucketName"], f"incoming/{ledger.name}")
            cloud.wait_idle(timeout=timeout)
            open_s = time.perf_counter() - start
            table = cloud.table("CasesTableName")
            settled, items, mailed = False, [], 0
            while time.perf_counter() - start < timeout:
                items = _scan(table)
                mailed = sum(1 for mail in cloud.mailbox.messages() if "approv" in mail.subject.lower())
                awaiting = sum(1 for item in items if item["status"] == "AWAITING_APPROVAL")
                if len(items) >= len(expected) and all(item["status"] in SETTLED for item in items) \
                        and mailed >= awaiting:  # the status is set, then the mail sent
                    settled = True
                    break
                time.sleep(2)
            settled_s = time.perf_counter() - start
        finally:
            DynamoHandler.call_action = answer  # type: ignore[method-assign]
            sampler.stop()
    from creditrefunds.adapters.case_store import stored_from_item

    stored = {s.case.case_id: s.case for s in (stored_from_item(item) for item in items)}
    statuses = collections.Counter(item["status"] for item in items)
    return {"open_s": open_s, "settled_s": settled_s, "settled": settled, "cases": len(items), "mailed": mailed,
            "statuses": ", ".join(f"{k} {v:,}" for k, v in statuses.most_common()),
            "same": _figures(stored) == _figures(expected), "calls": calls,
            "peak_mib": sampler.peak_kib // 1024, "threads": sampler.threads}


def _figures(cases: dict[str, Any]) -> dict[str, Any]:
    """What a case says: account, credit and each line's action, reason, payee and amount."""
    return {case_id: (case.account_id, case.credit, sorted((line.action, line.reason, line.payee_type,
                                                            line.payee_id, line.amount) for line in case.lines))
            for case_id, case in cases.items()}


def _scan(table: Any) -> list[dict[str, Any]]:
    items, page = [], table.scan()
    items += page["Items"]
    while "LastEvaluatedKey" in page:
        page = table.scan(ExclusiveStartKey=page["LastEvaluatedKey"])
        items += page["Items"]
    return [item for item in items if "status" in item]


class _Sampler(threading.Thread):
    """The peak resident memory of this process and its children (the local cloud), and of its threads."""

    def __init__(self) -> None:
        super().__init__(daemon=True)
        self.peak_kib = self.threads = 0
        self._done = threading.Event()

    def run(self) -> None:
        while not self._done.wait(0.5):
            pids = [os.getpid(), *_descendants(os.getpid())]
            self.peak_kib = max(self.peak_kib, sum(_status(pid, "VmRSS") for pid in pids))
            self.threads = max(self.threads, _status(os.getpid(), "Threads"))

    def stop(self) -> None:
        self._done.set()
        self.join()


def _descendants(pid: int) -> list[int]:
    try:
        children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    except OSError:
        return []
    return [int(c) for child in children for c in (child, *_descendants(int(child)))]


def _status(pid: int, field: str) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def request_cpu_ms() -> dict[str, float]:
    """The boto3 client's CPU (ms, this machine) per DynamoDB request of each kind the store makes."""
    import boto3
    from localcloud.names import connection

    port = 5731
    server = subprocess.Popen([str(Path(sys.executable).with_name("moto_server")), "-p", str(port)],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env={"PATH": "/usr/bin:/bin"})
    try:
        dynamodb = boto3.resource("dynamodb", **connection(f"http://127.0.0.1:{port}", "us-east-1"))

        def create(name: str) -> Any:
            return dynamodb.create_table(
                TableName=name, BillingMode="PAY_PER_REQUEST",
                KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
                AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"},
                                      {"AttributeName": "sk", "AttributeType": "S"}])

        for _ in range(100):
            try:
                table = create("t")
                break
            except Exception:  # the server is still starting
                time.sleep(0.1)
        client = table.meta.client  # the store's client: Python values in and out
        row = {"txn_id": "T", "account_id": "A1", "patient_id": "P1", "guarantor_id": "G1", "txn_type": "PAYMENT",
               "amount": "-80.00", "posting_date": "2026-09-05", "payer_type": "MEDICARE", "payer_id": "MAC",
               "patient_name": "Doe, Jane", "patient_state": "TX"}
        counter = iter(range(10**9))
        mark_tables = iter([create(f"m{n}").name for n in range(TIMES + 1)])

        def marks() -> None:  # each into an empty table: moto's TransactWriteItems copies the table
            name = next(mark_tables)
            client.transact_write_items(TransactItems=[{"Put": {
                "TableName": name, "Item": {"pk": f"TXN#{next(counter)}", "sk": "TXN", "hash": "a" * 64,
                                           "account_id": "A1"},
                "ConditionExpression": "attribute_not_exists(pk)"}} for _ in range(100)])

        def rows() -> None:
            client.batch_write_item(RequestItems={"t": [
                {"PutRequest": {"Item": {"pk": "ACCT#A1", "sk": f"TXN#{i}", **row}}} for i in range(25)]})

        work = {
            "TransactWriteItems": marks, "BatchWriteItem": rows,
            "Query": lambda: client.query(TableName="t", KeyConditionExpression="pk = :pk",
                                          ExpressionAttributeValues={":pk": "ACCT#A1"}, Limit=5),
            "GetItem": lambda: client.get_item(TableName="t", Key={"pk": "ACCT#A1", "sk": "TXN#1"}),
            "PutItem": lambda: client.put_item(TableName="t", Item={"pk": "CASE", "sk": "X", **row}),
            "UpdateItem": lambda: client.update_item(TableName="t", Key={"pk": "CASE", "sk": "X"},
                                                     UpdateExpression="SET amount = :a",
                                                     ExpressionAttributeValues={":a": "1.00"}),
        }
        rows()
        result = {}
        for name, call in work.items():
            call()
            start = time.process_time()
            for _ in range(TIMES):
                call()
            result[name] = (time.process_time() - start) / TIMES * 1000
        return result
    finally:
        server.terminate()
        server.wait()


if __name__ == "__main__":
    sys.exit(main())
