"""Creators for where the data is kept: keys, buckets and their policies, tables. Part of StackBuilder."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from localcloud.intrinsics import TemplateError

if TYPE_CHECKING:
    from localcloud.stack import DeployedStack, StackBuilder


class Storage:
    if TYPE_CHECKING:  # what StackBuilder, the class these creators are part of, gives them
        stack: DeployedStack

        def client(self, service: str) -> Any: ...
        def _name(self, logical_id: str, limit: int = 64) -> str: ...

    def _kms_key(self, logical_id: str, props: dict[str, Any]) -> None:
        kms = self.client("kms")
        key = kms.create_key(Description=props.get("Description", logical_id), Policy=json.dumps(props["KeyPolicy"]),
                             KeySpec=props.get("KeySpec", "SYMMETRIC_DEFAULT"),
                             KeyUsage=props.get("KeyUsage", "ENCRYPT_DECRYPT"))
        key_id = key["KeyMetadata"]["KeyId"]
        if props.get("EnableKeyRotation"):
            kms.enable_key_rotation(KeyId=key_id)
        self.stack.physical[logical_id] = key_id
        self.stack.attributes[logical_id] = {"Arn": key["KeyMetadata"]["Arn"], "KeyId": key_id}

    def _kms_alias(self, logical_id: str, props: dict[str, Any]) -> None:
        self.client("kms").create_alias(AliasName=props["AliasName"], TargetKeyId=props["TargetKeyId"])
        self.stack.physical[logical_id] = props["AliasName"]

    def _bucket(self, logical_id: str, props: dict[str, Any]) -> None:
        s3 = self.client("s3")
        name = props.get("BucketName") or self._name(logical_id, 63).lower()
        s3.create_bucket(Bucket=name, ObjectLockEnabledForBucket=bool(props.get("ObjectLockEnabled")))
        if "BucketEncryption" in props:
            rules = [
                {
                    "ApplyServerSideEncryptionByDefault": rule["ServerSideEncryptionByDefault"],
                    **({"BucketKeyEnabled": rule["BucketKeyEnabled"]} if "BucketKeyEnabled" in rule else {}),
                }
                for rule in props["BucketEncryption"]["ServerSideEncryptionConfiguration"]
            ]
            s3.put_bucket_encryption(Bucket=name, ServerSideEncryptionConfiguration={"Rules": rules})
        if "PublicAccessBlockConfiguration" in props:
            s3.put_public_access_block(
                Bucket=name, PublicAccessBlockConfiguration=props["PublicAccessBlockConfiguration"]
            )
        if "VersioningConfiguration" in props:
            s3.put_bucket_versioning(
                Bucket=name, VersioningConfiguration={"Status": props["VersioningConfiguration"]["Status"]}
            )
        if "ObjectLockConfiguration" in props:
            lock = props["ObjectLockConfiguration"]
            retention = lock["Rule"]["DefaultRetention"]
            s3.put_object_lock_configuration(Bucket=name, ObjectLockConfiguration={
                "ObjectLockEnabled": lock["ObjectLockEnabled"],
                "Rule": {"DefaultRetention": {"Mode": retention["Mode"],
                                              **{k: int(retention[k]) for k in ("Days", "Years") if k in retention}}}})
        if "OwnershipControls" in props:
            s3.put_bucket_ownership_controls(Bucket=name, OwnershipControls=props["OwnershipControls"])
        if "LifecycleConfiguration" in props:
            s3.put_bucket_lifecycle_configuration(Bucket=name, LifecycleConfiguration={
                "Rules": [_lifecycle_rule(rule) for rule in props["LifecycleConfiguration"]["Rules"]]})
        notifications = props.get("NotificationConfiguration", {})
        lambda_configs = [
            {
                "LambdaFunctionArn": config["Function"],
                "Events": [config["Event"]],
                **({"Filter": {"Key": {"FilterRules": config["Filter"]["S3Key"]["Rules"]}}}
                   if "Filter" in config else {}),
            }
            for config in notifications.get("LambdaConfigurations", [])
        ]
        if lambda_configs:
            s3.put_bucket_notification_configuration(
                Bucket=name, NotificationConfiguration={"LambdaFunctionConfigurations": lambda_configs}
            )
        self.stack.physical[logical_id] = name
        self.stack.attributes[logical_id] = {
            "Arn": f"arn:aws:s3:::{name}",
            "DomainName": f"{name}.s3.amazonaws.com",
            "RegionalDomainName": f"{name}.s3.{self.stack.region}.amazonaws.com",
        }

    def _bucket_policy(self, logical_id: str, props: dict[str, Any]) -> None:
        document = dict(props["PolicyDocument"])
        # The local cloud speaks plain HTTP on 127.0.0.1, so a "deny unless TLS" statement
        # would deny every request; it stays in the template (and is tested there).
        document["Statement"] = [s for s in document["Statement"] if not _denies_plain_http(s)]
        if document["Statement"]:
            self.client("s3").put_bucket_policy(Bucket=props["Bucket"], Policy=json.dumps(document))
        self.stack.physical[logical_id] = props["Bucket"]

    def _table(self, logical_id: str, props: dict[str, Any]) -> None:
        dynamodb = self.client("dynamodb")
        name = props.get("TableName") or self._name(logical_id, 255)
        request: dict[str, Any] = {
            "TableName": name,
            "AttributeDefinitions": props["AttributeDefinitions"],
            "KeySchema": props["KeySchema"],
            "BillingMode": props.get("BillingMode", "PROVISIONED"),
        }
        if "GlobalSecondaryIndexes" in props:
            request["GlobalSecondaryIndexes"] = props["GlobalSecondaryIndexes"]
        if "DeletionProtectionEnabled" in props:
            request["DeletionProtectionEnabled"] = bool(props["DeletionProtectionEnabled"])
        if "ProvisionedThroughput" in props:
            request["ProvisionedThroughput"] = props["ProvisionedThroughput"]
        sse = props.get("SSESpecification")
        if sse:
            request["SSESpecification"] = {
                "Enabled": bool(sse.get("SSEEnabled")),
                **({"SSEType": sse["SSEType"]} if "SSEType" in sse else {}),
                **({"KMSMasterKeyId": sse["KMSMasterKeyId"]} if "KMSMasterKeyId" in sse else {}),
            }
        description = dynamodb.create_table(**request)["TableDescription"]
        ttl = props.get("TimeToLiveSpecification")
        if ttl:
            dynamodb.update_time_to_live(TableName=name, TimeToLiveSpecification=ttl)
        pitr = props.get("PointInTimeRecoverySpecification")
        if pitr:
            dynamodb.update_continuous_backups(
                TableName=name, PointInTimeRecoverySpecification=pitr
            )
        self.stack.physical[logical_id] = name
        self.stack.attributes[logical_id] = {"Arn": description["TableArn"]}

    CREATORS: dict[str, Callable[[StackBuilder, str, dict[str, Any]], None]] = {
        "AWS::KMS::Key": _kms_key,
        "AWS::KMS::Alias": _kms_alias,
        "AWS::S3::Bucket": _bucket,
        "AWS::S3::BucketPolicy": _bucket_policy,
        "AWS::DynamoDB::Table": _table,
    }


def _denies_plain_http(statement: dict[str, Any]) -> bool:
    condition = statement.get("Condition", {})
    return statement.get("Effect") == "Deny" and condition == {"Bool": {"aws:SecureTransport": "false"}}


def _lifecycle_rule(rule: dict[str, Any]) -> dict[str, Any]:
    """A CloudFormation lifecycle rule as the S3 API spells it."""
    api: dict[str, Any] = {"ID": rule["Id"], "Status": rule["Status"], "Filter": {"Prefix": rule.get("Prefix", "")}}
    if "NoncurrentVersionExpiration" in rule:
        api["NoncurrentVersionExpiration"] = {
            "NoncurrentDays": int(rule["NoncurrentVersionExpiration"]["NoncurrentDays"])}
    if "ExpiredObjectDeleteMarker" in rule and "ExpirationInDays" in rule:
        raise TemplateError(f"lifecycle rule {rule['Id']}: S3 refuses ExpiredObjectDeleteMarker with ExpirationInDays")
    if "ExpiredObjectDeleteMarker" in rule:
        api["Expiration"] = {"ExpiredObjectDeleteMarker": bool(rule["ExpiredObjectDeleteMarker"])}
    if "ExpirationInDays" in rule:
        api["Expiration"] = {"Days": int(rule["ExpirationInDays"])}
    if "AbortIncompleteMultipartUpload" in rule:
        api["AbortIncompleteMultipartUpload"] = {
            "DaysAfterInitiation": int(rule["AbortIncompleteMultipartUpload"]["DaysAfterInitiation"])}
    if unknown := set(rule) - {"Id", "Status", "Prefix", "NoncurrentVersionExpiration", "ExpiredObjectDeleteMarker",
                               "ExpirationInDays", "AbortIncompleteMultipartUpload"}:
        raise TemplateError(f"lifecycle rule {rule['Id']}: the local cloud does not map {', '.join(sorted(unknown))}")
    return api
