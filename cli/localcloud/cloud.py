"""One object that starts moto, builds the stack from template.yaml and serves its URLs."""

from __future__ import annotations

import json
import logging
import os
import tomllib
import urllib.request
from collections.abc import Callable
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import boto3

from localcloud import memory
from localcloud.build import build, runtime_python
from localcloud.iam import Enforcer
from localcloud.identity import make_demo_users
from localcloud.lambdas import LambdaRuntime
from localcloud.mailbox import Mailbox
from localcloud.meter import Meter, metered
from localcloud.names import (
    DEFAULT_STACK_NAME,
    LOCAL_CREDENTIALS,
    connection,
    outputs_parameter,
    resources_parameter,
)
from localcloud.patches import dynamodb, stepfunctions
from localcloud.patches.awslambda import run_lambdas_in_process
from localcloud.patches.iam import enforced
from localcloud.patches.routing import routing_worked_out_once
from localcloud.patches.s3 import uploads_notify_once
from localcloud.patches.ses import sending_rate_kept
from localcloud.schedules import every
from localcloud.server import KeptAliveMotoServer
from localcloud.stack import DeployedStack, StackBuilder
from localcloud.template import sam_transform
from localcloud.web import serve_console, serve_function_url


def profile_parameters(samconfig: Path, profile: str) -> dict[str, str]:
    """The parameter_overrides of one samconfig.toml environment (`sam deploy --config-env`)."""
    if not samconfig.exists():
        return {}
    config = tomllib.loads(samconfig.read_text(encoding="utf-8"))
    overrides = config.get(profile, {}).get("deploy", {}).get("parameters", {}).get("parameter_overrides", [])
    if isinstance(overrides, str):
        overrides = overrides.split()
    return dict(item.split("=", 1) for item in overrides)


class LocalCloud:
    """The local cloud: `with LocalCloud(root) as cloud:` gives a running stack."""

    def __init__(
        self,
        root: Path,
        port: int = 0,
        stack_name: str = DEFAULT_STACK_NAME,
        region: str = "us-east-1",
        profile: str = "local",
        parameter_overrides: dict[str, str] | None = None,
        quiet: bool = False,
        demo_users: bool = False,
    ) -> None:
        """`quiet` keeps the functions' log lines and metrics off the console (the demo prints
        its own account of what happened)."""
        self.root = root
        self.region = region
        self.stack_name = stack_name
        self._port = port
        self._parameters = {**profile_parameters(root / "samconfig.toml", profile), **(parameter_overrides or {})}
        self._quiet = quiet
        self._demo_users = demo_users
        self.users: dict[str, Any] = {}  # the demo users (`refunds users --json`), when made
        self._exit = ExitStack()
        self.runtime = LambdaRuntime(pycache=root / ".aws-sam" / "pycache")
        self.mailbox = Mailbox(region)
        self.iam = Enforcer(region)
        self.meter = self.runtime.meter = Meter()  # what the product's functions were served, as AWS bills it
        self.stack: DeployedStack | None = None
        self.endpoint_url = ""
        self.console_url = ""

    # -- lifecycle ------------------------------------------------------------------------
    def start(self) -> LocalCloud:
        try:
            self._start()
        except BaseException:
            self.stop()
            raise
        return self

    def _start(self) -> None:
        for key, value in {**LOCAL_CREDENTIALS, "AWS_DEFAULT_REGION": self.region}.items():
            os.environ.setdefault(key, value)
        logging.getLogger("werkzeug").setLevel(logging.ERROR)  # no request log: URLs carry ids
        # The executor logs every task failure at length; the execution history keeps them.
        logging.getLogger("moto.stepfunctions.parser").setLevel(logging.CRITICAL)
        memory.fewer_arenas()
        server = KeptAliveMotoServer(ip_address="127.0.0.1", port=self._port, verbose=False)
        server.start()
        self._exit.callback(server.stop)
        host, port = server.get_host_and_port()
        self.endpoint_url = f"http://{host}:{port}"
        # moto's Step Functions executor calls Lambda over HTTP on this port.
        # moto reaches its own server through MOTO_PORT; a second local cloud in the same process
        # (a test's) must hand it back when it stops.
        previous_port = os.environ.get("MOTO_PORT")
        os.environ["MOTO_PORT"] = str(port)
        self._exit.callback(_restore_env, "MOTO_PORT", previous_port)
        # Cognito checks TOTP codes (moto reads this at each check), as AWS does.
        self._exit.callback(_restore_env, TOTP_SWITCH, os.environ.get(TOTP_SWITCH))
        os.environ[TOTP_SWITCH] = "true"
        self._moto_config({"stepfunctions": {"execute_state_machine": True}})
        self._exit.enter_context(run_lambdas_in_process(self.runtime))
        self._exit.enter_context(routing_worked_out_once())
        self._exit.enter_context(uploads_notify_once())
        self._exit.enter_context(sending_rate_kept())
        self._exit.enter_context(dynamodb.as_the_local_cloud_runs_it())
        self._exit.enter_context(stepfunctions.as_the_local_cloud_runs_it())
        self._exit.enter_context(enforced(self.iam, self.meter))
        self._exit.enter_context(metered(self.meter, self.iam))
        self._every(memory.TRIM_SECONDS, memory.give_back, "memory")
        self._exit.callback(self.runtime.stop)

        # What `sam build` makes from the template is what runs: each function from its built folder.
        built = build(self.root)
        template = sam_transform(built / "template.yaml", self._parameters, self.region)
        builder = StackBuilder(
            template,
            self.stack_name,
            self._parameters,
            self.endpoint_url,
            self.runtime,
            self._serve_function_url,
            self._every,
            self._function_environment(),
            self.region,
            self._function_overrides(),
            runtime_python,
            lambda function, role: self.iam.credentials(self.client("sts"), function, role),
        )
        self.stack = builder.build()
        if "MailQueue" in self.stack.attributes:  # mail is sent by the mail sender, from the mail queue
            self.mailbox.delivers_from(self.client("sqs"), self.stack.attributes["MailQueue"]["QueueUrl"])
        if self._demo_users:
            self.users = make_demo_users(self.client("cognito-idp"), self.client("ssm"), self.stack_name,
                                         self.stack.outputs["UserPoolId"], self.stack.outputs["ConsoleClientId"])
        console, self.console_url = serve_console(self.mailbox, self.describe)
        self._exit.callback(console.shutdown)
        outputs = {**self.stack.outputs, "LocalConsoleUrl": self.console_url}
        self.stack.outputs = outputs
        self.client("ssm").put_parameter(
            Name=outputs_parameter(self.stack_name), Value=json.dumps(outputs), Type="String", Overwrite=True
        )
        resources = {logical_id: {"type": template.resources[logical_id]["Type"], "physical": physical}
                     for logical_id, physical in self.stack.physical.items() if logical_id in template.resources}
        self.client("ssm").put_parameter(Name=resources_parameter(self.stack_name), Value=json.dumps(resources),
                                         Type="String", Tier="Advanced", Overwrite=True)

    def stop(self) -> None:
        self._exit.close()

    def __enter__(self) -> LocalCloud:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- helpers --------------------------------------------------------------------------
    def _moto_config(self, config: dict[str, Any]) -> None:
        request = urllib.request.Request(
            f"{self.endpoint_url}/moto-api/config", data=json.dumps(config).encode(), method="POST"
        )
        with urllib.request.urlopen(request, timeout=10):
            pass

    def _function_environment(self) -> dict[str, str]:
        """What Lambda itself puts in every function's environment, pointed at the local cloud."""
        return {
            **LOCAL_CREDENTIALS,
            "AWS_REGION": self.region,
            "AWS_DEFAULT_REGION": self.region,
            "AWS_ENDPOINT_URL": self.endpoint_url,
            "POWERTOOLS_TRACE_DISABLED": "true",  # no X-Ray daemon on a laptop
        }

    def _function_overrides(self) -> dict[str, str]:
        """Set over the template's own environment: the quiet console of the demo."""
        return {"POWERTOOLS_METRICS_DISABLED": "true", "POWERTOOLS_LOG_LEVEL": "CRITICAL"} if self._quiet else {}

    def _every(self, seconds: float, task: Callable[[], None], name: str) -> None:
        """Run `task` every `seconds` (schedules, queue pollers) until the cloud stops."""
        self._exit.callback(every(seconds, task, name))

    def _serve_function_url(self, function_arn: str, auth_type: str) -> str:
        server, url = serve_function_url(self.runtime, function_arn, auth_type)
        self._exit.callback(server.shutdown)
        return url

    @property
    def outputs(self) -> dict[str, str]:
        assert self.stack is not None, "start() the local cloud first"
        return self.stack.outputs

    def client(self, service: str) -> Any:
        """A boto3 client for this local cloud."""
        return boto3.client(service, **connection(self.endpoint_url, self.region))

    def function_name(self, logical_id: str) -> str:
        """The local name of the template's function `logical_id` (e.g. `EscalateFunction`)."""
        return next(name for name in self.runtime.names() if name.endswith(f"-{logical_id}"))

    def table(self, output_name: str) -> Any:
        """A DynamoDB table (boto3 resource) of this local cloud, named by a stack Output."""
        return boto3.resource("dynamodb", **connection(self.endpoint_url, self.region)).Table(
            self.outputs[output_name])

    def wait_idle(self, timeout: float = 60.0) -> None:
        """Wait until every queued asynchronous invocation (S3 notifications) has run."""
        self.runtime.wait_idle(timeout)

    def describe(self) -> dict[str, Any]:
        """What is deployed: endpoints, outputs and physical names by logical id."""
        assert self.stack is not None
        return {
            "endpoint_url": self.endpoint_url,
            "console_url": self.console_url,
            "stack_name": self.stack_name,
            "outputs": self.stack.outputs,
            "resources": self.stack.physical,
        }


TOTP_SWITCH = "MOTO_COGNITO_IDP_USER_POOL_ENABLE_TOTP"


def _restore_env(name: str, value: str | None) -> None:
    if value is None:
        os.environ.pop(name, None)
    else:
        os.environ[name] = value
