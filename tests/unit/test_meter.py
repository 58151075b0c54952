"""The local cloud's meter sizes items and counts request units as DynamoDB's documentation says it bills them,
and Lambda to the millisecond: the figures `make bench` turns into the README's monthly cost."""

from __future__ import annotations

import uuid
from types import SimpleNamespace

from localcloud.meter import (
    Meter,
    Reading,
    _written,
    dynamodb_units,
    item_size,
    read_units,
    snapshots,
    value_size,
    write_units,
)
from moto.dynamodb.models import dynamodb_backends

from .moto_apart import moto_apart


def kb(n: float) -> dict[str, dict[str, str]]:
    """An item of `n` KB: an attribute named "a" holding a string of the rest."""
    return {"a": {"S": "x" * (int(n * 1024) - 1)}}


def test_item_sizes_follow_dynamodbs_rules() -> None:
    assert value_size({"S": "héllo"}) == 6  # UTF-8 bytes
    assert value_size({"N": "-123.45"}) == 4  # 5 significant digits: ceil(5/2) + 1
    assert value_size({"N": "1000"}) == 2
    assert value_size({"BOOL": True}) == value_size({"NULL": True}) == 1
    assert value_size({"B": "AAECAw=="}) == 4  # the bytes, not their base64
    assert value_size({"M": {"k": {"S": "v"}}}) == 3 + 1 + 1 + 1
    assert value_size({"L": [{"S": "ab"}, {"S": "c"}]}) == 3 + (1 + 2) + (1 + 1)
    assert item_size({"pk": {"S": "ACCT#1"}, "amount": {"S": "-80.00"}}) == 2 + 6 + 6 + 6


def test_units_are_rounded_up_per_item_as_dynamodb_bills_them() -> None:
    # The documentation's examples: a 3 KB write is 3 units, 6 in a transaction; an 8 KB read is 2 units
    # strongly consistent, 1 eventually consistent, 4 in a transaction.
    assert write_units(item_size(kb(3))) == 3
    assert read_units(8 * 1024, consistent=True) == 2 and read_units(8 * 1024, consistent=False) == 1
    assert dynamodb_units(None, "TransactGetItems", {}, {"Responses": [{"Item": kb(8)}]}) == (4, 0)
    assert write_units(1) == 1 and read_units(0, consistent=False) == 0.5  # never less than one (half) unit


def test_a_query_sums_its_items_before_rounding_and_an_index_reads_eventually_consistent() -> None:
    items = {"Items": [kb(1)] * 5, "Count": 5, "ScannedCount": 5}  # 5 KB: 2 units strongly consistent
    assert dynamodb_units(None, "Query", {"ConsistentRead": True}, items) == (2, 0)
    assert dynamodb_units(None, "Query", {"ConsistentRead": True, "IndexName": "by-status"}, items) == (1, 0)
    filtered = {"Items": [kb(1)] * 5, "Count": 5, "ScannedCount": 20}  # billed on the 20 KB read, not the 5 kept
    assert dynamodb_units(None, "Query", {"ConsistentRead": True}, filtered) == (5, 0)
    assert dynamodb_units(None, "GetItem", {}, {}) == (0.5, 0)  # an item not found still costs a read


def test_a_write_costs_its_item_and_each_index_that_holds_it_two_when_an_index_key_moves() -> None:
    with moto_apart() as clients:
        client = clients("dynamodb")
        table = f"cases-{uuid.uuid4().hex}"  # moto's backends are the process's: a name no other test has
        client.create_table(
            TableName=table, BillingMode="PAY_PER_REQUEST",
            KeySchema=[{"AttributeName": "case_id", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": n, "AttributeType": "S"} for n in ("case_id", "status", "shard")],
            GlobalSecondaryIndexes=[
                {"IndexName": "by-status", "KeySchema": [{"AttributeName": "status", "KeyType": "HASH"}],
                 "Projection": {"ProjectionType": "ALL"}},
                {"IndexName": "to-check", "KeySchema": [{"AttributeName": "shard", "KeyType": "HASH"}],
                 "Projection": {"ProjectionType": "KEYS_ONLY"}}])
        backend = next(b["us-east-1"] for b in dynamodb_backends.values()
                       if "us-east-1" in b and table in b["us-east-1"].tables)
        handler = SimpleNamespace(dynamodb_backend=backend)

        def write(action: str, request: dict) -> float:
            named = _written(request, action)
            before = snapshots(handler, named)
            getattr(client, {"PutItem": "put_item", "UpdateItem": "update_item",
                             "DeleteItem": "delete_item"}[action])(**request)
            return dynamodb_units(handler, action, request, {}, before)[1]

        item = {"case_id": {"S": "C1"}, "status": {"S": "OPEN"}, "shard": {"S": "01"}, **kb(2.5)}
        # 3 units for the item, 3 for by-status (all of it), 1 for to-check (its keys)
        assert write("PutItem", {"TableName": table, "Item": item}) == 3 + 3 + 1
        moved = {"TableName": table, "Key": {"case_id": {"S": "C1"}}, "UpdateExpression": "SET #s = :s",
                 "ExpressionAttributeNames": {"#s": "status"}, "ExpressionAttributeValues": {":s": {"S": "PAID"}}}
        assert write("UpdateItem", moved) == 3 + (3 + 3) + 1  # by-status: out of OPEN, into PAID
        left = {"TableName": table, "Key": {"case_id": {"S": "C1"}}, "UpdateExpression": "REMOVE #h",
                "ExpressionAttributeNames": {"#h": "shard"}}
        assert write("UpdateItem", left) == 3 + 3 + 1  # it leaves to-check: one delete there
        assert write("DeleteItem", {"TableName": table, "Key": {"case_id": {"S": "C1"}}}) == 3 + 3


def test_lambda_is_billed_to_the_millisecond_by_memory_and_readings_subtract() -> None:
    meter = Meter()
    meter.ran("IngestFunction", 0.0101, 1024)  # 10.1 ms: 11 ms billed
    before = meter.reading()
    meter.ran("ReviewFunction", 1.0, 512)
    meter.request("ReviewFunction", "dynamodb:Query")
    meter.units("ReviewFunction", 0.5, 2)
    meter.transition("workflow")
    after = meter.reading()
    assert round(before.gb_seconds["IngestFunction"], 6) == 0.011
    since = after - before
    assert since.gb_seconds == {"ReviewFunction": 0.5} and since.invocations == {"ReviewFunction": 1}
    assert since.requests == {("ReviewFunction", "dynamodb:Query"): 1} and since.transitions == {"workflow": 1}
    assert since.only(lambda who: who == "IngestFunction") == Reading()
    assert since.scaled(10).write_units == {"ReviewFunction": 20}
