"""Where an uncashed refund stands on the way to the state (DOMAIN.md section 9), as of a day passed in.

`Property` is what is known of one refund instruction's money: its checks (the register), its reissue, an
owner's answer, the due-diligence letters sent, the report that named it and the ledger row that remitted it.
`assess` says, as of any day, its stage, its next step and that step's date. Pure: a four-year timeline is
a test of milliseconds."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from creditrefunds.domain.checks import UNPAID, CheckEvent
from creditrefunds.domain.ledger import Transaction
from creditrefunds.domain.money import money_text
from creditrefunds.domain.unclaimed import Unclaimed

# The money reached its owner, is not the state's to claim, or is back on the account (its refund row reversed:
# a credit there again, which detection finds and a new case carries).
OFF_PATH = ("CLEARED", "ANSWERED", "EXEMPT", "REVERSED")
# Stages where there is nothing to reissue (an owner who answered is paid by one), or for an owner to answer.
NO_REISSUE = ("OUTSTANDING", "CLEARED", "EXEMPT", "REVERSED", "REPORTED", "CLOSED")
NO_ANSWER = (*NO_REISSUE, "ANSWERED")
# History actions (each step is a record on the refund's case), and the typed field `evidence` they carry.
CHECK, STALE, REISSUE_ASKED, REISSUED, ANSWERED = "CHECK_STATUS", "CHECK_STALE", "REISSUE_ASKED", "REISSUED", \
    "OWNER_ANSWERED"
LETTER, REPORTABLE, REPORTED, REMITTED, BACK_ON_ACCOUNT = "LETTER_WRITTEN", "ESCHEAT_REPORTABLE", \
    "ESCHEAT_REPORTED", "ESCHEAT_REMITTED", "REFUND_REVERSED"
DUE_DILIGENCE = "due-diligence"


def add_years(day: date, years: int) -> date:
    try:
        return day.replace(year=day.year + years)
    except ValueError:  # 29 February
        return day.replace(year=day.year + years, day=28)


@dataclass(frozen=True)
class Property:
    """One refund instruction's money, and what happened to it."""

    instruction_id: str
    case_id: str
    account_id: str
    payee_type: str
    payee_id: str
    owner_name: str
    owner_state: str  # already resolved: the patient's state, else the holder's incorporation state
    amount: Decimal
    issued_on: date
    checks: tuple[CheckEvent, ...] = ()
    reissued_on: tuple[date, ...] = ()
    address: str = ""  # the corrected address of the latest reissue
    answered_on: date | None = None
    letters_on: tuple[date, ...] = ()  # due-diligence letters written (as of these days)
    reported: tuple[str, date] | None = None  # (report id, as of)
    remitted: tuple[str, date] | None = None  # (ledger txn id, posting date)
    claim_id: str = ""
    reversed: tuple[str, date] | None = None  # (the REVERSAL row of its refund row, posting date)

    def current_check(self) -> tuple[str, list[CheckEvent]]:
        """The latest check (its number and events, oldest first): a reissue's replaces the one before."""
        by_number: dict[str, list[CheckEvent]] = {}
        for event in sorted(self.checks, key=CheckEvent.order):
            by_number.setdefault(event.check_number, []).append(event)
        if not by_number:
            return "", []
        number = max(by_number, key=lambda n: (by_number[n][0].status_date, n))
        return number, by_number[number]


@dataclass(frozen=True)
class Path:
    """As of `as_of`: the stage, the next step and its date, and the dates the law sets."""

    instruction_id: str
    case_id: str
    state: str
    amount: Decimal
    stage: str
    next_step: str
    next_date: date | None
    as_of: date
    check_number: str = ""
    unclaimed_since: date | None = None
    dormant_on: date | None = None
    report_due: date | None = None
    letter_from: date | None = None
    letter_by: date | None = None
    letter_needed: bool = False
    reissues_left: int = 0
    notes: list[str] = field(default_factory=list)

    @property
    def reportable(self) -> bool:
        """Dormant, and its letter sent in its window (or none needed; or the window closed without one, which
        the report's reader is told)."""
        return self.stage in ("REPORTABLE", "LETTER_LATE")

    def in_report(self, due: date) -> bool:
        """Reportable in the report due on `due`: this cycle's property, or an earlier cycle's not yet reported."""
        return self.reportable and self.report_due is not None and self.report_due <= due

    def to_json(self) -> dict[str, Any]:
        def day(d: date | None) -> str | None:
            return d.isoformat() if d else None

        return {"instruction_id": self.instruction_id, "case_id": self.case_id, "state": self.state,
                "amount": money_text(self.amount), "stage": self.stage, "next_step": self.next_step,
                "next_date": day(self.next_date), "as_of": day(self.as_of), "check_number": self.check_number,
                "unclaimed_since": day(self.unclaimed_since), "dormant_on": day(self.dormant_on),
                "report_due": day(self.report_due), "letter_from": day(self.letter_from),
                "letter_by": day(self.letter_by), "letter_needed": self.letter_needed,
                "reissues_left": self.reissues_left, "notes": self.notes}


def assess(p: Property, rules: Unclaimed, as_of: date) -> Path:
    """Where `p` stands on `as_of`, from what was known by then (later facts are not yet known)."""
    known = _known_by(p, as_of)
    number, events = known.current_check()
    answered = known.answered_on
    reissued = len(known.reissued_on)
    unpaid_answer = answered is not None and not any(d >= answered for d in known.reissued_on)
    cap = rules.reissues + (1 if answered is not None else 0)  # an owner found is paid once more, never again
    base = Path(p.instruction_id, p.case_id, p.owner_state, p.amount, "", "", None, as_of, number,
                reissues_left=max(0, cap - reissued))
    if known.remitted:
        return replace(base, stage="CLOSED", next_step="", next_date=None,
                       notes=[f"remitted to {p.owner_state} by ledger row {known.remitted[0]} on {known.remitted[1]}"])
    if known.reversed and not known.reported:
        return replace(base, stage="REVERSED", next_step="", next_date=None,
                       notes=[f"its refund row was reversed by ledger row {known.reversed[0]} on {known.reversed[1]}: "
                              f"the money is back on account {p.account_id}, a credit there again (a new case)"])
    if p.payee_type != "PATIENT" and p.owner_state in rules.b2b_exempt_states:
        return replace(base, stage="EXEMPT", next_step="", next_date=None,
                       notes=[f"{p.owner_state} exempts business-to-business property"])
    dates = _dates(p, known, events, rules)
    last = events[-1] if events else None
    if known.reported:
        notes = [f"reported in {known.reported[0]} as of {known.reported[1]}"]
        if last is not None and last.status == "CLEARED" and last.status_date >= known.reported[1]:
            notes.append(f"the check cleared on {last.status_date}, after the report: stop the remittance, or "
                         "claim the money back from the state")
        if known.reversed:
            notes.append(f"its refund row was reversed by ledger row {known.reversed[0]} on {known.reversed[1]}, "
                         "after the report: the account's credit is the state's, to remit, not to refund")
        return replace(base, **dates, stage="REPORTED", next_step=f"remit to {p.owner_state}: the ledger row of "
                       "the remittance closes it", next_date=dates["report_due"], notes=notes)
    unpaid: list[str] = []
    if unpaid_answer and base.reissues_left:  # found: paid by a reissue to the address they give
        if as_of < dates["letter_from"]:
            return replace(base, **dates, stage="ANSWERED", next_step="pay the owner: reissue to the address they "
                           f"confirm, by {dates['letter_from']}", next_date=answered,
                           notes=[f"the owner answered on {answered}"])
        # An answer is contact (dormancy starts again from it), not payment: unpaid until the next letter's
        # window opens, the money is on the state's path again.
        unpaid = [f"the owner answered on {answered} and was not paid by {dates['letter_from']}"]
    if last is not None and last.status == "CLEARED":
        return replace(base, **dates, stage="CLEARED", next_step="", next_date=None,
                       notes=[f"cleared on {last.status_date}"])
    if as_of < dates["unclaimed_since"]:
        return replace(base, **dates, stage="OUTSTANDING", next_step="stale unless the check clears",
                       next_date=dates["unclaimed_since"])
    path = _waiting(base, dates, known, as_of)
    return replace(path, notes=[*unpaid, *path.notes]) if unpaid else path


def _dates(p: Property, known: Property, events: list[CheckEvent], rules: Unclaimed) -> dict[str, Any]:
    """Unclaimed since (stale, returned or voided), dormant on (from the latest contact), the report's due
    date, and the due-diligence letter's window and need."""
    issued = _issued_on(p, known, events)
    stale_on = issued + timedelta(days=rules.stale_days)
    unpaid = next((e.status_date for e in events if e.status in UNPAID), None)
    contact = max((issued, *known.reissued_on, *((known.answered_on,) if known.answered_on else ())))
    dormant_on = add_years(contact, rules.dormancy(p.owner_state))
    report_due = rules.calendar_of(p.owner_state).report_due(dormant_on)
    low, high = rules.window(p.owner_state)
    return {"unclaimed_since": min(d for d in (unpaid, stale_on) if d is not None), "dormant_on": dormant_on,
            "report_due": report_due, "letter_from": report_due - timedelta(days=high),
            "letter_by": report_due - timedelta(days=low), "letter_needed": p.amount >= rules.minimum(p.owner_state)}


def _waiting(base: Path, dates: dict[str, Any], known: Property, as_of: date) -> Path:
    """An unclaimed check: the letter (where the amount needs one) in its window, then the report. It is
    reportable once dormant with its letter sent in the window (or none needed, or the window closed)."""
    reissue = " (or reissue to a corrected address)" if base.reissues_left else ""
    sent = [d for d in known.letters_on if dates["letter_from"] <= d <= dates["letter_by"]]
    dormant = as_of >= dates["dormant_on"]
    report = f"report to {base.state} by {dates['report_due']}"
    if dates["letter_needed"] and not sent:
        if as_of < dates["letter_from"]:
            return replace(base, **dates, stage="UNCLAIMED", next_step=f"due-diligence letter from "
                           f"{dates['letter_from']}{reissue}", next_date=dates["letter_from"])
        if as_of <= dates["letter_by"]:
            return replace(base, **dates, stage="LETTER_DUE", next_step=f"send the due-diligence letter by "
                           f"{dates['letter_by']}", next_date=dates["letter_by"])
        return replace(base, **dates, stage="LETTER_LATE" if dormant else "UNCLAIMED", next_step=report if dormant
                       else f"dormant on {dates['dormant_on']}, then {report}", next_date=dates["report_due"],
                       notes=[f"no due-diligence letter went out between {dates['letter_from']} and "
                              f"{dates['letter_by']}"])
    stage = "REPORTABLE" if dormant else ("LETTER_SENT" if sent else "UNCLAIMED")
    step = report if dormant else f"dormant on {dates['dormant_on']}, then {report}{reissue}"
    return replace(base, **dates, stage=stage, next_step=step, next_date=dates["report_due"] if dormant
                   else dates["dormant_on"])


def _known_by(p: Property, as_of: date) -> Property:
    """`p` as it was known on `as_of`: what happened later has not happened yet."""
    return replace(p, checks=tuple(e for e in p.checks if e.status_date <= as_of),
                   reissued_on=tuple(d for d in p.reissued_on if d <= as_of),
                   answered_on=p.answered_on if p.answered_on and p.answered_on <= as_of else None,
                   letters_on=tuple(d for d in p.letters_on if d <= as_of),
                   reported=p.reported if p.reported and p.reported[1] <= as_of else None,
                   remitted=p.remitted if p.remitted and p.remitted[1] <= as_of else None,
                   reversed=p.reversed if p.reversed and p.reversed[1] <= as_of else None)


def _issued_on(p: Property, known: Property, events: list[CheckEvent]) -> date:
    """The current check's issue: its ISSUED row, else its first row, else the latest reissue, else the
    instruction's day."""
    issued = [e.status_date for e in events if e.status == "ISSUED"]
    if issued:
        return issued[0]
    if events:
        return events[0].status_date
    return max((p.issued_on, *known.reissued_on))


def remittance_row_matches(p: Property, rules: Unclaimed, txn: Any) -> bool:
    """A ledger row remits `p` to its state: to payer `<prefix><STATE>`, its amount, its reference the
    instruction or one of its checks."""
    references = {p.instruction_id, *(e.check_number for e in p.checks)}
    return (txn.payer_id or "") == f"{rules.state_payee_prefix}{p.owner_state}" and abs(txn.amount) == p.amount \
        and (txn.reference or "") in references



def reversal_of(refund_row: str | None, rows: list[Transaction]) -> Transaction | None:
    """The REVERSAL row (itself not reversed; `rows` in posting order) that cancels `refund_row`, the refund row
    that posted the instruction back: the money is back on the account (a voided check reversed into it), where
    detection finds a credit again. None without one."""
    if not refund_row:
        return None
    reversals = [t for t in rows if t.txn_type == "REVERSAL"]
    cancelled = {t.reversal_of for t in reversals}
    return next((t for t in reversals if t.reversal_of == refund_row and t.txn_id not in cancelled), None)


REMIND_DAYS = (30, 14, 7, 1, 0)  # days before a state's report is due that the compliance officer hears of it
OVERDUE_EVERY = 7  # and every this many days after, while property it should have named waits unreported


@dataclass(frozen=True)
class ReportDue:
    """A state's report that reportable property waits for, as of a day: due in `days_left` days (<0: late)."""

    state: str
    due: date
    count: int
    amount: Decimal
    days_left: int

    def line(self) -> str:
        when = (f"due {self.due}, in {self.days_left} day(s)" if self.days_left > 0 else f"due today, {self.due}"
                if self.days_left == 0 else f"was due {self.due}, {-self.days_left} day(s) ago: file it now")
        return (f"- {self.state}: {when}; {self.count} refund(s), {money_text(self.amount)} "
                f"(refunds escheat report --state {self.state})")


def reports_due(paths: list[Path], as_of: date) -> list[ReportDue]:
    """The state reports to remind of on `as_of`: those whose reportable, unreported property is due in one of
    `REMIND_DAYS` days, or was due a multiple of `OVERDUE_EVERY` days ago. A day the pass missed is made up by
    the next reminder; a reported property is no longer reportable and is not counted."""
    waiting: dict[tuple[str, date], list[Path]] = {}
    for p in paths:
        if p.reportable and p.report_due is not None:
            waiting.setdefault((p.state, p.report_due), []).append(p)
    found = []
    for (state, due), named in sorted(waiting.items()):
        left = (due - as_of).days
        if left in REMIND_DAYS or (left < 0 and left % OVERDUE_EVERY == 0):
            found.append(ReportDue(state, due, len(named), sum((p.amount for p in named), Decimal("0.00")), left))
    return found
