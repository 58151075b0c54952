"""Work moto 5.2.5 repeats for every item of a DynamoDB request, done once (patches of the local cloud).

- A condition or filter expression is parsed once for its names and values: a ledger's
  `TransactWriteItems` puts 100 ids under one `attribute_not_exists(pk)`, which moto parsed 100
  times, a sixth of its server's time while a ledger was stored.
- An answer's items are turned into plain values by type, not by a chain of checks per value.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import moto.dynamodb.models as models
import moto.dynamodb.models.table as table_module
import moto.dynamodb.responses as responses
from moto.dynamodb.models.dynamo_type import DynamoType

from localcloud.patches.patching import replaced

PARSED_KEPT = 4096  # expressions kept parsed (most differ by values: a case id, an amount)
_SIMPLE = (str, int, float, bool, type(None))


@contextmanager
def expressions_parsed_once() -> Iterator[None]:
    """Speed: `get_filter_expression` remembers what it parsed for (expression, names, values). A parsed
    expression is only read when evaluated, and DynamoDB requests run one at a time here."""
    original = models.get_filter_expression
    parsed: dict[tuple[Any, str, str], Any] = {}

    def get_filter_expression(expr: Any, names: Any, values: Any) -> Any:
        try:
            key = (expr, json.dumps(names, sort_keys=True), json.dumps(values, sort_keys=True))
        except TypeError:  # binary values: parsed each time, as moto does
            return original(expr, names, values)
        if key not in parsed:
            if len(parsed) >= PARSED_KEPT:
                parsed.clear()
            parsed[key] = original(expr, names, values)  # an error raises and is not kept
        return parsed[key]

    with replaced((models, "get_filter_expression", get_filter_expression),
                  (table_module, "get_filter_expression", get_filter_expression)):
        yield


@contextmanager
def answers_made_plain_by_type() -> Iterator[None]:
    """Speed: `dynamo_to_dict` of an answer: dicts, lists, strings and numbers, and attribute values of the
    types moto gives unchanged, by their type; binaries and anything else by moto's own."""
    original = responses.dynamo_to_dict

    def plain(obj: Any) -> Any:
        kind = type(obj)
        if kind is dict:
            return {key: plain(item) for key, item in obj.items()}
        if kind is list:
            return [plain(item) for item in obj]
        if kind in _SIMPLE:
            return obj
        if kind is DynamoType and obj.type not in ("B", "BS"):  # binaries: decoded by moto's
            return {obj.type: plain(obj.value)}
        return original(obj)

    with replaced((responses, "dynamo_to_dict", plain)):
        yield
