"""Benchmark: `refunds detect` against DuckDB on the same seeded synthetic ledger.

    .venv/bin/python bench/detect_vs_duckdb.py [--rows 1000000] [--seed 7] [--keep DIR]

Generates the ledger (not timed), then runs, each in its own process and timed from start to
exit: `refunds detect` (every row validated, every credit split into lines), and a DuckDB
query computing the same per-account balances from the same file. Prints both times, their
ratio and the peak memory of `refunds detect`, and checks that both found the same number
of accounts in credit.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
import synthetic

TIME_TARGET = 2.0
MEMORY_TARGET_MB = 1024
DUCKDB_QUERY = """
import sys, duckdb
rows = duckdb.sql(f'''
    SELECT count(*) FILTER (WHERE balance < 0), count(*)
    FROM (SELECT account_id, sum(TRY_CAST(amount AS DECIMAL(18, 2))) AS balance
          FROM read_csv('{sys.argv[1]}', header = true, all_varchar = true)
          GROUP BY account_id)
''').fetchall()[0]
print(rows[0], rows[1])
"""


def timed(command: list[str], stdout: Path) -> tuple[float, int]:
    """(seconds, peak resident memory in MiB) of one process, start to exit; its output to `stdout`."""
    with open(stdout, "w") as out, tempfile.TemporaryFile("w+") as err:
        start = time.perf_counter()
        process = subprocess.Popen(command, stdout=out, stderr=err, text=True)
        _, status, usage = os.wait4(process.pid, 0)
        elapsed = time.perf_counter() - start
        process.returncode = os.waitstatus_to_exitcode(status)
        if process.returncode:
            err.seek(0)
            sys.exit(f"{command[0]} failed ({process.returncode}): {err.read().strip()}")
    return elapsed, usage.ru_maxrss // 1024


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--keep", type=Path, help="write the ledger and the cases here and keep them")
    args = parser.parse_args()
    workdir = args.keep or Path(tempfile.mkdtemp(prefix="refunds-bench-"))
    workdir.mkdir(parents=True, exist_ok=True)
    ledger = workdir / f"ledger-{args.rows}-{args.seed}.csv"
    if not ledger.exists():
        print(f"generating {args.rows:,} rows (seed {args.seed}) ...", flush=True)
        with open(ledger, "w", newline="") as out:
            synthetic.write_csv(out, args.rows, args.seed)
    size_mb = ledger.stat().st_size / 2**20
    refunds = str(Path(sys.executable).with_name("refunds"))
    cases_path, duck_path = workdir / "cases.jsonl", workdir / "duckdb.txt"
    detect_s, detect_mb = timed(
        [refunds, "detect", str(ledger), "--as-of", "2026-11-01", "--rejects", str(workdir / "rejects.jsonl")],
        cases_path)
    duck_s, duck_mb = timed([sys.executable, "-c", DUCKDB_QUERY, str(ledger)], duck_path)
    duck_credits, duck_accounts = (int(n) for n in duck_path.read_text().split())
    cases = sum(1 for _ in open(cases_path))
    rejects = sum(1 for _ in open(workdir / "rejects.jsonl"))
    ratio = detect_s / duck_s
    print(f"ledger           {args.rows:,} rows, {size_mb:.0f} MiB, {duck_accounts:,} accounts, {rejects} bad rows")
    print(f"refunds detect   {detect_s:6.2f} s   peak {detect_mb} MiB   {cases:,} cases")
    print(f"duckdb           {duck_s:6.2f} s   peak {duck_mb} MiB   {duck_credits:,} accounts in credit")
    verdict = {True: "met", False: "NOT met"}
    print(f"ratio            {ratio:6.2f}x  (target <= {TIME_TARGET:.0f}x: {verdict[ratio <= TIME_TARGET]};"
          f" memory <= {MEMORY_TARGET_MB} MiB: {verdict[detect_mb <= MEMORY_TARGET_MB]})")
    if cases != duck_credits:
        print("MISMATCH: refunds detect and DuckDB disagree on the accounts in credit", file=sys.stderr)
        return 1
    if not args.keep:
        for path in workdir.iterdir():
            path.unlink()
        workdir.rmdir()
    return 0


if __name__ == "__main__":
    sys.exit(main())
