"""What one AWS request asks IAM, as the service authorisation reference describes it: the action,
and the ARN of each resource it touches (a DynamoDB transaction is one action per item, a query on an
index is on the index's ARN, an SES send in the sandbox is on the sender's and every recipient's
identity), with what S3, SQS and DynamoDB then ask KMS as the caller. Read off moto's parsed request."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote

from moto.dynamodb.models import dynamodb_backends
from moto.kms.models import kms_backends
from moto.s3.models import s3_backends
from moto.sqs.models import sqs_backends

from localcloud.names import ACCOUNT_ID
from localcloud.patches.stepfunctions import state_machine_of_token

_TRANSACTION_ITEMS = {"Put": "PutItem", "Update": "UpdateItem", "Delete": "DeleteItem",
                      "ConditionCheck": "ConditionCheckItem", "Get": "GetItem"}
_S3_ACTIONS = {"HeadObject": "GetObject", "HeadBucket": "ListBucket"}
_DYNAMODB_WRITES = {"PutItem", "UpdateItem", "DeleteItem", "BatchWriteItem"}
# Cognito operations that are not authorised by IAM (the service reference lists them unauthenticated).
_COGNITO_PUBLIC = {"InitiateAuth", "RespondToAuthChallenge", "AssociateSoftwareToken", "VerifySoftwareToken",
                   "GetUser", "GlobalSignOut", "RevokeToken", "ChangePassword", "SetUserMFAPreference"}


@dataclass(frozen=True)
class Request:
    """One authorisation: an IAM action on one resource, with the request's condition keys."""

    action: str
    resource: str
    context: tuple[tuple[str, str], ...] = ()


def requests_of(response: Any, service: str, action: str, resource: str, region: str) -> list[Request]:
    """The authorisations one API request needs (moto's response object holds the request)."""
    prefix = f"arn:aws:{service}:{region}:{ACCOUNT_ID}"
    if service == "s3":
        return list(_s3(response, action, unquote(resource), region))
    if service == "sqs":
        return [Request(f"sqs:{action}", resource), *_sqs_key_use(action, resource, region)]
    if service == "dynamodb":
        requests = list(_dynamodb(_body(response), action, prefix))
        return [*requests, *dict.fromkeys(k for r in requests for k in _table_key_use(r, region))]
    if service == "states":
        return [Request(f"states:{action}", _states_resource(_body(response)))]
    if service == "events" and action == "PutEvents":
        entries = _body(response).get("Entries", [])
        sent = {(e.get("EventBusName", "default"), e.get("Source", "")) for e in entries} or {("default", "")}
        return [Request("events:PutEvents", bus if bus.startswith("arn:") else f"{prefix}:event-bus/{bus}",
                        (("events:source", source),)) for bus, source in sorted(sent)]
    if service == "ses" and action in ("SendRawEmail", "SendEmail"):
        sender = _address(response._get_param("Source") or "")
        destination = response._get_param("Destination", {}) or {}
        recipients = list(response._get_param("Destinations", []) or []) + [
            a for kind in ("ToAddresses", "CcAddresses", "BccAddresses") for a in destination.get(kind, [])]
        # In the SES sandbox the recipients' identities are authorised too.
        context = (("ses:FromAddress", sender), *(("ses:Recipients", _address(r)) for r in recipients))
        return [Request(f"ses:{action}", f"{prefix}:identity/{identity}", context)
                for identity in dict.fromkeys([sender, *map(_address, recipients)])]
    if service == "kms":
        body = _body(response)
        key = body.get("KeyId", "*")
        context = tuple(("kms:EncryptionContextKeys", name) for name in body.get("EncryptionContext") or {})
        return [Request(f"kms:{action}", _key_arn(key, region) if key != "*" else "*", context)]
    if service == "lambda" and action == "Invoke":
        name = unquote(response.path.split("/functions/", 1)[1].split("/", 1)[0])
        arn = name if name.startswith("arn:") else f"{prefix}:function:{name}"
        return [Request("lambda:InvokeFunction", arn)]
    if service == "sts" and action == "GetCallerIdentity":
        return []  # always allowed
    if service == "cognito-idp":
        if action in _COGNITO_PUBLIC:
            return []  # the user's own sign-in: Cognito authorises it by the user's password, code or token
        return [Request(f"cognito-idp:{action}", f"{prefix}:userpool/{_body(response).get('UserPoolId', '*')}")]
    return [Request(f"{service}:{action}", resource)]


def _body(response: Any) -> dict[str, Any]:
    """A JSON request's body (moto may have parsed it already)."""
    body = response.body
    if isinstance(body, dict):
        return body
    return json.loads(body) if body else {}


def _key_arn(key: str, region: str) -> str:
    """A KMS key's ARN, from its id, ARN or alias."""
    return str(kms_backends[ACCOUNT_ID][region].describe_key(key).arn)


def _table_key_use(request: Request, region: str) -> Iterator[Request]:
    """DynamoDB uses a table's customer managed key as the caller (kms:ViaService dynamodb): reading
    needs kms:Decrypt, writing kms:GenerateDataKey too, as the AWS CDK's table grants give them."""
    name = request.resource.split(":table/", 1)[-1].split("/", 1)[0]
    try:
        sse = dynamodb_backends[ACCOUNT_ID][region].get_table(name).sse_specification or {}
    except Exception:  # no such table: DynamoDB itself answers that
        return
    if sse.get("Enabled") and sse.get("KMSMasterKeyId"):
        key = _key_arn(sse["KMSMasterKeyId"], region)
        yield Request("kms:Decrypt", key)
        if request.action.split(":", 1)[1] in _DYNAMODB_WRITES:
            yield Request("kms:GenerateDataKey", key)


def _s3(response: Any, action: str, resource: str, region: str) -> Iterator[Request]:
    """The object or bucket request, and what S3 asks KMS as the caller for an encrypted bucket: a data
    key to write an object, a decryption to read one (a copy reads its source, then writes)."""
    context = (("s3:prefix", response.querystring["prefix"][0]),) if "prefix" in response.querystring else ()
    source = response.headers.get("x-amz-copy-source")
    if source:
        source_bucket, _, source_key = unquote(source.split("?", 1)[0]).lstrip("/").partition("/")
        # A copy of one version of the source reads that version (s3:GetObjectVersion), as its GET would.
        read = "s3:GetObjectVersion" if "versionId=" in source else "s3:GetObject"
        yield Request(read, f"arn:aws:s3:::{source_bucket}/{source_key}")
        if not _object_exists(source_bucket, source_key):
            yield Request("s3:ListBucket", f"arn:aws:s3:::{source_bucket}")
        yield from _bucket_key_use("kms:Decrypt", source_bucket, region)
    yield Request(f"s3:{_S3_ACTIONS.get(action, action)}", resource, context)
    bucket, _, key = resource.removeprefix("arn:aws:s3:::").partition("/")
    if action in ("GetObject", "HeadObject") and key and not _object_exists(bucket, key):
        # S3 says NoSuchKey only to a caller who may list the bucket; to others, AccessDenied.
        # https://docs.aws.amazon.com/AmazonS3/latest/API/API_GetObject.html#API_GetObject_RequestSyntax
        yield Request("s3:ListBucket", f"arn:aws:s3:::{bucket}")
    if action in ("GetObject", "GetObjectVersion"):
        yield from _bucket_key_use("kms:Decrypt", bucket, region)
    elif action == "PutObject":
        yield from _bucket_key_use("kms:GenerateDataKey", bucket, region)


def _object_exists(bucket: str, key: str) -> bool:
    try:
        return s3_backends[ACCOUNT_ID]["aws"].get_object(bucket, key) is not None
    except Exception:  # no such bucket
        return False


def _bucket_key_use(action: str, bucket: str, region: str) -> Iterator[Request]:
    try:
        encryption = s3_backends[ACCOUNT_ID]["aws"].get_bucket_encryption(bucket)
    except Exception:  # no such bucket: S3 itself answers that
        return
    key = _find(encryption or {}, "KMSMasterKeyID")
    if key:
        yield Request(action, _key_arn(key, region))


def _sqs_key_use(action: str, queue_arn: str, region: str) -> Iterator[Request]:
    """SQS asks KMS as the caller: a data key (and its decryption) to send, a decryption to receive."""
    kinds = {"SendMessage": ("kms:GenerateDataKey", "kms:Decrypt"), "SendMessageBatch": ("kms:GenerateDataKey",
             "kms:Decrypt"), "ReceiveMessage": ("kms:Decrypt",)}.get(action, ())
    if not kinds:
        return
    try:
        queue = sqs_backends[ACCOUNT_ID][region].get_queue(queue_arn.rsplit(":", 1)[-1])
        key = getattr(queue, "kms_master_key_id", None)  # set from the KmsMasterKeyId attribute
    except Exception:  # no such queue: SQS itself answers that
        return
    if key:
        arn = _key_arn(key, region)
        yield from (Request(kind, arn) for kind in kinds)


def _find(value: Any, name: str) -> str | None:
    if isinstance(value, dict):
        for key, item in value.items():
            found = str(item) if key == name else _find(item, name)
            if found:
                return found
    elif isinstance(value, list):
        for item in value:
            if found := _find(item, name):
                return found
    return None


def _dynamodb(body: dict[str, Any], action: str, prefix: str) -> Iterator[Request]:
    def table(name: str, index: str | None = None) -> str:
        arn = name if name.startswith("arn:") else f"{prefix}:table/{name}"
        return f"{arn}/index/{index}" if index else arn

    if action in ("TransactWriteItems", "TransactGetItems"):
        for item in body.get("TransactItems", []):
            (kind, detail), = item.items()
            yield Request(f"dynamodb:{_TRANSACTION_ITEMS[kind]}", table(detail["TableName"]))
    elif action in ("BatchWriteItem", "BatchGetItem"):
        for name in body.get("RequestItems", {}):
            yield Request(f"dynamodb:{action}", table(name))
    else:
        yield Request(f"dynamodb:{action}", table(body.get("TableName", "*"), body.get("IndexName")))


def _states_resource(body: dict[str, Any]) -> str:
    if "stateMachineArn" in body:
        return str(body["stateMachineArn"])
    if "executionArn" in body:
        return str(body["executionArn"])
    if "taskToken" in body:  # a callback token answers for the state machine that waits on it
        return state_machine_of_token(str(body["taskToken"])) or "*"
    return "*"


def _address(value: str) -> str:
    match = re.search(r"<([^>]+)>", value)
    return (match.group(1) if match else value).strip()
