"""What unclaimed property costs in CPU: letters rendered to PDF (fpdf2, DejaVu embedded) per second and their
size; the NAUPA report of N properties (assessed as of a day, then written); and the escheat function's
daily pass over N tracked refunds, over the in-memory ports (the use-case's own work, without AWS's calls).

    .venv/bin/python bench/escheat.py --letters 500 --properties 10000 --tracked 2000
"""

from __future__ import annotations

import argparse
import resource
import sys
import time
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

from creditrefunds.adapters.letters_pdf import render
from creditrefunds.domain.checks import CheckEvent
from creditrefunds.domain.escheat import Property, assess
from creditrefunds.domain.instructions import Instruction
from creditrefunds.domain.letters import patient_notice
from creditrefunds.domain.naupa import Item, Owner, report
from creditrefunds.domain.unclaimed import Holder, Unclaimed

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
ISSUED = date(2026, 12, 1)


def letters(count: int) -> None:
    holder = Holder()
    i = Instruction("CB-1#0", "CB-1", "A-1", 0, "REFUND", "PATIENT", "G-1", Decimal("75.00"), ISSUED, "check",
                    "PATIENT_OVERPAYMENT")
    started, size = time.perf_counter(), 0
    for n in range(count):
        size += len(render(patient_notice(i, [], holder.model_copy(update={"contact": f"Desk {n}"}), ISSUED)))
    took = time.perf_counter() - started
    print(f"letters: {count} patient notices in {took:.2f} s ({count / took:.0f}/s), {size // count:,} bytes each")


def naupa(count: int) -> None:
    rules = Unclaimed()
    props = [Property(f"CB-{n}#0", f"CB-{n}", f"A-{n}", "PATIENT", f"G-{n}", "Rivera, Ana", "TX",
                      Decimal(f"{50 + n % 900}.{n % 100:02d}"), ISSUED,
                      (CheckEvent(ISSUED, f"CB-{n}#0", f"{100000 + n}", Decimal(f"{50 + n % 900}.{n % 100:02d}"),
                                  "ISSUED"),), letters_on=(date(2030, 4, 1),))
             for n in range(count)]
    started = time.perf_counter()
    paths = [assess(p, rules, date(2030, 6, 30)) for p in props]
    assessed = time.perf_counter() - started
    items = [Item(Owner("RIVERA", "ANA"), p.amount, "MS11", ISSUED, ISSUED + timedelta(days=180),
                  p.checks[0].check_number, p.instruction_id, "HEALTHCARE REFUND", True)
             for p, path in zip(props, paths, strict=True) if path.reportable]
    started = time.perf_counter()
    data = report({"HOLDER-TAX-ID": "741234567", "HOLDER-NAME": "EXAMPLE", "HOLDER-AS-OF-DATE": date(2030, 6, 30)},
                  items)
    wrote = time.perf_counter() - started
    print(f"naupa: {count} properties assessed in {assessed * 1000:.0f} ms; {len(items)} reportable written in "
          f"{wrote * 1000:.0f} ms ({len(data):,} bytes)")


def daily_pass(count: int) -> None:
    from creditrefunds.usecases.escheat import advance

    from tests.memory.cloud import COMPLIANCE, MemoryCloud

    mem = MemoryCloud()
    # `count` patients' credits, each approved and issued, then a register of their checks. Ledgers of 100
    # patients each: the in-memory workflows run a bounded number of steps per drop.
    for first in range(0, count, 100):
        ledger = []
        for n in range(first, min(count, first + 100)):
            a = f"BE-{n}"
            ledger += [f"{a}-1,{a},P-{a},G-{a},CHARGE,100.00,2026-11-01,,,,,,\"Rivera, Ana\",TX",
                       f"{a}-2,{a},P-{a},G-{a},PAYMENT,-150.00,2026-11-05,PATIENT,,,C,,\"Rivera, Ana\",TX"]
        mem.drop(ledger, name=f"ledger-{first}.csv")
        for link in mem.links("tier1.approver@example.org"):
            if mem.show(link).status == 200:
                mem.decide(link)
    tracked = [i for n in range(count) for i in mem.trusted.refund_book.of_account(f"BE-{n}")]
    rows = [f"{i.instruction_id},{200000 + n},{i.amount},ISSUED,{i.issued_on}" for n, i in enumerate(tracked)]
    mem.drop(rows, name="checks.csv", header="instruction_id,check_number,amount,status,status_date\n")
    for day, label in ((date(2027, 6, 1), "stale"), (date(2030, 3, 10), "letters and reportable"),
                       (date(2030, 3, 11), "nothing new")):
        started = time.perf_counter()
        done = advance(mem.ports, day, mem.now, COMPLIANCE)
        took = time.perf_counter() - started
        print(f"daily pass as of {day} ({label}): {len(tracked)} tracked, {len(done.written)} steps written, "
              f"{len(done.letters)} letters, in {took:.2f} s ({took / len(tracked) * 1000:.1f} ms a refund)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--letters", type=int, default=500)
    parser.add_argument("--properties", type=int, default=10000)
    parser.add_argument("--tracked", type=int, default=300)
    args = parser.parse_args()
    letters(args.letters)
    naupa(args.properties)
    daily_pass(args.tracked)
    print(f"peak memory {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024} MB")


if __name__ == "__main__":
    main()
