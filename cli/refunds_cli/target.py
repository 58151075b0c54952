"""Which cloud a command talks to: the local cloud (--endpoint-url) or a deployed stack."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from localcloud.names import connection, outputs_parameter, resources_parameter


class TargetError(Exception):
    """The stack cannot be found or read."""


@dataclass
class Target:
    """A stack's physical names (its Outputs) and clients pointed at where it runs."""

    outputs: dict[str, str]
    region: str
    endpoint_url: str | None = None
    stack_name: str = ""

    def client(self, service: str) -> Any:
        import boto3  # here, not at the top: `refunds detect` needs no AWS and starts faster

        return boto3.client(service, **connection(self.endpoint_url, self.region))

    def table(self, output_name: str) -> Any:
        """The DynamoDB table (boto3 resource) named by one of the stack's Outputs."""
        import boto3

        return boto3.resource("dynamodb", **connection(self.endpoint_url, self.region)).Table(self.output(output_name))

    def record_keys(self) -> Any:
        """The stack's record keys, to verify with (docs/security.md): nobody's CLI may make a MAC."""
        from creditrefunds.adapters.record_keys import RecordKeys

        return RecordKeys.from_outputs(self.client("kms"), self.outputs)

    def ledger(self) -> Any:
        """The stored ledger, every row checked against its manifest."""
        from creditrefunds.adapters.transactions import TransactionStore
        from creditrefunds.adapters.trusted import TrustedLedger

        return TrustedLedger(TransactionStore(self.table("TransactionsTableName")), self.record_keys())

    def refund_book(self) -> Any:
        """The refund book, every instruction and match checked."""
        from creditrefunds.adapters.refund_book import RefundBook
        from creditrefunds.adapters.trusted import TrustedRefundBook

        return TrustedRefundBook(RefundBook(self.table("RefundsTableName")), self.record_keys())

    def resources(self) -> dict[str, dict[str, str]]:
        """The stack's resources: {logical id: {"type": ..., "physical": ...}}."""
        if self.endpoint_url:
            value = self.client("ssm").get_parameter(Name=resources_parameter(self.stack_name))["Parameter"]["Value"]
            return dict(json.loads(value))
        found = {}
        for page in self.client("cloudformation").get_paginator("list_stack_resources").paginate(
                StackName=self.stack_name):
            for item in page["StackResourceSummaries"]:
                found[item["LogicalResourceId"]] = {"type": item["ResourceType"],
                                                    "physical": item.get("PhysicalResourceId", "")}
        return found

    def output(self, name: str) -> str:
        try:
            return self.outputs[name]
        except KeyError:
            raise TargetError(f"the stack has no output {name}") from None


def connect(endpoint_url: str | None, stack_name: str, region: str) -> Target:
    """Read the stack's Outputs from the local cloud or from CloudFormation."""
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        if endpoint_url:
            target = Target({}, region, endpoint_url, stack_name)
            parameter = target.client("ssm").get_parameter(Name=outputs_parameter(stack_name))
            target.outputs = json.loads(parameter["Parameter"]["Value"])
            return target
        target = Target({}, region, None, stack_name)
        stack = target.client("cloudformation").describe_stacks(StackName=stack_name)["Stacks"][0]
        target.outputs = {o["OutputKey"]: o["OutputValue"] for o in stack.get("Outputs", [])}
        return target
    except (ClientError, BotoCoreError) as error:
        where = endpoint_url or f"CloudFormation ({region})"
        raise TargetError(f"cannot read stack {stack_name!r} at {where}: {error}") from error
