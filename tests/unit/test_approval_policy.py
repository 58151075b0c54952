"""Who may decide, and when approvals cover a refund: tiers, dual control, segregation of duties,
and the digest of exactly the lines approved (DOMAIN.md section 6; issue 11)."""

from __future__ import annotations

import dataclasses
from datetime import date
from decimal import Decimal

from creditrefunds.domain.approval_policy import covered, pick_approver, refusal
from creditrefunds.domain.approvals import Approval, LinkState, Outcome, Snapshot, case_digest
from creditrefunds.domain.cases import Case, Line
from creditrefunds.domain.identity import Person, approver_group
from creditrefunds.domain.review import Review, Route, after_approval
from creditrefunds.domain.settings import Settings


def person(address: str, tier: int = 3) -> Person:
    """The pool's user of `address` (their id is the address: one text per person here)."""
    return Person(address, address, frozenset({approver_group(tier)}), 0, True)


DIRECTORY = {1: [person("t1@x", 1)], 2: [person("t2@x", 2)], 3: [person("t3@x"), person("deputy@x")]}


def case(amount: str = "12000.00", payee: str = "G-1") -> Case:
    line = Line("REFUND", "PATIENT_OVERPAYMENT", "PATIENT", payee, Decimal(amount), date(2026, 12, 27))
    return Case("CB-1", "ACC-1", "P-1", payee, Decimal(amount), date(2026, 11, 27), [line],
                tier=Settings().tier_for(Decimal(amount)))


def link(approver: str, tier: int, the_case: Case, state: LinkState = LinkState.PENDING,
         decision: Outcome | None = None, key: str | None = None) -> Approval:
    snapshot = Snapshot.of(the_case, the_case.tier, "D**, J***")
    return Approval(key or f"{approver}-{tier}", the_case.case_id, tier, approver, snapshot.digest, 0, state,
                    decision, snapshot=snapshot, approver_id=approver)


def approved(approver: str, tier: int, the_case: Case) -> Approval:
    return link(approver, tier, the_case, LinkState.USED, Outcome.APPROVED)


def test_the_digest_covers_payee_amount_and_every_line_field():
    base = case("30.00")
    assert case_digest(base) == case_digest(case("30.00"))
    assert case_digest(base) != case_digest(case("30.00", payee="G-2"))  # the same total, another guarantor
    assert case_digest(base) != case_digest(case("31.00"))
    later = dataclasses.replace(base, lines=[dataclasses.replace(base.lines[0], due_date=date(2027, 1, 1))])
    assert case_digest(base) != case_digest(later)


def test_one_approval_of_a_sufficient_tier_covers_a_refund_under_the_dual_control_tier():
    small = case("30.00")
    digest = case_digest(small)
    assert covered([approved("t1@x", 1, small)], digest, 1, 3)
    assert covered([approved("t3@x", 3, small)], digest, 1, 3)  # a higher tier may approve a lower one
    assert not covered([approved("t1@x", 1, small)], digest, 2, 3)  # a tier-1 approval of a tier-2 refund
    assert not covered([link("t1@x", 1, small)], digest, 1, 3)  # asked, not decided
    assert not covered([link("t1@x", 1, small, LinkState.USED, Outcome.REJECTED)], digest, 1, 3)
    assert not covered([link("t1@x", 1, small, LinkState.LATE, Outcome.APPROVED)], digest, 1, 3)
    assert not covered([approved("t1@x", 1, case("30.00", payee="G-2"))], digest, 1, 3)  # other lines


def test_dual_control_needs_two_different_approvers_of_the_same_lines():
    big = case()
    digest = case_digest(big)
    assert not covered([approved("t3@x", 3, big)], digest, 3, 3)
    assert not covered([approved("t3@x", 3, big), approved("t3@x", 3, big)], digest, 3, 3)  # the same person twice
    assert covered([approved("t3@x", 3, big), approved("deputy@x", 3, big)], digest, 3, 3)
    assert covered([approved("t3@x", 3, big)], digest, 3, 4)  # the setting at 4: never dual


def test_the_second_approver_asked_is_another_person_and_the_page_refuses_the_same_one_twice():
    big = case()
    first = approved("t3@x", 3, big)
    assert pick_approver(3, 3, DIRECTORY, case_digest(big), [], 3).user_id == "t3@x"
    assert pick_approver(3, 3, DIRECTORY, case_digest(big), [first], 3).user_id == "deputy@x"
    again = link("t3@x", 3, big, key="again")
    assert "already approved these lines" in refusal(again, person("t3@x"), [first, again], [], 3)
    assert refusal(link("deputy@x", 3, big), person("deputy@x"), [first], [], 3) is None


def test_one_who_decided_at_another_tier_is_not_one_of_the_two():
    big, small = case(), case("3000.00")
    at_tier_2 = link("deputy@x", 2, small, LinkState.USED, Outcome.APPROVED)
    # No one left who may: the one who decided at tier 2 is asked, and the page says why not.
    asked = pick_approver(3, 3, DIRECTORY, case_digest(big), [approved("t3@x", 3, big), at_tier_2], 3)
    assert asked.user_id == "deputy@x"
    why = refusal(link("deputy@x", 3, big), person("deputy@x"), [at_tier_2], [], 3)
    assert why is not None and "already decided this case at tier 2" in why
    other_lines = link("t1@x", 1, case("31.00"), LinkState.USED, Outcome.APPROVED)
    assert refusal(link("t1@x", 1, case("30.00")), person("t1@x", 1), [other_lines], [], 3) is None  # not dual


def test_after_an_approval_money_moves_only_for_the_lines_approved():
    settings = Settings()
    small = case("30.00")
    yes = approved("t1@x", 1, small)
    assert after_approval(Review(Route.APPROVAL, small), yes, [yes], settings).route is Route.ISSUE
    moved = case("30.00", payee="G-2")  # a later file: the same total to another guarantor
    again = after_approval(Review(Route.APPROVAL, moved), yes, [yes], settings)
    assert again.route is Route.APPROVAL and "changed after they were approved" in again.why(small)
    big = case()
    once = approved("t3@x", 3, big)
    second = after_approval(Review(Route.APPROVAL, big), once, [once], settings)
    assert second.route is Route.APPROVAL and "second approver" in second.why(big)
    gone = after_approval(Review(Route.RESOLVED, None), yes, [yes], settings)
    assert gone.route is Route.RESOLVED


def test_one_person_approving_before_and_after_sign_in_came_counts_once():
    big = case()
    digest = case_digest(big)
    before = dataclasses.replace(approved("t3@x", 3, big), approver_id="", approval_key="old")  # address only
    after = dataclasses.replace(approved("T3@x", 3, big), approver_id="sub-t3", approval_key="new")
    assert not covered([before, after], digest, 3, 3)
    other = dataclasses.replace(approved("deputy@x", 3, big), approver_id="sub-deputy", approval_key="other")
    assert covered([before, other], digest, 3, 3)
