"""`refunds cases` and `refunds case ID`: where every credit stands, overdue ones called out."""

from __future__ import annotations

import json
import sys
from typing import Any

from creditrefunds.adapters.case_store import NO_DUE_DATE, CaseStore
from creditrefunds.adapters.history_store import HistoryStore
from creditrefunds.domain.money import money, money_text
from creditrefunds.domain.status import Status
from creditrefunds.usecases.audit import case_history

from refunds_cli import operations
from refunds_cli.audit import case_items
from refunds_cli.target import Target


def summary(item: dict[str, Any]) -> dict[str, Any]:
    """One case as `cases --json` gives it."""
    due = item.get("due_date")
    return {
        "case_id": item["case_id"], "account_id": item["account_id"], "status": item["status"],
        "credit": money_text(money(str(item["credit"]))), "due_date": None if due in (None, NO_DUE_DATE) else due,
        "tier": int(item.get("tier", 0)), "escalation_level": int(item.get("escalation_level", 0)),
        "overdue": bool(item.get("overdue", False)),
    }  # fmt: skip


def list_cases(target: Target, status: str | None, as_json: bool) -> int:
    rows = [summary(item) for item in case_items(target, (status,) if status else tuple(Status))]
    if as_json:
        print(json.dumps(rows, indent=2))
        return 0
    print(f"{'case':<20} {'account':<14} {'status':<19} {'credit':>10} {'due':<10} tier esc")
    for r in rows:
        flag = "  OVERDUE" if r["overdue"] else ""
        print(f"{r['case_id']:<20} {r['account_id']:<14} {r['status']:<19} {r['credit']:>10} "
              f"{r['due_date'] or '-':<10} {r['tier']:>4} {r['escalation_level']:>3}{flag}")
    print(f"{len(rows)} case(s), {sum(r['overdue'] for r in rows)} overdue", file=sys.stderr)
    return 0


def show_case(target: Target, case_id: str, as_json: bool) -> int:
    item = CaseStore(target.table("CasesTableName")).item(case_id)
    if item is None:
        print(f"refunds: no case {case_id}", file=sys.stderr)
        return 2
    lines = [{k: (money_text(money(v)) if k == "amount" else v) for k, v in line.items()}
             for line in item.get("lines", [])]
    history = case_history(HistoryStore(target.table("HistoryTableName")), case_id)
    if as_json:
        print(json.dumps({**summary(item), "identified_on": item["identified_on"], "lines": lines,
                          "history": history}, indent=2))
        return 0
    s = summary(item)
    print(f"{s['case_id']}  account {s['account_id']}  {s['status']}{'  OVERDUE' if s['overdue'] else ''}")
    print(f"credit {s['credit']}, identified {item['identified_on']}, due {s['due_date'] or '-'}, "
          f"tier {s['tier']}, escalation level {s['escalation_level']}")
    for line in lines:
        print(f"  {line['action']:<8} {line['reason']:<20} {line.get('payee_type') or '-':<11} "
              f"{line['amount']:>10}  due {line.get('due_date') or '-'}")
    print("history:")
    for r in history:
        print(f"  {r['seq']:>3} {r['at'][:19]} {r['actor']:<24} {r['action']:<14} "
              f"{r['status_before'] or '-'} -> {r['status_after'] or '-'}  {r['reason'] or ''}")
    return 0


def register(commands: Any, target_of: Any) -> None:
    listing = commands.add_parser("cases", help="every case with its status, due date, tier, escalation, overdue")
    listing.add_argument("--status", choices=list(Status))
    listing.add_argument("--json", action="store_true")
    listing.set_defaults(func=lambda a: list_cases(target_of(a), a.status, a.json))
    one = commands.add_parser("case", help="one case: its lines and its history")
    one.add_argument("case_id")
    one.add_argument("--json", action="store_true")
    one.add_argument("--retry", action="store_true",
                     help="operators: restart a FAILED case from its last good step (a new workflow run)")
    one.set_defaults(func=lambda a: (operations.retry_case(target_of(a), a.case_id) if a.retry
                                     else show_case(target_of(a), a.case_id, a.json)))
