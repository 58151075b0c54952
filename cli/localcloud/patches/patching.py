"""Replacing attributes of moto's classes and modules for as long as a block runs."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

_ABSENT = object()


@contextmanager
def replaced(*patches: tuple[Any, str, Any]) -> Iterator[None]:
    """Set each (owner, name, value) while the block runs, then put back what the owner itself held,
    in reverse order: the same object (a staticmethod stays one), or no attribute of its own where it
    had none (a class that inherits it; a local cloud inside another gives back the other's)."""
    before = [(owner, name, vars(owner).get(name, _ABSENT)) for owner, name, _ in patches]
    for owner, name, value in patches:
        setattr(owner, name, value)
    try:
        yield
    finally:
        for owner, name, value in reversed(before):
            if value is _ABSENT:
                delattr(owner, name)
            else:
                setattr(owner, name, value)
