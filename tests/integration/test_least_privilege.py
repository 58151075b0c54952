"""Least privilege, shown (issue 11): after the whole integration run, every function's role allows
exactly the AWS actions its code was seen to call on the local cloud, besides what AWS itself does
on the function's behalf (encryption with the data key, its on-failure destination, its queue
mapping). A grant nobody calls fails, and so does a call no grant allows (AWS would refuse it)."""

from __future__ import annotations

from pathlib import Path

import pytest
from refunds_cli.localcloud.calls import CALLS
from refunds_cli.localcloud.template import sam_transform

from tests.conftest import ROOT

DATA_KEY = {"kms:Decrypt", "kms:Encrypt", "kms:GenerateDataKey"}  # S3, DynamoDB, SQS encrypting for the function
QUEUE_READER = {"sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes"}  # Lambda's poller, as the role


def actions(statement: dict) -> set[str]:
    found = statement["Action"]
    return set(found if isinstance(found, list) else [found])


def granted(template, role: str) -> set[str]:
    policies = template.resources[role]["Properties"].get("Policies", [])
    return {a for p in policies for s in p["PolicyDocument"]["Statement"] if s["Effect"] == "Allow" for a in actions(s)}


def key_policy_grants(template, role: str) -> set[str]:
    """Actions a KMS key's own policy grants the role by name (the seal key's kms:Sign)."""
    return {a for r in template.resources.values() if r["Type"] == "AWS::KMS::Key"
            for s in r["Properties"]["KeyPolicy"]["Statement"]
            if s.get("Principal", {}).get("AWS") == {"Fn::GetAtt": [role, "Arn"]} for a in actions(s)}


def on_behalf(template, function: str) -> set[str]:
    """What AWS does as the function's role: encryption, its on-failure destination, its queue mapping."""
    extra = set(DATA_KEY)
    for resource in template.resources.values():
        props = resource.get("Properties", {})
        if resource["Type"] == "AWS::Lambda::EventInvokeConfig" and props["FunctionName"] == {"Ref": function}:
            extra.add("sqs:SendMessage")
        if resource["Type"] == "AWS::Lambda::EventSourceMapping" and props["FunctionName"] == {"Ref": function}:
            extra |= QUEUE_READER
    return extra


@pytest.mark.after_all
def test_every_function_role_allows_exactly_what_its_code_calls(cloud, request):
    collected = {Path(str(item.path)).name for item in request.session.items}
    if not {p.name for p in (ROOT / "tests" / "integration").glob("test_*.py")} <= collected:
        pytest.skip("run the whole integration suite: only it sees every call")
    template = sam_transform(ROOT / "template.yaml")
    problems = []
    for function in sorted(k for k, r in template.resources.items() if r["Type"] == "AWS::Lambda::Function"):
        called = set().union(*(c for name, c in CALLS.items() if name.endswith(f"-{function}")))
        role = f"{function}Role"
        allowed = granted(template, role) | key_policy_grants(template, role)
        if unused := allowed - called - on_behalf(template, function):
            problems.append(f"{function} is granted what its code never calls: {sorted(unused)}")
        if refused := called - allowed:
            problems.append(f"{function} calls what its role does not grant (AWS would refuse): {sorted(refused)}")
    assert not problems, "\n".join(problems)
