"""The approval's pure parts: masking, the mail, links, decisions, the wait, the paused clock (issue 4)."""

from __future__ import annotations

import base64
import traceback
from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
from creditrefunds.domain.approval_policy import read_decision, refusal
from creditrefunds.domain.approvals import (
    Approval,
    LinkRefused,
    LinkState,
    Outcome,
    Snapshot,
    can_investigate,
    mask_name,
    paused_days,
    usable,
)
from creditrefunds.domain.cases import Case, Line
from creditrefunds.domain.identity import Person
from creditrefunds.domain.mail import approval_request
from creditrefunds.domain.pages import form_fields
from creditrefunds.domain.review import approval_wait_seconds, pause_clock
from creditrefunds.domain.status import Status

TODAY = date(2026, 11, 27)
NOW = datetime(2026, 11, 27, 9, tzinfo=UTC)


def case(due: date, payee_type: str = "PATIENT") -> Case:
    return Case("CB-1", "ACC-1", "P1", "G1", Decimal("60.00"), TODAY,
                [Line("REFUND", "PATIENT_OVERPAYMENT", payee_type, "G1", Decimal("60.00"), due)], tier=1)


def snapshot(due: date = date(2026, 12, 27), payee_type: str = "PATIENT") -> Snapshot:
    return Snapshot.of(case(due, payee_type), 1, "R*****, A**")


def approval(state: LinkState = LinkState.PENDING, expires_at: int | None = None) -> Approval:
    expires = int(NOW.timestamp()) + 60 if expires_at is None else expires_at
    return Approval("key", "CB-1", 1, "a@example.org", snapshot().digest, expires, state, snapshot=snapshot(),
                    approver_id="sub-a")


def test_names_are_masked_to_initials():
    assert mask_name("Rivera, Ana") == "R*****, A**"
    assert mask_name("O'Neil Mary-Kate") == "O***** M********"
    assert mask_name(None) == "(no name on the ledger)"


def test_the_mail_carries_the_case_but_not_the_name():
    mail = approval_request(snapshot(), approval(), "https://approve.example/approve/id")
    assert mail.to == ("a@example.org",)
    assert mail.subject == "Refund approval needed: 60.00 on account ACC-1 (tier 1, due 2026-12-27)"
    for body in (mail.text, mail.html):
        assert "R*****, A**" in body and "PATIENT_OVERPAYMENT" in body and "https://approve.example/approve/id" in body
        assert "Rivera" not in body


def test_a_link_decides_only_while_pending_and_unexpired():
    assert usable(approval(), NOW).approval_key == "key"
    for refused, status, words in [(None, 404, "unknown"), (approval(LinkState.USED), 410, "already been used"),
                                   (approval(LinkState.SUPERSEDED), 410, "escalated"),
                                   (approval(expires_at=int(NOW.timestamp())), 410, "expired")]:
        with pytest.raises(LinkRefused) as error:
            usable(refused, NOW)
        assert error.value.status == status and words in error.value.message


def test_a_decision_needs_a_button_a_reason_to_reject_and_medicare_to_investigate():
    patient, medicare = snapshot(TODAY), snapshot(TODAY, "MEDICARE")
    assert read_decision({"decision": "approve"}, patient).outcome is Outcome.APPROVED
    assert read_decision({"decision": "reject", "reason": " disputed "}, patient).reason == "disputed"
    assert read_decision({"decision": "investigate"}, medicare).outcome.status_after is Status.INVESTIGATING
    for form, words in [({}, "Choose"), ({"decision": "reject", "reason": "  "}, "needs a reason"),
                        ({"decision": "investigate"}, "Medicare and Medicaid")]:
        with pytest.raises(ValueError, match=words):
            read_decision(form, patient)


def test_only_the_person_the_link_was_sent_to_decides_and_not_a_case_they_worked():
    a, b = (Person(f"sub-{x}", f"{x}@example.org", frozenset({"approver-tier-1"})) for x in "ab")
    history = [{"actor": "system:ingest", "action": "DETECTED"}, {"actor": "user:sub-a", "action": "REVIEWED"},
               {"actor": "user:sub-b", "action": "EMAILED"}]
    assert "segregation of duties" in refusal(approval(), a, [], history, 3)
    for action in ("NOTED", "RETRIED", "ASSIGNED"):
        assert "segregation of duties" in refusal(approval(), a, [], [{"actor": "user:sub-a", "action": action}], 3)
    assert refusal(approval(), a, [], history[:1], 3) is None
    assert "sent to another person" in refusal(approval(), b, [], [], 3)  # b holds a's link: decides nothing
    same_address = Person("sub-other", "a@example.org", a.groups)  # another user with a's address text
    assert "sent to another person" in refusal(approval(), same_address, [], [], 3)
    billing = Person("sub-a", "a@example.org", frozenset({"billing-staff"}))
    assert "not a tier-1 approver" in refusal(approval(), billing, [], [], 3)
    unaddressed = Approval("key", "CB-1", 1, "a@example.org", snapshot().digest, 0, LinkState.PENDING)
    assert "sent to another person" in refusal(unaddressed, a, [], [], 3)  # a link from before sign-in


def test_the_wait_is_the_tiers_unless_the_lead_or_the_due_date_comes_first():
    day, lead, tier_wait = 100, 1000, 259200
    assert approval_wait_seconds(case(date(2027, 3, 1)), TODAY, tier_wait, 86400, 864000) == tier_wait
    assert approval_wait_seconds(case(date(2026, 12, 27)), TODAY, 5000, day, lead) == 30 * day - lead
    assert approval_wait_seconds(case(date(2026, 12, 2)), TODAY, 5000, day, lead) == 5 * day  # lead passed: due
    assert approval_wait_seconds(case(date(2026, 11, 1)), TODAY, 5000, day, lead) == 5000  # past due: the tier's


def test_an_investigation_moves_only_medicare_and_medicaid_due_dates():
    medicare = pause_clock(case(date(2027, 1, 26), "MEDICARE"), 90)
    patient = pause_clock(case(date(2027, 1, 26), "PATIENT"), 90)
    assert medicare.due_date == date(2027, 4, 26) and patient.due_date == date(2027, 1, 26)
    assert can_investigate(case(TODAY, "MEDICAID").lines) and not can_investigate(case(TODAY, "COMMERCIAL").lines)


def test_investigations_pause_the_clock_at_most_180_days_in_all():
    assert paused_days(90 * 86400, 86400, 0, 180) == 90
    assert paused_days(90 * 86400, 86400, 150, 180) == 180


def test_each_refusal_is_a_new_exception_that_keeps_no_earlier_traceback():
    raised = []
    for _ in range(3):
        with pytest.raises(LinkRefused) as error:
            usable(None, NOW)
        raised.append(error.value)
    assert len({id(e) for e in raised}) == 3
    depth = [len(traceback.extract_tb(e.__traceback__)) for e in raised]
    assert depth[0] == depth[1] == depth[2]


def test_the_pages_form_is_read_whatever_bytes_arrive():
    assert form_fields("decision=reject&reason=a+b&reason=c", False) == {"decision": "reject", "reason": "a b"}
    assert form_fields(base64.b64encode(b"decision=approve&reason=\xff").decode(), True) == {
        "decision": "approve", "reason": "\ufffd"}
    assert form_fields("not base64!", True) == {}
    assert form_fields(None, False) == {}
