"""Seals over the history (like CloudTrail's log file integrity validation).

A seal is a signed statement of the chain heads (case id, last seq, its hash) of the cases that changed
since the seal before it (every case, the first time), and of that seal (its key and SHA-256): what a
case's chain has been sealed as is the head the latest seal naming it says. Seals are written where no one may
change or delete them (S3 Object Lock, compliance mode) and signed with a key only the sealing
function may use. Whoever rewrites a chain, truncates it or deletes a case after a seal cannot
make it agree with the seal; whoever deletes or alters a seal breaks the seals' own chain.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from creditrefunds.domain.history import Break, verify_chain

ALGORITHM = "ECDSA_SHA_256"


def canonical(data: Any) -> bytes:
    return json.dumps(data, sort_keys=True, separators=(",", ":")).encode()


def seal_key(at: datetime) -> str:
    """Where a seal made at `at` is kept: keys sort as time does."""
    return f"seals/{at.strftime('%Y-%m-%dT%H-%M-%S.%fZ')}.json"


def seal_content(heads: Iterable[tuple[str, int, str]], previous: tuple[str, bytes] | None, at: datetime,
                 refused: Iterable[tuple[str, str]] = (), since: datetime | None = None,
                 rechecked: tuple[str, str] | None = None) -> dict:
    """What is signed: the heads of the cases changed `since` (every case's, when None), sorted; the previous
    seal's key and the SHA-256 of its body; the chains it refused to seal, each with why (what an earlier
    seal signed of them stands); and how far the rolling re-check of earlier seals' heads has come (the seal
    and the last case of it re-checked)."""
    return {"version": 4, "sealed_at": at.isoformat(), "since": since.isoformat() if since else None,
            "rechecked": list(rechecked) if rechecked else None,
            "previous": {"key": previous[0], "sha256": hashlib.sha256(previous[1]).hexdigest()} if previous else None,
            "heads": sorted([case_id, int(seq), record_hash] for case_id, seq, record_hash in heads),
            "refused": sorted([case_id, why] for case_id, why in refused)}


def digest_of(content: dict) -> bytes:
    """The SHA-256 the key signs."""
    return hashlib.sha256(canonical(content)).digest()


@dataclass(frozen=True)
class Sealed:
    """One stored seal: its key, its body as stored, and what the body says."""

    key: str
    body: bytes

    @property
    def document(self) -> dict[str, Any]:
        return json.loads(self.body)

    @property
    def content(self) -> dict[str, Any]:
        return self.document["seal"]

    @property
    def heads(self) -> dict[str, tuple[int, str]]:
        return {case_id: (int(seq), record_hash) for case_id, seq, record_hash in self.content["heads"]}

    @property
    def refused(self) -> dict[str, str]:
        return {case_id: why for case_id, why in self.content.get("refused") or []}


def seal_breaks(seals: list[Sealed], signature_valid: Callable[[bytes, bytes], bool]) -> list[str]:
    """Every way the stored seals are not a whole, signed chain (oldest first)."""
    problems: list[str] = []
    previous: Sealed | None = None
    for seal in sorted(seals, key=lambda s: s.key):
        try:
            document = seal.document
            content, signature = document["seal"], bytes.fromhex(document["signature"])
        except (ValueError, KeyError, TypeError):
            problems.append(f"seal {seal.key}: unreadable")
            previous = seal
            continue
        if not signature_valid(digest_of(content), signature):
            problems.append(f"seal {seal.key}: its signature does not match its content: altered")
        expected = None if previous is None else {"key": previous.key,
                                                 "sha256": hashlib.sha256(previous.body).hexdigest()}
        if content.get("previous") != expected:
            problems.append(f"seal {seal.key}: does not follow the seal before it: one was removed or altered")
        previous = seal
    return problems


def extension_breaks(case_id: str, records: list[dict[str, Any]], head: tuple[int, str] | None,
                     sealed: tuple[int, str] | None, stored: bool) -> list[Break]:
    """Why a case's chain as stored is not a whole chain extending what the last seal signed of it (none:
    it may be sealed now)."""
    return verify_chain(case_id, records, head) + against_seal(case_id, records, sealed, stored)


def against_seal(case_id: str, records: list[dict[str, Any]], sealed: tuple[int, str] | None,
                 stored: bool) -> list[Break]:
    """How a case's records (and whether its case item is `stored`) differ from what the seal says."""
    if sealed is None:
        return []
    seq, record_hash = sealed
    if not stored:
        return [Break(case_id, None, f"was sealed with {seq} record(s) but the case is gone: deleted")]
    by_seq = {int(r["seq"]): r for r in records}
    if seq not in by_seq:
        return [Break(case_id, None, f"was sealed at record {seq} but ends at record {max(by_seq, default=0)}: "
                                     "records were removed")]
    if by_seq[seq].get("hash") != record_hash:
        return [Break(case_id, seq, "is not the record that was sealed: the chain was rewritten")]
    return []
