"""moto's SES as the local cloud runs it: a sending rate, when one is set, as SES keeps it.

Fidelity: SES refuses mail above the account's maximum sending rate (`Throttling`, "Maximum sending rate
exceeded."), 1 a second in the sandbox, and GetSendQuota says that rate; moto sends everything and says 1.
Off unless a test sets a rate (`limit_sending`): then SES refuses above it and says it. Otherwise the quota
says 1,000 a second, which is what moto sends, so that the mail sender paces nothing.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from moto.ses.exceptions import SesError
from moto.ses.models import SESBackend

from localcloud.patches.patching import replaced

_LOCK = threading.Lock()
_SENT: deque[float] = deque()  # when each mail of the last second was sent
_RATE: list[float | None] = [None]
UNLIMITED = 1000.0


class Throttling(SesError):
    code = "Throttling"


def limit_sending(rate: float | None) -> None:
    """Mail a second SES accepts from now on (None: no limit, moto's own behaviour)."""
    with _LOCK:
        _RATE[0] = rate
        _SENT.clear()


def _take_a_slot() -> None:
    rate = _RATE[0]
    if rate is None:
        return
    with _LOCK:
        now = time.monotonic()
        while _SENT and _SENT[0] <= now - 1.0:
            _SENT.popleft()
        if len(_SENT) >= rate:
            raise Throttling("Maximum sending rate exceeded.")
        _SENT.append(now)


@contextmanager
def sending_rate_kept() -> Iterator[None]:
    original_raw, original_send, original_quota = (SESBackend.send_raw_email, SESBackend.send_email,
                                                   SESBackend.get_send_quota)

    def send_raw_email(self: SESBackend, *args: Any, **kwargs: Any) -> Any:
        _take_a_slot()
        return original_raw(self, *args, **kwargs)

    def send_email(self: SESBackend, *args: Any, **kwargs: Any) -> Any:
        _take_a_slot()
        return original_send(self, *args, **kwargs)

    def get_send_quota(self: SESBackend) -> Any:
        quota = original_quota(self)
        # The rate set, or (none set: moto sends everything) one that paces nothing.
        quota.max_send_rate = _RATE[0] or UNLIMITED  # type: ignore[assignment] # (moto's is an int; SES's a float)
        return quota

    with replaced((SESBackend, "send_raw_email", send_raw_email), (SESBackend, "send_email", send_email),
                  (SESBackend, "get_send_quota", get_send_quota)):
        try:
            yield
        finally:
            limit_sending(None)
