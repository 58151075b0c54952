"""Build ledger rows for the rules' worked examples."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from creditrefunds.domain.cases import Case
from creditrefunds.domain.detection import detect
from creditrefunds.domain.ledger import Transaction, parse_row
from creditrefunds.domain.settings import Settings

AS_OF = date(2026, 10, 1)
_counter = iter(range(1, 1_000_000))


def row(txn_type: str, amount: str, posted: str = "2026-09-01", account: str = "A1", **extra: str) -> Transaction:
    fields = {
        "txn_id": extra.pop("txn_id", f"T{next(_counter):05d}"),
        "account_id": account,
        "patient_id": extra.pop("patient_id", "P1"),
        "guarantor_id": extra.pop("guarantor_id", "G1"),
        "txn_type": txn_type,
        "amount": amount,
        "posting_date": posted,
        **extra,
    }
    return parse_row(fields)


def charge(amount: str, **kw: str) -> Transaction:
    return row("CHARGE", amount, **kw)


def payment(amount: str, payer_type: str, payer_id: str = "", **kw: str) -> Transaction:
    return row("PAYMENT", f"-{amount}", payer_type=payer_type, payer_id=payer_id, **kw)


def one_case(txns: list[Transaction], settings: Settings | None = None) -> Case:
    cases = detect(txns, AS_OF, settings or Settings())
    assert len(cases) == 1, cases
    return cases[0]


def lines_of(case: Case) -> list[tuple[str, str, str | None, str | None, Decimal]]:
    return [(li.action, li.reason, li.payee_type, li.payee_id, li.amount) for li in case.lines]
