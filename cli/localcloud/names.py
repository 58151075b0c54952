"""Names the local cloud and its clients agree on; light to import (no moto, no SAM)."""

from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[2]  # the checkout: template.yaml, functions/, .tools/
ACCOUNT_ID = "123456789012"  # moto's account
DEFAULT_STACK_NAME = "credit-refunds"
LOCAL_CREDENTIALS = {"AWS_ACCESS_KEY_ID": "local", "AWS_SECRET_ACCESS_KEY": "local"}


def outputs_parameter(stack_name: str) -> str:
    """Where the local cloud keeps a stack's Outputs, as CloudFormation would in AWS."""
    return f"/local-cloud/stacks/{stack_name}/outputs"


def connection(endpoint_url: str | None, region: str) -> dict[str, str]:
    """boto3 client/resource arguments: the local cloud's endpoint and credentials, or AWS's defaults."""
    if not endpoint_url:
        return {"region_name": region}
    return {"region_name": region, "endpoint_url": endpoint_url,
            "aws_access_key_id": LOCAL_CREDENTIALS["AWS_ACCESS_KEY_ID"],
            "aws_secret_access_key": LOCAL_CREDENTIALS["AWS_SECRET_ACCESS_KEY"]}


def resources_parameter(stack_name: str) -> str:
    """Where the local cloud keeps a stack's resources (type and physical id by logical id), as
    CloudFormation's ListStackResources tells them in AWS."""
    return f"/local-cloud/stacks/{stack_name}/resources"
