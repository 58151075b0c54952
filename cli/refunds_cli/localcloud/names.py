"""Names the local cloud and its clients agree on; light to import (no moto, no SAM)."""

DEFAULT_STACK_NAME = "credit-refunds"
LOCAL_CREDENTIALS = {"AWS_ACCESS_KEY_ID": "local", "AWS_SECRET_ACCESS_KEY": "local"}


def outputs_parameter(stack_name: str) -> str:
    """Where the local cloud keeps a stack's Outputs, as CloudFormation would in AWS."""
    return f"/local-cloud/stacks/{stack_name}/outputs"
