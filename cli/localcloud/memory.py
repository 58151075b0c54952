"""The local cloud's process keeps the memory it uses, not the memory it once used.

Every request moto answers is handled by a new thread, and glibc gives threads their own malloc
arenas: the large short-lived buffers of a ledger's load (request bodies, query answers) are freed
into them but not given back to the system, so the process's resident memory follows its peak, not
what it holds. Two arenas, and their free pages returned every few seconds, keep it to what the
tables and executions hold. Where the C library is not glibc, nothing changes.
"""

from __future__ import annotations

import ctypes

_M_ARENA_MAX = -8  # mallopt(3)


def _glibc() -> ctypes.CDLL | None:
    try:
        libc = ctypes.CDLL("libc.so.6")
        libc.malloc_trim, libc.mallopt  # noqa: B018 (glibc has both)
    except (OSError, AttributeError):
        return None
    return libc


_LIBC = _glibc()
TRIM_SECONDS = 5.0


def fewer_arenas() -> None:
    """At most two malloc arenas for the threads made from now on."""
    if _LIBC is not None:
        _LIBC.mallopt(_M_ARENA_MAX, 2)


def give_back() -> None:
    """Return the free pages of every arena to the system (`malloc_trim(0)`)."""
    if _LIBC is not None:
        _LIBC.malloc_trim(0)
