"""`refunds escheat status|report|advance` and `refunds letters CASE` (DOMAIN.md sections 9 and 10): every refund
on the path to the state with its next step and date, the NAUPA report of one state, the steps that came due
by a day written (the escheat function's use-case, under the operator's name), and a case's letters written
again. The rules' settings are the stack's own (its RuleSettings), so that the report names the holder the
deployed functions name."""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
from datetime import UTC, datetime
from decimal import Decimal
from functools import cached_property
from pathlib import Path
from typing import Any

from creditrefunds.adapters.ledger_bucket import LedgerBucket
from creditrefunds.adapters.letters_pdf import LetterStore
from creditrefunds.adapters.unclaimed_store import UnclaimedStore
from creditrefunds.domain.money import money_text
from creditrefunds.domain.settings import Settings, parse_settings
from creditrefunds.usecases.escheat import record_report, state_report, tracked
from creditrefunds.usecases.letters import drafts, rewrite

from refunds_cli.argtypes import iso_date
from refunds_cli.operations import StackPorts
from refunds_cli.target import Target


class EscheatPorts(StackPorts):
    """The parts of the stack the escheat use-cases read and write, with the operator's credentials."""

    @cached_property
    def settings(self) -> Settings:
        function = self._target.output("EscheatFunctionName")
        config = self._target.client("lambda").get_function_configuration(FunctionName=function)
        text = config.get("Environment", {}).get("Variables", {}).get("RULE_SETTINGS", "{}")
        return parse_settings(text, f"the RuleSettings of {function}")

    @cached_property
    def transactions(self) -> Any:
        return self._target.ledger()

    @cached_property
    def bucket(self) -> LedgerBucket:
        return LedgerBucket(self._target.client("s3"), self._target.output("LedgerBucketName"),
                            self._target.output("OriginalsBucketName"))

    @cached_property
    def unclaimed(self) -> UnclaimedStore:
        return UnclaimedStore(self._target.table("UnclaimedTableName"))

    @cached_property
    def letters(self) -> LetterStore:
        return LetterStore(self._target.client("s3"), self._target.output("LedgerBucketName"))



def status(target: Target, args: argparse.Namespace) -> int:
    ports = EscheatPorts(target)
    found = tracked(ports, args.as_of)  # type: ignore[arg-type]
    if args.json:
        print(json.dumps([t.path.to_json() for t in found], indent=2))
        return 0
    for t in found:
        p = t.path
        when = p.next_date.isoformat() if p.next_date else "-"
        print(f"{p.instruction_id:<26} {p.state:<2} {money_text(p.amount):>10}  {p.stage:<12} {when:<10}  "
              f"{p.next_step}")
    print(f"{len(found)} refund(s) on the way as of {args.as_of}" if found else "no refund check has gone astray")
    return 0


def report(target: Target, args: argparse.Namespace) -> int:
    """Write the state's file; unless a draft, keep it in the ledger bucket and record each property reported,
    under the operator's name. A report with the example holder is never recorded: it is not to be filed."""
    ports = EscheatPorts(target)
    holder = ports.settings.unclaimed.holder
    data, named = state_report(ports, args.state, args.as_of)  # type: ignore[arg-type]
    args.out.write_bytes(data)
    total = sum((t.prop.amount for t in named), Decimal("0.00"))
    print(f"{args.out}: {len(named)} propert{'y' if len(named) == 1 else 'ies'} reportable to {args.state} as "
          f"of {args.as_of}, {money_text(total)} in all{' (a negative report)' if not named else ''}")
    late = [t.path.instruction_id for t in named if t.path.stage == "LETTER_LATE"]
    if late:
        print(f"refunds: no due-diligence letter went out in its window for {', '.join(late)}", file=sys.stderr)
    if args.draft or holder.example:
        why = "a draft" if args.draft else "the holder is the example's (set unclaimed.holder in RuleSettings)"
        print(f"nothing recorded as reported: {why}", file=sys.stderr)
        return 0
    operator = "operator:" + target.client("sts").get_caller_identity()["Arn"]
    key = record_report(ports, args.state, args.as_of, data, named, datetime.now(UTC), operator)  # type: ignore[arg-type]
    print(f"kept as s3://{target.output('LedgerBucketName')}/{key}; each property recorded ESCHEAT_REPORTED")
    return 0


def advance_to(target: Target, args: argparse.Namespace) -> int:
    """Invoke the escheat function for the day (its role writes the records and the letters, and mails)."""
    answer = target.client("lambda").invoke(FunctionName=target.output("EscheatFunctionName"),
                                            Payload=json.dumps({"as_of": args.as_of.isoformat()}).encode())
    done: dict[str, Any] = json.load(answer["Payload"])
    if answer.get("FunctionError"):
        print(f"refunds: the escheat function failed: {done.get('errorMessage')}", file=sys.stderr)
        return 1
    for step in done["written"]:
        print(step)
    for due in done.get("reports_due", []):
        print(f"REPORT {due['state']} due {due['due']} ({due['days_left']} day(s)): {due['refunds']} refund(s), "
              f"{due['amount']}")
    print(f"{len(done['written'])} step(s) written as of {args.as_of}: {len(done['letters'])} due-diligence "
          f"letter(s), {len(done['reportable'])} newly reportable, {len(done.get('reports_due', []))} state "
          "report(s) to file (the compliance officer is mailed)")
    return 0


def letters(target: Target, args: argparse.Namespace) -> int:
    ports = EscheatPorts(target)
    written = rewrite(ports, args.case_id)  # type: ignore[arg-type]
    out: Path = args.out or Path(f"letters-{args.case_id}")
    out.mkdir(parents=True, exist_ok=True)
    for draft in drafts(ports, args.case_id, args.as_of) if args.as_of else []:  # type: ignore[arg-type]
        path = out / ("DRAFT-" + draft.key.rsplit("/", 1)[-1])
        path.write_bytes(draft.data)
        print(f"{path}  {draft.sha256}  a draft: due by {args.as_of}, not yet written (refunds escheat advance)")
    kept_ok = True
    for letter in written:
        path = out / letter.key.rsplit("/", 1)[-1]
        path.write_bytes(letter.data)
        verdict = "the letter its record lists" if letter.same else \
            f"DIFFERS from the recorded SHA-256 {letter.recorded}"
        kept = _kept_sha(target, letter.key)
        if kept != letter.recorded:
            kept_ok = False
            verdict += f"; the copy kept at {letter.key} is {'gone' if kept is None else 'another file'}"
        print(f"{path}  {letter.sha256}  {verdict}")
    if not written:
        print(f"case {args.case_id} has no letter in its history")
    return 0 if kept_ok and all(letter.same for letter in written) else 1


def _kept_sha(target: Target, key: str) -> str | None:
    """The SHA-256 of the letter the bucket keeps under `key` (None: not there)."""
    from botocore.exceptions import ClientError

    try:
        body = target.client("s3").get_object(Bucket=target.output("LedgerBucketName"), Key=key)["Body"].read()
    except ClientError:
        return None
    return hashlib.sha256(body).hexdigest()


def state_code(text: str) -> str:
    code = text.strip().upper()
    if len(code) != 2 or not code.isalpha():
        raise argparse.ArgumentTypeError(f"not a two-letter state code: {text!r}")
    return code


def register(commands: Any, target_of: Any) -> None:
    escheat = commands.add_parser("escheat", help="unclaimed property: the refunds on the way to the state")
    sub = escheat.add_subparsers(dest="escheat_command", required=True)
    shown = sub.add_parser("status", help="every refund on the path, its stage, next step and date")
    shown.add_argument("--as-of", type=iso_date, required=True)
    shown.add_argument("--json", action="store_true")
    shown.set_defaults(func=lambda a: status(target_of(a), a))
    filed = sub.add_parser("report", help="the NAUPA file of what is reportable to a state")
    filed.add_argument("--state", required=True, type=state_code)
    filed.add_argument("--as-of", type=iso_date, required=True)
    filed.add_argument("--out", type=Path, required=True)
    filed.add_argument("--draft", action="store_true", help="write the file; record nothing as reported")
    filed.set_defaults(func=lambda a: report(target_of(a), a))
    moved = sub.add_parser("advance", help="write the steps that came due by a day (stale, letters, reportable)")
    moved.add_argument("--as-of", type=iso_date, required=True)
    moved.set_defaults(func=lambda a: advance_to(target_of(a), a))
    again = commands.add_parser("letters", help="a case's letters written again, each checked against its record")
    again.add_argument("case_id")
    again.add_argument("--out", type=Path, help="the folder (default: letters-CASE)")
    again.add_argument("--as-of", type=iso_date, help="also the due-diligence letters due by then, as drafts")
    again.set_defaults(func=lambda a: letters(target_of(a), a))
