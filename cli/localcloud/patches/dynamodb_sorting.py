"""moto's DynamoDB sorts, as the local cloud runs them: the same order, at a cost a worklist's index can pay.

Held to what moto itself answers by tests/unit/test_local_dynamodb.py.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from decimal import Decimal
from typing import Any

from moto.dynamodb.models import DynamoType, Table

from localcloud.patches.patching import replaced

_SCALARS = frozenset({"S", "B"})


@contextmanager
def scalar_keys_compared_directly() -> Iterator[None]:
    """Speed: two strings (or binaries) compare as themselves. moto 5.2.5 sorts a Query's items by their keys'
    DynamoType, whose every comparison first works out each side's Python value (`cast_value`: five type
    checks, then the value itself): sorting the ten thousand items of a worklist index cost half a second.
    Every other type compares as moto does."""
    original_eq, original_lt = DynamoType.__eq__, DynamoType.__lt__

    def eq(self: DynamoType, other: Any) -> bool:
        if isinstance(other, DynamoType) and self.type in _SCALARS and other.type == self.type:
            return bool(self.value == other.value)
        return bool(original_eq(self, other))

    def lt(self: DynamoType, other: DynamoType) -> bool:
        if self.type in _SCALARS and other.type == self.type:
            return bool(self.value < other.value)
        return bool(original_lt(self, other))

    def sorted_items(self: Table, hash_key_attrs: list[str], range_key_attrs: list[str | None],
                     items: list[Any]) -> list[Any]:
        names = self._generate_attr_to_sort_by(hash_key_attrs, range_key_attrs)
        items.sort(key=lambda item: tuple(_plain_key(item.attrs[name]) for name in names))
        return items

    with replaced((DynamoType, "__eq__", eq), (DynamoType, "__lt__", lt), (Table, "sorted_items", sorted_items)):
        yield


def _plain_key(value: DynamoType) -> Any:
    """A key attribute as Python compares it: a key's type is fixed by the table, so like meets like."""
    if value.type in _SCALARS:
        return value.value
    return Decimal(value.value) if value.type == "N" else value
