"""Every message the product sends: who to, subject, plain text and HTML. No unmasked PHI."""

from __future__ import annotations

import html
from dataclasses import dataclass

from creditrefunds.domain.approvals import Approval
from creditrefunds.domain.cases import Case
from creditrefunds.domain.money import money_text


@dataclass(frozen=True)
class Mail:
    to: tuple[str, ...]
    subject: str
    text: str
    html: str


def _plain(to: str, subject: str, text: str) -> Mail:
    """A message whose HTML is its text, escaped."""
    return Mail((to,), subject, text, "<pre>" + html.escape(text) + "</pre>")


def approval_request(case: Case, approval: Approval, link: str, masked_name: str) -> Mail:
    """The mail asking for a decision: the case, its lines, one single-use link."""
    refund = money_text(case.refund_total)
    due = case.due_date.isoformat() if case.due_date else "no due date"
    subject = f"Refund approval needed: {refund} on account {case.account_id} (tier {approval.tier}, due {due})"
    rows = [(line.action, line.reason, line.payee_type or "-", money_text(line.amount),
             line.due_date.isoformat() if line.due_date else "-") for line in case.lines]
    text = "\n".join([
        f"A credit balance refund needs your approval (tier {approval.tier}).",
        "",
        f"Account:   {case.account_id}",
        f"Patient:   {masked_name}",
        f"Credit:    {money_text(case.credit)}",
        f"Refund:    {refund}",
        f"Due date:  {due}",
        "",
        *[f"  {a:<8} {r:<20} {p:<11} {amt:>12}  due {d}" for a, r, p, amt, d in rows],
        "",
        f"Open the case to approve or reject it: {link}",
        "The link works once and expires; opening it decides nothing.",
    ])
    cells = "".join(f"<tr><td>{html.escape(a)}</td><td>{html.escape(r)}</td><td>{html.escape(p)}</td>"
                    f"<td style='text-align:right'>{amt}</td><td>{d}</td></tr>" for a, r, p, amt, d in rows)
    body = (
        f"<p>A credit balance refund needs your approval (tier {approval.tier}).</p>"
        f"<table><tr><th align='left'>Account</th><td>{html.escape(case.account_id)}</td></tr>"
        f"<tr><th align='left'>Patient</th><td>{html.escape(masked_name)}</td></tr>"
        f"<tr><th align='left'>Credit</th><td>{money_text(case.credit)}</td></tr>"
        f"<tr><th align='left'>Refund</th><td>{refund}</td></tr>"
        f"<tr><th align='left'>Due date</th><td>{due}</td></tr></table>"
        f"<table border='1' cellpadding='4'><tr><th>Action</th><th>Reason</th><th>Payee type</th><th>Amount</th>"
        f"<th>Due</th></tr>{cells}</table>"
        f"<p><a href='{html.escape(link)}'>Open the case to approve or reject it</a></p>"
        "<p>The link works once and expires; opening it decides nothing.</p>"
    )
    return Mail((approval.approver,), subject, text, f"<!doctype html><html><body>{body}</body></html>")


def approval_moved_on(approval: Approval, case: Case, new_tier: int) -> Mail:
    """To the approver whose link an escalation superseded."""
    return _plain(approval.approver, f"Approval moved on: account {case.account_id}",
                  f"The refund approval for account {case.account_id} waited past its time and was passed to the "
                  f"tier {new_tier} approver. Your link no longer decides anything.")


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


def ledger_failed(to: str, name: str, reason: str) -> Mail:
    """To operators: a large ledger file could not be stored and detected in full."""
    return _plain(to, f"Ledger file failed: {name}",
                  f"The ledger file {name} could not be stored and detected in full: {reason}\n"
                  f"It is kept in rejected/ with the reason beside it. Rows already stored stay stored (by txn_id); "
                  f"drop the file again once the cause is fixed.")
