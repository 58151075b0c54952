"""What the record MACs cost a large ledger file (docs/security.md, issue 28): KMS calls and added time
when a seeded file of N rows is stored by the ingest reader through the checked ledger, and when every
account of it is read back and checked. KMS is counted, not called (an HMAC in memory stands in for it; a
KMS GenerateMac or VerifyMac call takes a few milliseconds on AWS).

    .venv/bin/python bench/record_macs.py --rows 100000
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from creditrefunds.adapters.trusted import TrustedLedger
from creditrefunds.usecases.ingest import store_file

from tests.memory.outside import MemoryKeys
from tests.memory.stores import MemoryLedger

HEADER = ("txn_id,account_id,patient_id,guarantor_id,txn_type,amount,posting_date,payer_type,payer_id,"
          "coverage_rank,reference,claim_id,patient_name,patient_state\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=100_000)
    rows = parser.parse_args().rows
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "bench.csv"
        with path.open("w") as out:
            out.write(HEADER)
            for n in range(rows):
                account = f"A{n // 4:07d}"
                kind, amount = ("CHARGE", "100.00") if n % 4 else ("PAYMENT", "-120.00")
                payer = "PATIENT" if kind == "PAYMENT" else ""
                out.write(f"T{n:08d},{account},P{n // 4},G{n // 8},{kind},{amount},2026-11-02,{payer},,,,,,TX\n")
        keys, plain = MemoryKeys(), MemoryLedger()
        start = time.perf_counter()
        store_file(path, "csv", Unchecked(plain), 64, source="bench.csv")
        baseline = time.perf_counter() - start
        inner = MemoryLedger()
        ledger = TrustedLedger(inner, keys)
        start = time.perf_counter()
        report = store_file(path, "csv", ledger, 64, source="bench.csv")
        stored = time.perf_counter() - start
        made = keys.calls
        start = time.perf_counter()
        for account in sorted(plain.rows):
            plain.account_rows(account)
        read_plain = time.perf_counter() - start
        start = time.perf_counter()
        for account in sorted(inner.rows):
            ledger.account_transactions(account)
        read = time.perf_counter() - start
        path_bytes = sum(len(p) for _, p in inner.vouched.values()) / max(len(inner.vouched), 1)
    print(f"{rows:,} rows ({report.stored:,} stored): {made} MAC(s) made on store (KMS GenerateMac), "
          f"{keys.calls - made} checked on reading every account back (KMS VerifyMac, once per manifest)")
    print(f"store: {stored:.2f} s, {(stored - baseline) * 1000:.0f} ms more than without MACs ({baseline:.2f} s)")
    print(f"read back and check {len(inner.rows):,} accounts: {read:.2f} s, {(read - read_plain) * 1000:.0f} ms "
          f"more than reading them unchecked; {path_bytes:.0f} bytes of path per row")


class Unchecked:
    """The in-memory ledger written without MACs: the baseline."""

    def __init__(self, inner: MemoryLedger) -> None:
        self._inner = inner

    def put_all(self, txns, source=""):
        return self._inner.put_all(txns, {"manifest": "none"}, [""] * len(txns))


if __name__ == "__main__":
    main()
