"""How fast an X12 835 is read (pyx12, validated against the 005010X221A1 map): a seeded remittance of
N claims, each with a claim-level adjustment, a patient and a service line, and a PLB offset per 100
claims; wall time, CPU and peak memory of `read_835`, as the remittance function runs it.

    .venv/bin/python bench/remit_parse.py --claims 1000 10000
"""

from __future__ import annotations

import argparse
import random
import resource
import time

from creditrefunds.adapters.x835 import read_835


def remittance(claims: int, seed: int = 835) -> bytes:
    rng = random.Random(seed)  # noqa: S311 (a seeded benchmark file, not a secret)
    body = ["BPR*I*0*C*ACH*CCP*01*999999992*DA*123456*1512345678**01*999988880*DA*98765*20261115",
            "TRN*1*EFT-BENCH*1512345678", "DTM*405*20261115", "N1*PR*NOVITAS SOLUTIONS JL", "N3*PO BOX 3385",
            "N4*MECHANICSBURG*PA*17055", "REF*2U*MAC-JL", "PER*BL*PROVIDER SERVICES*TE*8772357032",
            "N1*PE*REGIONAL HOPE HOSPITAL*XX*1234567893", "LX*1"]
    for n in range(claims):
        charge = rng.randint(100, 90000)
        paid = charge * rng.randint(40, 95) // 100
        body += [f"CLP*ACC-{n:07d}*1*{charge}.00*{paid}.00*0*MA*ICN-{n:010d}*11*1",
                 f"CAS*CO*45*{charge - paid}.00", f"NM1*QC*1*DOE*JANE****MI*1EG4TE5MK{n % 100:02d}",
                 f"SVC*HC:99213*{charge}.00*{paid}.00**1", "DTM*472*20261101"]
    plb = [f"WO:ICN-{n:010d}*{rng.randint(10, 500)}.00" for n in range(0, claims, 100)]
    for start in range(0, len(plb), 6):  # six adjustments to a PLB
        body.append("PLB*1234567893*20261231*" + "*".join(plb[start:start + 6]))
    segments = ["ISA*00*          *00*          *ZZ*NOVITASJL      *ZZ*HOPEHOSP       *261115*0930*^*00501"
                "*000000101*0*P*:", "GS*HP*NOVITASJL*HOPEHOSP*20261115*0930*101*X*005010X221A1", "ST*835*0001",
                *body, f"SE*{len(body) + 2}*0001", "GE*1*101", "IEA*1*000000101"]
    return ("~\n".join(segments) + "~\n").encode()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--claims", type=int, nargs="+", default=[1000, 10000])
    args = parser.parse_args()
    print(f"{'claims':>8} {'bytes':>11} {'wall s':>8} {'CPU s':>8} {'claims/s':>9} {'read':>7} {'takebacks':>10}")
    for claims in args.claims:
        data = remittance(claims)
        wall, cpu = time.perf_counter(), time.process_time()
        found = read_835(data, "bench.835")
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
        assert found.rejected is None and not found.rejects, (found.rejected, found.rejects[:3])
        print(f"{claims:>8} {len(data):>11,} {wall:>8.2f} {cpu:>8.2f} {claims / wall:>9,.0f} {len(found.claims):>7} "
              f"{len(found.takebacks()):>10}")
    print(f"peak memory (process): {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MiB")


if __name__ == "__main__":
    main()
