"""The whole product in memory: every port of `usecases/ports.py`, the refund workflow run from its
ASL by the real use-cases, a clock a test moves, and faults a test arms. No socket, no thread pool of
Lambda workers, no moto: a use-case's test answers in milliseconds.

The steps are wired as the handlers wire them (`functions/*/app.py`): the same use-case, the same
arguments from the configuration, the clock in place of `datetime.now`.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from creditrefunds.adapters.trusted import TrustedApprovals, TrustedLedger, TrustedRefundBook
from creditrefunds.domain import identity as roles
from creditrefunds.domain.approvals import LinkRefused
from creditrefunds.domain.identity import Person, approver_group
from creditrefunds.domain.ledger import Dropped
from creditrefunds.domain.pages import Page, answer
from creditrefunds.domain.review import Timing
from creditrefunds.domain.settings import Settings
from creditrefunds.usecases import approval
from creditrefunds.usecases.ingest import file_failed, ingest_file

from .books import ATTEMPT, MemoryApprovals, MemoryRefundBook, MemoryRemittances
from .console import MemoryPeople, MemoryWorklist
from .outside import (
    MemoryBucket,
    MemoryEvents,
    MemoryHandoff,
    MemoryKeys,
    MemoryMailer,
    MemorySeals,
)
from .rollups import MemoryRollups
from .steps import COMPLIANCE, OPERATORS, fan_out_steps, refund_steps
from .stores import MemoryCases, MemoryHistory, MemoryLedger
from .unclaimed import MemoryLetters, MemoryUnclaimed
from .workflow import Crash, LostReply, MemoryWorkflows, error_name

__all__ = ["COMPLIANCE", "OPERATORS", "Fault", "MemoryCloud", "MemoryPorts"]  # what tests import from here
ROOT = Path(__file__).resolve().parents[2]
DEFINITION = json.loads((ROOT / "statemachine" / "refund_workflow.asl.json").read_text())
FAN_OUT = json.loads((ROOT / "statemachine" / "ledger_fanout.asl.json").read_text())
HEADER = ("txn_id,account_id,patient_id,guarantor_id,txn_type,amount,posting_date,payer_type,payer_id,"
          "coverage_rank,reference,claim_id,patient_name,patient_state\n")
DIRECTORY = {1: ["tier1.approver@example.org"], 2: ["tier2.approver@example.org"],
             3: ["tier3.approver@example.org", "tier2.approver@example.org"]}
ROLE_USERS = {"billing@example.org": roles.BILLING, "compliance@example.org": roles.COMPLIANCE,
              "auditor@example.org": roles.AUDITOR, "operator@example.org": roles.OPERATOR}


@dataclass
class Config:
    """The template's parameters the steps read, at the defaults a test may change."""

    timing: Timing = field(default_factory=lambda: Timing({1: 72 * 3600, 2: 72 * 3600, 3: 72 * 3600}, 10 * 86400,
                                                          86400))
    directory: dict[int, list[str]] = field(default_factory=lambda: {k: list(v) for k, v in DIRECTORY.items()})
    site_url: str = "https://approvals.example.org"
    link_ttl: int = 14 * 86400
    pause_seconds: int = 30 * 86400
    split_threshold: int = 16 * 1024 * 1024
    rows_per_part: int = 100_000
    detect_batch_accounts: int = 5000
    factor_max_age: int = 300


@dataclass
class Fault:
    """Fail the `at`-th port call (1 = the first) made while `step` runs (None: any caller), `times` in a row;
    with `call` ("port.method"), only calls of that method count. `error`: Crash (the function died there:
    Lambda's Sandbox.Timedout), TransientError (a throttle the client gave up on) or LostReply (the call
    landed, its answer was lost, and the client made it again: the caller sees the second answer)."""

    at: int
    step: str | None = None
    times: int = 1
    error: Callable[[str], Exception] = Crash
    call: str | None = None
    seen: int = 0
    hit: str = ""  # the call it failed last ("port.method")

    @property
    def fired(self) -> int:
        return max(0, min(self.seen - self.at + 1, self.times))


# Port methods that are one conditional write: the request botocore sends again when its answer is lost (it
# landed). The other methods' adapters make several requests and know their own (a history append reads the
# record at its seq back): a lost reply there is a call that succeeded.
LOSABLE = frozenset({"approvals.put_new", "approvals.take", "approvals.mark_late", "approvals.accept",
                     "approvals.supersede", "refund_book.issue", "refund_book.mark_returned", "cases.claim",
                     "cases.open_new", "cases.update_figures", "cases.set_status", "cases.transition",
                     "cases.decide", "workflows.answer"})


class _Watched:
    """A port whose every method call counts towards the armed fault first."""

    def __init__(self, name: str, port: Any, ports: MemoryPorts) -> None:
        self._name, self._port, self._ports = name, port, ports

    def __getattr__(self, method: str) -> Any:
        found = getattr(self._port, method)
        if not callable(found):
            return found

        def call(*args: Any, **kwargs: Any) -> Any:
            attempt = ATTEMPT.set(secrets.token_hex(8))  # one request, however often it is sent
            try:
                if self._ports.check(f"{self._name}.{method}") and f"{self._name}.{method}" in LOSABLE:
                    try:
                        found(*args, **kwargs)
                    except Exception:  # the answer, whatever it was, never arrives
                        pass
                return found(*args, **kwargs)
            finally:
                ATTEMPT.reset(attempt)

        return call


class MemoryPorts:
    """`Ports` in memory; `store` holds the stores themselves, for a test to read without counting."""

    def __init__(self, settings: Settings, steps: dict[str, Callable[[dict[str, Any]], dict[str, Any]]]) -> None:
        self.settings = settings
        cases, bucket = MemoryCases(), MemoryBucket()
        self.store = {
            "transactions": MemoryLedger(), "cases": cases, "history": MemoryHistory(cases),
            "approvals": MemoryApprovals(), "refund_book": MemoryRefundBook(), "bucket": bucket,
            "mailer": MemoryMailer(), "events": MemoryEvents(),
            "workflows": MemoryWorkflows(DEFINITION, steps, FAN_OUT),
            "seals": MemorySeals(), "remittances": MemoryRemittances(), "handoff": MemoryHandoff(),
            "keys": MemoryKeys(), "people": MemoryPeople(), "worklist": MemoryWorklist(),
            "rollups": MemoryRollups(), "unclaimed": MemoryUnclaimed(), "letters": MemoryLetters(bucket),
        }
        # The stores as the use cases see them, every record checked (adapters/trusted.py): for a test to read,
        self.trusted = self._trusted(lambda name: self.store[name])  # not counted
        # The use cases' own: the checks over stores whose every call counts (a fault fails one store request).
        self.used = self._trusted(lambda name: _Watched(name, self.store[name], self))
        self.fault: Fault | None = None

    def check(self, call: str) -> bool:
        """Count the call towards the armed fault; raise its error, or True when its reply is to be lost."""
        fault = self.fault
        if fault is None or (fault.step is not None and fault.step != self.store["workflows"].running_step) or \
                (fault.call is not None and fault.call != call):
            return False
        fault.seen += 1
        if fault.at <= fault.seen < fault.at + fault.times:
            fault.hit = call
            if fault.error is LostReply:
                return True
            raise fault.error(f"fault injected at {call} (call {fault.seen})")
        return False

    def _trusted(self, inner: Callable[[str], Any]) -> dict[str, Any]:
        keys = self.store["keys"]
        return {"transactions": TrustedLedger(inner("transactions"), keys),
                "refund_book": TrustedRefundBook(inner("refund_book"), keys),
                "approvals": TrustedApprovals(inner("approvals"), keys)}

    def __getattr__(self, name: str) -> Any:
        used = self.__dict__.get("used", {})
        if name in used:
            return used[name]
        store = self.__dict__.get("store", {})
        if name not in store:
            raise AttributeError(name)
        return _Watched(name, store[name], self)


class MemoryCloud:
    """What a test works with: drop a ledger, run the workflows, decide as an approver, move the clock."""

    def __init__(self, settings: Settings | None = None, config: Config | None = None,
                 now: datetime = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)) -> None:
        self.config = config or Config()
        self.now = now
        self.ports = MemoryPorts(settings or Settings(), {**refund_steps(self), **fan_out_steps(self)})
        self.drops = 0
        self.held = False
        for tier, addresses in self.config.directory.items():  # the pool's users, one per address
            for address in addresses:
                self.user(address, approver_group(tier))
        for address, role in ROLE_USERS.items():
            self.user(address, role)

    def user(self, email: str, *groups: str, second_factor: bool = True) -> Person:
        """The pool's user of `email` (made, or given `groups` more)."""
        people = self.people
        known = [p for p in people.users.values() if p.email.lower() == email.lower()]
        if not known:
            return people.add(email, *groups, second_factor=second_factor)
        person = replace(known[0], groups=known[0].groups | set(groups))
        people.users[person.user_id] = person
        return person

    def signed_in(self, email: str, minutes_ago: float = 0) -> Person:
        """`email`'s user as a verified token names them, signed in (with their factor) `minutes_ago`."""
        person = self.people.by_email(email)
        return replace(person, signed_in_at=int((self.now - timedelta(minutes=minutes_ago)).timestamp()))

    @property
    def trusted(self) -> SimpleNamespace:
        """The ledger, refund book and approvals as the use cases read them: every record checked."""
        return SimpleNamespace(**self.ports.trusted)

    # the stores, read by tests as they stand
    def __getattr__(self, name: str) -> Any:
        store = self.__dict__["ports"].store
        if name in store:
            return store[name]
        raise AttributeError(name)

    def tick(self, **delta: float) -> datetime:
        self.now += timedelta(**delta)
        return self.now

    def drop(self, rows: list[str], name: str | None = None, header: str = HEADER) -> dict[str, Any]:
        """A ledger file into incoming/, ingested as S3's notification makes the ingest function do, then
        every workflow it started run until it waits for a person or ends."""
        self.drops += 1
        name = name or f"ledger-{self.drops}.csv"
        etag = self.bucket.drop(name, header + "".join(r + "\n" for r in rows))
        dropped = Dropped(key=f"incoming/{name}", etag=etag, sequencer=f"{self.drops:016x}", event_time=self.now)
        summary = self.invoke_async("IngestFunction", lambda: ingest_file(
            self.ports, dropped, self.config.split_threshold, self.config.rows_per_part, self.now, _uncounted,
            OPERATORS), dropped)
        self.run()
        return summary

    def invoke_async(self, function: str, handler: Callable[[], dict[str, Any]], dropped: Dropped) -> dict[str, Any]:
        """An asynchronous invocation as Lambda makes it of S3's notification: the first attempt and two
        retries, then the failure destination (the ingest-failed function: the file to rejected/, operators
        told)."""
        workflows, attempts = self.workflows, 3
        for attempt in range(1, attempts + 1):
            workflows.running_step = function  # what a fault armed for this function counts
            try:
                return handler()
            except Exception as error:
                if attempt == attempts:
                    failure = f"{error_name(error)}: {error}"
            finally:
                workflows.running_step = None
        return file_failed(self.ports, dropped, failure, OPERATORS, self.now)

    def run(self) -> None:
        """Every workflow that can move, until each waits for a person or ends (not while `paused`)."""
        if not self.held:
            self.workflows.run()

    @contextmanager
    def paused(self) -> Iterator[None]:
        """Calls made meanwhile start or answer workflows that do not run yet: Step Functions has not
        come to them (a Wait state, a retry's backoff)."""
        self.held = True
        try:
            yield
        finally:
            self.held = False

    def links(self, approver: str, account: str = "") -> list[str]:
        """The approval links mailed to `approver` (about `account`), oldest first."""
        return [link for mail in self.mailer.to(approver) if account in mail.subject
                for link in _links(mail.text)]

    def decide(self, link: str, decision: str = "approve", reason: str = "", source: str = "203.0.113.7",
               by: Person | str | None = "") -> Page:
        """A signed-in person's POST on the page behind `link` (the form as the page sends it), then the workflow
        runs. `by`: who is signed in (a Person, an address, None for nobody); by default the person the link
        was mailed to, signed in with their second factor just now."""
        link_id = link.rsplit("/", 1)[-1]
        form = {"decision": decision, "reason": reason}
        if by == "":
            [mail] = [m for m in self.mailer.sent if link in _links(m.text)]
            by = mail.to[0]
        person = self.signed_in(by) if isinstance(by, str) else by
        self.workflows.running_step = "ApprovalWebFunction"  # what a fault armed for the page counts
        try:
            page = self._page(lambda: approval.decide(self.ports, link_id, form, person, source,
                                                      self.config.factor_max_age, self.now))
        finally:
            self.workflows.running_step = None
        self.run()
        return page

    def show(self, link: str, by: str = "") -> Page:
        """The page behind `link` as `by` (default: the person it was mailed to) sees it, signed in."""
        by = by or next(m.to[0] for m in self.mailer.sent if link in _links(m.text))
        return self._page(lambda: approval.show(self.ports, link.rsplit("/", 1)[-1], self.signed_in(by), self.now))

    @staticmethod
    def _page(make: Callable[[], Page]) -> Page:
        try:
            return make()
        except LinkRefused as refused:  # as the approval page's handler answers it
            return answer(refused.status, refused.title, refused.message)

    def time_out(self, case_id: str) -> None:
        """The approval of `case_id` waited past its time."""
        assert self.workflows.time_out(case_id), f"{case_id} waits for no approval"
        self.run()

    def case(self, account: str) -> dict[str, Any]:
        """The one case of `account`, as stored."""
        found = [i for i in self.cases.items.values() if i.get("account_id") == account and "status" in i]
        assert len(found) == 1, found
        return dict(found[0])

    def keys_rejected(self) -> list[str]:
        return self.bucket.keys("rejected/")

    def actions(self, case_id: str) -> list[str]:
        return [r["action"] for r in self.history.records(case_id)]


def _uncounted(_name: str, _value: int) -> None:
    """Metrics: nobody reads them here."""


def _links(text: str) -> list[str]:
    return [word.strip("<>.,") for word in text.split() if "/approve/" in word]
