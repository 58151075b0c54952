"""Issue 32: queued mail goes out no faster than the account's sending rate; a throttled mail and every
later one of the batch stay queued, a refused one stays alone, and none is sent twice."""

from __future__ import annotations

from datetime import UTC, datetime

from creditrefunds.domain.mail import Mail
from creditrefunds.usecases.mail_queue import Pace, send_queued

from tests.memory.outside import MemoryMailer

NOW = datetime(2026, 12, 7, 9, tzinfo=UTC)


class Clock:
    """Seconds that pass only when the sender sleeps (and a little per send)."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


class Throttled(Exception):
    pass


class AtMost(MemoryMailer):
    """An SES that accepts `rate` mails a second of `clock`, and refuses some addresses outright."""

    def __init__(self, rate: float, clock: Clock, refuses: str = "") -> None:
        super().__init__()
        self.rate, self.clock, self.refuses, self.at = rate, clock, refuses, []

    def send(self, mail: Mail, now: datetime) -> str:
        recent = [t for t in self.at if t > self.clock() - 1]
        if len(recent) >= self.rate:
            raise Throttled("Maximum sending rate exceeded.")
        if self.refuses and self.refuses in mail.to:
            raise ValueError("MessageRejected: Email address is not verified.")
        self.at.append(self.clock())
        self.clock.now += 0.01
        return super().send(mail, now)


def queued(count: int, refused_at: int = -1) -> list[tuple[str, Mail]]:
    return [(f"m{n}", Mail(("nobody@example.org",) if n == refused_at else (f"approver{n}@example.org",),
                           f"Refund approval needed {n}", "text", "<p>text</p>")) for n in range(count)]


def send(mailer: AtMost, clock: Clock, mails: list[tuple[str, Mail]], rate: float,
         pace: Pace | None = None) -> list[str]:
    return send_queued(mailer, mails, pace or Pace(lambda: rate, clock, clock.sleep), lambda: NOW,
                       lambda error: isinstance(error, Throttled))


def test_a_batch_goes_out_at_the_accounts_rate_and_none_is_throttled():
    clock = Clock()
    ses = AtMost(1, clock)
    assert send(ses, clock, queued(10), rate=1.0) == []
    assert [m.subject for m in ses.sent] == [f"Refund approval needed {n}" for n in range(10)]
    assert all(b - a >= 1.0 for a, b in zip(ses.at, ses.at[1:], strict=False))  # a mail a second
    assert ses.at[-1] - ses.at[0] < 9.2  # and no slower


def test_the_pace_holds_across_batches():
    clock = Clock()
    ses, pace = AtMost(1, clock), Pace(lambda: 1.0, clock, clock.sleep)
    for batch in (queued(3), queued(3)):  # the second batch's first mail waits its turn too
        assert send(ses, clock, batch, 1.0, pace) == []
    assert len(ses.sent) == 6 and all(b - a >= 1.0 for a, b in zip(ses.at, ses.at[1:], strict=False))


def test_a_rate_read_higher_than_ses_allows_leaves_the_rest_queued_not_lost():
    clock = Clock()
    ses = AtMost(2, clock)
    unsent = send(ses, clock, queued(10), rate=10.0)  # the quota said 10 a second; SES takes 2
    assert unsent == [f"m{n}" for n in range(2, 10)] and len(ses.sent) == 2
    clock.sleep(1.0)  # the queue delivers them again: the rest go out, each once
    again = [(mid, mail) for mid, mail in queued(10) if mid in unsent]
    assert send(ses, clock, again, rate=2.0) == []
    assert sorted(m.subject for m in ses.sent) == sorted(f"Refund approval needed {n}" for n in range(10))


def test_a_mail_ses_refuses_stays_queued_alone():
    clock = Clock()
    ses = AtMost(5, clock, refuses="nobody@example.org")
    assert send(ses, clock, queued(5, refused_at=2), rate=5.0) == ["m2"]
    assert len(ses.sent) == 4
