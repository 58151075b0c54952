"""EventBridge schedules on the local cloud: a rule's `rate(...)` invokes its Lambda target, on a
thread of its own, with the event EventBridge sends."""

from __future__ import annotations

import re
import sys
import threading
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from localcloud.intrinsics import TemplateError

_RATE = re.compile(r"^rate\((\d+) (minute|minutes|hour|hours|day|days)\)$")
_UNIT = {"minute": 60, "hour": 3600, "day": 86400}


def rate_seconds(expression: str) -> int:
    """The period of a `rate(N unit)` schedule; cron schedules run in AWS only (said loudly)."""
    found = _RATE.match(expression.strip())
    if found is None:
        raise TemplateError(f"the local cloud runs rate(...) schedules only, not {expression!r}")
    return int(found.group(1)) * _UNIT[found.group(2).rstrip("s")]


def scheduled_event(rule_arn: str, region: str, account: str) -> dict[str, Any]:
    """What EventBridge sends a target when its schedule fires."""
    return {"version": "0", "id": str(uuid.uuid4()), "detail-type": "Scheduled Event", "source": "aws.events",
            "account": account, "time": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"), "region": region,
            "resources": [rule_arn], "detail": {}}


def every(seconds: float, fire: Callable[[], None], name: str) -> Callable[[], None]:
    """Call `fire` every `seconds` on a daemon thread; returns what stops it."""
    stop = threading.Event()

    def run() -> None:
        while not stop.wait(seconds):
            try:
                fire()
            except Exception as error:
                if not stop.is_set():
                    print(f"local cloud: {name} failed: {type(error).__name__}: {error}", file=sys.stderr)

    threading.Thread(target=run, name=name, daemon=True).start()
    return stop.set
