"""Read template.yaml and turn it into plain CloudFormation with the SAM translator.

Local paths (CodeUri, ContentUri, DefinitionUri) are not S3 locations, which the translator
wants; they are swapped for placeholders and kept, so that the local cloud can run the code
and read the state machine definition from the files the template names.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3
import yaml
from samtranslator.parser.parser import Parser
from samtranslator.translator.translator import Translator

_LOCAL_PATH_PROPERTIES = {
    "AWS::Serverless::Function": "CodeUri",
    "AWS::Serverless::LayerVersion": "ContentUri",
    "AWS::Serverless::StateMachine": "DefinitionUri",
}
_PLACEHOLDER_BUCKET = "local-cloud-code"


class _CfnLoader(yaml.SafeLoader):
    """YAML loader that understands CloudFormation's short-form tags (!Ref, !Sub, ...)."""


def _construct_tag(loader: yaml.SafeLoader, suffix: str, node: yaml.Node) -> dict[str, Any]:
    if isinstance(node, yaml.ScalarNode):
        value: Any = loader.construct_scalar(node)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)
    if suffix == "Ref":
        return {"Ref": value}
    if suffix == "GetAtt" and isinstance(value, str):
        value = value.split(".", 1)
    return {f"Fn::{suffix}": value}


_CfnLoader.add_multi_constructor("!", _construct_tag)


def load_template(path: Path) -> dict[str, Any]:
    """Parse a CloudFormation/SAM YAML template, short-form tags included."""
    with open(path, encoding="utf-8") as handle:
        return yaml.load(handle, Loader=_CfnLoader)  # noqa: S506 - a SafeLoader subclass


@dataclass
class TransformedTemplate:
    """Plain CloudFormation plus where each function, layer and state machine lives on disk."""

    resources: dict[str, dict[str, Any]]
    outputs: dict[str, dict[str, Any]]
    parameters: dict[str, dict[str, Any]]
    conditions: dict[str, Any] = field(default_factory=dict)
    local_paths: dict[str, Path] = field(default_factory=dict)


def sam_transform(
    template_path: Path, parameter_values: dict[str, str] | None = None, region: str = "us-east-1"
) -> TransformedTemplate:
    """Run the SAM transform on the template at `template_path` for `region`."""
    sam = load_template(template_path)
    root = template_path.parent
    local_paths: dict[str, Path] = {}
    translatable = copy.deepcopy(sam)
    for logical_id, resource in translatable.get("Resources", {}).items():
        prop = _LOCAL_PATH_PROPERTIES.get(resource.get("Type", ""))
        value = resource.get("Properties", {}).get(prop) if prop else None
        if isinstance(value, str) and not value.startswith("s3://"):
            local_paths[logical_id] = (root / value).resolve()
            resource["Properties"][prop] = f"s3://{_PLACEHOLDER_BUCKET}/{logical_id}"
    translator = Translator(None, Parser(), boto_session=boto3.session.Session(region_name=region))
    cfn = translator.translate(
        translatable,
        parameter_values=dict(parameter_values or {}),
        # The template names no AWS managed policy by its short name: no IAM lookup needed.
        get_managed_policy_map=dict,
    )
    # The translator renames layers (LogicalId + hash) and keeps functions' ids; map the new ids.
    for logical_id, resource in cfn["Resources"].items():
        if resource["Type"] == "AWS::Lambda::LayerVersion":
            key = resource["Properties"]["Content"]["S3Key"]
            if key in local_paths:
                local_paths[logical_id] = local_paths[key]
    return TransformedTemplate(
        resources=cfn["Resources"],
        outputs=cfn.get("Outputs", {}),
        parameters=cfn.get("Parameters", {}),
        conditions=cfn.get("Conditions", {}),
        local_paths=local_paths,
    )
