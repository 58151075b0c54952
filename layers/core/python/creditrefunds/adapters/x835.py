"""Read an X12 835 (005010X221A1) with pyx12, which parses the interchange and validates it against
the implementation guide's map it ships. Out comes a `RemittanceFile`: the claims and provider-level
adjustments that can be read, each rejected one with its segment position and reason, and the
guide's other findings as notes.

What rejects what:
- the file: it is not an X12 interchange, or not an 835 of 005010X221A1, or its envelope is broken
  (ISA/IEA, GS/GE, ST/SE: control numbers, counts, trailers), or it names no payer (N1*PR);
- a claim: its CLP breaks the guide (a missing or malformed element) or cannot be read (account,
  status, amount or ICN not usable);
- a PLB adjustment: its amount or reason cannot be read.
Deviations in what is not read here (service lines, contacts) are notes: kept, shown, not fatal.

pyx12 logs what it finds, values included, and an 835 holds patients' names: its loggers are silenced
here, and the problems are kept with their positions instead.
"""

from __future__ import annotations

import hashlib
import io
import logging
import re
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any

import pyx12.errors
import pyx12.params
import pyx12.x12context

from creditrefunds.domain.money import money
from creditrefunds.domain.remittance import ClaimPayment, Problem, ProviderAdjustment, RemittanceFile, Source

for _name in ("pyx12", "pyx12.error_handler", "pyx12.x12file", "pyx12.map_if", "pyx12.map_walker"):
    logging.getLogger(_name).disabled = True  # its messages carry segment values (names, ids)

GUIDE = "005010X221A1"
ENVELOPE = {"isa": "ISA/IEA", "gs": "GS/GE", "st": "ST/SE"}  # pyx12's error kinds of the envelope's pairs


class _NotRemittance(Exception):
    def __init__(self, problem: Problem) -> None:
        super().__init__(str(problem))
        self.problem = problem


class _Problems:
    """pyx12's error handler interface: every problem it reports, at the segment it was reading."""

    def __init__(self) -> None:
        self.envelope: list[Problem] = []
        self.found: list[Problem] = []
        self.src: Any = None
        self._segment = ("ISA", 1)

    def position(self) -> int:
        return self.src.get_cur_line() if self.src is not None else self._segment[1]

    def _envelope(self, code: str, reason: str, pair: str) -> None:
        self.envelope.append(Problem(self.position(), pair, f"{reason} (code {code})"))

    def handle_errors(self, errors: list[tuple[str, str, str, Any, int | None]]) -> None:
        for kind, code, reason, _value, line in errors:
            if kind in ENVELOPE:
                self._envelope(code, reason, ENVELOPE[kind])
            else:
                self.found.append(Problem(line or self.position(), self._segment[0], f"{reason} (code {code})"))

    def add_isa_loop(self, seg: Any, src: Any) -> None:
        self._segment = ("ISA", src.get_cur_line())

    def add_gs_loop(self, seg: Any, src: Any) -> None:
        self._segment = ("GS", src.get_cur_line())

    def add_st_loop(self, seg: Any, src: Any) -> None:
        self._segment = ("ST", src.get_cur_line())

    def add_seg(self, node: Any, seg: Any, count: int, line: int, ls_id: Any) -> None:
        self._segment = (seg.get_seg_id(), line)

    def add_ele(self, node: Any) -> None:
        pass

    def isa_error(self, code: str, reason: str) -> None:
        self._envelope(code, reason, "ISA/IEA")

    def gs_error(self, code: str, reason: str) -> None:
        self._envelope(code, reason, "GS/GE")

    def st_error(self, code: str, reason: str) -> None:
        self._envelope(code, reason, "ST/SE")

    def seg_error(self, code: str, reason: str, value: str | None = None, line: int | None = None) -> None:
        self.found.append(Problem(line or self.position(), self._segment[0], f"{reason} (code {code})"))

    def ele_error(self, code: str, reason: str, value: str | None, refdes: str | None = None) -> None:
        self.found.append(Problem(self.position(), self._segment[0], f"{reason} (code {code})", refdes or ""))

    def close_isa_loop(self, *args: Any) -> None:
        pass

    def close_gs_loop(self, *args: Any) -> None:
        pass

    def close_st_loop(self, *args: Any) -> None:
        pass


@dataclass
class _Payment:
    """One transaction set (ST/SE): one payer's payment and the claims and adjustments it carries."""

    start: int
    payer_name: str = ""
    payer_id: str = ""
    trace: str = ""
    paid_on: date | None = None
    claims: list[tuple[int, Any, list[Any]]] = field(default_factory=list)  # CLP position, segment, its CASes
    plb: list[tuple[int, Any]] = field(default_factory=list)


def read_835(data: bytes, name: str) -> RemittanceFile:
    """Read an interchange; never raises for bad input: the file says what was rejected and why."""
    found = RemittanceFile(name, hashlib.sha256(data).hexdigest())
    # X12 is ASCII, but names from payers' systems come in Latin-1 or UTF-8 too: every byte reads as one
    # character (what is read here is ASCII; pyx12 flags a bad character where it matters). A byte-order mark
    # or blank lines before the ISA are not part of the interchange.
    text = data.decode("latin-1").lstrip("\ufeff\xef\xbb\xbf \t\r\n")
    problems = _Problems()
    payments: list[_Payment] = []
    try:
        reader = pyx12.x12context.X12ContextReader(pyx12.params.params(), problems, io.StringIO(text))
        problems.src = reader.src
        _walk(reader, payments, problems)
        reader.src.cleanup()  # missing trailers at the end of the file
        problems.handle_errors(reader.src.pop_errors())
    except _NotRemittance as error:
        found.rejected = error.problem
        return found
    except (pyx12.errors.X12Error, pyx12.errors.EngineError, IndexError, ValueError, AttributeError) as error:
        found.rejected = Problem(problems.position(), "", f"not a readable X12 interchange: {error}")
        return found
    if problems.envelope:
        found.rejected = problems.envelope[0]
        found.rejects = problems.envelope[1:]
        return found
    if not payments:
        found.rejected = Problem(problems.position(), "ST", "no 835 transaction set (ST*835) in the interchange")
        return found
    _collect(found, payments, problems.found)
    return found


def _walk(reader: Any, payments: list[_Payment], problems: _Problems) -> None:
    """Every segment as pyx12 placed it in the 835 map; one `_Payment` per ST."""
    current: _Payment | None = None
    for node in reader.iter_segments():
        seg, position = node.seg_data, problems.position()
        seg_id = seg.get_seg_id()
        if seg_id == "GS" and (seg.get_value("GS01") != "HP" or seg.get_value("GS08") != GUIDE):
            raise _NotRemittance(Problem(position, "GS", f"the functional group is {seg.get_value('GS01')}/"
                                                         f"{seg.get_value('GS08')}, not HP/{GUIDE} (an 835)"))
        if seg_id == "ST":
            current = _Payment(position)
            payments.append(current)
            continue
        if current is None:
            continue
        path = node.x12_map_node.get_path() if node.x12_map_node is not None else ""
        # Each field only where the guide puts it: a segment pyx12 could not place keeps the path of the
        # one before it, so a stray REF*2U or CLP is a note, never read as the payer or a claim.
        if path.endswith("/HEADER/BPR"):
            current.paid_on = _date(seg.get_value("BPR16"))
        elif path.endswith("/HEADER/TRN"):
            current.trace = seg.get_value("TRN02") or ""
        elif path.endswith("/HEADER/1000A/N1") and seg_id == "N1":
            current.payer_name = seg.get_value("N102") or ""
            current.payer_id = current.payer_id or seg.get_value("N104") or ""
        elif path.endswith("/HEADER/1000A/REF") and seg_id == "REF" and seg.get_value("REF01") == "2U":
            current.payer_id = seg.get_value("REF02") or ""
        elif path.endswith("/2100/CLP") and seg_id == "CLP":
            current.claims.append((position, seg, []))
        elif path.endswith("/2100/CAS") and seg_id == "CAS" and current.claims:
            current.claims[-1][2].append(seg)
        elif path.endswith("/FOOTER/PLB") and seg_id == "PLB":
            current.plb.append((position, seg))


def _collect(found: RemittanceFile, payments: list[_Payment], problems: list[Problem]) -> None:
    """Claims and adjustments out of the payments, rejecting those the guide or their values condemn."""
    # A bad element of a CLP or PLB rejects it; a segment-level finding on one (pyx12 4.0.0 counts a second
    # PLB against the footer's loop, though the guide repeats PLB) is a note, as everywhere else.
    by_position = {p.position: p for p in problems if p.segment in ("CLP", "PLB") and p.element}
    found.notes = [p for p in problems if p.position not in by_position]
    for payment in payments:
        if not payment.payer_name and not payment.payer_id:
            found.rejects.append(Problem(payment.start, "ST", "the payment names no payer (N1*PR): its claims "
                                                              "cannot be matched"))
            continue
        for position, seg, cases in payment.claims:
            source = _source(found, payment, position)
            why = by_position.get(position)
            claim = None if why else _claim(seg, cases, source)
            if isinstance(claim, ClaimPayment):
                found.claims.append(claim)
            else:
                found.rejects.append(why or Problem(position, "CLP", claim or "unreadable"))
        for position, seg in payment.plb:
            why = by_position.get(position)
            if why:
                found.rejects.append(why)
                continue
            adjustments = _plb(seg, _source(found, payment, position))
            if isinstance(adjustments, str):
                found.rejects.append(Problem(position, "PLB", adjustments))
            else:
                found.adjustments += adjustments


def _source(found: RemittanceFile, payment: _Payment, position: int) -> Source:
    return Source(found.name, found.digest, payment.payer_name, payment.payer_id, payment.trace, payment.paid_on,
                  position)


def _claim(seg: Any, cases: list[Any], source: Source) -> ClaimPayment | str:
    """One CLP (and its claim-level CASes) as a claim payment, or why it cannot be used."""
    account, status, claim_id = (seg.get_value(f"CLP0{n}") or "" for n in (1, 2, 7))
    if not account:
        return "CLP01 (patient control number) is empty: no account to match"
    if not claim_id:
        return "CLP07 (payer claim control number) is empty: no claim to match"
    amounts = [_amount(seg.get_value(f"CLP0{n}")) for n in (3, 4, 5)]
    if amounts[0] is None or amounts[1] is None:
        return "CLP03/CLP04 (charge, payment) are not amounts with at most two decimals"
    adjustments = []
    for cas in cases:
        group = cas.get_value("CAS01") or ""
        for reason_at, amount_at in ((2, 3), (5, 6), (8, 9), (11, 12), (14, 15), (17, 18)):
            reason = cas.get_value(f"CAS{reason_at:02d}")
            amount = _amount(cas.get_value(f"CAS{amount_at:02d}"))
            if reason and amount is not None:
                adjustments.append((group, reason, amount))
    return ClaimPayment(account, status, amounts[0], amounts[1], amounts[2], seg.get_value("CLP06") or "",
                        claim_id, source, tuple(adjustments))


def _plb(seg: Any, source: Source) -> list[ProviderAdjustment] | str:
    """A PLB's adjustments (up to six reason/amount pairs), or why it cannot be read."""
    out = []
    for at in (3, 5, 7, 9, 11, 13):
        reason, reference = seg.get_value(f"PLB{at:02d}-1"), seg.get_value(f"PLB{at:02d}-2") or ""
        if not reason:
            continue
        amount = _amount(seg.get_value(f"PLB{at + 1:02d}"))
        if amount is None:
            return f"PLB{at + 1:02d} is not an amount with at most two decimals"
        out.append(ProviderAdjustment(reason, reference, amount, source))
    return out


X12_AMOUNT = re.compile(r"-?(?:[0-9]{1,10}(?:\.[0-9]{0,2})?|\.[0-9]{1,2})")  # R: ASCII digits, no exponent


def _amount(text: str | None) -> Decimal | None:
    """An X12 decimal of at most two places and ten integer digits; None for anything else."""
    if not text or not X12_AMOUNT.fullmatch(text):
        return None
    return money(text)


def _date(text: str | None) -> date | None:
    if not text or len(text) != 8 or not (text.isascii() and text.isdigit()):
        return None
    try:
        return date(int(text[:4]), int(text[4:6]), int(text[6:]))
    except ValueError:
        return None
