"""Who decided is a signed-in person (DOMAIN.md section 6): a mailed link only leads to the decision.

Each test holds a real link from the approver's mail, and tries it as someone else, as nobody, without
a recent second factor, or as one person twice; only the person the link was sent to, signed in with
their code, decides, and money moves only once two different people approved a tier-3 refund.
"""

from __future__ import annotations

from creditrefunds.domain.history import Entry

from tests.memory.cloud import Config, MemoryCloud

TIER1, TIER3 = "tier1.approver@example.org", "tier3.approver@example.org"


def credit(account: str, paid: str = "150.00") -> list[str]:
    return [f"{account}-1,{account},P-{account},G-{account},CHARGE,100.00,2026-11-02,,,,,,\"Rivera, Ana\",TX",
            f"{account}-2,{account},P-{account},G-{account},PAYMENT,-{paid},2026-11-09,PATIENT,,,CHK-1,,"
            "\"Rivera, Ana\",TX"]


def decided(mem: MemoryCloud, account: str) -> list[tuple[str, str]]:
    case_id = mem.case(account)["case_id"]
    return [(r["actor"], r.get("decision", "")) for r in mem.history.records(case_id) if r["action"] == "DECIDED"]


def paid(mem: MemoryCloud) -> list[tuple[str, str]]:
    return sorted((i["payee_id"], i["amount"]) for i in mem.refund_book.items.values() if "payee_id" in i)


def test_a_link_without_a_signed_in_person_decides_nothing(mem: MemoryCloud):
    mem.drop(credit("SI-NOBODY"))
    [link] = mem.links(TIER1, "SI-NOBODY")
    page = mem.decide(link, by=None)
    assert page.status == 401 and "Sign in" in page.html
    assert mem.case("SI-NOBODY")["status"] == "AWAITING_APPROVAL" and decided(mem, "SI-NOBODY") == []
    assert mem.decide(link).status == 200  # the link still works for its approver, signed in
    assert mem.case("SI-NOBODY")["status"] == "REFUND_ISSUED"


def test_another_approver_holding_the_link_decides_nothing_and_is_on_the_record(mem: MemoryCloud):
    colleague = mem.user("colleague@example.org", "approver-tier-1", "approver-tier-3")  # reads the approver's mail
    mem.drop(credit("SI-OTHER"))
    [link] = mem.links(TIER1, "SI-OTHER")
    assert mem.show(link, by="colleague@example.org").status == 403  # not even shown
    page = mem.decide(link, by="colleague@example.org")
    assert page.status == 403 and "sent to another person" in page.html
    case_id = mem.case("SI-OTHER")["case_id"]
    refused = mem.history.records(case_id)[-1]
    assert (refused["action"], refused["actor"]) == ("REFUSED", colleague.actor)
    assert mem.case("SI-OTHER")["status"] == "AWAITING_APPROVAL" and paid(mem) == []
    assert mem.decide(link).status == 200
    assert decided(mem, "SI-OTHER") == [(mem.people.by_email(TIER1).actor, "APPROVED")]
    assert paid(mem) == [("G-SI-OTHER", "50.00")]


def test_a_user_with_the_same_address_text_is_still_another_person(mem: MemoryCloud):
    mem.drop(credit("SI-ALIAS"))
    [link] = mem.links(TIER1, "SI-ALIAS")
    twin = mem.people.add("Tier1.Approver@example.org", "approver-tier-1")  # a second user, the address re-cased
    assert mem.decide(link, by=twin).status == 403
    assert mem.case("SI-ALIAS")["status"] == "AWAITING_APPROVAL"


def test_no_second_factor_or_an_old_one_decides_nothing(mem: MemoryCloud):
    mem.drop(credit("SI-FACTOR"))
    [link] = mem.links(TIER1, "SI-FACTOR")
    approver = mem.people.by_email(TIER1)
    mem.people.users[approver.user_id] = approver.__class__(approver.user_id, approver.email, approver.groups,
                                                           0, False)  # TOTP not set up in the pool
    assert mem.decide(link).status == 401
    mem.people.users[approver.user_id] = approver  # set up again
    page = mem.decide(link, by=mem.signed_in(TIER1, minutes_ago=10))  # signed in ten minutes ago: too long
    assert page.status == 401 and "authenticator code" in page.html
    assert mem.case("SI-FACTOR")["status"] == "AWAITING_APPROVAL" and decided(mem, "SI-FACTOR") == []
    assert mem.decide(link, by=mem.signed_in(TIER1, minutes_ago=4)).status == 200


def test_a_disabled_user_decides_nothing(mem: MemoryCloud):
    mem.drop(credit("SI-GONE"))
    [link] = mem.links(TIER1, "SI-GONE")
    signed_in = mem.signed_in(TIER1)  # their token is still within its hour...
    approver = mem.people.by_email(TIER1)
    mem.people.users[approver.user_id] = approver.__class__(approver.user_id, approver.email, approver.groups, 0,
                                                           True, False)  # ...but the pool disabled them
    assert mem.decide(link, by=signed_in).status == 401
    assert mem.case("SI-GONE")["status"] == "AWAITING_APPROVAL"


def test_one_person_listed_twice_is_asked_once_and_counts_once():
    config = Config()
    config.directory[3] = ["Boss@X.org", "boss@x.org"]
    mem = MemoryCloud(config=config)
    mem.drop(credit("SI-TWICE", paid="13100.00"))  # a 13,000.00 refund: tier 3, dual control
    [first] = mem.links("Boss@X.org", "SI-TWICE")
    assert mem.decide(first).status == 200
    asked_again = [link for link in mem.links("boss@x.org", "SI-TWICE") + mem.links("Boss@X.org", "SI-TWICE")
                   if link != first]
    for link in asked_again:  # no one else in the tier: the same person is asked, and refused
        page = mem.decide(link)
        assert page.status == 403 and "already approved these lines" in page.html
    assert len({mem.people.by_email("boss@x.org").user_id}) == 1
    assert mem.case("SI-TWICE")["status"] == "AWAITING_APPROVAL" and paid(mem) == []


def test_two_different_people_at_tier_3_move_the_money(mem: MemoryCloud):
    mem.drop(credit("SI-DUAL", paid="13100.00"))
    [first] = mem.links(TIER3, "SI-DUAL")
    assert mem.decide(first).status == 200 and paid(mem) == []
    [second] = mem.links("tier2.approver@example.org", "SI-DUAL")
    assert mem.decide(second, by=TIER3).status == 403  # the first approver, with the second link
    assert mem.decide(second).status == 200
    assert paid(mem) == [("G-SI-DUAL", "13000.00")]
    assert len({actor for actor, _ in decided(mem, "SI-DUAL")}) == 2


def test_an_operator_who_retried_the_case_may_not_approve_it(mem: MemoryCloud):
    mem.drop(credit("SI-RETRY"))
    [link] = mem.links(TIER1, "SI-RETRY")
    stored = mem.cases.get(mem.case("SI-RETRY")["case_id"])
    approver = mem.people.by_email(TIER1)
    mem.history.append(stored.case, Entry(approver.actor, "RETRIED", "FAILED", "OPEN", "restarted"), mem.now)
    page = mem.decide(link)
    assert page.status == 403 and "segregation of duties" in page.html
    assert paid(mem) == []
