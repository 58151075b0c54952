"""What a record's MAC covers, and the Merkle tree that lets one KMS call vouch for a whole file part.

A record that can move money or decide carries a MAC made by the function that wrote it, with a KMS key
only that function's role may use to generate (DOMAIN.md section 6, docs/security.md). Whoever can write a
table cannot make one. The MAC is over `message(purpose, fields)`: the purpose (so a MAC made for one kind
of record never vouches for another) and the fields that matter, in one canonical JSON text.

The ledger is too large for a KMS call per row: the rows one store call writes are the leaves of a Merkle
tree, the root is MACed once (a manifest), and each row keeps the path from its leaf to the root.
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Mapping, Sequence
from typing import Any

# Purposes: each is the key (and the role that may generate with it) in template.yaml.
LEDGER = "ledger"  # a manifest of stored ledger rows (ingest, StorePart)
MATCH = "match"  # a return match (detection: ingest, DetectBatch)
LINK = "link"  # an approval link as asked (RequestApproval)
DECISION = "decision"  # an approver's decision on a link (the approval page)
INSTRUCTION = "instruction"  # a refund instruction (IssueRefund)
PURPOSES = (LEDGER, MATCH, LINK, DECISION, INSTRUCTION)


class Tampered(Exception):
    """A record that can move money or decide does not carry a valid MAC from the function that writes it:
    somebody wrote or changed it past the code. Nothing acts on it; a person must look."""


def message(purpose: str, fields: Mapping[str, Any]) -> bytes:
    """The bytes a MAC covers: the purpose and the fields, canonical (sorted keys, text values)."""
    body = {k: None if v is None else str(v) for k, v in fields.items()}
    return hashlib.sha256(json.dumps([purpose, body], sort_keys=True, separators=(",", ":")).encode()).digest()


NODE = 16  # bytes of a tree node kept: 128 bits against a second preimage, and a short path per row


def leaf(fields: Mapping[str, str]) -> bytes:
    """A ledger row's leaf: its fields in their order, each length-prefixed (unambiguous whatever a value
    holds; cheaper than canonical JSON, which a 100,000-row file would pay for 100,000 times)."""
    text = "".join(f"{len(k)}:{k}{len(v)}:{v}" for k, v in fields.items())
    return hashlib.sha256(b"\x00" + text.encode()).digest()[:NODE]


def _node(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()[:NODE]


def merkle(leaves: Sequence[bytes]) -> tuple[bytes, list[str]]:
    """The root over `leaves` and, for each leaf, its path to the root (each sibling as L or R and its hash
    in URL-safe base64, joined by '.'; an odd node out is carried up unchanged, so a path may be shorter than
    the tree's height)."""
    if not leaves:
        return hashlib.sha256(b"").digest()[:NODE], []
    paths: list[list[str]] = [[] for _ in leaves]
    level = [(h, [i]) for i, h in enumerate(leaves)]
    while len(level) > 1:
        up = []
        for i in range(0, len(level), 2):
            if i + 1 == len(level):
                up.append(level[i])
                continue
            (left, lows), (right, highs) = level[i], level[i + 1]
            step = "R" + _text(right)
            for n in lows:
                paths[n].append(step)
            step = "L" + _text(left)
            for n in highs:
                paths[n].append(step)
            up.append((_node(left, right), lows + highs))
        level = up
    return level[0][0], [".".join(p) for p in paths]


def _text(node: bytes) -> str:
    return base64.urlsafe_b64encode(node).decode().rstrip("=")


def root_of(leaf_hash: bytes, path: str, known: set[bytes] | None = None,
            trail: list[bytes] | None = None) -> bytes | None:
    """The root a leaf's path leads to (None for a path that is not one). With `known` (nodes already proven
    to lead to a MACed root) the climb stops at the first known node and returns it; `trail` collects the
    nodes climbed, for the caller to remember once the end is proven."""
    node = leaf_hash
    for step in path.split(".") if path else []:
        if known is not None and node in known:
            return node
        if trail is not None:
            trail.append(node)
        try:
            sibling = base64.urlsafe_b64decode(step[1:] + "==")
        except ValueError:
            return None
        if len(sibling) != NODE or step[:1] not in ("L", "R"):
            return None
        node = _node(node, sibling) if step[0] == "R" else _node(sibling, node)
    return node
