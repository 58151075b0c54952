"""`refunds trends LEDGER... --from YYYY-MM --to YYYY-MM`: what keeps making credits (DOMAIN §11), from billing
extracts, offline: credits by month, reason, payer, payer type and facility, and the patterns that point to a
billing problem. A CSV ledger is read by the compiled pass; bad rows are rejected with line, field and reason
and the rest counted, as `refunds detect` does.
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import io
import json
import mmap
import os
import re
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from creditrefunds.domain import fastpass
from creditrefunds.domain.cells import safe_cell
from creditrefunds.domain.ledger import LedgerUnreadable, RowError, Transaction
from creditrefunds.domain.ledger_files import format_for, numbered_rows
from creditrefunds.domain.patterns import recurring_credits, repeat_postings, spikes
from creditrefunds.domain.settings import Settings, SettingsError
from creditrefunds.domain.trends import DIMENSIONS, ledger_credits, month_of, months_from, trends

from refunds_cli.detect import compiled_pass_on, load_settings

MONTH = re.compile(r"^\d{4}-(0[1-9]|1[0-2])$")
FIGURES = ("identified", "open", "overdue", "refunded")


def shown(value: object) -> str:
    """A value from a ledger as text to print or put in a cell: control characters (a terminal's escapes)
    written out, and a cell that starts like a formula neutralised."""
    text = "" if value is None else str(value)
    return safe_cell("".join(c if c.isprintable() else f"\\x{ord(c):02x}" for c in text))


def year_month(text: str) -> str:
    if not MONTH.match(text):
        raise argparse.ArgumentTypeError(f"not a month (YYYY-MM): {text!r}")
    return text


def _rows(path: Path, fmt: str, id_max_length: int) -> Iterator[tuple[int, Transaction | RowError | None]]:
    """The file's (line, row) pairs: the compiled pass for a clean CSV, the reference reader otherwise."""
    if fmt == "csv" and compiled_pass_on("refunds trends"):
        with open(path, "rb") as stream:
            if os.fstat(stream.fileno()).st_size:
                with mmap.mmap(stream.fileno(), 0, access=mmap.ACCESS_READ) as data:
                    try:
                        with fastpass.numbered_rows(data, id_max_length=id_max_length) as rows:
                            yield from rows
                        return
                    except fastpass.NotClean:
                        pass  # the reference reader says what is wrong with it
    with open(path, "rb") as stream:
        yield from numbered_rows(stream, fmt, id_max_length=id_max_length)


def read_ledgers(paths: list[Path], fmt: str | None, settings: Settings,
                 on_reject: Callable[[Path, RowError], Any]) -> list[Transaction]:
    """The transactions of every ledger (a txn_id seen again with the same content counted once)."""
    if len(paths) == 1:  # (within a file, the reader already counts a repeat once and rejects a conflict)
        return [item for _, item in _checked(paths[0], fmt, settings, on_reject)]
    transactions: dict[str, Transaction] = {}
    for path in paths:
        for line, item in _checked(path, fmt, settings, on_reject):
            seen = transactions.setdefault(item.txn_id, item)
            if seen != item:
                on_reject(path, RowError(line, item.txn_id, "txn_id",
                                         "conflict: read before (in this or an earlier file) with other content"))
    return list(transactions.values())


def _checked(path: Path, fmt: str | None, settings: Settings,
             on_reject: Callable[[Path, RowError], Any]) -> Iterator[tuple[int, Transaction]]:
    for line, item in _rows(path, format_for(str(path), fmt), settings.id_max_length):
        if isinstance(item, RowError):
            on_reject(path, item)
        elif item is not None:
            yield line, item


def report(transactions: list[Transaction], first: str, last: str, settings: Settings) -> dict[str, Any]:
    """The trends JSON (docs/trends.md): the months' figures, the series, the patterns."""
    months = months_from(first, last)
    credits = ledger_credits(transactions, last, settings)
    figures = trends(credits, months)
    patterns = (spikes(credits, months, settings) + repeat_postings(transactions, months, settings)
                + recurring_credits(credits, transactions, months, settings))
    return {"from": first, "to": last, **figures,
            "patterns": sorted(patterns, key=lambda p: (p["month"], p["kind"], p["dimension"], p["value"]))}


def csv_text(result: dict[str, Any]) -> str:
    """One row per month and dimension value (the whole first, as dimension `all`), every cell neutralised."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["month", "dimension", "value"] + [f"{f}_{k}" for f in FIGURES for k in ("count", "amount")]
                    + ["refunded_days_median", "refunded_days_p90", "on_time_count", "on_time_share"])
    series = [("all", "all", result["months"])] + [
        (dimension, value, months) for dimension in DIMENSIONS for value, months in result["series"][dimension].items()]
    for dimension, value, months in series:
        for m in months:
            refunded, on_time = m["refunded"], m["on_time"]
            writer.writerow([shown(v) for v in [m["month"], dimension, value]
                             + [m[f][k] for f in FIGURES for k in ("count", "amount")]
                             + [refunded["days_median"], refunded["days_p90"], on_time["count"], on_time["share"]]])
    return out.getvalue()


def chart(result: dict[str, Any], path: Path, top: int = 5) -> None:
    """Three panels a manager reads at a glance: credits identified by reason per month, the top payers'
    credits per month, and the share refunded on time."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    def label(value: str) -> str:  # a ledger's id as matplotlib shows it: no mathtext, not hidden by a leading _
        return " " + shown(value).replace("$", r"\$")

    months = [m["month"] for m in result["months"]]
    figure, (by_reason, by_payer, on_time) = plt.subplots(3, 1, figsize=(11, 12), sharex=True)
    bottom = [0] * len(months)
    for reason, series in sorted(result["series"]["reason"].items()):
        counts = [m["identified"]["count"] for m in series]
        by_reason.bar(months, counts, bottom=bottom, label=label(reason))
        bottom = [b + c for b, c in zip(bottom, counts, strict=True)]
    by_reason.set_title(f"Credits identified per month, by reason ({result['from']} to {result['to']})")
    by_reason.set_ylabel("credits")
    by_reason.legend(fontsize="small")
    payers = sorted(result["series"]["payer"].items(),
                    key=lambda item: -sum(float(m["identified"]["amount"]) for m in item[1]))[:top]
    for payer, series in payers:
        by_payer.plot(months, [float(m["identified"]["amount"]) for m in series], marker="o", label=label(payer))
    spiked = [p for p in result["patterns"] if p["kind"] == "spike" and p["dimension"] == "payer"
              and p["value"] in dict(payers)]
    for p in spiked:
        by_payer.annotate("spike", (p["month"], float(p["amount"])), textcoords="offset points", xytext=(0, 6),
                          ha="center", color="red")
    by_payer.set_title(f"Amount identified per month, the top {len(payers)} payers")
    by_payer.set_ylabel("amount")
    by_payer.legend(fontsize="small")
    shares = [m["on_time"]["share"] for m in result["months"]]
    on_time.plot(months, [100 * s if s is not None else float("nan") for s in shares], marker="o", color="green")
    on_time.set_ylim(0, 105)
    on_time.set_title("Share of the month's refunds made within their legal deadline")
    on_time.set_ylabel("% on time")
    on_time.tick_params(axis="x", labelrotation=60)
    figure.tight_layout()
    figure.savefig(path)
    plt.close(figure)


def cmd_trends(args: argparse.Namespace) -> int:
    if args.first > args.last:
        print(f"refunds trends: --from {args.first} is after --to {args.last}", file=sys.stderr)
        return 2
    rejected = 0
    try:
        settings = load_settings(args.settings)
        with contextlib.ExitStack() as stack:
            rejects = stack.enter_context(open(args.rejects, "w", encoding="utf-8")) if args.rejects else None

            def on_reject(path: Path, error: RowError) -> None:
                nonlocal rejected
                rejected += 1
                if rejects is not None:
                    rejects.write(json.dumps({"file": str(path), **error.to_json()}) + "\n")

            transactions = read_ledgers(args.ledgers, args.format, settings, on_reject)
    except (LedgerUnreadable, SettingsError) as error:
        print(f"refunds trends: {error}", file=sys.stderr)
        return 2
    except OSError as error:
        print(f"refunds trends: cannot read {error.filename}: {error.strerror}", file=sys.stderr)
        return 2
    if not transactions:
        print("refunds trends: no transaction could be read", file=sys.stderr)
        return 2
    held = (month_of(min(t.posting_date for t in transactions)), month_of(max(t.posting_date for t in transactions)))
    if args.last < held[0] or args.first > held[1]:
        print(f"refunds trends: {args.first} to {args.last} is outside the ledgers, which hold {held[0]} to "
              f"{held[1]}", file=sys.stderr)
        return 2
    show(report(transactions, args.first, args.last, settings), args)
    outside = [m for m in (args.first, args.last) if not held[0] <= m <= held[1]]
    print(f"{rejected} rejected row(s); {len(transactions)} transaction(s), {held[0]} to {held[1]}"
          + (f"; {' and '.join(outside)} outside them (counted as zeros)" if outside else ""), file=sys.stderr)
    return 0


def show(result: dict[str, Any], args: argparse.Namespace) -> None:
    """The trends as asked: JSON, CSV or text on standard output, then the chart."""
    if args.csv:
        sys.stdout.write(csv_text(result))
    elif args.json:
        print(json.dumps(result, indent=1))
    else:
        print_text(result)
    sys.stdout.flush()  # (what was asked for is out before the chart is drawn)
    if args.chart:
        chart(result, args.chart)


def print_text(result: dict[str, Any]) -> None:
    print(f"Credits {result['from']} to {result['to']} (count / amount)")
    print(f"{'month':8} {'identified':>20} {'open at end':>20} {'overdue':>20} {'refunded':>20} {'days p50/p90':>13}"
          f" {'on time':>8}")
    for m in result["months"]:
        cells = [f"{m[f]['count']:>6} / {m[f]['amount']:>11}" for f in FIGURES]
        days = f"{m['refunded']['days_median'] or '-'}/{m['refunded']['days_p90'] or '-'}"
        share = m["on_time"]["share"]
        print(f"{m['month']:8} {' '.join(cells)} {days:>13} {'-' if share is None else f'{100 * share:.0f}%':>8}")
    print(f"\n{len(result['patterns'])} pattern(s)")
    for p in result["patterns"]:
        print(f"  {p['month']} {p['kind']}: {p['dimension']} {shown(p['value'])}: {p['count']} ({p['amount']})")


def register(commands: Any, target_of: Any) -> None:
    """Add `trends` to the command line."""
    del target_of  # offline: no stack
    trends_parser = commands.add_parser("trends", help="what keeps making credits, month by month, from billing "
                                        "extracts (no AWS needed)")
    trends_parser.add_argument("ledgers", type=Path, nargs="+", metavar="LEDGER")
    trends_parser.add_argument("--from", dest="first", type=year_month, required=True, help="the first month")
    trends_parser.add_argument("--to", dest="last", type=year_month, required=True, help="the last month")
    output = trends_parser.add_mutually_exclusive_group()
    output.add_argument("--json", action="store_true", help="as JSON (docs/trends.md)")
    output.add_argument("--csv", action="store_true", help="one row per month and dimension value")
    trends_parser.add_argument("--chart", type=Path, help="also draw the charts into this PNG file")
    trends_parser.add_argument("--rejects", type=Path, help="write each rejected row as a JSON line here")
    trends_parser.add_argument("--settings", type=Path, help="JSON file overriding the rules' settings")
    trends_parser.add_argument("--format", choices=["csv", "jsonl"], help="default: from each file's extension")
    trends_parser.set_defaults(func=cmd_trends)

