"""The local cloud's DynamoDB patches: what moto does, at a cost that does not grow with the table.

moto itself (in-process) with the local cloud's patch applied: a cancelled transaction leaves every
item it named as it was (updated, replaced, created), on tables with and without a sort key.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from botocore.exceptions import ClientError
from localcloud.patches.dynamodb import item_sizes_counted_once, transactions_undo_only_what_they_touched
from moto.dynamodb.models import DynamoType, Table
from moto.dynamodb.responses import DynamoHandler

from .moto_apart import moto_apart

# moto's own, as imported (before any local cloud of the test run patches them): what the patches are
# held to even while a local cloud runs in this process.
MOTO = {"parse_parameters": DynamoHandler.parse_parameters, "serialized": DynamoHandler.serialized,
        "query": Table.query, "all_items": Table.all_items, "sorted_items": Table.sorted_items,
        "eq": DynamoType.__eq__, "lt": DynamoType.__lt__}


@pytest.fixture
def dynamodb() -> Iterator[Any]:
    with moto_apart() as clients, transactions_undo_only_what_they_touched(), item_sizes_counted_once():
        client = clients("dynamodb")
        for name, keys in [("ledger", ["pk", "sk"]), ("marks", ["pk"])]:
            client.create_table(
                TableName=name, BillingMode="PAY_PER_REQUEST",
                KeySchema=[{"AttributeName": k, "KeyType": t}
                           for k, t in zip(keys, ["HASH", "RANGE"][:len(keys)], strict=True)],
                AttributeDefinitions=[{"AttributeName": k, "AttributeType": "S"} for k in keys])
        yield client


def put(table: str, key: dict[str, str], condition: str | None = None, **values: str) -> dict[str, Any]:
    item = {k: {"S": v} for k, v in {**key, **values}.items()}
    return {"Put": {"TableName": table, "Item": item, **({"ConditionExpression": condition} if condition else {})}}


def everything(client: Any) -> dict[str, list[dict[str, Any]]]:
    return {name: sorted(client.scan(TableName=name)["Items"], key=repr) for name in ("ledger", "marks")}


def test_a_cancelled_transaction_leaves_every_item_it_named_as_it_was(dynamodb: Any) -> None:
    dynamodb.transact_write_items(TransactItems=[
        put("ledger", {"pk": "ACCT#1", "sk": "TXN#1"}, amount="-80.00"),
        put("ledger", {"pk": "ACCT#1", "sk": "TXN#2"}, amount="10.00"),
        put("marks", {"pk": "TXN#1"}, hash="aaa"),
    ])
    before = everything(dynamodb)
    with pytest.raises(ClientError) as refused:
        dynamodb.transact_write_items(TransactItems=[
            {"Update": {"TableName": "ledger", "Key": {"pk": {"S": "ACCT#1"}, "sk": {"S": "TXN#1"}},
                        "UpdateExpression": "SET amount = :a", "ExpressionAttributeValues": {":a": {"S": "0.00"}}}},
            put("ledger", {"pk": "ACCT#1", "sk": "TXN#2"}, amount="99.00"),  # replaces an item
            put("ledger", {"pk": "ACCT#2", "sk": "TXN#3"}, amount="5.00"),  # a new partition
            put("marks", {"pk": "TXN#4"}, hash="bbb"),  # a new item, no sort key
            put("marks", {"pk": "TXN#1"}, "attribute_not_exists(pk)", hash="ccc"),  # taken: cancels all
        ])
    assert refused.value.response["Error"]["Code"] == "TransactionCanceledException"
    reasons = [r["Code"] for r in refused.value.response["CancellationReasons"]]
    assert reasons == ["None", "None", "None", "None", "ConditionalCheckFailed"]
    assert everything(dynamodb) == before
    assert dynamodb.query(TableName="ledger", KeyConditionExpression="pk = :p",
                          ExpressionAttributeValues={":p": {"S": "ACCT#2"}})["Items"] == []


def test_a_transaction_refused_as_invalid_writes_nothing(dynamodb: Any) -> None:
    dynamodb.put_item(TableName="marks", Item={"pk": {"S": "TXN#1"}, "hash": {"S": "aaa"}})
    before = everything(dynamodb)
    with pytest.raises(ClientError) as refused:
        dynamodb.transact_write_items(TransactItems=[
            put("marks", {"pk": "TXN#2"}, hash="bbb"),
            put("marks", {"pk": "TXN#1"}, hash="ccc"),
            put("marks", {"pk": "TXN#2"}, hash="ddd"),  # the same item twice
        ])
    assert refused.value.response["Error"]["Code"] == "ValidationException"
    assert everything(dynamodb) == before


def test_a_transaction_that_passes_writes_every_item(dynamodb: Any) -> None:
    dynamodb.transact_write_items(TransactItems=[
        put("marks", {"pk": f"TXN#{n}"}, "attribute_not_exists(pk)", hash=str(n)) for n in range(100)])
    marks = everything(dynamodb)["marks"]
    assert sorted(int(m["hash"]["S"]) for m in marks) == list(range(100))


def test_item_requests_read_and_answered_directly_as_motos_parser_and_serializer_would() -> None:
    """Every item operation, with every attribute type, a miss, a page, unprocessed nothing and an
    error: the direct JSON and moto's own parser and serializer give the same request and answer."""
    from localcloud.patches.dynamodb import item_requests_read_and_answered_directly
    from moto.dynamodb.responses import DynamoHandler

    requests: list[tuple[str, Any, Any]] = []
    answers: list[tuple[str, Any, Any]] = []
    original_parse, original_serialized = MOTO["parse_parameters"], MOTO["serialized"]
    running = DynamoHandler.parse_parameters, DynamoHandler.serialized
    with moto_apart() as clients, item_requests_read_and_answered_directly():
        direct_parse, direct_serialized = DynamoHandler.parse_parameters, DynamoHandler.serialized

        def parse_both(self: Any, request: Any) -> None:
            original_parse(self, request)
            theirs = self.params
            direct_parse(self, request)
            requests.append((self._get_action(), self.params, theirs))

        def serialize_both(self: Any, action_result: Any) -> Any:
            ours, theirs = direct_serialized(self, action_result), original_serialized(self, action_result)
            answers.append((self._get_action(), ours, theirs))
            return ours

        DynamoHandler.parse_parameters, DynamoHandler.serialized = parse_both, serialize_both  # type: ignore
        try:
            client = clients("dynamodb")
            client.create_table(
                TableName="t", BillingMode="PAY_PER_REQUEST",
                KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
                AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"},
                                      {"AttributeName": "sk", "AttributeType": "S"}])
            item = {"pk": {"S": "A"}, "sk": {"S": "1"}, "b": {"B": b"\x00\xff"}, "bs": {"BS": [b"\x01", b"\x02"]},
                    "n": {"N": "-80.00"}, "ns": {"NS": ["1", "2.5"]}, "ss": {"SS": ["x", "y"]},
                    "B": {"M": {"B": {"S": "a map entry named B"}, "BS": {"L": [{"S": "x"}]}}},
                    "l": {"L": [{"NULL": True}, {"BOOL": False}, {"M": {"k": {"S": "Doe, \"Jane\""}}}]}}
            key = {"pk": {"S": "A"}, "sk": {"S": "1"}}
            client.put_item(TableName="t", Item=item, ReturnValues="ALL_OLD")
            client.put_item(TableName="t", Item={**item, "sk": {"S": "2"}}, ReturnConsumedCapacity="TOTAL")
            client.get_item(TableName="t", Key=key, ConsistentRead=True)
            client.get_item(TableName="t", Key={**key, "sk": {"S": "9"}})
            client.query(TableName="t", KeyConditionExpression="pk = :p AND sk > :s", Limit=1,
                         ExpressionAttributeValues={":p": {"S": "A"}, ":s": {"S": "0"}})
            client.query(TableName="t", KeyConditionExpression="pk = :p", FilterExpression="b = :b",
                         ExpressionAttributeValues={":p": {"S": "A"}, ":b": {"B": b"\x00\xff"}})
            client.scan(TableName="t", ProjectionExpression="pk, #n", ExpressionAttributeNames={"#n": "n"})
            client.update_item(TableName="t", Key=key, UpdateExpression="SET n = :n, b = :b",
                               ExpressionAttributeValues={":n": {"N": "2"}, ":b": {"B": b"\x07"}},
                               ReturnValues="ALL_NEW")
            client.batch_write_item(RequestItems={"t": [{"PutRequest": {"Item": {**key, "sk": {"S": "3"}}}}]})
            client.batch_get_item(RequestItems={"t": {"Keys": [key, {**key, "sk": {"S": "9"}}],
                                                      "ConsistentRead": True}})
            client.transact_write_items(TransactItems=[{"Put": {"TableName": "t", "Item": {**key, "sk": {"S": "4"}},
                                                                "ConditionExpression": "attribute_not_exists(pk)"}}])
            client.transact_get_items(TransactItems=[{"Get": {"TableName": "t", "Key": key}}])
            with pytest.raises(ClientError):
                client.put_item(TableName="t", Item=item, ConditionExpression="attribute_not_exists(pk)")
            client.delete_item(TableName="t", Key=key, ReturnValues="ALL_OLD")
        finally:
            DynamoHandler.parse_parameters, DynamoHandler.serialized = running  # type: ignore
    import json

    operations = {"GetItem", "PutItem", "UpdateItem", "DeleteItem", "Query", "Scan", "BatchGetItem", "BatchWriteItem",
                  "TransactGetItems", "TransactWriteItems"}
    for action, ours, theirs in requests:
        assert ours == theirs, action
    for action, ours, theirs in answers:
        assert ours[0] == theirs[0], action
        per_request = ("date", "x-amzn-requestid")
        assert {k: v for k, v in ours[1].items() if k not in per_request} == \
               {k: v for k, v in theirs[1].items() if k not in per_request}, action
        assert json.loads(ours[2] or "{}") == json.loads(theirs[2] or "{}"), action
    assert operations <= {action for action, _, _ in requests} and operations <= {action for action, _, _ in answers}


def test_an_item_over_the_size_limit_is_refused_and_one_under_it_kept(dynamodb: Any) -> None:
    dynamodb.put_item(TableName="marks", Item={"pk": {"S": "small"}, "v": {"S": "x" * 300_000}})
    with pytest.raises(ClientError) as refused:
        dynamodb.put_item(TableName="marks", Item={"pk": {"S": "large"}, "v": {"S": "x" * 300_000},
                                                   "w": {"S": "y" * 200_000}})
    assert "Item size has exceeded the maximum allowed size" in refused.value.response["Error"]["Message"]
    assert [item["pk"]["S"] for item in everything(dynamodb)["marks"]] == ["small"]


def test_items_replaced_or_deleted_are_not_kept(dynamodb: Any) -> None:
    """moto keeps every model object it makes; the local cloud's tables hold only their items."""
    import gc
    import weakref

    from localcloud.patches.dynamodb import items_not_tracked
    from moto.dynamodb.models.dynamo_type import Item

    with items_not_tracked():
        dynamodb.put_item(TableName="marks", Item={"pk": {"S": "A"}, "v": {"S": "first"}})
        first = next(o for o in gc.get_objects()
                     if isinstance(o, Item) and "v" in o.attrs and o.attrs["v"].value == "first")
        gone = weakref.ref(first)
        del first
        dynamodb.put_item(TableName="marks", Item={"pk": {"S": "A"}, "v": {"S": "second"}})
        gc.collect()
        assert gone() is None
        assert everything(dynamodb)["marks"] == [{"pk": {"S": "A"}, "v": {"S": "second"}}]


def test_queries_of_a_key_or_an_index_answer_as_moto_does() -> None:
    """The partition or the index key's items only, in the order and pages moto gives them."""
    from localcloud.patches.dynamodb import queries_read_only_their_partition

    with moto_apart() as clients:
        client = clients("dynamodb")
        client.create_table(
            TableName="cases", BillingMode="PAY_PER_REQUEST",
            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
            AttributeDefinitions=[{"AttributeName": a, "AttributeType": "S"} for a in ("pk", "sk", "account", "due")],
            GlobalSecondaryIndexes=[{"IndexName": "by-account", "Projection": {"ProjectionType": "ALL"},
                                     "KeySchema": [{"AttributeName": "account", "KeyType": "HASH"},
                                                   {"AttributeName": "due", "KeyType": "RANGE"}]}])
        for n in range(30):
            item = {"pk": {"S": f"C{n % 4}"}, "sk": {"S": f"{n:03d}"}, "v": {"N": str(n)}}
            if n % 5:  # every fifth item is not in the index
                item |= {"account": {"S": f"A{n % 3}"}, "due": {"S": f"2026-12-{n % 7 + 1:02d}"}}
            client.put_item(TableName="cases", Item=item)
        asks = [
            {"KeyConditionExpression": "pk = :p", "ExpressionAttributeValues": {":p": {"S": "C1"}}},
            {"KeyConditionExpression": "pk = :p AND sk > :s", "ScanIndexForward": False, "Limit": 3,
             "ExpressionAttributeValues": {":p": {"S": "C2"}, ":s": {"S": "005"}}},
            {"KeyConditionExpression": "pk = :p", "ExpressionAttributeValues": {":p": {"S": "nobody"}}},
            {"IndexName": "by-account", "KeyConditionExpression": "account = :a",
             "ExpressionAttributeValues": {":a": {"S": "A1"}}},
            {"IndexName": "by-account", "KeyConditionExpression": "account = :a AND due <= :d", "Limit": 4,
             "FilterExpression": "v > :v",
             "ExpressionAttributeValues": {":a": {"S": "A2"}, ":d": {"S": "2026-12-05"}, ":v": {"N": "3"}}},
        ]

        def pages(ask: dict[str, Any]) -> list[Any]:
            found, start = [], {}
            while True:
                page = client.query(TableName="cases", **ask, **start)
                found.append((page["Items"], page.get("LastEvaluatedKey")))
                if "LastEvaluatedKey" not in page:
                    return found
                start = {"ExclusiveStartKey": page["LastEvaluatedKey"]}

        running = Table.query, Table.all_items
        Table.query, Table.all_items = MOTO["query"], MOTO["all_items"]  # type: ignore[method-assign]
        try:
            moto_answers = [pages(ask) for ask in asks]
            with queries_read_only_their_partition():
                ours = [pages(ask) for ask in asks]
        finally:
            Table.query, Table.all_items = running  # type: ignore[method-assign]
    assert ours == moto_answers
    assert any(items for answer in ours for items, _ in answer)


def test_a_condition_parsed_once_is_judged_on_each_requests_own_values(dynamodb: Any) -> None:
    from localcloud.patches.dynamodb_parsing import expressions_parsed_once

    with expressions_parsed_once():
        dynamodb.put_item(TableName="marks", Item={"pk": {"S": "HOLD"}, "open": {"S": "case-1"}})
        claim = {"TableName": "marks", "Key": {"pk": {"S": "HOLD"}}, "UpdateExpression": "SET #o = :me",
                 "ConditionExpression": "attribute_not_exists(#o) OR #o = :me",
                 "ExpressionAttributeNames": {"#o": "open"}}
        dynamodb.update_item(**claim, ExpressionAttributeValues={":me": {"S": "case-1"}})  # it holds it already
        with pytest.raises(ClientError, match="ConditionalCheckFailed"):  # the same expression, another case
            dynamodb.update_item(**claim, ExpressionAttributeValues={":me": {"S": "case-2"}})
        marks = [put("marks", {"pk": f"TXN#{n}"}, "attribute_not_exists(pk)") for n in range(3)]
        dynamodb.transact_write_items(TransactItems=marks)
        with pytest.raises(ClientError) as refused:  # the 3rd id taken: the one condition judged per item
            dynamodb.transact_write_items(TransactItems=[put("marks", {"pk": "TXN#new"}, "attribute_not_exists(pk)"),
                                                         *marks[2:]])
    reasons = [r["Code"] for r in refused.value.response["CancellationReasons"]]
    assert reasons == ["None", "ConditionalCheckFailed"]
    assert everything(dynamodb)["marks"] == sorted([
        {"pk": {"S": "HOLD"}, "open": {"S": "case-1"}}, *({"pk": {"S": f"TXN#{n}"}} for n in range(3))], key=repr)


def test_answers_made_plain_by_type_as_moto_makes_them() -> None:
    from localcloud.patches.dynamodb_parsing import answers_made_plain_by_type
    from moto.dynamodb import responses
    from moto.dynamodb.models.dynamo_type import DynamoType
    from moto.dynamodb.models.utilities import dynamo_to_dict

    attrs = {"s": {"S": "Doe, Jane"}, "n": {"N": "-80.00"}, "b": {"B": "AP8="}, "bs": {"BS": ["AQ==", "Ag=="]},
             "ss": {"SS": ["x"]}, "ns": {"NS": ["1", "2.5"]}, "t": {"BOOL": True}, "z": {"NULL": True},
             "m": {"M": {"B": {"S": "a map entry named B"}, "l": {"L": [{"N": "1"}, {"B": "AA=="}]}}}}
    item = {name: DynamoType(value) for name, value in attrs.items()}
    answer = {"Items": [item, item], "Count": 2, "LastEvaluatedKey": {"pk": DynamoType({"S": "A"})}}
    with answers_made_plain_by_type():
        assert responses.dynamo_to_dict(answer) == dynamo_to_dict(answer)


def test_index_pages_sorted_by_plain_keys_come_in_motos_order() -> None:
    """A worklist's views: string and number sort keys, both directions, paged, the same items in moto's order."""
    from localcloud.patches.dynamodb_sorting import scalar_keys_compared_directly

    with moto_apart() as clients:
        client = clients("dynamodb")
        client.create_table(
            TableName="work", BillingMode="PAY_PER_REQUEST", KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"},
                                  {"AttributeName": "queue", "AttributeType": "S"},
                                  {"AttributeName": "due", "AttributeType": "S"},
                                  {"AttributeName": "cents", "AttributeType": "N"}],
            GlobalSecondaryIndexes=[
                {"IndexName": name, "Projection": {"ProjectionType": "ALL"},
                 "KeySchema": [{"AttributeName": "queue", "KeyType": "HASH"},
                               {"AttributeName": key, "KeyType": "RANGE"}]}
                for name, key in (("by-due", "due"), ("by-cents", "cents"))])
        for n in range(60):
            item = {"id": {"S": f"W{(n * 37) % 60:03d}"}, "due": {"S": f"2026-{n % 12 + 1:02d}-{n % 5 + 1:02d}"},
                    "cents": {"N": str((n * 7919) % 1000 - 300)}}
            if n % 6:  # some items closed: out of the index
                item["queue"] = {"S": "OPEN"}
            client.put_item(TableName="work", Item=item)
        asks = [{"IndexName": index, "KeyConditionExpression": "queue = :q", "Limit": 7, "ScanIndexForward": forward,
                 "ExpressionAttributeValues": {":q": {"S": "OPEN"}}}
                for index in ("by-due", "by-cents") for forward in (True, False)]
        asks.append({"KeyConditionExpression": "id = :i", "ExpressionAttributeValues": {":i": {"S": "W005"}}})

        def pages(ask: dict[str, Any]) -> list[Any]:
            found, start = [], {}
            while True:
                page = client.query(TableName="work", **ask, **start)
                found.append((page["Items"], page.get("LastEvaluatedKey")))
                if "LastEvaluatedKey" not in page:
                    return found
                start = {"ExclusiveStartKey": page["LastEvaluatedKey"]}

        running = DynamoType.__eq__, DynamoType.__lt__, Table.sorted_items
        DynamoType.__eq__, DynamoType.__lt__ = MOTO["eq"], MOTO["lt"]  # type: ignore[method-assign]
        Table.sorted_items = MOTO["sorted_items"]  # type: ignore[method-assign]
        try:
            moto_answers = [pages(ask) for ask in asks]
            with scalar_keys_compared_directly():
                ours = [pages(ask) for ask in asks]
        finally:
            DynamoType.__eq__, DynamoType.__lt__ = running[0], running[1]  # type: ignore[method-assign]
            Table.sorted_items = running[2]  # type: ignore[method-assign]
    assert ours == moto_answers
    assert sum(len(items) for answer in ours[:1] for items, _ in answer) == 50
