"""The stores of `usecases/ports.py` in memory (the ledger, cases, history; the books of money and decisions
are in `books.py`): each keeps what its DynamoDB adapter keeps, in the same
item shapes (the adapters' own item functions make and read them), under the same conditions.

What DynamoDB decides by a condition expression is decided here under one lock per store, so the
threads of one detection meet the same "already there" answers they meet on the local cloud. The
contract suite (`tests/contract/`) holds these and the adapters to the same assertions.
"""

from __future__ import annotations

import copy
import threading
from datetime import date, datetime
from typing import Any

from creditrefunds.adapters.case_store import HOLD, CaseNotFound, _figures, check_shard, stored_from_item, to_check
from creditrefunds.adapters.transactions import content_hash
from creditrefunds.domain.cases import Case, StoredCase
from creditrefunds.domain.history import Entry, in_order, next_record, plan_search, stamp
from creditrefunds.domain.ledger import StoreOutcome, Transaction
from creditrefunds.domain.status import Status


class Locked:
    def __init__(self) -> None:
        self._lock = threading.RLock()


class MemoryLedger(Locked):
    """Transactions once by id (the content hash tells a repeat from a conflict), by account, guarantor, claim."""

    def __init__(self) -> None:
        super().__init__()
        self.markers: dict[str, tuple[str, str]] = {}  # txn_id -> (content hash, account)
        self.rows: dict[str, dict[str, Transaction]] = {}  # account -> txn_id -> row
        self.guarantors: dict[str, set[str]] = {}
        self.claims: dict[str, set[str]] = {}
        self.vouched: dict[tuple[str, str], tuple[str, str]] = {}  # (account, txn_id) -> (manifest, path)
        self.manifests: dict[str, dict[str, Any]] = {}

    def put_all(self, txns: list[Transaction], manifest: dict[str, Any], paths: list[str]) -> list[StoreOutcome]:
        outcomes = []
        with self._lock:
            self.manifests[manifest["manifest"]] = dict(manifest)
            for txn, path in zip(txns, paths, strict=True):
                digest = content_hash(txn)
                marker = self.markers.get(txn.txn_id)
                if marker is None:
                    self.markers[txn.txn_id] = (digest, txn.account_id)
                    outcome = StoreOutcome("new")
                else:
                    outcome = StoreOutcome("same") if marker[0] == digest else StoreOutcome("conflict", marker[1])
                outcomes.append(outcome)
                if outcome.result != "conflict":
                    self.rows.setdefault(txn.account_id, {})[txn.txn_id] = txn
                    self.vouched[(txn.account_id, txn.txn_id)] = (manifest["manifest"], path)
                    self.guarantors.setdefault(txn.guarantor_id, set()).add(txn.account_id)
                    if txn.claim_id:
                        self.claims.setdefault(txn.claim_id, set()).add(txn.account_id)
        return outcomes

    def account_rows(self, account_id: str) -> list[tuple[Transaction, str, str]]:
        with self._lock:
            rows = self.rows.get(account_id, {})
            return [(rows[txn_id], *self.vouched.get((account_id, txn_id), ("", "")))
                    for txn_id in sorted(rows)]  # the table's sort key: TXN#<id>

    def manifest(self, manifest_id: str) -> dict[str, Any] | None:
        with self._lock:
            found = self.manifests.get(manifest_id)
            return dict(found) if found else None

    def guarantor_accounts(self, guarantor_id: str) -> list[str]:
        with self._lock:
            return sorted(self.guarantors.get(guarantor_id, ()))

    def accounts_of_claim(self, claim_id: str) -> list[str]:
        with self._lock:
            return sorted(self.claims.get(claim_id, ()))


class MemoryCases(Locked):
    """Case items (and the account holds) as the cases table keeps them; an update of an absent key makes
    the item, as DynamoDB's UpdateItem does."""

    def __init__(self) -> None:
        super().__init__()
        self.items: dict[str, dict[str, Any]] = {}

    def item(self, case_id: str) -> dict[str, Any] | None:
        with self._lock:
            found = self.items.get(case_id)
            return copy.deepcopy(found) if found is not None else None

    def get(self, case_id: str, strict: bool = True) -> StoredCase | None:
        item = self.item(case_id)
        return stored_from_item(item, strict) if item is not None else None

    def require(self, case_id: str) -> StoredCase:
        stored = self.get(case_id)
        if stored is None:
            raise CaseNotFound(f"case {case_id} is not stored")
        return stored

    def _cases(self) -> list[dict[str, Any]]:
        return [item for key, item in sorted(self.items.items()) if not key.startswith(HOLD) and "status" in item]

    def of_account(self, account_id: str) -> list[StoredCase]:
        with self._lock:
            items = [copy.deepcopy(i) for i in self._cases() if i.get("account_id") == account_id]
        return [stored_from_item(item, strict=False) for item in items]

    def holder(self, account_id: str) -> str | None:
        with self._lock:
            return self.items.get(HOLD + account_id, {}).get("open_case_id")

    def holders(self, accounts: list[str]) -> dict[str, str | None]:
        return {account: self.holder(account) for account in accounts}

    def claim(self, account_id: str, case_id: str, after: str | None) -> bool:
        with self._lock:
            held = self.items.get(HOLD + account_id, {}).get("open_case_id")
            if held is not None and held not in (case_id, after):
                return False
            self.items.setdefault(HOLD + account_id, {"case_id": HOLD + account_id})["open_case_id"] = case_id
            return True

    def in_status(self, statuses: tuple[str, ...]) -> list[StoredCase]:
        with self._lock:
            items = [copy.deepcopy(i) for i in self._cases() if i["status"] in statuses]
        return [stored_from_item(item, strict=False) for item in items]

    def ids(self) -> list[str]:
        with self._lock:
            return [item["case_id"] for item in self._cases()]

    def open_new(self, case: Case, status: Status = Status.OPEN, at: datetime | None = None) -> bool:
        with self._lock:
            if case.case_id in self.items:
                return False
            self.items[case.case_id] = {**_figures(case), "status": status, "escalation_level": 0, "overdue": False,
                                        **({"opened_at": at.isoformat(), **to_check(case.case_id, stamp(at))}
                                           if at else {})}
            return True

    def update_figures(self, case: Case, expected: Status | None = None) -> bool:
        item = _figures(case)
        figures = {name: item[name] for name in ("credit", "lines", "due_date", "tier")}
        return self._set(case.case_id, figures, expected)

    def set_status(self, case_id: str, status: Status | None = None, **fields: Any) -> None:
        self._set(case_id, {**fields, **({"status": status} if status is not None else {})})

    def transition(self, case_id: str, expected: Status, status: Status, **fields: Any) -> bool:
        return self._set(case_id, {"status": status, **fields}, expected)

    def decide(self, case_id: str, approval_key: str, status: Status, **fields: Any) -> bool:
        with self._lock:
            item = self.items.get(case_id, {})
            if item.get("approval_key") != approval_key or item.get("status") != Status.AWAITING_APPROVAL:
                return _holds(item, {"status": status, **fields})  # this very decision, landed already
            return self._set(case_id, {"status": status, **fields})

    def set_head(self, case_id: str, seq: int, record_hash: str, at: str) -> None:
        self.set_status(case_id, None, history_seq=seq, history_hash=record_hash, **to_check(case_id, at),
                        seal_shard=check_shard(case_id))

    def due(self, until: datetime) -> list[tuple[str, str]]:
        with self._lock:
            return [(i["case_id"], i["check_at"]) for i in self._cases() if i.get("check_at", "~") <= stamp(until)]

    def checked(self, case_id: str, seen: str | None, again: datetime | None) -> None:
        with self._lock:
            item = self.items.get(case_id)
            if item is None or (seen is not None and item.get("check_at") != seen):
                return
            if seen is None and (again is None or ("check_at" in item and "check_shard" in item)):
                return
            if again is None:
                item.pop("check_shard", None)
                item.pop("check_at", None)
            else:
                item.update(to_check(case_id, stamp(again)))

    def mark_sealed(self, case_id: str, seal_key: str, seq: int) -> None:
        with self._lock:
            item = self.items.get(case_id)
            if item is not None:
                item["sealed_in"] = seal_key
                if item.get("history_seq") == seq:
                    item.pop("seal_shard", None)

    def to_seal(self) -> set[str]:
        with self._lock:
            return {i["case_id"] for i in self._cases() if "seal_shard" in i}

    def _set(self, case_id: str, values: dict[str, Any], expected: Status | None = None) -> bool:
        with self._lock:
            item = self.items.get(case_id)
            if expected is not None and (item is None or item.get("status") != expected):
                return item is not None and "status" in values and _holds(item, values)  # this move, landed
            self.items.setdefault(case_id, {"case_id": case_id}).update(copy.deepcopy(values))
            return True


def _holds(item: dict[str, Any], values: dict[str, Any]) -> bool:
    """The item already holds every value a conditional write meant to set: as `CaseStore` tells its own landed
    write (a lost answer, the request sent again) from another actor's move."""
    return all(item.get(name) == value for name, value in values.items())


class MemoryHistory(Locked):
    """Each case's chain, appended at the next seq and never changed; the head kept on the case."""

    def __init__(self, cases: MemoryCases | None = None) -> None:
        super().__init__()
        self.chains: dict[str, list[dict[str, Any]]] = {}
        self._cases = cases

    def append(self, case: Case, entry: Entry, at: datetime) -> dict[str, Any]:
        with self._lock:
            record = next_record(case, entry, at, self.last(case.case_id))
            self.chains.setdefault(case.case_id, []).append(record)
        if self._cases is not None:
            self._cases.set_head(case.case_id, record["seq"], record["hash"], record["at"])
        return dict(record)

    def append_first(self, case: Case, entry: Entry, at: datetime) -> bool:
        """False when the case has a first record already, unless it is this very one (as the adapter
        cannot tell a repeat of the same record from its own put whose answer was lost)."""
        with self._lock:
            chain = self.chains.get(case.case_id)
            if chain:
                return bool(chain[0]["hash"] == next_record(case, entry, at, None)["hash"])
            self.append(case, entry, at)
            return True

    def last(self, case_id: str) -> dict[str, Any] | None:
        with self._lock:
            chain = self.chains.get(case_id)
            return dict(chain[-1]) if chain else None

    def records(self, case_id: str) -> list[dict[str, Any]]:
        with self._lock:
            return [dict(r) for r in self.chains.get(case_id, [])]

    def changed(self, after: datetime, until: datetime) -> set[str]:
        low, high = stamp(after), stamp(until)
        with self._lock:
            return {case_id for case_id, chain in self.chains.items() if any(low <= r["at"] <= high for r in chain)}

    def search(self, filters: dict[str, str], start: date | None = None,
               end: date | None = None) -> list[dict[str, Any]]:
        plan = plan_search(filters, start, end)
        with self._lock:
            every = [dict(r) for chain in self.chains.values() for r in chain]
        found = [r for _, attribute, value in plan.keys for r in every
                 if r.get(attribute) == value and plan.low <= r["at"] <= plan.high
                 and all(r.get(a) == v for a, v in plan.filters)]
        return in_order(found)
