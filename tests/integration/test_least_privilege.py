"""Least privilege, shown (issue 11): after the whole integration run, every function's role allows
exactly the AWS actions its code was seen to call on the local cloud, besides what AWS itself does
on the function's behalf (encryption with the data key, its on-failure destination, its queue
mapping). A grant nobody calls fails, and so does a call no grant allows (AWS would refuse it)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from refunds_cli.localcloud.cloud import LocalCloud
from refunds_cli.localcloud.template import sam_transform

from tests.conftest import ROOT

from .conftest import case_of, drop, history_actions, refunds, wait_for_status
from .test_workflow import patient_credit

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
    """Each grant of each role (action on resource) was used by a request the local cloud authorised,
    or AWS uses it on the function's behalf; and nothing the functions asked for was refused. The
    per-role account is written to .aws-sam/iam-report.json."""
    if hasattr(request.config, "workerinput"):
        pytest.skip("each test worker has its own local cloud, which sees only its share of the calls")
    collected = {Path(str(item.path)).name for item in request.session.items}
    if not {p.name for p in (ROOT / "tests" / "integration").glob("test_*.py")} <= collected:
        pytest.skip("run the whole integration suite: only it sees every call")
    template = sam_transform(ROOT / "template.yaml")
    problems, report = [], {}
    for function in sorted(k for k, r in template.resources.items() if r["Type"] == "AWS::Lambda::Function"):
        role = cloud.stack.physical[f"{function}Role"]
        unused = cloud.iam.unused(role)
        justified = on_behalf(template, function)
        report[function] = {"role": role, "used": sorted(f"{a} on {r}" for a, r in cloud.iam.used[role]),
                            "unused": unused}
        if unexplained := [u for u in unused if not any(f"'{a}'" in u or f": {a} on" in u for a in justified)]:
            problems.append(f"{function} is granted what its code never calls: {unexplained}")
    if refused := sorted({f"{f}: {r.action} on {r.resource}" for f, r in cloud.iam.refused}):
        problems.append(f"calls refused as AWS would refuse them: {refused}")
    (ROOT / ".aws-sam").mkdir(exist_ok=True)
    (ROOT / ".aws-sam" / "iam-report.json").write_text(json.dumps(report, indent=1))
    assert not problems, "\n".join(problems)


def test_a_permission_the_code_needs_taken_away_fails_the_step_as_aws_would(tmp_path):
    """The review step reads the account's refunds in flight on the refunds table's by-account index. Its
    role granted on another index of the same table instead: AWS refuses the query, and so does the local
    cloud. The case lands in FAILED with its history, and the refusal names the action and the ARN."""
    for part in ("functions", "layers", "statemachine", "samconfig.toml"):
        (tmp_path / part).symlink_to(ROOT / part)
    text = (ROOT / "template.yaml").read_text()
    review = text.index("  ReviewFunction:\n")
    needed = ('            - Sid: ReadRefundsInFlight\n              Effect: Allow\n'
              '              Action: [dynamodb:Query]\n'
              '              Resource: !Sub "${RefundsTable.Arn}/index/by-account"\n')
    at = text.index(needed, review)
    (tmp_path / "template.yaml").write_text(
        text[:at] + needed.replace("by-account", "by-case") + text[at + len(needed):])
    with LocalCloud(tmp_path, stack_name="narrow", quiet=True,
                    parameter_overrides={"SealSchedule": "rate(1 day)", "SweepSchedule": "rate(1 day)"}) as narrow:
        drop(narrow, "iam-narrow.csv", patient_credit("IAM-NARROW"))
        case = wait_for_status(narrow, "IAM-NARROW", {"FAILED"}, timeout=90)
        assert ("FAILED", "OPEN", "FAILED") in history_actions(narrow, case["case_id"])
        refused = {(function.rsplit("-", 1)[-1], r.action, r.resource) for function, r in narrow.iam.refused}
        refunds_index = f"table/{narrow.outputs['RefundsTableName']}/index/by-account"
        assert any(f == "ReviewFunction" and a == "dynamodb:Query" and r.endswith(refunds_index)
                   for f, a, r in refused), refused
        assert case_of(narrow, "IAM-NARROW")["status"] == "FAILED"
        # The doctor says what else would stop this stack: a sender no longer verified.
        sender = narrow.stack.functions["RequestApprovalFunction"].environment["SENDER_EMAIL"]
        narrow.client("ses").delete_identity(Identity=sender)
        found = refunds(narrow, "--stack-name", "narrow", "doctor")
        assert found.returncode == 1 and f"FAIL mail sender {sender}: not verified" in found.stdout, found.stdout
    shutil.rmtree(tmp_path, ignore_errors=True)
