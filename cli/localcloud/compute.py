"""Creators for what runs: roles, layers, functions and their URLs, state machines, log groups, mail
identities. Part of StackBuilder; a function is also registered with the local runtime that runs it."""

from __future__ import annotations

import functools
import io
import json
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from localcloud.intrinsics import TemplateError
from localcloud.names import ACCOUNT_ID
from localcloud.workers import FunctionSpec

if TYPE_CHECKING:
    from localcloud.lambdas import LambdaRuntime
    from localcloud.stack import DeployedStack, ServeFunctionUrl, StackBuilder
    from localcloud.template import TransformedTemplate

# What SAM attaches to a function's or state machine's role: logs and traces, which Lambda and Step
# Functions write; the code never calls them. Any other managed policy stops the local cloud.
SAM_MANAGED_POLICIES = {"arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole",
                        "arn:aws:iam::aws:policy/AWSXrayWriteOnlyAccess"}


class Compute:
    if TYPE_CHECKING:  # what StackBuilder, the class these creators are part of, gives them
        stack: DeployedStack
        template: TransformedTemplate
        _runtime: LambdaRuntime
        _serve_function_url: ServeFunctionUrl
        _function_environment: dict[str, str]
        _function_overrides: dict[str, str]
        _runtime_python: Callable[[str], str]
        _role_credentials: Callable[[str, str], dict[str, str]] | None
        _layer_dirs: dict[str, Path]

        def client(self, service: str) -> Any: ...
        def _name(self, logical_id: str, limit: int = 64) -> str: ...

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

    CREATORS: dict[str, Callable[[StackBuilder, str, dict[str, Any]], None]] = {
        "AWS::IAM::Role": _role,
        "AWS::Lambda::LayerVersion": _layer,
        "AWS::Lambda::Function": _function,
        "AWS::Lambda::Url": _function_url,
        "AWS::StepFunctions::StateMachine": _state_machine,
        "AWS::SES::EmailIdentity": _email_identity,
        "AWS::Logs::LogGroup": _log_group,
    }


def _zip_of(directory: Path) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for path in sorted(directory.rglob("*")):
            if path.is_file() and "__pycache__" not in path.parts:
                archive.write(path, path.relative_to(directory))
    return buffer.getvalue()
