"""The Merkle tree that lets one MAC vouch for a stored chunk of ledger rows (domain/authentic.py)."""

from __future__ import annotations

import pytest
from creditrefunds.domain.authentic import leaf, merkle, message, root_of


@pytest.mark.parametrize("count", [1, 2, 3, 5, 8, 13, 2000])
def test_every_row_leads_to_the_root_and_a_changed_row_does_not(count):
    rows = [{"kept_under": f"A{n % 7}", "txn_id": f"T{n}", "amount": "10.00"} for n in range(count)]
    root, paths = merkle([leaf(r) for r in rows])
    assert all(root_of(leaf(r), p) == root for r, p in zip(rows, paths, strict=True))
    changed = {**rows[-1], "amount": "10.01"}
    assert root_of(leaf(changed), paths[-1]) != root
    moved = {**rows[0], "kept_under": "ATTACKER"}
    assert root_of(leaf(moved), paths[0]) != root
    if count > 1:
        assert root_of(leaf(rows[0]), paths[1]) != root  # another row's path


def test_a_path_that_is_not_one_leads_nowhere():
    root, [path] = merkle([leaf({"txn_id": "T1"})])
    assert path == "" and root_of(leaf({"txn_id": "T1"}), path) == root
    assert root_of(leaf({"txn_id": "T1"}), "Xnot-a-step") is None
    assert root_of(leaf({"txn_id": "T1"}), "R!!") is None


def test_a_mac_for_one_purpose_never_vouches_for_another():
    fields = {"instruction_id": "C#0", "amount": "10.00"}
    assert message("instruction", fields) != message("link", fields)
    assert message("instruction", fields) == message("instruction", dict(reversed(list(fields.items()))))
