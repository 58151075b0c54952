"""The stores of the records that move money or decide, as the use cases see them: every record written
with a MAC its writer's key makes, every record read checked (domain/authentic.py).

A store wraps a table's adapter (DynamoDB, or the tests' in-memory one): the same checks whatever keeps
the items. What fails a check is never acted on:
- read for one case (its instructions, its approval links, its ledger) it stops the step with `Tampered`,
  which the workflow turns into FAILED with operators told;
- read across cases (a day's AP file, an account's instructions in flight) it is left out and logged by
  key, so one planted row neither pays nor stops everyone else's refunds; `audit verify` names it.
"""

from __future__ import annotations

import logging
import secrets
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from datetime import date, datetime
from typing import Any

from creditrefunds.domain.approvals import Approval, LinkState, Outcome, Snapshot, link_key
from creditrefunds.domain.authentic import (
    DECISION,
    INSTRUCTION,
    LEDGER,
    LINK,
    MATCH,
    Tampered,
    leaf,
    merkle,
    message,
    root_of,
)
from creditrefunds.domain.detection import AccountSummary
from creditrefunds.domain.identity import Person
from creditrefunds.domain.instructions import Instruction, Issued
from creditrefunds.domain.ledger import StoreOutcome, Transaction

logger = logging.getLogger(__name__)
PROVEN_MANIFESTS = 100  # manifests whose proven nodes a container remembers (at most about 4,000 nodes, 0.3 MB, each)


class TrustedRefundBook:
    def __init__(self, inner: Any, keys: Any) -> None:
        self._inner, self._keys = inner, keys

    def authentic(self, instruction: Instruction) -> bool:
        return bool(self._keys.valid(INSTRUCTION, message(INSTRUCTION, instruction.signed()), instruction.mac))

    def _match_kept(self, instruction: Instruction) -> bool:
        return bool(self._keys.valid(MATCH, message(MATCH, instruction.return_signed()), instruction.return_mac))

    def _read(self, instruction: Instruction) -> Instruction | None:
        """The instruction when authentic (a match that is not is dropped: the money counts as in flight)."""
        if not self.authentic(instruction):
            logger.warning("an unauthenticated refund instruction is left out",
                           extra={"instruction_id": instruction.instruction_id})
            return None
        if instruction.returned_by and not self._match_kept(instruction):
            logger.warning("an unauthenticated return match is ignored",
                           extra={"instruction_id": instruction.instruction_id})
            return replace(instruction, returned_by=None, returned_on=None, return_mac="")
        return instruction

    def _strict(self, instruction: Instruction) -> Instruction:
        found = self._read(instruction)
        if found is None:
            raise Tampered(f"refund instruction {instruction.instruction_id} was not written by the issue step "
                           "(no valid MAC): nothing is issued for the case until a person has looked")
        return found

    def issue(self, instruction: Instruction) -> Issued:
        signed = replace(instruction, mac=self._keys.mac(INSTRUCTION, message(INSTRUCTION, instruction.signed())))
        done = self._inner.issue(signed)
        return done if done.new else Issued(self._strict(done.instruction), False)

    def get(self, instruction_id: str) -> Instruction | None:
        found = self._inner.get(instruction_id)
        return self._strict(found) if found is not None else None

    def of_case(self, case_id: str) -> list[Instruction]:
        return [self._strict(i) for i in self._inner.of_case(case_id)]

    def of_account(self, account_id: str) -> list[Instruction]:
        return [i for i in map(self._read, self._inner.of_account(account_id)) if i is not None]

    def problems(self, case_id: str) -> list[str]:
        """What of the case's instructions, as stored, fails a check, each said (for `audit verify`)."""
        out = []
        for i in self._inner.of_case(case_id):
            if not self.authentic(i):
                out.append(f"refund instruction {i.instruction_id} has no valid MAC (not written by the issue step)")
            elif i.returned_by and not self._match_kept(i):
                out.append(f"refund instruction {i.instruction_id}: its return match ({i.returned_by}) has no "
                           "valid MAC")
        return out

    def strays(self, cases: set[str]) -> list[str]:
        """Every instruction in the book whose case is not among `cases` (deleted, or invented), each said."""
        return [f"refund instruction {i.instruction_id} of {i.amount:f} to {i.payee_type} names case {i.case_id}, "
                f"which is not stored{'' if self.authentic(i) else ' (and it has no valid MAC)'}"
                for i in self._inner.every() if i.case_id not in cases]

    def mark_returned(self, instruction_id: str, txn_id: str, posted_on: date) -> bool:
        """Keep the match once; a match kept without a valid MAC is replaced by this one."""
        stored = self._inner.get(instruction_id)
        if stored is None:
            return False
        if stored.returned_by and self._match_kept(stored):
            return False
        matched = replace(stored, returned_by=txn_id, returned_on=posted_on)
        mac = self._keys.mac(MATCH, message(MATCH, matched.return_signed()))
        return bool(self._inner.mark_returned(instruction_id, txn_id, posted_on, mac, stored.returned_by))


class TrustedApprovals:
    """Approval links: the link's MAC made as it is asked (RequestApproval), the decision's as it is taken
    (the approval page), both checked on every read; a decision is never changed after it is taken."""

    def __init__(self, inner: Any, keys: Any) -> None:
        self._inner, self._keys = inner, keys

    def _checked(self, approval: Approval) -> Approval:
        if not self._keys.valid(LINK, message(LINK, approval.link_signed()), approval.link_mac):
            raise Tampered(f"approval link {approval.approval_key[:12]} of case {approval.case_id} was not asked by "
                           "the workflow (no valid MAC): nothing it says counts until a person has looked")
        if approval.snapshot is not None and (approval.snapshot.digest != approval.digest
                                              or approval.snapshot.sha256 != approval.snapshot_digest):
            raise Tampered(f"approval link {approval.approval_key[:12]}: its snapshot is not the one it was asked of")
        if approval.decision is not None or approval.decided_at or approval.decision_mac or \
                approval.state in (LinkState.DECIDING, LinkState.USED, LinkState.LATE):
            if not self._keys.valid(DECISION, message(DECISION, approval.decision_signed()), approval.decision_mac):
                raise Tampered(f"the decision on approval link {approval.approval_key[:12]} of case "
                               f"{approval.case_id} is not the one its approver took (no valid MAC)")
        return approval

    def create(self, snapshot: Snapshot, tier: int, approver: Person, task_token: str, now: datetime,
               ttl: int) -> tuple[str, Approval]:
        link_id = secrets.token_urlsafe(32)
        asked = Approval(link_key(link_id), snapshot.case_id, tier, approver.email, snapshot.digest,
                         int(now.timestamp()) + ttl, LinkState.PENDING, snapshot=snapshot,
                         snapshot_digest=snapshot.sha256, approver_id=approver.user_id)
        asked = replace(asked, link_mac=self._keys.mac(LINK, message(LINK, asked.link_signed())))
        self._inner.put_new(asked, task_token, now, link_id)
        return link_id, asked

    def take(self, approval: Approval, decision: str, reason: str, source: str, now: datetime, link_id: str) -> str:
        taken = replace(self._checked(approval), decision=Outcome(decision), reason=reason, decided_from=source,
                        decided_at=now.isoformat())
        return str(self._inner.take(approval, decision, reason, source, now,
                                    self._keys.mac(DECISION, message(DECISION, taken.decision_signed())), link_id))

    def get(self, link_id: str) -> Approval | None:
        found = self._inner.get(link_id)
        return self._checked(found) if found is not None else None

    def by_key(self, approval_key: str) -> Approval | None:
        found = self._inner.by_key(approval_key)
        return self._checked(found) if found is not None else None

    def of_case(self, case_id: str) -> list[Approval]:
        return [self._checked(a) for a in self._inner.of_case(case_id)]

    def open_links(self, case_id: str) -> list[tuple[Approval, str]]:
        return [(self._checked(a), token) for a, token in self._inner.open_links(case_id)]

    def __getattr__(self, name: str) -> Any:  # mark_mailed, mark_late, accept, supersede, pending, tokens
        return getattr(self._inner, name)


class TrustedLedger:
    """The stored ledger: the rows of each store call are leaves of one Merkle tree whose root is MACed once
    (a manifest kept beside them, naming the file they came from); each row keeps its path to the root. A row
    read is checked against its manifest, whose MAC is checked once per container."""

    def __init__(self, inner: Any, keys: Any, readers: int = 8) -> None:
        self._inner, self._keys, self._readers = inner, keys, readers
        self._roots: dict[str, bytes] = {}  # manifests verified: id -> root
        self._proven: dict[str, set[bytes]] = {}  # per manifest, the nodes proven to lead to its root

    def put_all(self, txns: list[Transaction], source: str = "") -> list[StoreOutcome]:
        if not txns:
            return []
        root, paths = merkle([leaf(row_signed(t)) for t in txns])
        manifest = {"manifest": secrets.token_hex(16), "root": root.hex(), "rows": len(txns), "source": source}
        manifest["mac"] = self._keys.mac(LEDGER, message(LEDGER, manifest))
        return list(self._inner.put_all(txns, manifest, paths))

    def _root(self, manifest_id: str) -> bytes | None:
        if manifest_id in self._roots:
            return self._roots[manifest_id]
        manifest = self._inner.manifest(manifest_id) if manifest_id else None
        if manifest is None:
            return None
        signed = {k: manifest.get(k) for k in ("manifest", "root", "rows", "source")}
        if signed["manifest"] != manifest_id or not self._keys.valid(LEDGER, message(LEDGER, signed),
                                                                     manifest.get("mac")):
            return None
        self._roots[manifest_id] = root = bytes.fromhex(str(manifest["root"]))
        return root

    def _forged(self, rows: list[tuple[Transaction, str, str]]) -> list[str]:
        return [txn.txn_id for txn, manifest_id, path in rows if not self._vouched(txn, manifest_id, path)]

    def _vouched(self, txn: Transaction, manifest_id: str, path: str) -> bool:
        """The row leads, by its path, to its manifest's MACed root (or to a node already proven to)."""
        root = self._root(manifest_id) if manifest_id else None
        if root is None:
            return False
        if len(self._proven) > PROVEN_MANIFESTS:  # a warm container's memory stays bounded
            self._proven.clear()
        proven = self._proven.setdefault(manifest_id, {root})
        trail: list[bytes] = []
        if root_of(leaf(row_signed(txn)), path, proven, trail) not in proven:
            return False
        proven.update(trail)  # a set's update is atomic under the GIL: threads may share it
        return True

    def forged(self, account_id: str) -> list[str]:
        """The account's stored rows that no manifest vouches for (their transaction ids)."""
        return self._forged(self._inner.account_rows(account_id))

    def account_transactions(self, account_id: str) -> list[Transaction]:
        rows = self._inner.account_rows(account_id)
        kept = Counter(t.txn_id for t, _, _ in rows)
        # Kept where it belongs: under its own account, once (a genuine row copied elsewhere is not).
        bad = [t.txn_id for t, _, _ in rows if t.account_id != account_id or kept[t.txn_id] > 1]
        bad += self._forged(rows)
        if bad:
            raise Tampered(f"account {account_id}: {len(bad)} stored ledger row(s) were not stored from a ledger "
                           f"file (no valid manifest), e.g. {bad[0]}: the account is not acted on until a person "
                           "has looked")
        return [txn for txn, _, _ in rows]

    def summary(self, account_id: str) -> tuple[AccountSummary, list[Transaction]]:
        txns = self.account_transactions(account_id)
        summary = AccountSummary(account_id)
        for t in txns:
            summary.add(t)
        return summary, txns

    def summaries(self, accounts: set[str]) -> dict[str, tuple[AccountSummary, list[Transaction]]]:
        """`summary` of many accounts, read in parallel; an account with a row that fails its check is left
        out (and logged by id): detection does not act on it."""
        def one(account_id: str) -> tuple[AccountSummary, list[Transaction]] | None:
            try:
                return self.summary(account_id)
            except Tampered:
                logger.warning("an account with unauthenticated ledger rows is left out",
                               extra={"account_id": account_id})
                return None
        ordered = sorted(accounts)
        with ThreadPoolExecutor(max_workers=self._readers) as pool:
            found = list(pool.map(one, ordered))
        return {a: s for a, s in zip(ordered, found, strict=True) if s is not None}

    def patient_name(self, account_id: str) -> str | None:
        rows = sorted(self.account_transactions(account_id), key=lambda t: (t.posting_date, t.txn_id))
        names = [t.patient_name for t in rows if t.patient_name]
        return names[-1] if names else None

    def guarantor_accounts(self, guarantor_id: str) -> list[str]:
        return list(self._inner.guarantor_accounts(guarantor_id))

    def accounts_of_claim(self, claim_id: str) -> list[str]:
        return list(self._inner.accounts_of_claim(claim_id))


def row_signed(txn: Transaction) -> dict[str, str]:
    """What a ledger row's leaf covers: the account it is kept under and every field of the row."""
    return {"kept_under": txn.account_id, **txn.to_record()}
