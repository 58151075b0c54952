"""`refunds audit ...`: the case history for auditors: verify the chains, a case, a search."""

from __future__ import annotations

import argparse
import csv
import json
import sys
from typing import Any

from creditrefunds.adapters.case_store import CaseStore
from creditrefunds.adapters.history_store import HistoryStore
from creditrefunds.adapters.seal_store import SealStore
from creditrefunds.adapters.unclaimed_store import UnclaimedStore
from creditrefunds.domain.cells import safe_row
from creditrefunds.domain.status import Status
from creditrefunds.usecases import audit

from refunds_cli.argtypes import iso_date
from refunds_cli.target import Target

COLUMNS = ("case_id", "seq", "at", "actor", "action", "status_before", "status_after", "reason", "amount",
           "account_id", "payer_id", "hash", "prev_hash")


def _history(target: Target) -> HistoryStore:
    return HistoryStore(target.table("HistoryTableName"))


def _cases(target: Target) -> CaseStore:
    return CaseStore(target.table("CasesTableName"))


def case_items(target: Target, statuses: tuple[str, ...] = tuple(Status)) -> list[dict[str, Any]]:
    """Every case in `statuses`, through the by-status index, one status at a time (never a scan)."""
    return _cases(target).items_in(statuses)


def _seals(target: Target) -> SealStore | None:
    """The seals, where the stack keeps them (a stack deployed before seals has none)."""
    if "SealBucketName" not in target.outputs:
        return None
    return SealStore(target.client("s3"), target.output("SealBucketName"), target.client("kms"),
                     target.output("SealKeyId"))


def verify(target: Target, case_id: str | None) -> int:
    """Walk the chains against their heads and the latest seal, the seals as a signed chain, and the
    refund book against the ISSUED records; 0 when all is whole, 1 naming each case and place that is not."""
    seals = _seals(target)
    from creditrefunds.adapters.ledger_bucket import LedgerBucket

    bucket = None if case_id else LedgerBucket(target.client("s3"), target.output("LedgerBucketName"))
    unclaimed = UnclaimedStore(target.table("UnclaimedTableName")) if "UnclaimedTableName" in target.outputs else None
    found = audit.verify_all(_cases(target), _history(target), target.refund_book(), seals,
                             [case_id] if case_id else None, target.ledger(), bucket, unclaimed=unclaimed)
    if case_id and not found.cases[0].known:
        print(f"refunds: no case {case_id}", file=sys.stderr)
        return 2
    for seal_problem in found.seal_problems:
        print(f"BROKEN {seal_problem}")
    broken = [b for verified in found.cases for b in verified.breaks]
    for problem in broken:
        print(f"BROKEN {problem}")
    for paid_twice in found.exposures:
        print(f"EXPOSED {paid_twice.why()}")
    for twice in found.over_offsets:
        print(f"OVER-OFFSET {twice.why()}")
    for unpaid in found.paid_problems:
        print(f"UNAPPROVED {unpaid}")
    for lost in found.untracked:
        print(f"UNTRACKED {lost}")
    sealed = (f"{found.seals} seal(s), the latest {found.latest_seal}" if found.latest_seal
              else "no seal yet (`refunds audit seal`)")
    if not found.whole:
        print(f"{len(broken) + len(found.seal_problems)} break(s) in {len(found.cases)} case chain(s), "
              f"{len(found.exposures)} account(s) refunded more than they held, {len(found.over_offsets)} debit(s) "
              f"offset more than they owed, {len(found.paid_problems)} AP file row(s) no authenticated instruction "
              f"says, {len(found.untracked)} check(s) the escheat pass no longer follows; {sealed}", file=sys.stderr)
        return 1
    records = sum(v.records for v in found.cases)
    print(f"OK: {len(found.cases)} case chain(s), {records} record(s), every hash and link whole; {sealed}, "
          "every signature and link whole; no account refunded more than it held, no debit offset more than it owed"
          + ("; every AP file row is an authenticated instruction" if bucket is not None else "")
          + ("; every check told of is followed on its way to the state" if unclaimed is not None else ""))
    return 0


def seal(target: Target) -> int:
    """Seal the history now: the sealing function signs every case's head (only it may sign)."""
    answer = target.client("lambda").invoke(FunctionName=target.output("SealHistoryFunctionName"), Payload=b"{}")
    result = json.load(answer["Payload"])
    if answer.get("FunctionError"):
        print(f"refunds: sealing failed: {result.get('errorType')}: {result.get('errorMessage')}", file=sys.stderr)
        return 1
    print(f"sealed {result['cases']} case chain(s) into {result['key']}")
    return 0


def show_case(target: Target, case_id: str, as_json: bool) -> int:
    records = audit.case_history(_history(target), case_id)
    if not records:
        print(f"refunds: no history for case {case_id}", file=sys.stderr)
        return 2
    if as_json:
        print(json.dumps(records, indent=2))
        return 0
    for r in records:
        change = f"{r['status_before'] or '-'} -> {r['status_after'] or '-'}"
        amount = f" {r['amount']}" if r["amount"] else ""
        print(f"{r['seq']:>3}  {r['at']}  {r['actor']:<18} {r['action']:<15} {change:<36}{amount}")
        if r["reason"]:
            print(f"     {r['reason']}")
    return 0


def search(target: Target, args: argparse.Namespace) -> int:
    filters = {"account": args.account, "patient": args.patient, "guarantor": args.guarantor,
               "payer": args.payer, "status": args.status}
    try:
        records = _history(target).search(filters, args.date_from, args.date_to)
    except ValueError as error:
        print(f"refunds: {error}", file=sys.stderr)
        return 2
    rows = [{name: (int(r[name]) if name == "seq" else r.get(name)) for name in COLUMNS} for r in records]
    if args.json:
        print(json.dumps(rows, indent=2))
    elif args.csv:
        writer = csv.DictWriter(sys.stdout, fieldnames=COLUMNS, lineterminator="\n")
        writer.writeheader()
        writer.writerows(safe_row(row) for row in rows)
    else:
        for r in rows:
            print(f"{r['at']}  {r['case_id']}  {r['seq']:>3}  {r['action']:<15} {r['status_after'] or '-':<20} "
                  f"{r['amount'] or ''}")
        print(f"{len(rows)} record(s)", file=sys.stderr)
    return 0



def register(commands: Any, target_of: Any) -> None:
    """Add `audit verify|case|search` to the command line."""
    audit = commands.add_parser("audit", help="the tamper-evident case history").add_subparsers(
        dest="audit_command", required=True)
    check = audit.add_parser("verify", help="walk the hash chains against the seals; exit 1 naming any break")
    check.add_argument("--case", dest="case_id")
    check.set_defaults(func=lambda a: verify(target_of(a), a.case_id))
    sealing = audit.add_parser("seal", help="sign every case's history head now, chained to the seal before")
    sealing.set_defaults(func=lambda a: seal(target_of(a)))
    one = audit.add_parser("case", help="one case's history in order")
    one.add_argument("case_id")
    one.add_argument("--json", action="store_true")
    one.set_defaults(func=lambda a: show_case(target_of(a), a.case_id, a.json))
    find = audit.add_parser("search", help="history records by account, patient, guarantor, payer, status, dates")
    for name in ("account", "patient", "guarantor", "payer"):
        find.add_argument(f"--{name}")
    find.add_argument("--status", choices=list(Status))
    find.add_argument("--from", dest="date_from", type=iso_date)
    find.add_argument("--to", dest="date_to", type=iso_date)
    shape = find.add_mutually_exclusive_group()
    shape.add_argument("--json", action="store_true")
    shape.add_argument("--csv", action="store_true")
    find.set_defaults(func=lambda a: search(target_of(a), a))
