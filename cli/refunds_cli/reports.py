"""`refunds report aging|cms838|stuck|remittance|payee-changes|trends`: the reports, from the case table, the history,
the ledger and the stored remittances."""

from __future__ import annotations

import argparse
import csv
import json
import sys
from datetime import date
from pathlib import Path
from typing import Any

from creditrefunds.adapters.case_store import stored_from_item
from creditrefunds.adapters.history_store import HistoryStore
from creditrefunds.domain.cells import safe_row
from creditrefunds.domain.reports import (
    BUCKETS,
    CMS838_COLUMNS,
    PAYEE_CHANGE_COLUMNS,
    Aging,
    ReportedCase,
    aging,
    cms838_rollup,
    cms838_rows,
    payee_change_rows,
    quarter_range,
)
from creditrefunds.domain.status import RESOLVED

from refunds_cli import operations, remit
from refunds_cli.argtypes import iso_date, positive_amount
from refunds_cli.audit import case_items
from refunds_cli.target import Target
from refunds_cli.trends import year_month


def stored_cases(target: Target) -> list[ReportedCase]:
    """Every case with its status; resolved ones with the day their history says they closed."""
    history = HistoryStore(target.table("HistoryTableName"))
    cases = []
    for item in case_items(target):
        stored = stored_from_item(item)
        closed_on = None
        if stored.status in RESOLVED:
            closing = [r for r in history.records(stored.case.case_id) if r.get("status_after") in RESOLVED]
            closed_on = date.fromisoformat(closing[0]["at"][:10]) if closing else None
        cases.append(ReportedCase(stored.case, stored.status, stored.overdue, closed_on))
    return cases


def print_aging(report: Aging) -> None:
    names = [name for name, _, _ in BUCKETS]
    print(f"Open credits as of {report.as_of.isoformat()} (count / amount)")
    print(f"{'':<22}" + "".join(f"{name:>20}" for name in names) + f"{'total':>20}")

    def row(label: str, cells: dict[str, Any], total: Any = None) -> None:
        text = "".join(f"{cells[n].count:>6} {cells[n].amount:>13,.2f}" for n in names)
        end = f"{total.count:>6} {total.amount:>13,.2f}" if total is not None else ""
        print(f"{label:<22}{text}{end}")

    row("all open credits", report.buckets, report.total)
    for payer_type, cells in sorted(report.by_payer_type.items()):
        row(f"  lines: {payer_type}", cells)
    row("OVERDUE", report.overdue)
    if report.overdue_cases:
        print(f"overdue cases: {', '.join(sorted(report.overdue_cases))}")
    issued = report.issued_awaiting_reconciliation
    print(f"refunds issued, awaiting reconciliation: {issued.count} / {issued.amount:,.2f}")
    stats = report.resolve_stats()
    if stats["count"]:
        print(f"days to resolve ({stats['count']} closed): mean {stats['mean']}, median {stats['median']}, "
              f"max {stats['max']}")
    else:
        print("days to resolve: no case closed yet")
    if report.share_of_ar is not None:
        print(f"credit balances are {report.share_of_ar}% of A/R ({report.accounts_receivable:,.2f})")


def chart_aging(report: Aging, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = [name for name, _, _ in BUCKETS]
    figure, axis = plt.subplots(figsize=(9, 5))
    bottom = [0.0] * len(names)
    for payer_type, cells in sorted(report.by_payer_type.items()):
        values = [float(cells[n].amount) for n in names]
        axis.bar(names, values, bottom=bottom, label=payer_type)
        bottom = [b + v for b, v in zip(bottom, values, strict=True)]
    overdue = [float(report.overdue[n].amount) for n in names]
    axis.plot(names, overdue, "kx--", label="overdue (case credit)")
    axis.set_title(f"Open credit balances by age, as of {report.as_of.isoformat()}")
    axis.set_xlabel("days since identified")
    axis.set_ylabel("amount")
    axis.legend()
    figure.tight_layout()
    figure.savefig(path)
    plt.close(figure)


def cmd_aging(target: Target, args: argparse.Namespace) -> int:
    report = aging(stored_cases(target), args.as_of, args.ar)
    if args.chart:
        chart_aging(report, args.chart)
    if args.json:
        print(json.dumps(report.to_json(), indent=2))
    else:
        print_aging(report)
        if args.chart:
            print(f"chart written to {args.chart}")
    return 0


def cmd_trends(target: Target, args: argparse.Namespace) -> int:
    """`report trends`: the deployed stack's trends, read from the monthly counters (no scan)."""
    from creditrefunds.adapters.rollup_store import RollupStore
    from creditrefunds.usecases.trends import report

    from refunds_cli.detect import load_settings
    from refunds_cli.trends import show

    if args.first > args.last:
        print(f"refunds: --from {args.first} is after --to {args.last}", file=sys.stderr)
        return 2
    settings = load_settings(args.settings)
    show(report(RollupStore(target.table("TrendsTableName")), args.first, args.last, settings), args)
    return 0


def cmd_cms838(target: Target, args: argparse.Namespace) -> int:
    start, end = args.date_from, args.date_to
    if args.quarter:
        try:
            start, end = quarter_range(args.quarter)
        except ValueError as error:
            print(f"refunds: {error}", file=sys.stderr)
            return 2
    ledger = target.ledger()
    rows = []
    for stored in stored_cases(target):
        day = stored.case.identified_on
        if (start and day < start) or (end and day > end):
            continue
        if any(line.payee_type == "MEDICARE" for line in stored.case.lines):
            rows += cms838_rows(stored, ledger.account_transactions(stored.case.account_id))
    columns: tuple[str, ...]
    if args.rollup:
        rows, columns = cms838_rollup(rows), ("quarter", "reason_code", "credits", "credit_amount",
                                              "amount_repaid", "amount_outstanding")
    else:
        columns = CMS838_COLUMNS
    writer = csv.DictWriter(sys.stdout, fieldnames=columns, lineterminator="\n")
    writer.writeheader()
    writer.writerows(safe_row(row) for row in rows)
    return 0




def cmd_payee_changes(target: Target, args: argparse.Namespace) -> int:
    """Every approval asked of a payee an earlier approval of the same case did not see, as CSV or JSON."""
    history = HistoryStore(target.table("HistoryTableName"))
    cases = [(str(item["case_id"]), str(item.get("account_id", "")), str(item.get("status", "")),
              history.records(str(item["case_id"]))) for item in case_items(target)]
    rows = payee_change_rows(cases)
    if args.json:
        print(json.dumps(rows, indent=2))
        return 0
    writer = csv.DictWriter(sys.stdout, fieldnames=PAYEE_CHANGE_COLUMNS, lineterminator="\n")
    writer.writeheader()
    writer.writerows(safe_row(row) for row in rows)
    return 0


def register(commands: Any, target_of: Any) -> None:
    """Add `report aging|cms838|stuck|remittance|payee-changes` to the command line."""
    report = commands.add_parser("report", help="aging and CMS-838 reports").add_subparsers(
        dest="report_command", required=True)
    age = report.add_parser("aging", help="open credits by age bucket and payer type; overdue; days to resolve")
    age.add_argument("--as-of", type=iso_date, default=date.today(), help="default: today")
    age.add_argument("--ar", type=positive_amount, help="accounts receivable, for the credit share of A/R")
    age.add_argument("--json", action="store_true")
    age.add_argument("--chart", type=Path, help="also draw the report into this PNG file")
    age.set_defaults(func=lambda a: cmd_aging(target_of(a), a))
    cms = report.add_parser("cms838", help="CMS-838-shaped rows per Medicare credit, as CSV")
    cms.add_argument("--from", dest="date_from", type=iso_date, help="identified on or after")
    cms.add_argument("--to", dest="date_to", type=iso_date, help="identified on or before")
    cms.add_argument("--quarter", help="e.g. 2026Q3 (instead of --from/--to)")
    cms.add_argument("--rollup", action="store_true", help="the quarterly roll-up instead of the detail rows")
    cms.set_defaults(func=lambda a: cmd_cms838(target_of(a), a))
    stuck = report.add_parser("stuck", help="cases no workflow is moving; instructions no history record tells of")
    stuck.add_argument("--grace-minutes", type=float, default=15.0, help="leave alone cases that moved this recently")
    stuck.add_argument("--json", action="store_true")
    stuck.set_defaults(func=lambda a: operations.stuck(target_of(a), a.grace_minutes, a.json))
    remitted = report.add_parser("remittance", help="what 835s show the ledger lacks: unposted cash, takebacks not "
                                                   "yet posted, remittances of unknown accounts")
    shape = remitted.add_mutually_exclusive_group()
    shape.add_argument("--json", action="store_true")
    shape.add_argument("--csv", action="store_true")
    remitted.set_defaults(func=lambda a: remit.cmd_report(target_of(a), a))
    trend = report.add_parser("trends", help="credits per month, reason, payer, payer type and facility from the "
                                             "trends' monthly counters, and their spikes (docs/trends.md)")
    trend.add_argument("--from", dest="first", type=year_month, required=True, help="the first month (YYYY-MM)")
    trend.add_argument("--to", dest="last", type=year_month, required=True, help="the last month (YYYY-MM)")
    trend_shape = trend.add_mutually_exclusive_group()
    trend_shape.add_argument("--json", action="store_true")
    trend_shape.add_argument("--csv", action="store_true")
    trend.add_argument("--chart", type=Path, help="also draw the charts into this PNG file")
    trend.add_argument("--settings", type=Path, help="the stack's rule settings (the spike's multiple and count)")
    trend.set_defaults(func=lambda a: cmd_trends(target_of(a), a))
    payees = report.add_parser("payee-changes", help="approvals asked of a payee an earlier approval of the same "
                                                     "case did not see (for billing staff), as CSV")
    payees.add_argument("--json", action="store_true")
    payees.set_defaults(func=lambda a: cmd_payee_changes(target_of(a), a))
