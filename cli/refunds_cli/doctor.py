"""`refunds doctor`: a deployed (or local) stack checked end to end, touching no ledger.

Every function is invoked with the doctor's ping (it imports, answers, and says on which processor);
the mail identities are verified (all recipients too while SES is in its sandbox); the buckets are
encrypted, refuse plain HTTP and public access, and the seal bucket is locked; the tables are
encrypted, recoverable and protected from deletion; each function's role grants what the template
says its code calls. `--send-test-mail` also mails the operators once.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from localcloud.names import PROJECT_ROOT

from refunds_cli.target import Target

PING = {"refunds_doctor": "ping"}  # creditrefunds.adapters.runtime.DOCTOR_PING
RECIPIENTS = ("APPROVER_TIER1_EMAIL", "APPROVER_TIER2_EMAIL", "APPROVER_TIER3_EMAIL", "COMPLIANCE_OFFICER_EMAIL",
              "OPERATORS_EMAIL")
Finding = tuple[str, str, str]  # (OK | WARN | FAIL, what, detail)


def register(commands: Any, target: Callable[[argparse.Namespace], Target]) -> None:
    doctor = commands.add_parser("doctor", help="check a deployed or local stack end to end (no ledger touched)")
    doctor.add_argument("--send-test-mail", action="store_true", help="also mail the operators a test message")
    doctor.add_argument("--json", action="store_true")
    doctor.set_defaults(func=lambda args: run(target(args), args.send_test_mail, args.json))


def run(target: Target, send_test_mail: bool = False, as_json: bool = False) -> int:
    resources = target.resources()
    findings = [*_functions(target, resources), *_mail(target, resources, send_test_mail),
                *_buckets(target, resources), *_tables(target, resources), *_roles(target, resources)]
    if as_json:
        print(json.dumps([{"status": s, "check": w, "detail": d} for s, w, d in findings], indent=1))
    else:
        for status, what, detail in findings:
            print(f"{status:4} {what}: {detail}")
    return 1 if any(status == "FAIL" for status, _, _ in findings) else 0


def _of_type(resources: dict[str, dict[str, str]], kind: str) -> Iterator[tuple[str, str]]:
    for logical_id, resource in sorted(resources.items()):
        if resource["type"] == kind:
            yield logical_id, resource["physical"]


def _functions(target: Target, resources: dict[str, dict[str, str]]) -> Iterator[Finding]:
    awslambda = target.client("lambda")
    for logical_id, name in _of_type(resources, "AWS::Lambda::Function"):
        answer = awslambda.invoke(FunctionName=name, Payload=json.dumps(PING).encode())
        payload = json.loads(answer["Payload"].read() or b"null")
        if answer.get("FunctionError") or not isinstance(payload, dict) or payload.get("doctor") != "ok":
            yield "FAIL", f"function {logical_id}", f"did not answer the ping: {payload}"
        else:
            compiled = payload.get("compiled_pass", "not reported")
            yield "OK", f"function {logical_id}", (f"answers (Python {payload['python']} on {payload['machine']}; "
                                                   f"compiled detection pass: {compiled})")


def _mail(target: Target, resources: dict[str, dict[str, str]], send: bool) -> Iterator[Finding]:
    functions = dict(_of_type(resources, "AWS::Lambda::Function"))
    if "RequestApprovalFunction" not in functions:
        yield "FAIL", "mail", "no RequestApprovalFunction in the stack"
        return
    env = target.client("lambda").get_function_configuration(
        FunctionName=functions["RequestApprovalFunction"])["Environment"]["Variables"]
    sender = env["SENDER_EMAIL"]
    recipients = sorted({a.strip() for key in RECIPIENTS for a in env.get(key, "").split(",") if a.strip()})
    ses = target.client("ses")
    sandbox = _in_sandbox(target)
    identities = [sender, *recipients] if sandbox else [sender]
    domains = sorted({i.split("@")[-1] for i in identities})  # an identity may be verified by its domain
    status = ses.get_identity_verification_attributes(Identities=[*identities, *domains])["VerificationAttributes"]
    for identity in identities:
        verified = status.get(identity, {}).get("VerificationStatus") == "Success" or \
            status.get(identity.split("@")[-1], {}).get("VerificationStatus") == "Success"
        role = "sender" if identity == sender else "recipient (SES sandbox)"
        yield ("OK" if verified else "FAIL"), f"mail {role} {identity}", \
            "verified" if verified else "not verified: SES refuses to send (open the verification mail SES sent)"
    if sandbox:
        yield "WARN", "mail", "SES is in its sandbox: only verified recipients get mail; request production access"
    if send:
        operators = [a.strip() for a in env["OPERATORS_EMAIL"].split(",")]
        ses.send_email(Source=sender, Destination={"ToAddresses": operators}, Message={
            "Subject": {"Data": "refunds doctor: test mail"},
            "Body": {"Text": {"Data": "The credit-refunds stack can send mail to its operators."}}})
        yield "OK", "mail", f"test mail sent to {', '.join(operators)}"


def _in_sandbox(target: Target) -> bool:
    if target.endpoint_url:  # the local cloud's SES keeps every mail: no sandbox
        return False
    try:
        return not target.client("sesv2").get_account().get("ProductionAccessEnabled", False)
    except Exception:
        return True


def _buckets(target: Target, resources: dict[str, dict[str, str]]) -> Iterator[Finding]:
    s3 = target.client("s3")
    keys = {physical for _, physical in _of_type(resources, "AWS::KMS::Key")}
    for logical_id, name in _of_type(resources, "AWS::S3::Bucket"):
        what = f"bucket {logical_id}"
        rules = (_or_none(s3.get_bucket_encryption, Bucket=name) or {}).get(
            "ServerSideEncryptionConfiguration", {}).get("Rules", [])
        defaults = [r["ApplyServerSideEncryptionByDefault"] for r in rules]
        kms = bool(defaults) and all(d["SSEAlgorithm"] == "aws:kms" and d.get("KMSMasterKeyID", "").rsplit("/", 1)[-1]
                                     in keys for d in defaults)
        yield ("OK" if kms else "FAIL"), what, "encrypted with the stack's KMS key" if kms else f"encryption: {rules}"
        block = (_or_none(s3.get_public_access_block, Bucket=name) or {}).get("PublicAccessBlockConfiguration", {})
        blocked = len(block) == 4 and all(block.values())
        yield ("OK" if blocked else "FAIL"), what, f"public access blocked: {blocked}"
        if target.endpoint_url:
            yield "OK", what, "TLS-only not checked: the local cloud speaks plain HTTP on 127.0.0.1"
        else:
            policy = json.loads((_or_none(s3.get_bucket_policy, Bucket=name) or {}).get("Policy", "{}"))
            tls = any(s["Effect"] == "Deny" and s.get("Principal") == "*" and s.get("Action") == "s3:*"
                      and s.get("Condition", {}).get("Bool", {}).get("aws:SecureTransport") == "false"
                      for s in policy.get("Statement", []))
            yield ("OK" if tls else "FAIL"), what, "refuses plain HTTP" if tls else "accepts plain HTTP"
        if logical_id in ("SealBucket", "OriginalsBucket"):  # what nobody may change or remove
            lock = s3.get_object_lock_configuration(Bucket=name)["ObjectLockConfiguration"]
            mode = lock.get("Rule", {}).get("DefaultRetention", {}).get("Mode")
            yield ("OK" if mode == "COMPLIANCE" else "FAIL"), what, f"object lock retention mode: {mode}"
        # Every object of a bucket that holds patient data expires; seals (ids and hashes) are kept for good.
        rules = (_or_none(s3.get_bucket_lifecycle_configuration, Bucket=name) or {}).get("Rules", [])
        expires = logical_id == "SealBucket" or any(
            r.get("Status") == "Enabled" and r.get("Filter", {}).get("Prefix", r.get("Prefix")) == ""
            and "Days" in r.get("Expiration", {}) for r in rules)
        yield ("OK" if expires else "FAIL"), what, (
            "seals are kept for good (no PHI)" if logical_id == "SealBucket"
            else "every object expires (a lifecycle rule over the whole bucket)" if expires
            else "no lifecycle rule expires the whole bucket: patient data could be kept past its retention")


def _or_none(read: Callable[..., dict[str, Any]], **request: Any) -> dict[str, Any] | None:
    """What `read(**request)` returns, or None where the bucket has no such configuration."""
    from botocore.exceptions import ClientError

    try:
        return read(**request)
    except ClientError:
        return None


def _tables(target: Target, resources: dict[str, dict[str, str]]) -> Iterator[Finding]:
    dynamodb = target.client("dynamodb")
    for logical_id, name in _of_type(resources, "AWS::DynamoDB::Table"):
        table = dynamodb.describe_table(TableName=name)["Table"]
        sse = table.get("SSEDescription", {}).get("Status") in ("ENABLED", "ENABLING", "UPDATING")
        pitr = dynamodb.describe_continuous_backups(TableName=name)["ContinuousBackupsDescription"][
            "PointInTimeRecoveryDescription"]["PointInTimeRecoveryStatus"] == "ENABLED"
        protected = bool(table.get("DeletionProtectionEnabled"))
        good = sse and pitr and protected
        yield ("OK" if good else "FAIL"), f"table {logical_id}", \
            f"KMS encryption {sse}, point-in-time recovery {pitr}, deletion protection {protected}"


def _roles(target: Target, resources: dict[str, dict[str, str]]) -> Iterator[Finding]:
    """Each function's role grants the actions the template gives it (what the least-privilege tests hold
    equal to what the code calls): an edited or half-updated role shows here."""
    from localcloud.template import sam_transform  # the template, as `sam build` reads it

    template = sam_transform(PROJECT_ROOT / "template.yaml")
    iam = target.client("iam")
    for logical_id, name in _of_type(resources, "AWS::IAM::Role"):
        expected = template.resources.get(logical_id, {}).get("Properties", {}).get("Policies", [])
        wanted = _allowed_actions(p["PolicyDocument"] for p in expected)
        granted = _allowed_actions(iam.get_role_policy(RoleName=name, PolicyName=policy)["PolicyDocument"]
                                   for policy in iam.list_role_policies(RoleName=name)["PolicyNames"])
        missing = sorted(wanted - granted)
        yield ("FAIL" if missing else "OK"), f"role {logical_id}", \
            f"lacks {missing}" if missing else f"grants the {len(wanted)} actions the template gives it"


def _allowed_actions(documents: Iterable[str | dict[str, Any]]) -> set[str]:
    """The actions the Allow statements of policy documents name (a document may come as JSON text)."""
    found: set[str] = set()
    for document in documents:
        parsed = json.loads(document) if isinstance(document, str) else document
        statements = parsed["Statement"] if isinstance(parsed["Statement"], list) else [parsed["Statement"]]
        for statement in statements:
            if statement["Effect"] == "Allow":
                actions = statement["Action"]
                found.update(actions if isinstance(actions, list) else [actions])
    return found
