"""Approval by email: ask an approver with a single-use link to a snapshot of the case; decide once,
by POST only, and only while the case still waits for that very link.

The task token is written to the approvals table when the approval is asked and read back only
to answer the task. The case's status and history record the decision before the task is
answered, so a later step can never be overwritten by it. What the task's output says is not
trusted by anyone: the next step reads the decision from the approvals table.
"""

from __future__ import annotations

import logging
from dataclasses import replace
from datetime import datetime
from typing import Any

from creditrefunds.domain.approval_policy import pick_approver, read_decision, refusal
from creditrefunds.domain.approvals import (
    Approval,
    CaseGone,
    FactorNeeded,
    LinkState,
    NotThisApprover,
    Outcome,
    SignInNeeded,
    Snapshot,
    TaskGone,
    UnknownLink,
    Untrusted,
    mask_name,
    paused_days,
    usable,
)
from creditrefunds.domain.authentic import Tampered
from creditrefunds.domain.history import Entry
from creditrefunds.domain.identity import Person, approver_group
from creditrefunds.domain.mail import approval_request
from creditrefunds.domain.pages import Page, answer, case_page
from creditrefunds.domain.payees import MONEY_LINES
from creditrefunds.domain.status import Status
from creditrefunds.usecases.ports import Ports

logger = logging.getLogger(__name__)


def request_approval(ports: Ports, case_id: str, tier: int, task_token: str, addresses: dict[int, list[str]],
                     site_url: str, link_ttl: int, now: datetime) -> dict[str, Any]:
    """Keep the task token server-side and mail an approver of `tier` a link to the case as it is now.

    A retry of this step finishes what the earlier attempt left: a link it mailed for this same wait (the
    same task token) is kept, not mailed again; links of other waits, and one never mailed (its id is
    gone with the attempt), are superseded."""
    stored = ports.cases.require(case_id)
    case = stored.case
    kept = None
    for approval, token in ports.approvals.open_links(case_id):
        if token == task_token and approval.mailed and kept is None:
            kept = approval
        elif approval.state is LinkState.PENDING:
            ports.approvals.supersede(case_id, [approval.approval_key])
    if kept is None:
        links = ports.approvals.of_case(case_id)
        snapshot = Snapshot.of(case, ports.settings.tier_for(case.refund_total),
                               mask_name(ports.transactions.patient_name(case.account_id)), _shown(ports, links))
        approver = pick_approver(tier, snapshot.tier, directory(ports, addresses), snapshot.digest, links,
                                 ports.settings.dual_control_tier)
        link_id, kept = ports.approvals.create(snapshot, tier, approver, task_token, now, link_ttl)
        ports.mailer.send(approval_request(snapshot, kept, site_url.rstrip("/") + f"/approve/{link_id}"), now)
        ports.approvals.mark_mailed(kept, now)
    if stored.approval_key != kept.approval_key or stored.status is not Status.AWAITING_APPROVAL:
        ports.cases.set_status(case_id, Status.AWAITING_APPROVAL, approval_key=kept.approval_key, tier=kept.tier)
    records = ports.history.records(case_id)
    changes = kept.snapshot.payee_changes if kept.snapshot else ()
    if changes and not any(r["action"] == "PAYEE_CHANGED" and r.get("link") == kept.approval_key for r in records):
        ports.history.append(case, Entry("system:request-approval", "PAYEE_CHANGED", stored.status, stored.status,
                                         "; ".join(changes), case.refund_total, link=kept.approval_key), now)
    if not any(r["action"] == "EMAILED" and r.get("link") == kept.approval_key for r in records):
        ports.history.append(case, Entry("system:request-approval", "EMAILED", stored.status,
                                         Status.AWAITING_APPROVAL, f"approval asked of the tier {kept.tier} approver "
                                         f"{kept.approver} (link {kept.approval_key[:12]})", case.refund_total,
                                         link=kept.approval_key, tier=kept.tier), now)
    logger.info("approval requested", extra={"case_id": case_id, "tier": kept.tier})
    return {"case_id": case_id, "tier": kept.tier}


def directory(ports: Ports, addresses: dict[int, list[str]]) -> dict[int, list[Person]]:
    """Each tier's approvers in the order the template lists their addresses: the users of the pool's group
    for that tier whose address it is (letter case aside). The template's list says whom the workflow may mail
    (its SES grant names only those addresses); the pool says who that person is. A listed address with no
    such user is left out, and said."""
    found: dict[int, list[Person]] = {}
    for tier, listed in addresses.items():
        members: dict[str, list[Person]] = {}
        for person in ports.people.members(approver_group(tier)):
            members.setdefault(person.email.lower(), []).append(person)
        # Mailed as listed; an address two users of the group claim is nobody's (it is said, not guessed).
        found[tier] = [replace(members[a.lower()][0], email=a) for a in listed if len(members.get(a.lower(), [])) == 1]
        if len(found[tier]) < len(listed):
            logger.warning("an approver address has no one user in the pool's group", extra={"tier": tier})
    return found


def _shown(ports: Ports, links: list[Approval]) -> list[Snapshot]:
    """What the case's first link with money lines showed, the one `payee_changes` holds the lines to (the index
    holds no snapshot: links are read by key, oldest first, until it is found)."""
    for link in links:
        shown = ports.approvals.by_key(link.approval_key)
        snapshot = shown.snapshot if shown is not None else None
        if snapshot is not None and any(li.action in MONEY_LINES for li in snapshot.lines):
            return [snapshot]
    return []


def _link(ports: Ports, link_id: str, now: datetime) -> tuple[Approval, Snapshot]:
    """The approval behind a link that may still decide, and the snapshot it shows; else LinkRefused."""
    approval = usable(ports.approvals.get(link_id), now)
    if approval.snapshot is None:
        raise UnknownLink()
    return approval, approval.snapshot


def show(ports: Ports, link_id: str, signed_in: Person | None, now: datetime) -> Page:
    """GET: the snapshot behind the link, with its buttons, to the signed-in person it was sent to only.
    Opening it decides nothing."""
    try:
        approval, snapshot = _link(ports, link_id, now)
    except Tampered as forged:
        logger.error("an approval's records fail their check", extra={"why": str(forged)})
        raise Untrusted() from forged
    if signed_in is None:
        raise SignInNeeded()
    if signed_in.user_id != approval.approver_id:
        raise NotThisApprover("this approval was sent to another person: only they can decide it")
    return case_page(snapshot, approval.tier)


def decide(ports: Ports, link_id: str, form: dict[str, str], signed_in: Person | None, source: str,
           factor_max_age: int, now: datetime) -> Page:
    """POST by a signed-in person: their decision on the snapshot, once. Nothing is decided without a signed-in
    person, by anyone but the one the link was sent to (as the pool has them now), without a second factor
    given in the last `factor_max_age` seconds, when policy says this person may not, and when a record it
    rests on fails its integrity check."""
    try:
        return _decide(ports, link_id, form, signed_in, source, factor_max_age, now)
    except Tampered as forged:
        logger.error("an approval's records fail their check", extra={"why": str(forged)})
        raise Untrusted() from forged


def _decide(ports: Ports, link_id: str, form: dict[str, str], signed_in: Person | None, source: str,
            factor_max_age: int, now: datetime) -> Page:
    if signed_in is None:
        raise SignInNeeded()
    approval, snapshot = _link(ports, link_id, now)
    current = ports.people.person(signed_in.user_id)
    if current is None or not current.enabled:
        raise SignInNeeded()
    person = replace(current, signed_in_at=signed_in.signed_in_at)  # roles and factor: the pool's, now
    try:
        decision = read_decision(form, snapshot)
    except ValueError as error:
        return case_page(snapshot, approval.tier, str(error), 400)
    stored = ports.cases.get(approval.case_id)
    if stored is None:
        raise CaseGone()
    why_not = refusal(approval, person, ports.approvals.of_case(approval.case_id),
                      ports.history.records(approval.case_id), ports.settings.dual_control_tier)
    if why_not is not None:
        ports.history.append(stored.case, Entry(person.actor, "REFUSED", stored.status, stored.status,
                                                f"{person.actor} may not decide the link sent to {approval.approver}: "
                                                f"{why_not}", link=approval.approval_key, tier=approval.tier), now)
        raise NotThisApprover(why_not)
    if not person.factor_fresh(now, factor_max_age):
        raise FactorNeeded()
    if stored.approval_key != approval.approval_key or stored.status is not Status.AWAITING_APPROVAL:
        raise TaskGone()  # the case moved on (escalated, changed, decided): the link decides nothing
    token = ports.approvals.take(approval, decision.outcome, decision.reason, source, now, link_id)
    # Whether the answer reached the workflow is known for sure only there: the link stays DECIDING. If it
    # did, the next step records the decision; if not (the wait ran out, or the call failed on the way),
    # the escalation at the end of the wait makes the link LATE and says so in the history.
    answered = ports.workflows.answer(token, {"approval_key": approval.approval_key})
    if answered is False:
        raise TaskGone()
    if answered is None:
        return _unanswered(ports, approval)
    logger.info("approval decided", extra={"case_id": approval.case_id, "outcome": decision.outcome})
    return answer(200, "Decision recorded", decision.outcome.done)


def _unanswered(ports: Ports, approval: Approval) -> Page:
    """The workflow said the task was gone, but only to the client's retry: the answer sent first may have landed
    (its reply lost), or the wait ran out meanwhile. The link tells which once the workflow's next step has read
    it: USED (accepted), LATE (the escalation found it too late), or still DECIDING (not yet known: said so)."""
    now = ports.approvals.by_key(approval.approval_key)
    if now is not None and now.state is LinkState.USED:
        return answer(200, "Decision recorded", now.decision.done if now.decision else "The decision was recorded.")
    if now is None or now.state is not LinkState.DECIDING:
        raise TaskGone()
    return answer(202, "Decision received",
                  "Your decision was received and the workflow is recording it. If the approval's wait had run out "
                  "just before it arrived, it decides nothing: the case's history will say so and the next approver "
                  "is asked.")


def accept_decision(ports: Ports, approval: Approval, pause_seconds: int, seconds_per_day: int,
                    now: datetime) -> None:
    """The workflow took the decision on a DECIDING link: the history says who decided what and from where,
    the case records the decision, and the link becomes USED, in that order, each once: a retry after a crash
    between them finds the link still DECIDING and finishes. Only the step after the decision does this, so a
    decision is on the record only once Step Functions has accepted it."""
    if approval.state is not LinkState.DECIDING or approval.decision is None:
        return
    stored = ports.cases.require(approval.case_id)
    after = approval.decision.status_after
    records = ports.history.records(approval.case_id)
    if not any(r["action"] == "DECIDED" and r.get("link") == approval.approval_key for r in records):
        reason = (f"{approval.decision.lower()} by {approval.approver} signed in as {_actor(approval)} (tier "
                  f"{approval.tier} link "
                  f"{approval.approval_key[:12]}, from {approval.decided_from or 'an unknown place'}) for the lines "
                  f"of digest {approval.digest[:16]}" + (f": {approval.reason}" if approval.reason else ""))
        total = approval.snapshot.refund_total if approval.snapshot else None
        ports.history.append(stored.case, Entry(_actor(approval), "DECIDED", stored.status, after, reason, total,
                                                link=approval.approval_key, decision=approval.decision,
                                                tier=approval.tier), now)
    fields: dict[str, Any] = {}
    if approval.decision is Outcome.INVESTIGATE:
        fields["paused_days"] = paused_days(pause_seconds, seconds_per_day, stored.paused_days,
                                            ports.settings.investigation_max_days)
    ports.cases.decide(approval.case_id, approval.approval_key, after, **fields)  # once: while it waits for it
    ports.approvals.accept(approval)


def _actor(approval: Approval) -> str:
    """Who decided with a link: the signed-in person it was sent to."""
    return f"user:{approval.approver_id}" if approval.approver_id else approval.approver
