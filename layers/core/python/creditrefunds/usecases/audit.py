"""What auditors ask of the history: a case's records, whether its chain is whole, a search.
The same answers for the audit API and for `refunds audit`."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from creditrefunds.domain.history import Break, public, verify_chain
from creditrefunds.usecases.ports import Cases, History


@dataclass(frozen=True)
class Verified:
    case_id: str
    records: int
    breaks: list[Break]
    known: bool  # the case or its history is stored at all


def verify(cases: Cases, history: History, case_id: str) -> Verified:
    """Walk one case's chain against the head its case item keeps."""
    records = history.records(case_id)
    head = cases.head(case_id)
    return Verified(case_id, len(records), verify_chain(case_id, records, head), bool(records) or head is not None)


def case_history(history: History, case_id: str) -> list[dict[str, Any]]:
    return [public(r) for r in history.records(case_id)]


SEARCH_FILTERS = ("account", "patient", "guarantor", "payer", "status")


def search(history: History, query: dict[str, str]) -> list[dict[str, Any]]:
    """Records by account, patient, guarantor, payer, status and dates (`from`, `to`: ISO dates);
    ValueError naming what is wrong with a search the indexes cannot answer."""
    start, end = (date.fromisoformat(query[name]) if query.get(name) else None for name in ("from", "to"))
    filters = {name: query.get(name) or "" for name in SEARCH_FILTERS}
    return [{"case_id": r["case_id"], **public(r)} for r in history.search(filters, start, end)]
