"""Build the template's resources in moto through the AWS APIs: conditions evaluated, resources in
dependency order, each property checked against what its creator honours.

moto's CloudFormation would drop S3 notifications and definition substitutions and keep its
state machines away from the executor, so the stack is built here instead, one resource
type at a time, by the creators of storage.py, compute.py and wiring.py. A type with no local
counterpart is refused loudly, never skipped silently: `LOCAL_ONLY_IN_AWS` lists the few that only
matter in AWS, with the reason.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3

from localcloud.compute import Compute
from localcloud.identity import Identity
from localcloud.intrinsics import Resolver, TemplateError, references
from localcloud.lambdas import LambdaRuntime
from localcloud.names import ACCOUNT_ID, LOCAL_CREDENTIALS
from localcloud.storage import Storage
from localcloud.template import TransformedTemplate
from localcloud.wiring import Wiring
from localcloud.workers import FunctionSpec

LOCAL_ONLY_IN_AWS = {
    "AWS::SQS::QueuePolicy": "who may use a queue beyond the roles' own grants: the local cloud's IAM decides by "
    "the roles' grants alone",
    "AWS::Lambda::Permission": "resource policies that let S3 and Function URLs call a function; "
    "locally the calls are made in-process",
}

# The properties each creator honours, and those it knowingly leaves to AWS (with why). Any other
# property stops the local cloud, naming it: a property silently dropped is a difference nobody sees.
_HONOURED: dict[str, set[str]] = {
    "AWS::KMS::Key": {"Description", "EnableKeyRotation", "KeyPolicy", "KeySpec", "KeyUsage"},
    "AWS::KMS::Alias": {"AliasName", "TargetKeyId"},
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
    "AWS::SQS::Queue": {"KmsMasterKeyId", "MessageRetentionPeriod", "QueueName", "RedrivePolicy", "VisibilityTimeout"},
    "AWS::Lambda::EventInvokeConfig": {"DestinationConfig", "FunctionName", "MaximumRetryAttempts", "Qualifier"},
    "AWS::Lambda::EventSourceMapping": {"BatchSize", "EventSourceArn", "FunctionName", "FunctionResponseTypes",
                                        "ScalingConfig"},
    "AWS::SNS::Topic": {"KmsMasterKeyId", "Subscription", "TopicName"},
    "AWS::CloudWatch::Alarm": {"AlarmActions", "AlarmDescription", "AlarmName", "ComparisonOperator", "Dimensions",
                               "EvaluationPeriods", "MetricName", "Namespace", "Period", "Statistic", "Threshold",
                               "TreatMissingData"},
    "AWS::Events::Rule": {"Description", "Name", "ScheduleExpression", "Targets"},
    "AWS::CloudWatch::Dashboard": {"DashboardBody", "DashboardName"},
    **Identity.HONOURED,
}
AWS_ONLY_PROPERTIES = {
    "Tags": "tags name resources for people and billing; nothing here reads them",
    "TracingConfig": "X-Ray: no trace daemon on a laptop (POWERTOOLS_TRACE_DISABLED)",
    "TracingConfiguration": "X-Ray: no trace daemon on a laptop",
    "LoggingConfig": "where Lambda writes a function's log lines; here they go to the console",
    "WarmThroughput": "an on-demand table's pre-warmed capacity: moto throttles nothing to warm",
    "ReservedConcurrentExecutions": "a share of the account's concurrency: the local runtime has no account limit (a "
                                    "queue's poller sends it one batch at a time)",
}

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


def _kept(item: dict[str, Any], conditions: dict[str, bool]) -> bool:
    """Whether a resource or output is in the stack: it names no condition, or a true one."""
    name = item.get("Condition")
    if name is None:
        return True
    if name not in conditions:
        raise TemplateError(f"no condition named {name}")
    return conditions[name]


class StackBuilder(Storage, Compute, Wiring, Identity):
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
        self._parameters = {  # (an empty Default is a value, as CloudFormation takes it; no Default is none)
            name: str(parameter_values.get(name, spec.get("Default")))
            for name, spec in template.parameters.items() if name in parameter_values or "Default" in spec
        }
        missing = [name for name in template.parameters if name not in self._parameters]
        if missing:
            raise TemplateError(f"parameters without a value: {', '.join(missing)}")
        self._resolver = Resolver(self._ref, self._get_att, lambda name: self._condition(name, set()))
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
                    "add a creator in localcloud/storage.py, compute.py or wiring.py"
                )
            properties = self._resolver.resolve(resource.get("Properties", {}))
            if unknown := set(properties) - _HONOURED.get(kind, set()) - set(AWS_ONLY_PROPERTIES):
                raise TemplateError(f"{logical_id} ({kind}) sets {', '.join(sorted(unknown))}, which the local "
                                    "cloud does not honour: honour it in its creator and in stack.py's _HONOURED")
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

    _CREATORS: dict[str, Callable[[StackBuilder, str, dict[str, Any]], None]] = {
        **Storage.CREATORS, **Compute.CREATORS, **Wiring.CREATORS, **Identity.CREATORS}


def supported_resource_types() -> set[str]:
    """Every resource type the local cloud creates or knowingly leaves to AWS."""
    return set(StackBuilder._CREATORS) | set(LOCAL_ONLY_IN_AWS)
