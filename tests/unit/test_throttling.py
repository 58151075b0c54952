"""Issue 32: a retry budget used up by throttling is transient, and the state machines give a throttled
step minutes, with jitter, before anything is FAILED or rejected."""

from __future__ import annotations

import json

import boto3
import pytest
from botocore.stub import Stubber
from creditrefunds.adapters import transactions
from creditrefunds.adapters.transactions import TransactionStore
from creditrefunds.adapters.transient import TransientError, retryable

from tests.conftest import ROOT

THROTTLING = ["Lambda.TooManyRequestsException", "TransientError"]


def test_a_table_that_keeps_leaving_items_unwritten_fails_the_step_as_transient(monkeypatch):
    monkeypatch.setattr(transactions.time, "sleep", lambda _s: None)
    table = boto3.resource("dynamodb", region_name="us-east-1", aws_access_key_id="x",
                           aws_secret_access_key="x").Table("transactions")
    with Stubber(table.meta.client) as stub:
        for _ in range(12):  # every try, DynamoDB hands the item back unprocessed (a throttled partition)
            stub.add_response("batch_write_item", {"UnprocessedItems": {"transactions": [{"PutRequest": {
                "Item": {"pk": {"S": "TXN#1"}, "sk": {"S": "TXN"}}}}]}})

        @retryable
        def step() -> None:
            TransactionStore(table)._write_batch([{"pk": "TXN#1", "sk": "TXN"}])

        with pytest.raises(TransientError, match="unwritten after retries"):
            step()


def budget(retrier: dict) -> float:
    """The most a retrier waits in all, before its last try fails the step."""
    delay, total = float(retrier.get("IntervalSeconds", 1)), 0.0
    for _ in range(retrier.get("MaxAttempts", 3)):
        total += min(delay, retrier.get("MaxDelaySeconds", float("inf")))
        delay *= retrier.get("BackoffRate", 2.0)
    return total


@pytest.mark.parametrize("machine", ["refund_workflow", "ledger_fanout"])
def test_every_lambda_step_gives_throttling_minutes_with_jitter(machine):
    definition = json.loads((ROOT / "statemachine" / f"{machine}.asl.json").read_text())
    tasks = []

    def walk(states: dict) -> None:
        for name, state in states.items():
            if state.get("Type") == "Task" and "lambda" in state.get("Resource", ""):
                tasks.append((name, state))
            for nested in [state.get("ItemProcessor") or state.get("Iterator") or {}, *state.get("Branches", [])]:
                walk(nested.get("States", {}))

    walk(definition["States"])
    assert tasks
    for name, state in tasks:
        [retrier] = [r for r in state.get("Retry", []) if set(THROTTLING) <= set(r["ErrorEquals"])] or [None]
        assert retrier is not None, f"{name} does not retry throttling"
        assert retrier.get("JitterStrategy") == "FULL", name
        assert budget(retrier) >= 600, f"{name} gives throttling {budget(retrier):.0f} s"
