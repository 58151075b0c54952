"""Every message the product sends: who to, subject, plain text and HTML. No unmasked PHI."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from creditrefunds.domain.approvals import Approval, Snapshot
from creditrefunds.domain.cases import Case
from creditrefunds.domain.money import money_text
from creditrefunds.domain.pages import line_rows
from creditrefunds.domain.templates import render


@dataclass(frozen=True)
class Mail:
    to: tuple[str, ...]
    subject: str
    text: str
    html: str

    def to_json(self) -> dict[str, Any]:
        return {"to": list(self.to), "subject": self.subject, "text": self.text, "html": self.html}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Mail:
        return cls(tuple(str(a) for a in data["to"]), str(data["subject"]), str(data["text"]), str(data["html"]))


def _plain(to: str, subject: str, text: str) -> Mail:
    """A message whose HTML is its text, escaped."""
    return Mail((to,), subject, text, render("plain_mail.html", text=text))


def approval_request(snapshot: Snapshot, approval: Approval, link: str) -> Mail:
    """The mail asking for a decision: the snapshot it decides, its lines, one single-use link."""
    refund = money_text(snapshot.refund_total)
    due = snapshot.due_date.isoformat() if snapshot.due_date else "no due date"
    subject = (("Payee changed: " if snapshot.payee_changes else "")
               + f"Refund approval needed: {refund} on account {snapshot.account_id} (tier {approval.tier}, due {due})")
    rows = line_rows(snapshot.lines)
    changed = (["THE PAYEE CHANGED since an earlier approval of this case:",
                *[f"  {change}" for change in snapshot.payee_changes], ""] if snapshot.payee_changes else [])
    text = "\n".join([
        *changed,
        f"A credit balance refund needs your approval (tier {approval.tier}).",
        "",
        f"Account:   {snapshot.account_id}",
        f"Patient:   {snapshot.masked_name}",
        f"Credit:    {money_text(snapshot.credit)}",
        f"Refund:    {refund}",
        f"Due date:  {due}",
        "",
        *[f"  {r['action']:<8} {r['reason']:<20} {r['payee'] or '-':<24} {r['amount']:>12}  "
          f"due {r['due_date'] or '-'}" for r in rows],
        "",
        f"Open the case to approve or reject it: {link}",
        "The link works once and expires; opening it decides nothing.",
    ])
    body = render("approval_mail.html", tier=approval.tier, account=snapshot.account_id, patient=snapshot.masked_name,
                  credit=money_text(snapshot.credit), refund=refund, due=due, lines=rows, link=link,
                  payee_changes=list(snapshot.payee_changes))
    return Mail((approval.approver,), subject, text, body)


def approval_moved_on(approval: Approval, case: Case, new_tier: int) -> Mail:
    """To the approver whose link an escalation superseded."""
    return _plain(approval.approver, f"Approval moved on: account {case.account_id}",
                  f"The refund approval for account {case.account_id} waited past its time and was passed to the "
                  f"tier {new_tier} approver. Your link no longer decides anything.")


def approval_withdrawn(approval: Approval, case: Case, cause: str = "a ledger file") -> Mail:
    """To the approver whose link a change of the case superseded."""
    return _plain(approval.approver, f"Approval withdrawn: account {case.account_id}",
                  f"The refund approval for account {case.account_id} was withdrawn: {cause} changed the "
                  "case's lines after you were asked. A new approval is asked for the lines as they are now. "
                  "Your link no longer decides anything.")


def decision_refused(to: str, case_id: str, why: str) -> Mail:
    """To operators: the workflow was told of a decision that no approval link records."""
    return _plain(to, f"Refund decision refused: case {case_id}",
                  f"The refund workflow of case {case_id} was told of a decision that no approval link records: "
                  f"{why}. Nothing was issued and a new approval is asked. Someone who can answer the workflow's "
                  "tasks may have tried to approve without a link: look at the execution history and at who may "
                  "call states:SendTaskSuccess.")


def compliance_notice(to: str, case: Case, why: str, new_tier: int) -> Mail:
    """To the compliance officer: an approval near or past its due date, or out of tiers."""
    subject = f"Credit balance refund not yet approved, {why.split(',')[0]}: account {case.account_id}"
    return _plain(to, subject, f"The refund of {case.refund_total:f} on account {case.account_id} (case "
                               f"{case.case_id}) is {why}. It now waits for the tier {new_tier} approver.")


def case_failed(to: str, case_id: str, error: str, cause: str) -> Mail:
    """To operators: a workflow step failed and the case needs a person."""
    return _plain(to, f"Refund workflow failure: case {case_id}",
                  f"Case {case_id} failed at a workflow step and needs a person.\n\nError: {error}\n"
                  f"Cause: {cause}\n\nThe case's history holds the record (refunds audit case {case_id}).")


def seal_refused(to: str, key: str, refused: list[tuple[str, str]]) -> Mail:
    """To operators: the seal found case histories changed since the last seal, and did not sign them."""
    lines = "\n".join(f"- case {case_id}: {why}" for case_id, why in refused)
    return _plain(to, f"History changed under the seal: {len(refused)} case(s)",
                  f"The seal {key} refused to sign these case histories: they were rewritten, truncated or deleted "
                  f"since the previous seal (its heads are kept for them).\n\n{lines}\n\n"
                  "Compare with `refunds audit verify` and the seals in the seal bucket.")


def ledger_failed(to: str, name: str, reason: str) -> Mail:
    """To operators: a dropped file (a ledger, or an 835 remittance) could not be read and acted on in full."""
    return _plain(to, f"Dropped file failed: {name}",
                  f"The file {name} could not be stored and acted on in full: {reason}\n"
                  f"It is kept in rejected/ with the reason beside it. What was already stored stays stored (a "
                  f"ledger's rows by txn_id, a remittance's claims and takebacks by payer, claim and trace); drop "
                  f"the file again once the cause is fixed.")


def ledger_empty(to: str, name: str, where: str) -> Mail:
    """To operators: a dropped ledger held a header and no rows. Not an error in the rows; most often an
    extract that ran before the billing system posted, or on the wrong day."""
    return _plain(to, f"Dropped ledger held no rows: {name}",
                  f"The file {name} was read: it holds its header and no transaction rows, so nothing was stored "
                  f"and no credit was detected from it. If the billing system posted that day, its extract ran "
                  f"empty: run it again and drop the file. The notice is kept at {where}.")


def takeback_alert(to: tuple[str, ...], case: Case, payer: str, evidence: str, instructions: list[str],
                   issued: bool) -> Mail:
    """To operators and the compliance officer: a payer took back money a refund already approved (or
    issued) would repay. Each instruction named must be stopped: a check now pays the payer twice."""
    names = ", ".join(instructions)
    state = "was issued" if issued else "is approved and not yet issued"
    subject = f"STOP refund instruction {names}: the payer already recouped (account {case.account_id})"
    text = (f"The refund to payer {payer} on account {case.account_id} (case {case.case_id}) {state}, but the payer "
            f"has already taken the money back: {evidence}.\n\nStop instruction {names}"
            f"{' (pull it from the accounts-payable run, or void the check)' if issued else ''}: paying it would repay "
            "the payer twice. Post the recoupment in the billing system instead. The case's history records this "
            "remittance.")
    return Mail(to, subject, text, render("plain_mail.html", text=text))


def escheat_digest(to: str, as_of: Any, letters: list[Any], reportable: list[Any], due: Any = (),
                   reversed_: Any = ()) -> Mail:
    """To the compliance officer: due-diligence letters written, properties that became reportable (by
    instruction, state, amount and date), state reports coming due or late, and reported property whose refund
    row was reversed onto its account (no owner's name: the history and the console show who)."""
    lines = [f"As of {as_of}:"]
    if reversed_:
        lines.append(f"\n{len(reversed_)} reported refund(s) reversed back onto their accounts: the credit there "
                     "is the state's. Remit it; do not approve a refund of it to the owner:")
        lines += [f"- {p.instruction_id}: {p.state} {money_text(p.amount)}, case {p.case_id}" for p in reversed_]
    if due:
        lines.append(f"\n{len(due)} state report(s) of unclaimed property to file:")
        lines += [d.line() for d in due]
    if letters:
        lines.append(f"\n{len(letters)} due-diligence letter(s) written (in letters/ of the ledger bucket), for the "
                     "print vendor to mail:")
        lines += [f"- {p.instruction_id}: {p.state} {money_text(p.amount)}, answer by {p.letter_by}, report due "
                  f"{p.report_due}" for p in letters]
    if reportable:
        lines.append(f"\n{len(reportable)} unclaimed refund(s) became reportable:")
        lines += [f"- {p.instruction_id}: {p.state} {money_text(p.amount)}, dormant since {p.dormant_on}, report "
                  f"due {p.report_due} (refunds escheat report --state {p.state})" for p in reportable]
    reports = (f", {len(due)} report(s) due" if due else "") + (
        f", {len(reversed_)} reported and reversed" if reversed_ else "")
    return _plain(to, f"Unclaimed property: {len(letters)} letter(s), {len(reportable)} reportable{reports}",
                  "\n".join(lines))
