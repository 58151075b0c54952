"""The use-case tier: the real use-cases over the in-memory ports (`tests/memory/`), sockets disabled."""

from __future__ import annotations

import pytest

from tests.memory.cloud import MemoryCloud


@pytest.fixture
def mem() -> MemoryCloud:
    return MemoryCloud()
