"""What every DynamoDB adapter does the same way: read every page, write only if absent."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

from botocore.exceptions import ClientError

from creditrefunds.adapters.transient import Throttled


def query_all(table: Any, **kwargs: Any) -> Iterator[dict[str, Any]]:
    """Every item a query answers, page after page (boto3's paginator on the table's client,
    which threads may share)."""
    for page in table.meta.client.get_paginator("query").paginate(TableName=table.name, **kwargs):
        yield from page["Items"]


def get_all(table: Any, keys: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The stored items of `keys` (absent ones are left out), read consistently 100 keys per
    BatchGetItem, the keys DynamoDB leaves unprocessed asked again with exponential backoff."""
    client, found = table.meta.client, []
    for start in range(0, len(keys), 100):
        request: dict[str, Any] = {table.name: {"Keys": keys[start:start + 100], "ConsistentRead": True}}
        for attempt in range(12):
            answer = client.batch_get_item(RequestItems=request)
            found += answer["Responses"].get(table.name, [])
            request = answer.get("UnprocessedKeys") or {}
            if not request:
                break
            time.sleep(min(0.05 * 2**attempt, 2.0))
        else:
            raise Throttled(f"DynamoDB left {len(request[table.name]['Keys'])} key(s) unread after retries")
    return found


def put_if_absent(table: Any, item: dict[str, Any], key: str) -> bool:
    """Write `item` unless its key is taken; False when it was."""
    try:
        table.put_item(Item=item, ConditionExpression=f"attribute_not_exists({key})")
        return True
    except ClientError as error:
        if is_condition_failure(error):
            return False
        raise


def is_condition_failure(error: ClientError) -> bool:
    return error.response["Error"]["Code"] == "ConditionalCheckFailedException"
