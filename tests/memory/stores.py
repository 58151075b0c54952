"""The stores of `usecases/ports.py` in memory: each keeps what its DynamoDB adapter keeps, in the same
item shapes (the adapters' own item functions make and read them), under the same conditions.

What DynamoDB decides by a condition expression is decided here under one lock per store, so the
threads of one detection meet the same "already there" answers they meet on the local cloud. The
contract suite (`tests/contract/`) holds these and the adapters to the same assertions.
"""

from __future__ import annotations

import copy
import secrets
import threading
from collections.abc import Iterable
from datetime import date, datetime
from typing import Any

from creditrefunds.adapters.case_store import HOLD, _figures, stored_from_item
from creditrefunds.adapters.remittance_store import item_of
from creditrefunds.adapters.transactions import content_hash
from creditrefunds.domain.approvals import KEEP_AFTER_EXPIRY, Approval, LinkState, LinkTaken, Snapshot, link_key
from creditrefunds.domain.cases import Case, StoredCase
from creditrefunds.domain.detection import AccountSummary, summarize
from creditrefunds.domain.history import Entry, in_order, next_record, plan_search
from creditrefunds.domain.instructions import Instruction, Issued
from creditrefunds.domain.ledger import StoreOutcome, Transaction
from creditrefunds.domain.remittance import ClaimPayment, Evidence, Takeback, from_record
from creditrefunds.domain.status import Status


class _Locked:
    def __init__(self) -> None:
        self._lock = threading.RLock()


class MemoryLedger(_Locked):
    """Transactions once by id (the content hash tells a repeat from a conflict), by account, guarantor, claim."""

    def __init__(self) -> None:
        super().__init__()
        self.markers: dict[str, tuple[str, str]] = {}  # txn_id -> (content hash, account)
        self.rows: dict[str, dict[str, Transaction]] = {}  # account -> txn_id -> row
        self.guarantors: dict[str, set[str]] = {}
        self.claims: dict[str, set[str]] = {}

    def put_all(self, txns: list[Transaction]) -> list[StoreOutcome]:
        outcomes = []
        with self._lock:
            for txn in txns:
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
                    self.guarantors.setdefault(txn.guarantor_id, set()).add(txn.account_id)
                    if txn.claim_id:
                        self.claims.setdefault(txn.claim_id, set()).add(txn.account_id)
        return outcomes

    def account_transactions(self, account_id: str) -> list[Transaction]:
        with self._lock:
            rows = self.rows.get(account_id, {})
            return [rows[txn_id] for txn_id in sorted(rows)]  # the table's sort key: TXN#<id>

    def summary(self, account_id: str) -> tuple[AccountSummary, list[Transaction]]:
        txns = self.account_transactions(account_id)
        return summarize(txns).get(account_id, AccountSummary(account_id)), txns

    def summaries(self, accounts: set[str]) -> dict[str, tuple[AccountSummary, list[Transaction]]]:
        return {account: self.summary(account) for account in sorted(accounts)}

    def guarantor_accounts(self, guarantor_id: str) -> list[str]:
        with self._lock:
            return sorted(self.guarantors.get(guarantor_id, ()))

    def accounts_of_claim(self, claim_id: str) -> list[str]:
        with self._lock:
            return sorted(self.claims.get(claim_id, ()))

    def patient_name(self, account_id: str) -> str | None:
        rows = sorted(self.account_transactions(account_id), key=lambda t: (t.posting_date, t.txn_id))
        names = [t.patient_name for t in rows if t.patient_name]
        return names[-1] if names else None


class MemoryCases(_Locked):
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
        from creditrefunds.adapters.case_store import CaseNotFound

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
                                        **({"opened_at": at.isoformat()} if at else {})}
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
                return False
            return self._set(case_id, {"status": status, **fields})

    def set_head(self, case_id: str, seq: int, record_hash: str) -> None:
        self.set_status(case_id, None, history_seq=seq, history_hash=record_hash)

    def _set(self, case_id: str, values: dict[str, Any], expected: Status | None = None) -> bool:
        with self._lock:
            item = self.items.get(case_id)
            if expected is not None and (item is None or item.get("status") != expected):
                return False
            self.items.setdefault(case_id, {"case_id": case_id}).update(copy.deepcopy(values))
            return True


class MemoryHistory(_Locked):
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
            self._cases.set_head(case.case_id, record["seq"], record["hash"])
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

    def search(self, filters: dict[str, str], start: date | None = None,
               end: date | None = None) -> list[dict[str, Any]]:
        plan = plan_search(filters, start, end)
        with self._lock:
            every = [dict(r) for chain in self.chains.values() for r in chain]
        found = [r for _, attribute, value in plan.keys for r in every
                 if r.get(attribute) == value and plan.low <= r["at"] <= plan.high
                 and all(r.get(a) == v for a, v in plan.filters)]
        return in_order(found)


BY_CASE = ("approval_key", "case_id", "created_at", "tier", "approver", "digest", "state", "decision", "decided_at",
           "expires_at")  # the by-case index's projection: never the task token or the snapshot


class MemoryApprovals(_Locked):
    """Approval items by the SHA-256 of the link id, shaped as the approvals table keeps them."""

    def __init__(self) -> None:
        super().__init__()
        self.items: dict[str, dict[str, Any]] = {}

    def create(self, snapshot: Snapshot, tier: int, approver: str, task_token: str, now: datetime,
               ttl: int) -> tuple[str, Approval]:
        link_id = secrets.token_urlsafe(32)
        expires = int(now.timestamp()) + ttl
        approval = Approval(link_key(link_id), snapshot.case_id, tier, approver, snapshot.digest, expires,
                            LinkState.PENDING, snapshot=snapshot)
        with self._lock:
            if approval.approval_key in self.items:
                raise RuntimeError("approval key taken")  # the adapter's ConditionalCheckFailed
            self.items[approval.approval_key] = {
                "approval_key": approval.approval_key, "case_id": snapshot.case_id, "tier": tier,
                "approver": approver, "digest": approval.digest, "snapshot": snapshot.to_item(),
                "task_token": task_token, "created_at": now.isoformat(), "expires_at": expires,
                "purge_after": expires + KEEP_AFTER_EXPIRY, "state": approval.state}
        return link_id, approval

    def get(self, link_id: str) -> Approval | None:
        return self.by_key(link_key(link_id)) if link_id else None

    def by_key(self, approval_key: str) -> Approval | None:
        with self._lock:
            item = self.items.get(approval_key)
            return Approval.from_item(copy.deepcopy(item)) if item else None

    def of_case(self, case_id: str) -> list[Approval]:
        with self._lock:
            items = sorted((i for i in self.items.values() if i["case_id"] == case_id),
                           key=lambda i: i["created_at"])
            return [Approval.from_item({k: i[k] for k in BY_CASE if k in i}) for i in items]

    def open_links(self, case_id: str) -> list[tuple[Approval, str]]:
        with self._lock:
            return [(Approval.from_item(copy.deepcopy(self.items[a.approval_key])),
                     str(self.items[a.approval_key]["task_token"])) for a in self.of_case(case_id)
                    if a.state in (LinkState.PENDING, LinkState.DECIDING)]

    def take(self, approval: Approval, decision: str, reason: str, source: str, now: datetime) -> str:
        with self._lock:
            item = self.items.get(approval.approval_key)
            if item is None or item["state"] != LinkState.PENDING or item["expires_at"] <= int(now.timestamp()):
                raise LinkTaken()
            item.update(state=LinkState.DECIDING, decision=decision, reason=reason, decided_at=now.isoformat(),
                        decided_from=source)
            return str(item["task_token"])

    def mark_mailed(self, approval: Approval, now: datetime) -> None:
        with self._lock:
            self.items.setdefault(approval.approval_key, {"approval_key": approval.approval_key})[
                "mailed_at"] = now.isoformat()

    def mark_late(self, approval_key: str, case_id: str) -> Approval | None:
        moved = self._move(approval_key, case_id, LinkState.DECIDING, LinkState.LATE)
        return moved[0] if moved else None

    def accept(self, approval: Approval) -> Approval | None:
        moved = self._move(approval.approval_key, approval.case_id, LinkState.DECIDING, LinkState.USED)
        return moved[0] if moved else None

    def supersede(self, case_id: str, approval_keys: list[str]) -> list[tuple[Approval, str]]:
        return [moved for key in approval_keys
                if (moved := self._move(key, case_id, LinkState.PENDING, LinkState.SUPERSEDED)) is not None]

    def pending(self, case_id: str) -> list[str]:
        return [a.approval_key for a in self.of_case(case_id) if a.state is LinkState.PENDING]

    def _move(self, key: str, case_id: str, before: LinkState, after: LinkState) -> tuple[Approval, str] | None:
        with self._lock:
            item = self.items.get(key)
            if item is None or item.get("state") != before or item.get("case_id") != case_id:
                return None
            item["state"] = after
            return Approval.from_item(copy.deepcopy(item)), str(item["task_token"])


class MemoryRefundBook(_Locked):
    """One instruction per case line, written once; read by day, case and account. Kept as the table keeps
    it (the instruction's item), so what a reader gets back is what the item holds."""

    def __init__(self) -> None:
        super().__init__()
        self.items: dict[str, dict[str, Any]] = {}

    def issue(self, instruction: Instruction) -> Issued:
        with self._lock:
            new = instruction.instruction_id not in self.items
            if new:
                self.items[instruction.instruction_id] = instruction.to_item()
            return Issued(Instruction.from_item(copy.deepcopy(self.items[instruction.instruction_id])), new)

    def get(self, instruction_id: str) -> Instruction | None:
        with self._lock:
            item = self.items.get(instruction_id)
            return Instruction.from_item(copy.deepcopy(item)) if item else None

    def mark_returned(self, instruction_id: str, txn_id: str, posted_on: date) -> bool:
        with self._lock:
            item = self.items.get(instruction_id)
            if item is None or "returned_by" in item:
                return False
            item.update(returned_by=txn_id, returned_on=posted_on.isoformat())
            return True

    def _where(self, name: str, value: str) -> list[Instruction]:
        with self._lock:
            return [Instruction.from_item(copy.deepcopy(i)) for _, i in sorted(self.items.items())
                    if i.get(name) == value]

    def of_day(self, day: date) -> list[Instruction]:
        return self._where("issued_on", day.isoformat())

    def of_case(self, case_id: str) -> list[Instruction]:
        return self._where("case_id", case_id)

    def of_account(self, account_id: str) -> list[Instruction]:
        return self._where("account_id", account_id)


class MemoryRemittances(_Locked):
    """Remittance evidence under the adapter's keys (payer, claim, trace, amount and kind), written once."""

    def __init__(self) -> None:
        super().__init__()
        self.items: dict[tuple[str, str], dict[str, Any]] = {}

    def received(self, digest: str) -> dict[str, Any] | None:
        with self._lock:
            item = self.items.get((f"FILE#{digest}", "FILE"))
            return dict(item) if item else None

    def keep(self, evidence: list[ClaimPayment | Takeback], held: Iterable[Takeback] = ()) -> None:
        with self._lock:
            for item in [item_of(e) for e in evidence] + [item_of(t, held=True) for t in held]:
                self.items.setdefault((item["pk"], item["sk"]), item)

    def mark_received(self, digest: str, summary: dict[str, Any]) -> bool:
        with self._lock:
            key = (f"FILE#{digest}", "FILE")
            if key in self.items:
                return False
            self.items[key] = {"pk": key[0], "sk": key[1], **summary}
            return True

    def _partition(self, pk: str) -> list[ClaimPayment | Takeback]:
        return [from_record({k: str(v) for k, v in item.items() if k not in ("pk", "sk")})
                for (p, _), item in sorted(self.items.items()) if p == pk]

    def of_account(self, account_id: str, claims: Iterable[str] = ()) -> Evidence:
        with self._lock:
            found = [e for pk in [f"ACCT#{account_id}", *(f"CLAIM#{c}" for c in sorted(set(claims)))]
                     for e in self._partition(pk)]
        return Evidence.of(found)

    def everything(self) -> tuple[dict[str, Evidence], list[Takeback], list[Takeback]]:
        by_account: dict[str, list[ClaimPayment | Takeback]] = {}
        by_claim: list[Takeback] = []
        several: list[Takeback] = []
        with self._lock:
            for (pk, _), item in sorted(self.items.items()):
                if pk.startswith("FILE#"):
                    continue
                found = from_record({k: str(v) for k, v in item.items() if k not in ("pk", "sk")})
                if pk.startswith("ACCT#"):
                    by_account.setdefault(pk.removeprefix("ACCT#"), []).append(found)
                elif isinstance(found, Takeback):
                    (several if pk.startswith("SEVERAL#") else by_claim).append(found)
        return {a: Evidence.of(items) for a, items in sorted(by_account.items())}, by_claim, several

