"""The approval page in a real headless Chromium: open the mailed link, see the case, approve (issue 4)."""

from __future__ import annotations

from selenium.webdriver.common.by import By

from tests.e2e.conftest import heading, sign_in_in, user
from tests.integration.conftest import case_of, drop, history_actions, history_until, wait_for_mail, wait_for_status


def test_an_approver_opens_the_mailed_link_and_approves_in_chromium(cloud, browser):
    # Tier 1 waits 8 s in the test cloud before it asks tier 2: the approver signs in before the mail comes, so that
    # the click lands within the wait on busy cores too (the link's own sign-in is the next test's).
    browser.get(cloud.outputs["ApprovalSiteUrl"])
    sign_in_in(browser, user(cloud, "tier1.approver@example.org"))
    account = "E2E-CHROMIUM"
    drop(cloud, "e2e.csv", [
        f"{account}-1,{account},P-E2E,G-E2E,CHARGE,100.00,2026-11-02,,,,,,\"Novak, Tomas\",TX",
        f"{account}-2,{account},P-E2E,G-E2E,PAYMENT,-180.00,2026-11-09,PATIENT,,,CHK-9,,\"Novak, Tomas\",TX",
    ])
    mail = wait_for_mail(cloud, "tier1.approver@example.org", account)

    browser.get(mail.links[0])
    assert browser.find_element(By.ID, "account").text == account
    assert browser.find_element(By.ID, "refund").text == "80.00"
    lines = browser.find_element(By.ID, "lines").text
    assert "PATIENT_OVERPAYMENT" in lines and "80.00" in lines
    assert "N****, T****" in browser.page_source and "Novak" not in browser.page_source
    assert case_of(cloud, account)["status"] == "AWAITING_APPROVAL"  # seeing the page decided nothing

    browser.find_element(By.ID, "approve").click()
    heading(browser, "Decision recorded")
    assert "re-checked against the ledger" in browser.find_element(By.ID, "message").text

    case = wait_for_status(cloud, account, {"REFUND_ISSUED"})
    assert [a for a, _, _ in history_until(cloud, case["case_id"], "LETTER_WRITTEN")][-4:] == [
        "DECIDED", "RECHECKED", "ISSUED", "LETTER_WRITTEN"]
    browser.back()
    browser.refresh()  # the link again, after it decided: a clear page, no stack trace
    assert "already been used" in browser.find_element(By.ID, "message").text

    browser.get(mail.links[0].replace("/approve/", "/approve/x"))  # a link never sent: said so, signed in or not
    assert "Approval link not found" in browser.find_element(By.TAG_NAME, "h1").text
    assert account not in browser.page_source


def test_the_wrong_person_and_a_wrong_code_decide_nothing_and_two_people_approve_at_tier_3(cloud, browser):
    account = "E2E-DUAL"
    drop(cloud, "e2e-dual.csv", [
        f"{account}-1,{account},P-E2D,G-E2D,CHARGE,1000.00,2026-11-02,,,,,,\"Novak, Tomas\",TX",
        f"{account}-2,{account},P-E2D,G-E2D,PAYMENT,-13000.00,2026-11-09,PATIENT,,,CHK-9,,\"Novak, Tomas\",TX",
    ])
    first = wait_for_mail(cloud, "tier3.approver@example.org", account)
    browser.get(first.links[0])
    sign_in_in(browser, user(cloud, "tier3.approver@example.org"), wrong_code=True)
    assert "Sign-in failed" in browser.find_element(By.ID, "error").text  # a wrong code signs nobody in

    browser.delete_all_cookies()
    browser.get(first.links[0])
    sign_in_in(browser, user(cloud, "billing@example.org"))  # billing staff holding the approver's link
    assert "Another approver must decide" in browser.find_element(By.TAG_NAME, "h1").text
    assert account not in browser.page_source  # not even shown

    browser.delete_all_cookies()
    browser.get(first.links[0])
    sign_in_in(browser, user(cloud, "tier3.approver@example.org"))
    assert browser.find_element(By.ID, "account").text == account
    browser.find_element(By.ID, "approve").click()
    heading(browser, "Decision recorded")
    second = wait_for_mail(cloud, "tier2.approver@example.org", account)  # the tier's other approver
    assert case_of(cloud, account)["status"] == "AWAITING_APPROVAL"  # one of the two: no money yet
    browser.get(second.links[0])  # still signed in as the first: refused
    assert "Another approver must decide" in browser.find_element(By.TAG_NAME, "h1").text
    browser.delete_all_cookies()
    browser.get(second.links[0])
    sign_in_in(browser, user(cloud, "tier2.approver@example.org"))
    browser.find_element(By.ID, "approve").click()
    heading(browser, "Decision recorded")
    case = wait_for_status(cloud, account, {"REFUND_ISSUED"})
    actors = {r for a, r, _ in history_actions(cloud, case["case_id"]) if a == "DECIDED"}
    assert len([a for a, _, _ in history_actions(cloud, case["case_id"]) if a == "DECIDED"]) == 2 and actors
