"""What each letter says (DOMAIN.md section 10): the patient's refund notice and the payer's refund letter at
issue, and the due-diligence letter before a state report. A letter shows its recipient only what is theirs:
built from one instruction and the rows of its own account (a payer's letter from that payer's rows alone).
Rendering to PDF is an adapter's (adapters/letters_pdf.py). Pure."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta

from creditrefunds.domain.escheat import DUE_DILIGENCE, Path
from creditrefunds.domain.instructions import Instruction
from creditrefunds.domain.ledger import Transaction
from creditrefunds.domain.money import money_text
from creditrefunds.domain.reports import CMS838_REASON
from creditrefunds.domain.unclaimed import Holder

PATIENT_NOTICE, PAYER_LETTER = "patient-notice", "payer-letter"
KINDS = (PATIENT_NOTICE, PAYER_LETTER, DUE_DILIGENCE)
CALIFORNIA_HEADING = ("THE STATE OF CALIFORNIA REQUIRES US TO NOTIFY YOU THAT YOUR UNCLAIMED PROPERTY MAY BE "
                      "TRANSFERRED TO THE STATE IF YOU DO NOT CONTACT US.")  # Cal. Code Civ. Proc. 1513.5
COLORADO_HEADING = ("Notice. The State of Colorado requires us to notify you that your property may be transferred "
                    "to the custody of the state treasurer if you do not contact us before {answer_by}.")  # 38-13-502
REASONS = {"DUPLICATE_PAYMENT": "the same payment was made twice",
           "MSP_OTHER_PRIMARY": "another insurer was primary (Medicare Secondary Payer)",
           "COB_ERROR": "another insurer paid as primary (coordination of benefits)",
           "PATIENT_OVERPAYMENT": "you paid more than you owed", "PAYER_OVERPAYMENT": "the plan paid more than was due"}
# The contractors' voluntary refund form's reasons (CMS Financial Management Manual ch. 5, exhibit 1).
MEDICARE_FORM_REASON = {"DUPLICATE_PAYMENT": "Duplicate payment (Billing/Clerical Error)",
                        "MSP_OTHER_PRIMARY": "MSP/Other Payer Involvement: other insurance primary",
                        "PAYER_OVERPAYMENT": "Billing/Clerical Error: overpayment",
                        "COB_ERROR": "MSP/Other Payer Involvement"}


@dataclass(frozen=True)
class Letter:
    """A letter's content: to whom, an optional heading the law requires, its title, paragraphs, and a
    table of (label, value) rows. `leaf` names it under the case's folder."""

    kind: str
    case_id: str
    instruction_id: str
    recipient: list[str]
    title: str
    paragraphs: list[str]
    rows: list[tuple[str, str]] = field(default_factory=list)
    heading: str = ""
    sender: list[str] = field(default_factory=list)
    written_on: date | None = None

    @property
    def key(self) -> str:
        """Where it is kept in the ledger bucket (and found by the print vendor)."""
        line = self.instruction_id.rsplit("#", 1)[-1]
        suffix = f"-{self.written_on:%Y%m%d}" if self.kind == DUE_DILIGENCE and self.written_on else ""
        return f"letters/{self.case_id}/{self.kind}-line{line}{suffix}.pdf"


def _sender(holder: Holder) -> list[str]:
    lines = [holder.name, holder.address, " ".join(p for p in (holder.city, holder.state, holder.zip) if p)]
    return [line for line in lines if line]


def _contact(holder: Holder) -> str:
    ways = [w for w in (holder.phone, holder.email) if w]
    who = holder.contact or f"the {holder.name} patient accounts office"
    return f"{who}{' at ' + ' or '.join(ways) if ways else ''}"


def _last(rows: list[Transaction], attribute: str) -> str:
    values = [str(getattr(t, attribute)) for t in sorted(rows, key=lambda t: (t.posting_date, t.txn_id))
              if getattr(t, attribute)]
    return values[-1] if values else ""


def _service(rows: list[Transaction]) -> str:
    days = sorted({t.service_date for t in rows if t.service_date} or {t.posting_date for t in rows
                                                                        if t.txn_type == "CHARGE"})
    if not days:
        return ""
    return days[0].isoformat() if days[0] == days[-1] else f"{days[0]} to {days[-1]}"


def _payer_rows(i: Instruction, rows: list[Transaction]) -> list[Transaction]:
    return [t for t in rows if (t.payer_type, t.payer_id or "") == (i.payee_type, i.payee_id)]


def patient_notice(i: Instruction, rows: list[Transaction], holder: Holder, day: date) -> Letter:
    """With the check: what was refunded, why, for which visit, how much, and whom to call."""
    name = _last(rows, "patient_name")
    return Letter(PATIENT_NOTICE, i.case_id, i.instruction_id, [name or f"Guarantor {i.payee_id}"],
                  "Your refund", [
                      f"We are refunding {money_text(i.amount)} to you: {REASONS.get(i.reason, i.reason.lower())}.",
                      f"The refund is sent by {i.method} on {i.issued_on}. Please cash it promptly: a check left "
                      "uncashed is reported to the state as unclaimed property.",
                      f"Questions: call {_contact(holder)}, and name account {i.account_id}."],
                  [("Patient", name), ("Account", i.account_id), ("Date(s) of service", _service(rows)),
                   ("Refund amount", money_text(i.amount)), ("Reference", i.instruction_id)],
                  sender=_sender(holder), written_on=day)


def payer_letter(i: Instruction, rows: list[Transaction], holder: Holder, day: date) -> Letter:
    """What a payer's refund department needs to apply the money; for Medicare, the fields of the contractor's
    voluntary refund form with the CMS-838 reason. Only this payer's rows are read."""
    mine = _payer_rows(i, rows)
    claims = sorted({t.claim_id for t in mine if t.claim_id} | ({i.claim_id} if i.claim_id else set()))
    table = [("Provider", holder.name), ("NPI", holder.npi), ("Tax id", holder.tax_id),
             ("Payer", f"{i.payee_type} {i.payee_id}".strip()), ("Payer claim number (ICN)", ", ".join(claims)),
             ("Patient", _last(rows, "patient_name")), ("Patient account", i.account_id),
             ("Date(s) of service", _service(mine)), ("Refund amount", money_text(i.amount)),
             ("Reason", REASONS.get(i.reason, i.reason)), ("Method", i.method), ("Reference", i.instruction_id)]
    if i.payee_type == "MEDICARE":
        table[5:5] = [("Medicare beneficiary identifier (MBI)", _last(rows, "mbi")),
                      ("Type of bill", _last(mine, "type_of_bill"))]
        table += [("Reason for refund (voluntary refund form)", MEDICARE_FORM_REASON.get(i.reason, "Other")),
                  ("CMS-838 reason code", CMS838_REASON.get(i.reason, "3"))]
    title = "Voluntary refund: Medicare" if i.payee_type == "MEDICARE" else "Refund of overpayment"
    return Letter(PAYER_LETTER, i.case_id, i.instruction_id, [f"Refund department, {i.payee_id or i.payee_type}"],
                  title, [f"{holder.name} returns {money_text(i.amount)} paid on the claim below "
                          f"({REASONS.get(i.reason, i.reason.lower())}).",
                          f"The money goes by {i.method}. Questions: {_contact(holder)}."],
                  table, sender=_sender(holder), written_on=day)


def due_diligence(i: Instruction, path: Path, rows: list[Transaction], holder: Holder, address: list[str],
                  day: date) -> Letter:
    """The letter to the last known address before the money goes to the state: the state's required words
    where it sets them, the amount, how to claim it, and the day by which to answer."""
    answer_by = min(path.report_due or day, day + timedelta(days=30)) if path.state == "CO" else \
        (path.report_due or day) - timedelta(days=1)
    heading = {"CA": CALIFORNIA_HEADING, "CO": COLORADO_HEADING.format(answer_by=answer_by)}.get(path.state, "")
    name = _last(rows, "patient_name") if i.payee_type == "PATIENT" else f"Refund department, {i.payee_id}"
    return Letter(DUE_DILIGENCE, i.case_id, i.instruction_id, [name or f"Guarantor {i.payee_id}", *address],
                  "Unclaimed property: your refund", [
                      f"We hold {money_text(i.amount)} that belongs to you: a refund sent on {i.issued_on} by check "
                      f"{path.check_number or i.instruction_id} that was never cashed.",
                      f"Unless you contact us by {answer_by}, the law requires us to report it and deliver it to the "
                      f"State of {path.state} as unclaimed property; you may then claim it from the state.",
                      f"To claim it now, call {_contact(holder)}, name account {i.account_id} and reference "
                      f"{i.instruction_id}, and confirm your address: we will send it to you."],
                  [("Owner", name), ("Amount", money_text(i.amount)), ("Refund sent on", i.issued_on.isoformat()),
                   ("Check", path.check_number), ("Account", i.account_id), ("Answer by", answer_by.isoformat())],
                  heading=heading, sender=_sender(holder), written_on=day)
