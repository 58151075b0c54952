"""Benchmark: `refunds detect` against DuckDB on the same seeded synthetic ledgers.

    .venv/bin/python bench/detect_vs_duckdb.py [--rows 1000000] [--seed 7] [--credit-share 0.04 0.20]
                                               [--runs 3] [--no-verify] [--keep DIR]

For each share of encounters that end in credit, generates the ledger (not timed), then runs,
each in its own process and timed from start to exit: `refunds detect` (every row validated,
every credit split into lines, the cases written), and a DuckDB query computing the same
per-account balances from the same file. The two sides take turns, `--runs` times each (the
machine is shared and noisy), and the best of each is reported: wall and CPU seconds, peak
memory. Checks that both found the same number of accounts in credit, and (unless
`--no-verify`) that the compiled pass wrote byte for byte what the reference reader writes.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
import synthetic

TIME_TARGET = 2.0
MEMORY_TARGET_MB = 1024
AS_OF = "2026-11-01"
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


@dataclass
class Run:
    wall: float  # seconds, start to exit
    cpu: float  # user + system seconds of the process
    peak_mb: int  # resident


def timed(command: list[str], stdout: Path, env: dict[str, str] | None = None) -> Run:
    """One process, start to exit; its output to `stdout`."""
    with open(stdout, "w") as out, tempfile.TemporaryFile("w+") as err:
        start = time.perf_counter()
        process = subprocess.Popen(command, stdout=out, stderr=err, text=True, env=env)
        _, status, usage = os.wait4(process.pid, 0)
        elapsed = time.perf_counter() - start
        if os.waitstatus_to_exitcode(status):
            err.seek(0)
            sys.exit(f"{command[0]} failed ({os.waitstatus_to_exitcode(status)}): {err.read().strip()}")
    return Run(elapsed, usage.ru_utime + usage.ru_stime, usage.ru_maxrss // 1024)


def best(runs: list[Run]) -> Run:
    return Run(min(r.wall for r in runs), min(r.cpu for r in runs), max(r.peak_mb for r in runs))


def compare(ledger: Path, workdir: Path, runs: int, verify: bool) -> bool:
    """Both sides on one ledger, interleaved; True when they agree (and the paths are byte-identical)."""
    refunds = str(Path(sys.executable).with_name("refunds"))
    cases_path, rejects_path, duck_path = workdir / "cases.jsonl", workdir / "rejects.jsonl", workdir / "duckdb.txt"
    detect = [refunds, "detect", str(ledger), "--as-of", AS_OF, "--rejects", str(rejects_path)]
    ours, theirs = [], []
    for _ in range(runs):
        ours.append(timed(detect, cases_path))
        theirs.append(timed([sys.executable, "-c", DUCKDB_QUERY, str(ledger)], duck_path))
    mine, duck = best(ours), best(theirs)
    duck_credits, duck_accounts = (int(n) for n in duck_path.read_text().split())
    cases = sum(1 for _ in open(cases_path))
    rejects = sum(1 for _ in open(rejects_path))
    verdict = {True: "met", False: "NOT met"}
    print(f"  ledger           {ledger.stat().st_size / 2**20:.0f} MiB, {duck_accounts:,} accounts, {rejects} bad rows")
    print(f"  refunds detect   {mine.wall:5.2f} s wall  {mine.cpu:5.2f} s CPU  peak {mine.peak_mb:4} MiB"
          f"  {cases:,} cases")
    print(f"  duckdb           {duck.wall:5.2f} s wall  {duck.cpu:5.2f} s CPU  peak {duck.peak_mb:4} MiB"
          f"  {duck_credits:,} accounts in credit")
    ratio = mine.wall / duck.wall
    print(f"  ratio            {ratio:5.2f}x wall, {mine.cpu / duck.cpu:.2f}x CPU  (target <= {TIME_TARGET:.0f}x wall:"
          f" {verdict[ratio <= TIME_TARGET]}; memory <= {MEMORY_TARGET_MB} MiB:"
          f" {verdict[mine.peak_mb <= MEMORY_TARGET_MB]})")
    agreed = cases == duck_credits
    if not agreed:
        print("  MISMATCH: refunds detect and DuckDB disagree on the accounts in credit", file=sys.stderr)
    if verify:
        pure_cases, pure_rejects = workdir / "pure-cases.jsonl", workdir / "pure-rejects.jsonl"
        pure = timed([*detect[:-1], str(pure_rejects)], pure_cases, {**os.environ, "REFUNDS_PURE_PYTHON": "1"})
        same = (cases_path.read_bytes(), rejects_path.read_bytes()) == (pure_cases.read_bytes(),
                                                                        pure_rejects.read_bytes())
        print(f"  reference reader {pure.wall:5.2f} s wall  {pure.cpu:5.2f} s CPU  peak {pure.peak_mb:4} MiB"
              f"  (REFUNDS_PURE_PYTHON=1): {'the same bytes' if same else 'DIFFERENT OUTPUT'}")
        agreed = agreed and same
    return agreed


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--credit-share", type=float, nargs="+", default=[0.04, 0.20],
                        help="shares of encounters that end in credit, one ledger each (default: 0.04 0.20)")
    parser.add_argument("--runs", type=int, default=3, help="runs of each side, interleaved; the best is reported")
    parser.add_argument("--no-verify", dest="verify", action="store_false",
                        help="skip the reference reader's run (byte-identical output)")
    parser.add_argument("--keep", type=Path, help="write the ledgers and the cases here and keep them")
    args = parser.parse_args()
    workdir = args.keep or Path(tempfile.mkdtemp(prefix="refunds-bench-"))
    workdir.mkdir(parents=True, exist_ok=True)
    print(f"machine: {os.cpu_count()} processors, load {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    agreed = True
    for share in args.credit_share:
        ledger = workdir / f"ledger-{args.rows}-{args.seed}-{share:g}.csv"
        if not ledger.exists():
            print(f"generating {args.rows:,} rows (seed {args.seed}, {share:.0%} in credit) ...", flush=True)
            with open(ledger, "w", newline="") as out:
                synthetic.write_csv(out, args.rows, args.seed, share)
        print(f"{args.rows:,} rows, {share:.0%} of encounters in credit (best of {args.runs}, interleaved):")
        agreed = compare(ledger, workdir, args.runs, args.verify) and agreed
    print(f"machine load after: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    if not args.keep:
        for path in workdir.iterdir():
            path.unlink()
        workdir.rmdir()
    return 0 if agreed else 1


if __name__ == "__main__":
    sys.exit(main())
