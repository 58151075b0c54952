"""The checks CI makes without AWS: sam validate --lint, cfn-lint with every rule, the SAM transform,
asl-validator, IAM, ruff, mypy."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from localcloud.build import sam_command
from localcloud.stack import supported_resource_types
from localcloud.template import load_template, sam_transform

from tests.conftest import ROOT

ASL_VALIDATOR = ROOT / "node_modules" / ".bin" / "asl-validator"
STATE_MACHINES = sorted((ROOT / "statemachine").glob("*.asl.json"))


def run(*command: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(command, capture_output=True, text=True, cwd=ROOT, check=False)


def test_cfn_lint_passes_on_the_template_with_every_rule():
    """Informational rules too (`I`): each finding is fixed, none is waived."""
    done = run(str(Path(sys.executable).parent / "cfn-lint"), "--include-checks", "I", "--", "template.yaml")
    assert done.returncode == 0, done.stdout + done.stderr


def test_sam_validate_with_lint_passes():
    done = subprocess.run([*sam_command(), "validate", "--lint", "--template-file", "template.yaml"],
                          capture_output=True, text=True, cwd=ROOT, check=False,
                          env={**os.environ, "SAM_CLI_TELEMETRY": "0", "AWS_DEFAULT_REGION": "us-east-1"})
    assert done.returncode == 0, done.stdout + done.stderr


def test_mypy_is_clean():
    done = run(str(Path(sys.executable).parent / "mypy"))
    assert done.returncode == 0, done.stdout + done.stderr


def test_the_sam_transform_succeeds_and_the_local_cloud_knows_every_resource_type():
    template = sam_transform(ROOT / "template.yaml")
    unknown = {r["Type"] for r in template.resources.values()} - supported_resource_types()
    assert not unknown, f"add a creator (or a reason) for {unknown} in localcloud/ (see stack.py)"


@pytest.mark.parametrize("definition", STATE_MACHINES, ids=lambda p: p.name)
def test_asl_validator_passes(definition):
    done = run(str(ASL_VALIDATOR), "--json-path", str(definition))
    assert done.returncode == 0, done.stdout + done.stderr


def test_asl_validator_fails_on_a_next_naming_a_missing_state(tmp_path):
    definition = json.loads(STATE_MACHINES[0].read_text())
    definition["States"][definition["StartAt"]]["Next"] = "NoSuchState"
    broken = tmp_path / "broken.asl.json"
    broken.write_text(json.dumps(definition))
    done = run(str(ASL_VALIDATOR), "--json-path", str(broken))
    assert done.returncode != 0
    assert "NoSuchState" in done.stdout + done.stderr


# Actions the Service Authorization Reference gives no resource type: only "*" names them.
ACCOUNT_LEVEL = {"ses:GetSendQuota"}


def test_every_iam_statement_names_its_resources():
    template = sam_transform(ROOT / "template.yaml")
    for logical_id, resource in template.resources.items():
        if resource["Type"] != "AWS::IAM::Role":
            continue
        for policy in resource["Properties"].get("Policies", []):
            for statement in policy["PolicyDocument"]["Statement"]:
                resources = statement["Resource"]
                resources = resources if isinstance(resources, list) else [resources]
                actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
                if set(actions) <= ACCOUNT_LEVEL:
                    continue
                assert "*" not in resources, f"{logical_id} {policy['PolicyName']} grants {statement['Action']} on *"


def _role_statements(template):
    for logical_id, resource in template.resources.items():
        if resource["Type"] == "AWS::IAM::Role":
            for policy in resource["Properties"].get("Policies", []):
                for statement in policy["PolicyDocument"]["Statement"]:
                    actions = statement["Action"]
                    yield logical_id, statement, set(actions if isinstance(actions, list) else [actions])


def test_no_role_may_update_or_delete_history():
    template = sam_transform(ROOT / "template.yaml")
    rewriting = {"dynamodb:UpdateItem", "dynamodb:DeleteItem", "dynamodb:BatchWriteItem", "dynamodb:PartiQLUpdate",
                 "dynamodb:PartiQLDelete", "dynamodb:*"}
    writers = set()
    for logical_id, statement, actions in _role_statements(template):
        if "HistoryTable" in json.dumps(statement["Resource"]):
            assert not actions & rewriting, f"{logical_id} may rewrite history: {sorted(actions & rewriting)}"
            if "dynamodb:PutItem" in actions:
                writers.add(logical_id)
    assert {"IngestFunctionRole", "ReviewFunctionRole", "EscalateFunctionRole"} <= writers


def test_the_auditor_role_reads_and_nothing_else():
    template = sam_transform(ROOT / "template.yaml")
    # Reads and verifies; never GenerateMac, Sign or a write.
    allowed = {"dynamodb:GetItem", "dynamodb:Query", "dynamodb:DescribeTable", "kms:Decrypt", "kms:Verify",
               "kms:VerifyMac", "kms:GetPublicKey", "s3:ListBucket", "s3:GetObject", "s3:ListBucketVersions",
               "s3:GetObjectVersion", "lambda:InvokeFunctionUrl", "lambda:InvokeFunction",
               "cloudformation:DescribeStacks", "dynamodb:Scan"}
    statements = [(s, a) for logical_id, s, a in _role_statements(template) if logical_id == "AuditorRole"]
    actions = set().union(*(a for _, a in statements))
    assert actions and actions <= allowed, sorted(actions - allowed)
    # The audit function only by way of its IAM-authorised URL (AWS asks for both actions since October 2025).
    invoke = next(s for s, a in statements if "lambda:InvokeFunction" in a)
    assert invoke["Condition"] == {"Bool": {"lambda:InvokedViaFunctionUrl": "true"}}
    assert invoke["Resource"] == {"Fn::GetAtt": ["AuditFunction", "Arn"]}


def test_data_at_rest_is_encrypted_and_the_bucket_refuses_plain_http():
    resources = load_template(ROOT / "template.yaml")["Resources"]
    for logical_id, resource in resources.items():
        if resource["Type"] == "AWS::DynamoDB::Table":
            assert resource["Properties"]["SSESpecification"]["SSEEnabled"] is True, logical_id
            assert resource["Properties"]["PointInTimeRecoverySpecification"]["PointInTimeRecoveryEnabled"]
    statements = resources["LedgerBucketPolicy"]["Properties"]["PolicyDocument"]["Statement"]
    assert any(s["Effect"] == "Deny" and s["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
               for s in statements)
    assert resources["LedgerBucket"]["Properties"]["BucketEncryption"]


def test_ruff_is_clean():
    ruff = shutil.which("ruff", path=str(Path(sys.executable).parent))
    done = run(ruff or "ruff", "check", ".")
    assert done.returncode == 0, done.stdout + done.stderr
