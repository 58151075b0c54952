"""The books of money and decisions in memory: approval links, the refund book, remittance evidence. As
`stores.py`: the adapters' item shapes, the same conditions, one lock per store."""

from __future__ import annotations

import copy
import secrets
from collections.abc import Iterable
from contextvars import ContextVar
from datetime import date, datetime
from typing import Any

from creditrefunds.adapters.refund_book import parsed, readable
from creditrefunds.adapters.remittance_store import item_of
from creditrefunds.domain.approvals import KEEP_AFTER_EXPIRY, Approval, LinkState, LinkTaken, link_key, token_context
from creditrefunds.domain.instructions import Instruction, Issued
from creditrefunds.domain.remittance import ClaimPayment, Evidence, Takeback, from_record

from .stores import Locked

# One request as the client sends it: a call made again after its reply was lost is the same request (botocore
# resends it), so what the adapter generated for it (a move's nonce) is the same (tests/memory/cloud.py sets it).
ATTEMPT: ContextVar[str] = ContextVar("attempt", default="")

# the by-case index's projection: never the task token or the snapshot
BY_CASE = ("approval_key", "case_id", "created_at", "tier", "approver", "digest", "state", "decision", "decided_at",
           "expires_at", "reason", "decided_from", "snapshot_digest", "link_mac", "decision_mac", "approver_id")


class MemoryApprovals(Locked):
    """Approval items by the SHA-256 of the link id, shaped as the approvals table keeps them; the task tokens
    apart (`tokens`, the task tokens table), and on the item sealed to the link id (KMS's context, here kept
    beside the token: only a caller giving the link id unseals it)."""

    def __init__(self) -> None:
        super().__init__()
        self.items: dict[str, dict[str, Any]] = {}
        self.task_tokens: dict[str, str] = {}

    def put_new(self, approval: Approval, task_token: str, now: datetime, link_id: str) -> None:
        assert approval.snapshot is not None
        with self._lock:
            if approval.approval_key in self.items:
                if self.items[approval.approval_key].get("link_mac") == approval.link_mac:
                    return  # this very link, put again (its answer was lost): as the adapter answers
                raise RuntimeError("approval key taken")  # the adapter's ConditionalCheckFailed
            self.task_tokens[approval.approval_key] = task_token
            self.items[approval.approval_key] = {
                "approval_key": approval.approval_key, "case_id": approval.case_id, "tier": approval.tier,
                "approver": approval.approver, "digest": approval.digest, "snapshot": approval.snapshot.to_item(),
                "sealed_token": {"context": token_context(link_id), "token": task_token},
                "created_at": now.isoformat(), "expires_at": approval.expires_at,
                "purge_after": approval.expires_at + KEEP_AFTER_EXPIRY, "state": approval.state,
                "snapshot_digest": approval.snapshot_digest, "link_mac": approval.link_mac,
                "approver_id": approval.approver_id}

    def get(self, link_id: str) -> Approval | None:
        return self.by_key(link_key(link_id)) if link_id else None

    def by_key(self, approval_key: str) -> Approval | None:
        with self._lock:
            item = self.items.get(approval_key)
            return Approval.from_item(copy.deepcopy(item)) if item else None

    def of_case(self, case_id: str) -> list[Approval]:
        with self._lock:
            items = sorted((i for i in self.items.values() if i.get("case_id") == case_id),
                           key=lambda i: i.get("created_at", ""))
            return [Approval.from_item({k: i[k] for k in BY_CASE if k in i}) for i in items]

    def tokens(self, approval_keys: list[str]) -> dict[str, str]:
        with self._lock:
            return {k: self.task_tokens[k] for k in approval_keys if k in self.task_tokens}

    def open_links(self, case_id: str) -> list[tuple[Approval, str]]:
        with self._lock:
            return [(Approval.from_item(copy.deepcopy(self.items[a.approval_key])),
                     self.task_tokens[a.approval_key]) for a in self.of_case(case_id)
                    if a.state in (LinkState.PENDING, LinkState.DECIDING)]

    def take(self, approval: Approval, decision: str, reason: str, source: str, now: datetime, mac: str,
             link_id: str) -> str:
        with self._lock:
            item = self.items.get(approval.approval_key)
            landed = item is not None and item["state"] == LinkState.DECIDING and item.get("decision_mac") == mac
            if not landed and (item is None or item["state"] != LinkState.PENDING
                               or item["expires_at"] <= int(now.timestamp())):
                raise LinkTaken()
            item.update(state=LinkState.DECIDING, decision=decision, reason=reason, decided_at=now.isoformat(),
                        decided_from=source, decision_mac=mac)
            sealed = item["sealed_token"]
            if sealed["context"] != token_context(link_id):
                raise RuntimeError("InvalidCiphertextException")  # KMS: not the context it was sealed under
            return str(sealed["token"])

    def mark_mailed(self, approval: Approval, now: datetime) -> None:
        with self._lock:
            self.items.setdefault(approval.approval_key, {"approval_key": approval.approval_key})[
                "mailed_at"] = now.isoformat()

    def mark_moved_on(self, approval: Approval, now: datetime) -> None:
        with self._lock:
            self.items[approval.approval_key]["moved_on_at"] = now.isoformat()

    def mark_late(self, approval_key: str, case_id: str) -> Approval | None:
        return self._move(approval_key, case_id, LinkState.DECIDING, LinkState.LATE, f"late:{approval_key}")

    def accept(self, approval: Approval) -> Approval | None:
        return self._move(approval.approval_key, approval.case_id, LinkState.DECIDING, LinkState.USED)

    def supersede(self, case_id: str, approval_keys: list[str], by: str = "") -> list[Approval]:
        return [moved for key in approval_keys
                if (moved := self._move(key, case_id, LinkState.PENDING, LinkState.SUPERSEDED, by)) is not None]

    def pending(self, case_id: str) -> list[str]:
        return [a.approval_key for a in self.of_case(case_id) if a.state is LinkState.PENDING]

    def _move(self, key: str, case_id: str, before: LinkState, after: LinkState, by: str = "") -> Approval | None:
        nonce = by or ATTEMPT.get() or secrets.token_hex(16)
        with self._lock:
            item = self.items.get(key)
            if item is not None and item.get("state") == after and item.get("moved_by") == nonce:
                return Approval.from_item(copy.deepcopy(item))  # this very move, its answer lost
            if item is None or item.get("state") != before or item.get("case_id") != case_id:
                return None
            item.update(state=after, moved_by=nonce)
            return Approval.from_item(copy.deepcopy(item))


class MemoryRefundBook(Locked):
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
            return Issued(parsed(copy.deepcopy(self.items[instruction.instruction_id])), new)

    def get(self, instruction_id: str) -> Instruction | None:
        with self._lock:
            item = self.items.get(instruction_id)
            return parsed(copy.deepcopy(item)) if item else None

    def mark_returned(self, instruction_id: str, txn_id: str, posted_on: date, mac: str, over: str | None) -> bool:
        with self._lock:
            item = self.items.get(instruction_id)
            if item is None or item.get("returned_by") != over:
                return False
            item.update(returned_by=txn_id, returned_on=posted_on.isoformat(), return_mac=mac)
            return True

    def _where(self, name: str, value: str) -> list[Instruction]:
        with self._lock:
            return readable(copy.deepcopy(i) for _, i in sorted(self.items.items()) if i.get(name) == value)

    def every(self) -> list[Instruction]:
        with self._lock:
            return readable(copy.deepcopy(i) for _, i in sorted(self.items.items()))

    def of_case(self, case_id: str) -> list[Instruction]:
        return self._where("case_id", case_id)

    def of_account(self, account_id: str) -> list[Instruction]:
        return self._where("account_id", account_id)


class MemoryRemittances(Locked):
    """Remittance evidence under the adapter's keys (payer, claim, trace, amount and kind), written once."""

    def __init__(self) -> None:
        super().__init__()
        self.items: dict[tuple[str, str], dict[str, Any]] = {}

    def received(self, digest: str) -> dict[str, Any] | None:
        with self._lock:
            item = self.items.get((f"FILE#{digest}", "FILE"))
            return dict(item) if item else None

    def keep(self, evidence: list[ClaimPayment | Takeback], held: Iterable[Takeback] = (), digest: str = "") -> None:
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

