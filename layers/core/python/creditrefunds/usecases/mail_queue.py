"""The mail sender: queued mail sent no faster than the account's SES sending rate.

Approval mail of a burst (a file that opens thousands of cases) waits on the mail queue instead of being
throttled by SES: each sender (as many as run at once) sends a batch at a time, a mail every
senders/rate seconds. A throttled send leaves that mail and every later one of the batch on the queue for its next
delivery; a mail SES refuses (an address it will not send to) is left alone to go round until the queue
moves it to its dead-letter queue, which an alarm watches.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime

from creditrefunds.domain.mail import Mail
from creditrefunds.usecases.ports import Mailer

logger = logging.getLogger(__name__)


class Pace:
    """A mail every 1/rate() seconds of `clock`, across batches (the sender keeps one for its container's life)."""

    def __init__(self, rate: Callable[[], float], clock: Callable[[], float], sleep: Callable[[float], None]) -> None:
        self._rate, self._clock, self._sleep = rate, clock, sleep
        self._last = float("-inf")

    def next(self) -> None:
        """Wait for the next mail's turn."""
        wait = self._last + 1 / self._rate() - self._clock()
        if wait > 0:
            self._sleep(wait)
        self._last = self._clock()


def send_queued(mailer: Mailer, queued: list[tuple[str, Mail]], pace: Pace, now: Callable[[], datetime],
                throttled: Callable[[Exception], bool]) -> list[str]:
    """Send each queued (message id, mail), each at its turn of `pace`; the ids of those not sent."""
    unsent: list[str] = []
    for number, (message_id, mail) in enumerate(queued):
        try:
            pace.next()  # (reads the rate: a failed read leaves this mail and the rest queued, none sent twice)
            mailer.send(mail, now())
        except Exception as error:
            if throttled(error):  # this one and the rest wait on the queue
                logger.warning("mail throttled: left on the queue", extra={"left": len(queued) - number})
                return unsent + [mid for mid, _ in queued[number:]]
            logger.error("mail refused: left on the queue", extra={"error": type(error).__name__})
            unsent.append(message_id)
    return unsent
