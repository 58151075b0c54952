"""What every DynamoDB adapter does the same way: read every page, write only if absent."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from botocore.exceptions import ClientError


def query_all(table: Any, **kwargs: Any) -> Iterator[dict[str, Any]]:
    """Every item a query answers, page after page (boto3's paginator on the table's client,
    which threads may share)."""
    for page in table.meta.client.get_paginator("query").paginate(TableName=table.name, **kwargs):
        yield from page["Items"]


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
