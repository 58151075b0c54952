"""`refunds trends` over a billing extract of about a million rows and 24 months (the issue's bar: at most 30 s).

Writes a seeded extract with the three planted problems (bench/trend_ledger.py), then times the command as a
user runs it (a fresh process, JSON to a file), and says which patterns it found and whether the compiled pass
read the file.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import trend_ledger

ROWS_PER_ENCOUNTER = 4.1  # synthetic.py's settled encounters average about this many rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--months", type=int, default=24)
    parser.add_argument("--seed", type=int, default=11)
    args = parser.parse_args()
    per_month = round(args.rows / args.months / ROWS_PER_ENCOUNTER)
    refunds = Path(sys.executable).with_name("refunds")
    with tempfile.TemporaryDirectory() as work:
        ledger, out = Path(work) / "extract.csv", Path(work) / "trends.json"
        with open(ledger, "w", encoding="utf-8") as stream:
            rows = trend_ledger.write_csv(stream, args.months, per_month, args.seed, planted=True)
        last = trend_ledger.month_start(args.months - 1)
        command = [str(refunds), "trends", str(ledger), "--from", "2025-01", "--to", f"{last:%Y-%m}", "--json"]
        started = time.perf_counter()
        with open(out, "w", encoding="utf-8") as stdout:
            done = subprocess.run(command, stdout=stdout, stderr=subprocess.PIPE, text=True, check=False)
        seconds = time.perf_counter() - started
        if done.returncode:
            print(done.stderr, file=sys.stderr)
            return 1
        result = json.loads(out.read_text())
    identified = sum(m["identified"]["count"] for m in result["months"])
    print(f"refunds trends: {rows:,} rows over {args.months} months in {seconds:.1f} s "
          f"({rows / seconds:,.0f} rows/s); {identified:,} credits identified")
    for pattern in result["patterns"]:
        print(f"  {pattern['month']} {pattern['kind']} {pattern['dimension']}={pattern['value']} ({pattern['count']})")
    compiled = "compiled detection pass is off" not in done.stderr
    print(f"  read by the compiled pass: {compiled}; stderr: {done.stderr.strip()}")
    return 0 if seconds <= 30 else 2


if __name__ == "__main__":
    sys.exit(main())
