"""Unclaimed property (DOMAIN.md section 9): each tracked refund's path as of a day, the steps that came due
written as history records (stale, the due-diligence letter, reportable, remitted), the compliance officer
told of letters and reports falling due, and the NAUPA report of a state. The facts are the case's history
records (tamper-evident, sealed); the index only says which instructions to look at."""

from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from creditrefunds.domain import escheat as e
from creditrefunds.domain.authentic import Tampered
from creditrefunds.domain.checks import CheckEvent
from creditrefunds.domain.history import Entry
from creditrefunds.domain.instructions import Instruction
from creditrefunds.domain.letters import due_diligence
from creditrefunds.domain.mail import escheat_digest
from creditrefunds.domain.naupa import Item, Owner, report, split_name
from creditrefunds.domain.unclaimed import Unclaimed
from creditrefunds.usecases.ports import Ports

logger = logging.getLogger(__name__)
ACTOR = "system:escheat"


def evidence(record: dict[str, Any]) -> dict[str, Any]:
    try:
        found = json.loads(record.get("evidence") or "{}")
    except ValueError:
        return {}
    return found if isinstance(found, dict) else {}


def records_of(ports: Ports, instruction_id: str, case_id: str) -> list[dict[str, Any]]:
    """The case's history records about this instruction's money."""
    return [r for r in ports.history.records(case_id) if r.get("instruction_id") == instruction_id]


def property_of(ports: Ports, i: Instruction, records: list[dict[str, Any]]) -> e.Property:
    """What the history and the ledger say of one instruction's money."""
    rules = ports.settings.unclaimed
    rows = sorted(ports.transactions.account_transactions(i.account_id), key=lambda t: (t.posting_date, t.txn_id))
    states = [t for t in rows if t.patient_state]
    names = [t.patient_name for t in rows if t.patient_name]
    facts: dict[str, Any] = {"checks": [], "reissued_on": [], "letters_on": []}
    for r in records:
        found, action = evidence(r), r.get("action")
        if action == e.CHECK:
            facts["checks"].append(CheckEvent.from_json(found))
        elif action == e.REISSUED:
            facts["reissued_on"].append(date.fromisoformat(found["on"]))
        elif action == e.ANSWERED:
            facts["answered_on"] = date.fromisoformat(found["on"])
        elif action == e.LETTER and found.get("kind") == e.DUE_DILIGENCE:
            facts["letters_on"].append(date.fromisoformat(found["as_of"]))
        elif action == e.REPORTED:
            facts["reported"] = (found["report"], date.fromisoformat(found["as_of"]))
        elif action == e.REMITTED:
            facts["remitted"] = (found["txn_id"], date.fromisoformat(found["posted_on"]))
    p = e.Property(i.instruction_id, i.case_id, i.account_id, i.payee_type, i.payee_id,
                   names[-1] if names else "", rules.owner_state(i.payee_type, states[-1].patient_state if states
                                                                 else None),
                   i.amount, i.issued_on, tuple(facts["checks"]), tuple(facts["reissued_on"]),
                   answered_on=facts.get("answered_on"), letters_on=tuple(facts["letters_on"]),
                   reported=facts.get("reported"), remitted=facts.get("remitted"), claim_id=i.claim_id)
    if p.remitted is None:
        row = next((t for t in rows if e.remittance_row_matches(p, rules, t)), None)
        if row is not None:
            p = replace(p, remitted=(row.txn_id, row.posting_date))
    undone = e.reversal_of(i.returned_by, rows)
    return replace(p, reversed=(undone.txn_id, undone.posting_date)) if undone else p


@dataclass
class Tracked:
    """One tracked instruction: what is known of it, and its path as of the day asked."""

    instruction: Instruction
    records: list[dict[str, Any]]
    prop: e.Property
    path: e.Path


def tracked(ports: Ports, as_of: date) -> list[Tracked]:
    """Every instruction whose check the register told of, with its path as of `as_of`."""
    found = []
    for iid in ports.unclaimed.tracked():
        try:
            i = ports.refund_book.get(iid)
            if i is None:
                raise Tampered(f"tracked instruction {iid} is not in the refund book")
            records = records_of(ports, iid, i.case_id)
            prop = property_of(ports, i, records)
        except Tampered as error:  # one refund that cannot be read stops no other: it is named for operators
            logger.error("an unclaimed refund cannot be read", extra={"instruction_id": iid, "why": str(error)})
            continue
        found.append(Tracked(i, records, prop, e.assess(prop, ports.settings.unclaimed, as_of)))
    return sorted(found, key=lambda t: (t.path.next_date or date.max, t.instruction.instruction_id))


@dataclass
class Advanced:
    written: list[str] = field(default_factory=list)  # "<instruction> <action>"
    letters: list[e.Path] = field(default_factory=list)
    reportable: list[e.Path] = field(default_factory=list)
    due: list[e.ReportDue] = field(default_factory=list)  # the state reports the compliance officer is reminded of
    reported_reversed: list[e.Path] = field(default_factory=list)  # reported, then reversed onto the account

    def to_json(self) -> dict[str, Any]:
        return {"written": self.written, "letters": [p.instruction_id for p in self.letters],
                "reportable": [p.instruction_id for p in self.reportable],
                "reported_reversed": [p.instruction_id for p in self.reported_reversed],
                "reports_due": [{"state": d.state, "due": d.due.isoformat(), "refunds": d.count,
                                 "amount": str(d.amount), "days_left": d.days_left} for d in self.due]}


def advance(ports: Ports, as_of: date, now: datetime, compliance: str) -> Advanced:
    """Write the steps that came due by `as_of` (each once), and tell the compliance officer of the letters
    written, the properties that became reportable, and the state reports coming due or late."""
    done, paths = Advanced(), []
    for t in tracked(ports, as_of):
        path = _advance_one(ports, t, as_of, now, done)
        paths.append(path)
        ports.unclaimed.note(t.instruction.instruction_id, path.stage, path.next_date)
    done.due = e.reports_due(paths, as_of)
    if done.letters or done.reportable or done.due or done.reported_reversed:
        ports.mailer.send(escheat_digest(compliance, as_of, done.letters, done.reportable, done.due,
                                         done.reported_reversed), now)
    return done


def _advance_one(ports: Ports, t: Tracked, as_of: date, now: datetime, done: Advanced) -> e.Path:
    """The refund's steps due by `as_of`, each once; its path after them."""
    path, mine, iid = t.path, t.records, t.instruction.instruction_id
    if t.prop.remitted and not _has(mine, e.REMITTED):
        txn, posted = t.prop.remitted
        record_step(ports, t.instruction, ACTOR, e.REMITTED, f"remitted to {path.state} by ledger row {txn}: the "
                    "property is closed", {"txn_id": txn, "posted_on": posted.isoformat()}, now)
        done.written.append(f"{iid} {e.REMITTED}")
    elif t.prop.reversed and path.stage in ("REVERSED", "REPORTED") and not _has(mine, e.BACK_ON_ACCOUNT):
        txn, posted = t.prop.reversed
        told = path.stage == "REPORTED"  # the state was told first: the credit back on the account is the state's
        record_step(ports, t.instruction, ACTOR, e.BACK_ON_ACCOUNT, f"its refund row was reversed by ledger row {txn} "
                    f"on {posted}: the money is back on account {t.instruction.account_id}, " + (
                        "after a report named it: the credit is the state's, to remit, not to refund" if told
                        else "off the state's path"), {"txn_id": txn, "posted_on": posted.isoformat()}, now)
        done.written.append(f"{iid} {e.BACK_ON_ACCOUNT}")
        if told:
            done.reported_reversed.append(path)
    elif path.unclaimed_since and path.stage not in (*e.OFF_PATH, "OUTSTANDING", "CLOSED") and \
            not _has(mine, e.STALE, check_number=path.check_number):
        record_step(ports, t.instruction, ACTOR, e.STALE, f"check {path.check_number or '(none)'} unclaimed since "
                    f"{path.unclaimed_since}; dormant on {path.dormant_on}, report to {path.state} by "
                    f"{path.report_due}", {"check_number": path.check_number, "since": path.unclaimed_since.isoformat(),
                                           "as_of": as_of.isoformat()}, now)
        done.written.append(f"{iid} {e.STALE}")
    if path.stage == "LETTER_DUE":
        write_due_diligence(ports, t, as_of, now)
        done.written.append(f"{iid} {e.LETTER}")
        done.letters.append(path)
        path = e.assess(replace(t.prop, letters_on=(*t.prop.letters_on, as_of)), ports.settings.unclaimed, as_of)
    if path.reportable and not _has(mine, e.REPORTABLE, dormant_on=str(path.dormant_on)):
        record_step(ports, t.instruction, ACTOR, e.REPORTABLE, f"dormant since {path.dormant_on}: report to "
                    f"{path.state} by {path.report_due}", {"dormant_on": str(path.dormant_on),
                                                           "report_due": str(path.report_due)}, now)
        done.written.append(f"{iid} {e.REPORTABLE}")
        done.reportable.append(path)
    return path


def record_step(ports: Ports, i: Instruction, actor: str, action: str, why: str, facts: dict[str, Any],
                now: datetime) -> None:
    """One step of the refund's money as a history record on its case: the status unchanged, the facts typed
    (JSON in `evidence`) for whoever reads the path again."""
    stored = ports.cases.require(i.case_id)
    ports.history.append(stored.case, Entry(actor, action, stored.status, stored.status, why, i.amount,
                                            instruction_id=i.instruction_id,
                                            evidence=json.dumps(facts, sort_keys=True)), now)


def _has(records: list[dict[str, Any]], action: str, **facts: str) -> bool:
    return any(r.get("action") == action and all(evidence(r).get(k) == v for k, v in facts.items())
               for r in records)


def write_due_diligence(ports: Ports, t: Tracked, as_of: date, now: datetime) -> str:
    """The due-diligence letter to the last known address, kept under letters/ and listed with its SHA-256."""
    i = t.instruction
    rows = ports.transactions.account_transactions(i.account_id)
    letter = due_diligence(i, t.path, rows, ports.settings.unclaimed.holder, address_lines(ports, i.instruction_id),
                           as_of)
    return record_letter(ports, i, letter, now)


def address_lines(ports: Ports, instruction_id: str) -> list[str]:
    """The confirmed corrected address as a letter's lines (none: the vendor's last known address)."""
    where = ports.unclaimed.address(instruction_id)
    lines = [where.get("line1", ""), " ".join(where.get(k, "") for k in ("city", "state", "zip")).strip()]
    return [x for x in lines if x]


def record_letter(ports: Ports, i: Instruction, letter: Any, now: datetime) -> str:
    """Store the letter's PDF and write its LETTER_WRITTEN record (kind, key, SHA-256, as of)."""
    key, sha = ports.letters.write(letter)
    facts = {"kind": letter.kind, "key": key, "sha256": sha, "as_of": letter.written_on.isoformat()}
    record_step(ports, i, ACTOR, e.LETTER, f"{letter.kind} letter written: {key} (SHA-256 {sha})", facts, now)
    return key


def state_report(ports: Ports, state: str, as_of: date) -> tuple[bytes, list[Tracked]]:
    """The NAUPA file of what is reportable to `state` in the report cycle of `as_of` (this cycle's property and
    any earlier cycle's not yet reported), and the refunds it names."""
    rules: Unclaimed = ports.settings.unclaimed
    state = state.upper()
    due = rules.calendar_of(state).due_on_or_after(as_of)
    chosen = [t for t in tracked(ports, as_of) if t.path.state == state and t.path.in_report(due)]
    holder = rules.holder
    data = report({"HOLDER-TAX-ID": holder.tax_id, "HOLDER-REPORT-YEAR": as_of.year, "HOLDER-REPORT-NUMBER": 1,
                   "HOLDER-SIC-CODE": holder.sic_code, "HOLDER-INCORP-STATE": holder.incorporation_state,
                   "HOLDER-NAME": holder.name, "HOLDER-CITY": holder.city, "HOLDER-STATE": holder.state,
                   "HOLDER-CONTACT-NAME": holder.contact, "HOLDER-CONTACT-ADDR-1": holder.address,
                   "HOLDER-CONTACT-CITY": holder.city, "HOLDER-CONTACT-STATE": holder.state,
                   "HOLDER-CONTACT-ZIP": holder.zip, "HOLDER-CONTACT-PHONE": holder.phone,
                   "HOLDER-CONTACT-EMAIL": holder.email, "HOLDER-REPORT-STATE": state, "HOLDER-AS-OF-DATE": as_of},
                  [_item(ports, t, rules) for t in chosen])
    return data, chosen


def record_report(ports: Ports, state: str, as_of: date, data: bytes, chosen: list[Tracked], now: datetime,
                  actor: str = ACTOR) -> str:
    """The report as filed: the file kept under outbound/escheat/ (its SHA-256 its id), and each property it
    names recorded ESCHEAT_REPORTED by `actor`, so that no later report names it again. Returns the key."""
    report_id = hashlib.sha256(data).hexdigest()[:32]
    key = ports.bucket.put_text(f"outbound/escheat/{state.upper()}/{as_of.isoformat()}-{report_id}.txt",
                                data.decode("ascii"), "text/plain")
    for t in chosen:
        record_step(ports, t.instruction, actor, e.REPORTED, f"reported to {state.upper()} as of {as_of} (report "
                    f"{report_id}, {key})", {"report": report_id, "state": state.upper(), "as_of": as_of.isoformat(),
                                             "file": key}, now)
        ports.unclaimed.note(t.instruction.instruction_id, "REPORTED", t.path.report_due)
    return key


def _item(ports: Ports, t: Tracked, rules: Unclaimed) -> Item:
    i, path = t.instruction, t.path
    where = ports.unclaimed.address(i.instruction_id)
    second = None
    if i.payee_type == "PATIENT":
        last, first, middle = split_name(t.prop.owner_name or f"GUARANTOR {i.payee_id}")
        owner = Owner(last, first, middle, "P", where.get("line1", ""), where.get("city", ""),
                      where.get("state", "") or path.state, where.get("zip", ""))
        stored = ports.cases.get(i.case_id, strict=False)
        if stored is not None and stored.case.guarantor_id != stored.case.patient_id:
            second = Owner(f"GUARANTOR {i.payee_id}")  # the payee: the ledger names the patient only
        code = rules.property_code_patient
    else:
        owner = Owner(i.payee_id or i.payee_type, kind="B", state=path.state)
        code = rules.property_code_payer
    _, events = t.prop.current_check()
    first_day = events[0].status_date if events else i.issued_on
    last_day = events[-1].status_date if events else i.issued_on
    advertised = any(r.get("action") == e.LETTER and evidence(r).get("kind") == e.DUE_DILIGENCE for r in t.records)
    return Item(owner, Decimal(i.amount), code, first_day, last_day, path.check_number, i.instruction_id,
                f"HEALTHCARE REFUND {i.reason}", advertised, second)
