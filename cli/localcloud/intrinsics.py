"""Resolve CloudFormation intrinsic functions against the names the local cloud gave resources."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

_SUB_VARIABLE = re.compile(r"\$\{([^}!][^}]*)\}")
NO_VALUE = object()


class TemplateError(Exception):
    """The template uses something the local cloud cannot resolve."""


def references(value: Any) -> set[str]:
    """Names of the resources, parameters and pseudo parameters that `value` refers to."""
    found: set[str] = set()
    if isinstance(value, dict):
        if "Ref" in value and len(value) == 1:
            found.add(value["Ref"])
        elif "Fn::GetAtt" in value and len(value) == 1:
            found.add(value["Fn::GetAtt"][0])
        elif "Fn::Sub" in value and len(value) == 1:
            template, variables = _sub_parts(value["Fn::Sub"])
            found |= {name.split(".")[0] for name in _SUB_VARIABLE.findall(template)} - set(variables)
            found |= references(variables)
        else:
            for item in value.values():
                found |= references(item)
    elif isinstance(value, list):
        for item in value:
            found |= references(item)
    return found


def _sub_parts(argument: Any) -> tuple[str, dict[str, Any]]:
    if isinstance(argument, str):
        return argument, {}
    return argument[0], argument[1]


class Resolver:
    """Turns template values into plain values, given how to answer Ref and Fn::GetAtt."""

    def __init__(self, ref: Callable[[str], Any], get_att: Callable[[str, str], Any],
                 condition: Callable[[str], bool] | None = None) -> None:
        self._ref = ref
        self._get_att = get_att
        self._condition = condition

    def resolve(self, value: Any) -> Any:
        """Resolve `value` recursively; properties set to AWS::NoValue disappear."""
        if isinstance(value, list):
            return [item for item in (self.resolve(v) for v in value) if item is not NO_VALUE]
        if not isinstance(value, dict):
            return value
        if len(value) == 1:
            (key, argument), = value.items()
            handler = self._FUNCTIONS.get(key)
            if handler is not None:
                return handler(self, argument)
            if key.startswith("Fn::"):
                raise TemplateError(f"the local cloud cannot resolve {key}")
        resolved = {k: self.resolve(v) for k, v in value.items()}
        return {k: v for k, v in resolved.items() if v is not NO_VALUE}

    def _fn_ref(self, name: str) -> Any:
        if name == "AWS::NoValue":
            return NO_VALUE
        return self._ref(name)

    def _fn_get_att(self, argument: list[str]) -> Any:
        return self._get_att(argument[0], argument[1])

    def _fn_sub(self, argument: Any) -> str:
        template, variables = _sub_parts(argument)
        values = {name: self.resolve(v) for name, v in variables.items()}

        def replace(match: re.Match[str]) -> str:
            name = match.group(1)
            if name in values:
                return str(values[name])
            if "." in name and not name.startswith("AWS::"):
                logical_id, attribute = name.split(".", 1)
                return str(self._get_att(logical_id, attribute))
            return str(self._fn_ref(name))

        return _SUB_VARIABLE.sub(replace, template)

    def _fn_join(self, argument: list[Any]) -> str:
        delimiter, items = argument
        return delimiter.join(str(item) for item in self.resolve(items))

    def _fn_select(self, argument: list[Any]) -> Any:
        index, items = argument
        return self.resolve(items)[int(self.resolve(index))]

    def _fn_split(self, argument: list[Any]) -> list[str]:
        delimiter, text = argument
        return str(self.resolve(text)).split(delimiter)

    def _fn_if(self, argument: list[Any]) -> Any:
        if self._condition is None:
            raise TemplateError("Fn::If outside a stack: no conditions to read")
        name, when_true, when_false = argument
        return self.resolve(when_true if self._condition(name) else when_false)

    _FUNCTIONS: dict[str, Callable[[Resolver, Any], Any]] = {
        "Fn::If": _fn_if,
        "Ref": _fn_ref,
        "Fn::GetAtt": _fn_get_att,
        "Fn::Sub": _fn_sub,
        "Fn::Join": _fn_join,
        "Fn::Select": _fn_select,
        "Fn::Split": _fn_split,
    }
