"""Reports auditors and revenue-cycle managers ask for (DOMAIN.md section 7). Pure: data in, rows out.

Aging counts credits still owed: every case whose refund has not gone out (REFUND_ISSUED waits
only for reconciliation and is shown apart). CMS-838 rows are made per Medicare credit line.
"""

from __future__ import annotations

import statistics
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

from creditrefunds.domain.cases import Case
from creditrefunds.domain.ledger import Transaction
from creditrefunds.domain.money import ZERO, money_text
from creditrefunds.domain.status import RESOLVED, STILL_OWED, Status

BUCKETS = (("0-30", 0, 30), ("31-60", 31, 60), ("61-90", 61, 90), ("91-120", 91, 120), ("over 120", 121, None))
CMS838_REASON = {"DUPLICATE_PAYMENT": "1", "MSP_OTHER_PRIMARY": "2"}  # anything else: 3
CMS838_COLUMNS = (
    "case_id", "beneficiary_name", "mbi", "icn", "type_of_bill", "admit_date", "discharge_date", "paid_date",
    "identified_on", "credit_amount", "amount_repaid", "method", "amount_outstanding", "reason_code", "comments",
)  # fmt: skip


@dataclass(frozen=True)
class ReportedCase:
    """A case as a report sees it: its figures, status and overdue flag, and the day it closed."""

    case: Case
    status: str
    overdue: bool = False
    closed_on: date | None = None  # from the history: the day it reached a resolved status


def bucket_of(age_days: int) -> str:
    for name, low, high in BUCKETS:
        if age_days >= low and (high is None or age_days <= high):
            return name
    return BUCKETS[0][0]  # identified in the future of as_of: counted as new


@dataclass
class Cell:
    count: int = 0
    amount: Decimal = ZERO

    def add(self, amount: Decimal) -> None:
        self.count += 1
        self.amount += amount

    def to_json(self) -> dict[str, object]:
        return {"count": self.count, "amount": money_text(self.amount)}


@dataclass
class Aging:
    as_of: date
    buckets: dict[str, Cell] = field(default_factory=lambda: {name: Cell() for name, _, _ in BUCKETS})
    by_payer_type: dict[str, dict[str, Cell]] = field(default_factory=dict)
    overdue: dict[str, Cell] = field(default_factory=lambda: {name: Cell() for name, _, _ in BUCKETS})
    overdue_cases: list[str] = field(default_factory=list)
    issued_awaiting_reconciliation: Cell = field(default_factory=Cell)
    days_to_resolve: list[int] = field(default_factory=list)
    accounts_receivable: Decimal | None = None

    @property
    def total(self) -> Cell:
        total = Cell()
        for cell in self.buckets.values():
            total.count += cell.count
            total.amount += cell.amount
        return total

    @property
    def share_of_ar(self) -> Decimal | None:
        if not self.accounts_receivable:
            return None
        return (self.total.amount / self.accounts_receivable * 100).quantize(Decimal("0.01"))

    def resolve_stats(self) -> dict[str, object]:
        days = self.days_to_resolve
        if not days:
            return {"count": 0, "mean": None, "median": None, "max": None}
        return {"count": len(days), "mean": round(statistics.fmean(days), 1), "median": statistics.median(days),
                "max": max(days)}

    def to_json(self) -> dict[str, object]:
        return {
            "as_of": self.as_of.isoformat(),
            "open_credits": {name: cell.to_json() for name, cell in self.buckets.items()},
            "open_credits_by_payer_type": {
                payer: {name: cell.to_json() for name, cell in cells.items()}
                for payer, cells in sorted(self.by_payer_type.items())
            },
            "overdue": {name: cell.to_json() for name, cell in self.overdue.items()},
            "overdue_cases": sorted(self.overdue_cases),
            "total": self.total.to_json(),
            "issued_awaiting_reconciliation": self.issued_awaiting_reconciliation.to_json(),
            "days_to_resolve": self.resolve_stats(),
            "accounts_receivable": money_text(self.accounts_receivable) if self.accounts_receivable else None,
            "credit_share_of_ar_percent": str(self.share_of_ar) if self.share_of_ar is not None else None,
        }


def aging(cases: Iterable[ReportedCase], as_of: date, accounts_receivable: Decimal | None = None) -> Aging:
    """Open credits by age bucket and payer type (line amounts), overdue called out, days to resolve."""
    report = Aging(as_of, accounts_receivable=accounts_receivable)
    for stored in cases:
        case = stored.case
        if stored.status in RESOLVED:
            if stored.closed_on is not None:
                report.days_to_resolve.append((stored.closed_on - case.identified_on).days)
            continue
        if stored.status == Status.REFUND_ISSUED:
            report.issued_awaiting_reconciliation.add(case.credit)
            continue
        if stored.status not in STILL_OWED:
            continue
        bucket = bucket_of((as_of - case.identified_on).days)
        report.buckets[bucket].add(case.credit)
        for line in case.lines:
            payer_type = line.payee_type or "UNASSIGNED"
            cells = report.by_payer_type.setdefault(payer_type, {name: Cell() for name, _, _ in BUCKETS})
            cells[bucket].add(line.amount)
        due = case.due_date
        if stored.overdue or (due is not None and due < as_of):
            report.overdue[bucket].add(case.credit)
            report.overdue_cases.append(case.case_id)
    return report


def cms838_rows(stored: ReportedCase, transactions: list[Transaction]) -> list[dict[str, str]]:
    """One CMS-838-shaped detail row per Medicare refund line of the case."""
    case = stored.case
    medicare = sorted((t for t in transactions if t.payer_type == "MEDICARE" and t.txn_type == "PAYMENT"),
                      key=lambda t: (t.posting_date, t.txn_id))
    latest = sorted(transactions, key=lambda t: (t.posting_date, t.txn_id))

    def last(attribute: str, rows: list[Transaction] = latest) -> str:
        values = [getattr(t, attribute) for t in rows if getattr(t, attribute)]
        return str(values[-1]) if values else ""

    rows = []
    for line in case.lines:
        if line.payee_type != "MEDICARE" or line.action != "REFUND":
            continue
        repaid = line.amount if stored.status in (Status.REFUND_ISSUED, Status.RECONCILED) else ZERO
        icn = last("claim_id", medicare) or last("claim_id")
        rows.append({
            "case_id": case.case_id,
            "beneficiary_name": last("patient_name"),
            "mbi": last("mbi"),
            "icn": icn,
            "type_of_bill": last("type_of_bill"),
            "admit_date": last("admit_date"),
            "discharge_date": last("discharge_date"),
            "paid_date": last("posting_date", medicare),
            "identified_on": case.identified_on.isoformat(),
            "credit_amount": money_text(line.amount),
            "amount_repaid": money_text(repaid),
            "method": "claim adjustment" if icn else "check",
            "amount_outstanding": money_text(line.amount - repaid),
            "reason_code": CMS838_REASON.get(line.reason, "3"),
            "comments": f"{line.reason}; account {case.account_id}; status {stored.status}",
        })  # fmt: skip
    return rows


def quarter_of(day: date) -> str:
    return f"{day.year}Q{(day.month - 1) // 3 + 1}"


def quarter_range(quarter: str) -> tuple[date, date]:
    """'2026Q3' -> (2026-07-01, 2026-09-30)."""
    year, _, q = quarter.upper().partition("Q")
    if not (year.isdigit() and len(year) == 4 and q in ("1", "2", "3", "4")):
        raise ValueError(f"not a quarter: {quarter!r} (use YYYYQn, n from 1 to 4)")
    first_month = 3 * (int(q) - 1) + 1
    start = date(int(year), first_month, 1)
    end = date(int(year) + (first_month == 10), (first_month + 3 - 1) % 12 + 1, 1)
    return start, date.fromordinal(end.toordinal() - 1)


def cms838_rollup(rows: Iterable[dict[str, str]]) -> list[dict[str, str]]:
    """The quarterly roll-up: per quarter identified and reason code, counts and sums."""
    totals: dict[tuple[str, str], list[Decimal]] = {}
    for row in rows:
        key = (quarter_of(date.fromisoformat(row["identified_on"])), row["reason_code"])
        cell = totals.setdefault(key, [ZERO, ZERO, ZERO, ZERO])
        cell[0] += 1
        cell[1] += Decimal(row["credit_amount"])
        cell[2] += Decimal(row["amount_repaid"])
        cell[3] += Decimal(row["amount_outstanding"])
    return [
        {"quarter": quarter, "reason_code": code, "credits": str(int(c[0])), "credit_amount": money_text(c[1]),
         "amount_repaid": money_text(c[2]), "amount_outstanding": money_text(c[3])}
        for (quarter, code), c in sorted(totals.items())
    ]


PAYEE_CHANGE_COLUMNS = ("at", "case_id", "account_id", "status", "link", "change")


def payee_change_rows(cases: Iterable[tuple[str, str, str, list[dict[str, object]]]]) -> list[dict[str, str]]:
    """`refunds report payee-changes`: every approval asked of a payee an earlier approval of the same case did
    not see, oldest first, from (case id, account, status, history records) of each case: for billing staff to
    check the new payee before the money goes."""
    rows = [{"at": str(r["at"]), "case_id": case_id, "account_id": account_id, "status": status,
             "link": str(r.get("link") or "")[:12], "change": str(r.get("reason") or "")}
            for case_id, account_id, status, records in cases for r in records if r.get("action") == "PAYEE_CHANGED"]
    return sorted(rows, key=lambda row: (row["at"], row["case_id"]))
