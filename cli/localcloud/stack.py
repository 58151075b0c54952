"""Create the template's resources in moto through the AWS APIs, in dependency order.

moto's CloudFormation would drop S3 notifications and definition substitutions and keep its
state machines away from the executor, so the stack is built here instead, one resource
type at a time. A type with no local counterpart is refused loudly, never skipped silently:
`LOCAL_ONLY_IN_AWS` lists the few that only matter in AWS, with the reason.
"""

from __future__ import annotations

import functools
import io
import json
import sys
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3

from localcloud.intrinsics import Resolver, TemplateError, references
from localcloud.lambdas import FunctionSpec, LambdaRuntime
from localcloud.names import ACCOUNT_ID, LOCAL_CREDENTIALS
from localcloud.template import TransformedTemplate
from localcloud.wiring import Wiring

LOCAL_ONLY_IN_AWS = {
    "AWS::Lambda::Permission": "resource policies that let S3 and Function URLs call a function; "
    "locally the calls are made in-process",
}

# The properties each creator honours, and those it knowingly leaves to AWS (with why). Any other
# property stops the local cloud, naming it: a property silently dropped is a difference nobody sees.
_HONOURED: dict[str, set[str]] = {
    "AWS::KMS::Key": {"Description", "EnableKeyRotation", "KeyPolicy", "KeySpec", "KeyUsage"},
    "AWS::S3::Bucket": {"BucketEncryption", "BucketName", "LifecycleConfiguration", "NotificationConfiguration",
                        "ObjectLockConfiguration", "ObjectLockEnabled", "OwnershipControls",
                        "PublicAccessBlockConfiguration", "VersioningConfiguration"},
    "AWS::S3::BucketPolicy": {"Bucket", "PolicyDocument"},
    "AWS::DynamoDB::Table": {"AttributeDefinitions", "BillingMode", "DeletionProtectionEnabled",
                             "GlobalSecondaryIndexes", "KeySchema", "PointInTimeRecoverySpecification",
                             "ProvisionedThroughput", "SSESpecification", "TableName", "TimeToLiveSpecification"},
    "AWS::IAM::Role": {"AssumeRolePolicyDocument", "Description", "ManagedPolicyArns", "Policies", "RoleName"},
    "AWS::Lambda::LayerVersion": {"CompatibleArchitectures", "CompatibleRuntimes", "Content", "Description",
                                  "LayerName"},
    "AWS::Lambda::Function": {"Architectures", "Code", "Description", "Environment", "FunctionName", "Handler",
                              "Layers", "MemorySize", "Role", "Runtime", "Timeout"},
    "AWS::Lambda::Url": {"AuthType", "TargetFunctionArn"},
    "AWS::StepFunctions::StateMachine": {"DefinitionS3Location", "DefinitionSubstitutions", "RoleArn",
                                         "StateMachineName", "StateMachineType"},
    "AWS::SES::EmailIdentity": {"EmailIdentity"},
    "AWS::Logs::LogGroup": {"LogGroupName", "RetentionInDays"},
    "AWS::SQS::Queue": {"KmsMasterKeyId", "MessageRetentionPeriod", "QueueName", "VisibilityTimeout"},
    "AWS::Lambda::EventInvokeConfig": {"DestinationConfig", "FunctionName", "MaximumRetryAttempts", "Qualifier"},
    "AWS::Lambda::EventSourceMapping": {"BatchSize", "EventSourceArn", "FunctionName", "FunctionResponseTypes"},
    "AWS::SNS::Topic": {"KmsMasterKeyId", "Subscription", "TopicName"},
    "AWS::CloudWatch::Alarm": {"AlarmActions", "AlarmDescription", "AlarmName", "ComparisonOperator", "Dimensions",
                               "EvaluationPeriods", "MetricName", "Namespace", "Period", "Statistic", "Threshold",
                               "TreatMissingData"},
    "AWS::Events::Rule": {"Description", "Name", "ScheduleExpression", "Targets"},
}
AWS_ONLY_PROPERTIES = {
    "Tags": "tags name resources for people and billing; nothing here reads them",
    "TracingConfig": "X-Ray: no trace daemon on a laptop (POWERTOOLS_TRACE_DISABLED)",
    "TracingConfiguration": "X-Ray: no trace daemon on a laptop",
    "LoggingConfig": "where Lambda writes a function's log lines; here they go to the console",
}

# What SAM attaches to a function's or state machine's role: logs and traces, which Lambda and Step
# Functions write; the code never calls them. Any other managed policy stops the local cloud.
SAM_MANAGED_POLICIES = {"arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole",
                        "arn:aws:iam::aws:policy/AWSXrayWriteOnlyAccess"}

ServeFunctionUrl = Callable[[str, str], str]
Every = Callable[[float, Callable[[], None], str], None]  # run a task every N seconds until the cloud stops


@dataclass
class DeployedStack:
    """Physical names, attributes and resolved outputs of the local stack."""

    name: str
    region: str
    physical: dict[str, str] = field(default_factory=dict)
    attributes: dict[str, dict[str, str]] = field(default_factory=dict)
    outputs: dict[str, str] = field(default_factory=dict)
    functions: dict[str, FunctionSpec] = field(default_factory=dict)


def _dependency_order(resources: dict[str, dict[str, Any]]) -> list[str]:
    order: list[str] = []
    state: dict[str, str] = {}

    def visit(logical_id: str) -> None:
        if state.get(logical_id) == "done":
            return
        if state.get(logical_id) == "visiting":
            raise TemplateError(f"circular dependency through {logical_id}")
        state[logical_id] = "visiting"
        resource = resources[logical_id]
        depends = resource.get("DependsOn", [])
        needed = references(resource.get("Properties", {})) | set(
            [depends] if isinstance(depends, str) else depends
        )
        for name in sorted(needed & resources.keys()):
            visit(name)
        state[logical_id] = "done"
        order.append(logical_id)

    for logical_id in resources:
        visit(logical_id)
    return order


def _denies_plain_http(statement: dict[str, Any]) -> bool:
    condition = statement.get("Condition", {})
    return statement.get("Effect") == "Deny" and condition == {"Bool": {"aws:SecureTransport": "false"}}


def _kept(item: dict[str, Any], conditions: dict[str, bool]) -> bool:
    """Whether a resource or output is in the stack: it names no condition, or a true one."""
    name = item.get("Condition")
    if name is None:
        return True
    if name not in conditions:
        raise TemplateError(f"no condition named {name}")
    return conditions[name]


def _lifecycle_rule(rule: dict[str, Any]) -> dict[str, Any]:
    """A CloudFormation lifecycle rule as the S3 API spells it."""
    api: dict[str, Any] = {"ID": rule["Id"], "Status": rule["Status"], "Filter": {"Prefix": rule.get("Prefix", "")}}
    if "NoncurrentVersionExpiration" in rule:
        api["NoncurrentVersionExpiration"] = {
            "NoncurrentDays": int(rule["NoncurrentVersionExpiration"]["NoncurrentDays"])}
    if "ExpiredObjectDeleteMarker" in rule:
        api["Expiration"] = {"ExpiredObjectDeleteMarker": bool(rule["ExpiredObjectDeleteMarker"])}
    if "AbortIncompleteMultipartUpload" in rule:
        api["AbortIncompleteMultipartUpload"] = {
            "DaysAfterInitiation": int(rule["AbortIncompleteMultipartUpload"]["DaysAfterInitiation"])}
    if unknown := set(rule) - {"Id", "Status", "Prefix", "NoncurrentVersionExpiration", "ExpiredObjectDeleteMarker",
                               "AbortIncompleteMultipartUpload"}:
        raise TemplateError(f"lifecycle rule {rule['Id']}: the local cloud does not map {', '.join(sorted(unknown))}")
    return api


def _zip_of(directory: Path) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for path in sorted(directory.rglob("*")):
            if path.is_file() and "__pycache__" not in path.parts:
                archive.write(path, path.relative_to(directory))
    return buffer.getvalue()


class StackBuilder(Wiring):
    """Builds one stack from a transformed template into the moto server at `endpoint_url`."""

    def __init__(
        self,
        template: TransformedTemplate,
        stack_name: str,
        parameter_values: dict[str, str],
        endpoint_url: str,
        runtime: LambdaRuntime,
        serve_function_url: ServeFunctionUrl,
        every: Every,
        function_environment: dict[str, str],
        region: str = "us-east-1",
        function_overrides: dict[str, str] | None = None,
        runtime_python: Callable[[str], str] = lambda runtime: sys.executable,
        role_credentials: Callable[[str, str], dict[str, str]] | None = None,
    ) -> None:
        self.template = template
        self.stack = DeployedStack(stack_name, region)
        self._runtime = runtime
        self._serve_function_url = serve_function_url
        self._every = every
        self._function_environment = function_environment
        self._function_overrides = function_overrides or {}
        self._runtime_python = runtime_python
        self._role_credentials = role_credentials
        self._session = boto3.session.Session(
            aws_access_key_id=LOCAL_CREDENTIALS["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=LOCAL_CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
            region_name=region,
        )
        self._endpoint_url = endpoint_url
        self._parameters = {
            name: str(parameter_values.get(name, spec.get("Default", "")))
            for name, spec in template.parameters.items()
        }
        missing = [name for name, value in self._parameters.items() if value == ""]
        if missing:
            raise TemplateError(f"parameters without a value: {', '.join(missing)}")
        self._resolver = Resolver(self._ref, self._get_att)
        self._layer_dirs: dict[str, Path] = {}

    def client(self, service: str) -> Any:
        return self._session.client(service, endpoint_url=self._endpoint_url)

    # -- intrinsic answers ----------------------------------------------------------------
    def _ref(self, name: str) -> str:
        pseudo = {
            "AWS::AccountId": ACCOUNT_ID,
            "AWS::Region": self.stack.region,
            "AWS::StackName": self.stack.name,
            "AWS::Partition": "aws",
            "AWS::URLSuffix": "amazonaws.com",
            "AWS::StackId": f"arn:aws:cloudformation:{self.stack.region}:{ACCOUNT_ID}:stack/{self.stack.name}/local",
        }
        if name in pseudo:
            return pseudo[name]
        if name in self._parameters:
            return self._parameters[name]
        if name in self.stack.physical:
            return self.stack.physical[name]
        raise TemplateError(f"Ref to {name}, which is not created yet or not in the template")

    def _get_att(self, logical_id: str, attribute: str) -> str:
        try:
            return self.stack.attributes[logical_id][attribute]
        except KeyError:
            raise TemplateError(f"Fn::GetAtt {logical_id}.{attribute} is not known locally") from None

    def _name(self, logical_id: str, limit: int = 64) -> str:
        return f"{self.stack.name}-{logical_id}"[:limit]

    # -- building -------------------------------------------------------------------------
    def build(self) -> DeployedStack:
        conditions = {name: self._condition(name, set()) for name in self.template.conditions}
        resources = {k: r for k, r in self.template.resources.items() if _kept(r, conditions)}
        for logical_id in _dependency_order(resources):
            resource = resources[logical_id]
            kind = resource["Type"]
            if kind in LOCAL_ONLY_IN_AWS:
                continue
            creator = self._CREATORS.get(kind)
            if creator is None:
                raise TemplateError(
                    f"{logical_id} is a {kind}, which the local cloud does not create yet: "
                    "add a creator in localcloud/stack.py"
                )
            properties = self._resolver.resolve(resource.get("Properties", {}))
            if unknown := set(properties) - _HONOURED.get(kind, set()) - set(AWS_ONLY_PROPERTIES):
                raise TemplateError(f"{logical_id} ({kind}) sets {', '.join(sorted(unknown))}, which the local "
                                    "cloud does not honour: honour it in localcloud/stack.py")
            creator(self, logical_id, properties)
        self.stack.outputs = {
            name: str(self._resolver.resolve(output["Value"])) for name, output in self.template.outputs.items()
            if _kept(output, conditions)
        }
        return self.stack

    def _condition(self, name: str, seen: set[str]) -> bool:
        """A template condition's value (Fn::Equals, Fn::Not, Fn::And, Fn::Or, Condition)."""
        if name in seen:
            raise TemplateError(f"condition {name} refers to itself")

        def evaluate(value: Any) -> bool:
            (function, argument), = value.items()
            if function == "Condition":
                return self._condition(argument, seen | {name})
            if function == "Fn::Equals":
                left, right = (self._resolver.resolve(v) for v in argument)
                return str(left) == str(right)
            if function == "Fn::Not":
                return not evaluate(argument[0])
            if function == "Fn::And":
                return all(evaluate(v) for v in argument)
            if function == "Fn::Or":
                return any(evaluate(v) for v in argument)
            raise TemplateError(f"condition {name}: the local cloud cannot evaluate {function}")

        try:
            return evaluate(self.template.conditions[name])
        except KeyError:
            raise TemplateError(f"no condition named {name}") from None

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

    def _role(self, logical_id: str, props: dict[str, Any]) -> None:
        if extra := set(props.get("ManagedPolicyArns", [])) - SAM_MANAGED_POLICIES:
            raise TemplateError(f"{logical_id} attaches {sorted(extra)}: the local cloud evaluates inline policies "
                                "only, so a managed policy would grant unseen; write its statements inline")
        iam = self.client("iam")
        name = props.get("RoleName") or self._name(logical_id, 64)
        role = iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(props["AssumeRolePolicyDocument"]))
        for policy in props.get("Policies", []):
            # CloudFormation assumes the current policy language when a document names none.
            document = {"Version": "2012-10-17", **policy["PolicyDocument"]}
            iam.put_role_policy(RoleName=name, PolicyName=policy["PolicyName"], PolicyDocument=json.dumps(document))
        # AWS managed policies (basic execution, X-Ray) are not loaded into moto; they grant
        # logging and tracing only, which the local cloud does not enforce anyway.
        self.stack.physical[logical_id] = name
        self.stack.attributes[logical_id] = {"Arn": role["Role"]["Arn"], "RoleId": role["Role"]["RoleId"]}

    def _layer(self, logical_id: str, props: dict[str, Any]) -> None:
        directory = self.template.local_paths[logical_id]
        layer = self.client("lambda").publish_layer_version(
            LayerName=props.get("LayerName") or self._name(logical_id, 64),
            Content={"ZipFile": _zip_of(directory)},
            CompatibleRuntimes=props.get("CompatibleRuntimes", []),
            CompatibleArchitectures=props.get("CompatibleArchitectures", []),
        )
        self.stack.physical[logical_id] = layer["LayerVersionArn"]
        self.stack.attributes[logical_id] = {"LayerVersionArn": layer["LayerVersionArn"]}
        # A Python layer's code lives in python/ (what Lambda puts on the path).
        self._layer_dirs[layer["LayerVersionArn"]] = directory / "python"

    def _function(self, logical_id: str, props: dict[str, Any]) -> None:
        code_dir = self.template.local_paths[logical_id]
        name = props.get("FunctionName") or self._name(logical_id, 64)
        environment = props.get("Environment", {}).get("Variables", {})
        layers = props.get("Layers", [])
        created = self.client("lambda").create_function(
            FunctionName=name,
            Runtime=props["Runtime"],
            Role=props["Role"],
            Handler=props["Handler"],
            Code={"ZipFile": _zip_of(code_dir)},
            Description=props.get("Description", ""),
            Timeout=int(props.get("Timeout", 3)),
            MemorySize=int(props.get("MemorySize", 128)),
            Environment={"Variables": environment},
            Layers=layers,
            Architectures=props.get("Architectures", ["x86_64"]),
        )
        spec = FunctionSpec(
            name=name,
            arn=created["FunctionArn"],
            code_dir=code_dir,
            handler=props["Handler"],
            environment={
                **self._function_environment,
                **{k: str(v) for k, v in environment.items()},
                **self._function_overrides,
            },
            layer_dirs=[self._layer_dirs[arn] for arn in layers],
            timeout=int(props.get("Timeout", 3)),
            memory=int(props.get("MemorySize", 128)),
            python=self._runtime_python(props["Runtime"]),
        )
        if self._role_credentials is not None:  # each worker calls AWS as the function's own role
            spec.credentials = functools.partial(self._role_credentials, name, props["Role"])
        self._runtime.register(spec)
        self.stack.functions[logical_id] = spec
        self.stack.physical[logical_id] = name
        self.stack.attributes[logical_id] = {"Arn": created["FunctionArn"]}

    def _function_url(self, logical_id: str, props: dict[str, Any]) -> None:
        function = props["TargetFunctionArn"]
        self.client("lambda").create_function_url_config(FunctionName=function, AuthType=props["AuthType"])
        # In AWS the URL is https://<id>.lambda-url.<region>.on.aws/; here, a port on 127.0.0.1.
        url = self._serve_function_url(function, props["AuthType"])
        self.stack.physical[logical_id] = url
        self.stack.attributes[logical_id] = {"FunctionUrl": url, "FunctionArn": function}

    def _state_machine(self, logical_id: str, props: dict[str, Any]) -> None:
        definition = self.template.local_paths[logical_id].read_text(encoding="utf-8")
        for key, value in props.get("DefinitionSubstitutions", {}).items():
            definition = definition.replace("${" + key + "}", str(value))
        name = props.get("StateMachineName") or self._name(logical_id, 80)
        created = self.client("stepfunctions").create_state_machine(
            name=name, definition=definition, roleArn=props["RoleArn"], type=props.get("StateMachineType", "STANDARD")
        )
        arn = created["stateMachineArn"]
        self.stack.physical[logical_id] = arn
        self.stack.attributes[logical_id] = {"Arn": arn, "Name": name}

    def _email_identity(self, logical_id: str, props: dict[str, Any]) -> None:
        self.client("ses").verify_email_identity(EmailAddress=props["EmailIdentity"])
        self.stack.physical[logical_id] = props["EmailIdentity"]
        self.stack.attributes[logical_id] = {}

    def _log_group(self, logical_id: str, props: dict[str, Any]) -> None:
        name = props.get("LogGroupName") or f"/local/{self._name(logical_id, 200)}"
        logs = self.client("logs")
        logs.create_log_group(logGroupName=name)
        if "RetentionInDays" in props:
            logs.put_retention_policy(logGroupName=name, retentionInDays=int(props["RetentionInDays"]))
        self.stack.physical[logical_id] = name
        self.stack.attributes[logical_id] = {"Arn": f"arn:aws:logs:{self.stack.region}:{ACCOUNT_ID}:log-group:{name}"}

    _CREATORS: dict[str, Callable[[StackBuilder, str, dict[str, Any]], None]] = {
        "AWS::KMS::Key": _kms_key,
        "AWS::S3::Bucket": _bucket,
        "AWS::S3::BucketPolicy": _bucket_policy,
        "AWS::DynamoDB::Table": _table,
        "AWS::IAM::Role": _role,
        "AWS::Lambda::LayerVersion": _layer,
        "AWS::Lambda::Function": _function,
        "AWS::Lambda::Url": _function_url,
        "AWS::StepFunctions::StateMachine": _state_machine,
        "AWS::SES::EmailIdentity": _email_identity,
        **Wiring.CREATORS,
        "AWS::Logs::LogGroup": _log_group,
    }


def supported_resource_types() -> set[str]:
    """Every resource type the local cloud creates or knowingly leaves to AWS."""
    return set(StackBuilder._CREATORS) | set(LOCAL_ONLY_IN_AWS)
