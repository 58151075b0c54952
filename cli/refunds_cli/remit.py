"""`refunds remit FILE`: an X12 835 read offline, as the remittance function reads it (no AWS needed);
`refunds report remittance`: what the stored remittances say the ledger lacks."""

from __future__ import annotations

import argparse
import csv
import json
import sys
from pathlib import Path
from typing import Any

from creditrefunds.domain.money import money_text
from creditrefunds.domain.remittance import TAKEBACK_PLB, RemittanceFile


def remittance_json(found: RemittanceFile) -> dict[str, Any]:
    def source(s: Any) -> dict[str, Any]:
        return {"payer_name": s.payer_name, "payer_id": s.payer_id, "trace": s.trace,
                "paid_on": s.paid_on.isoformat() if s.paid_on else None, "segment": s.position}

    return {
        "file": found.name, "sha256": found.digest,
        "rejected": found.rejected.to_json() if found.rejected else None,
        "claims": [{"account_id": c.account_id, "status": c.status, "charge": money_text(c.charge),
                    "paid": money_text(c.paid), "patient_resp": money_text(c.patient_resp)
                    if c.patient_resp is not None else None, "filing": c.filing, "payer_type": c.payer_type,
                    "claim_id": c.claim_id, "adjustments": [[g, r, money_text(a)] for g, r, a in c.adjustments],
                    **source(c.source)} for c in found.claims],
        "provider_adjustments": [{"reason": a.reason, "claim_id": a.claim_id, "amount": money_text(a.amount),
                                  "takeback": a.takeback, **source(a.source)} for a in found.adjustments],
        "takebacks": [{"kind": t.kind, "account_id": t.account_id, "claim_id": t.claim_id,
                       "amount": money_text(t.amount), "evidence": t.evidence} for t in found.takebacks()],
        "rejects": [p.to_json() for p in found.rejects],
        "notes": [p.to_json() for p in found.notes],
    }


def print_remittance(found: RemittanceFile) -> None:
    if found.rejected:
        print(f"{found.name}: REJECTED at {found.rejected}")
        for problem in found.rejects:
            print(f"  also: {problem}")
        return
    print(f"{found.name}: {len(found.claims)} claim(s), {len(found.adjustments)} provider-level adjustment(s), "
          f"{len(found.rejects)} rejected, {len(found.notes)} note(s)")
    for c in found.claims:
        s = c.source
        print(f"  claim {c.claim_id}  account {c.account_id}  status {c.status}  charge {money_text(c.charge)}  "
              f"paid {money_text(c.paid)}  patient resp "
              f"{money_text(c.patient_resp) if c.patient_resp is not None else '-'}  {c.payer_type} ({c.filing})  "
              f"payer {s.payer_id or s.payer_name}  trace {s.trace}  segment {s.position}")
        for group, reason, amount in c.adjustments:
            print(f"    CAS {group}-{reason} {money_text(amount)}")
    for a in found.adjustments:
        kind = f"TAKEBACK ({TAKEBACK_PLB[a.reason]})" if a.takeback else "adjustment"
        print(f"  PLB {a.reason} {a.claim_id}  {money_text(a.amount)}  {kind}  segment {a.source.position}")
    for t in found.takebacks():
        print(f"  takeback: {t.evidence}")
    for problem in found.rejects:
        print(f"  REJECTED {problem}")
    for problem in found.notes:
        print(f"  note: {problem}")


def cmd_remit(args: argparse.Namespace) -> int:
    from creditrefunds.adapters.x835 import read_835

    path: Path = args.file
    try:
        data = path.read_bytes()
    except OSError as error:
        print(f"refunds remit: cannot read {path}: {error.strerror}", file=sys.stderr)
        return 2
    found = read_835(data, path.name)
    if args.json:
        print(json.dumps(remittance_json(found), indent=2))
    else:
        print_remittance(found)
    return 1 if found.rejected else 0


def remittance_rows(target: Any) -> list[Any]:
    """`report remittance`'s rows, from the stack's tables (each evidence item's MAC verified)."""
    from creditrefunds.adapters.remittance_store import RemittanceStore
    from creditrefunds.usecases.remittance import remittance_report

    store = RemittanceStore(target.table("RemittancesTableName"), target.client("kms"),
                            target.output("EvidenceKeyArn"))
    return remittance_report(store, target.ledger())


def cmd_report(target: Any, args: argparse.Namespace) -> int:
    from creditrefunds.domain.cells import safe_row

    rows = [u.to_json() for u in remittance_rows(target)]
    if args.json:
        print(json.dumps(rows, indent=2))
    elif args.csv:
        writer = csv.DictWriter(sys.stdout, fieldnames=("kind", "account_id", "claim_id", "payer_id", "amount",
                                                        "evidence"), lineterminator="\n")
        writer.writeheader()
        writer.writerows(safe_row(row) for row in rows)
    else:
        if not rows:
            print("Every remitted payment and takeback is posted; every remitted account is known.")
        for row in rows:
            print(f"{row['kind']:<20} account {row['account_id'] or '(unknown)':<16} claim {row['claim_id']:<18} "
                  f"payer {row['payer_id']:<10} {row['amount']:>12}  {row['evidence']}")
    return 0


def register(commands: Any, target_of: Any) -> None:
    """Add `remit` to the command line (`report remittance` is added by refunds_cli.reports)."""
    remit = commands.add_parser("remit", help="read an X12 835 remittance offline: its claims and adjustments")
    remit.add_argument("file", type=Path)
    remit.add_argument("--json", action="store_true")
    remit.set_defaults(func=cmd_remit)
