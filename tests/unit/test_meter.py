"""The local cloud's meter sizes items and counts request units as DynamoDB's documentation says it bills them,
and Lambda to the millisecond: the figures `make bench` turns into the README's monthly cost."""

from __future__ import annotations

from localcloud.meter import Meter, Reading, dynamodb_units, item_size, read_units, value_size, write_units


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
    assert dynamodb_units(None, "TransactWriteItems", {"TransactItems": [{"Put": {"Item": kb(3)}}]}, {}, 0) == (0, 6)
    assert read_units(8 * 1024, consistent=True) == 2 and read_units(8 * 1024, consistent=False) == 1
    assert dynamodb_units(None, "TransactGetItems", {}, {"Responses": [{"Item": kb(8)}]}, 0) == (4, 0)
    assert write_units(1) == 1 and read_units(0, consistent=False) == 0.5  # never less than one (half) unit


def test_a_query_sums_its_items_before_rounding_and_an_index_reads_eventually_consistent() -> None:
    items = {"Items": [kb(1)] * 5}  # 5 KB: 2 units strongly consistent
    assert dynamodb_units(None, "Query", {"ConsistentRead": True}, items, 0) == (2, 0)
    assert dynamodb_units(None, "Query", {"ConsistentRead": True, "IndexName": "by-status"}, items, 0) == (1, 0)
    assert dynamodb_units(None, "GetItem", {}, {}, 0) == (0.5, 0)  # an item not found still costs a read


def test_a_batch_write_counts_only_what_was_written() -> None:
    request = {"RequestItems": {"t": [{"PutRequest": {"Item": kb(2)}}, {"PutRequest": {"Item": kb(0.5)}},
                                      {"DeleteRequest": {"Key": {"pk": {"S": "x"}}}}]}}
    assert dynamodb_units(None, "BatchWriteItem", request, {}, 0) == (0, 2 + 1 + 1)
    unprocessed = {"UnprocessedItems": {"t": [{"PutRequest": {"Item": kb(0.5)}}]}}
    assert dynamodb_units(None, "BatchWriteItem", request, unprocessed, 0) == (0, 3)


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
