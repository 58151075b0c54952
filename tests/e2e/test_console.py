"""The console in a real headless Chromium: billing staff sign in with their code, take a work item, note and
work it; compliance sees the deadline; an auditor searches and may not act; signing out ends the session."""

from __future__ import annotations

from refunds_cli.demo import decide_link
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions

from tests.e2e.conftest import heading, sign_in_in, until, user
from tests.integration.conftest import case_of, drop, history_actions, wait_for_mail, wait_for_status


def test_billing_staff_work_an_item_compliance_and_an_auditor_read(cloud, browser):
    account = "E2E-WORK"
    drop(cloud, "e2e-work.csv", [
        f"{account}-1,{account},P-E2W,G-E2W,CHARGE,100.00,2026-11-02,,,,,,\"Novak, Tomas\",TX",
        f"{account}-2,{account},P-E2W,G-E2W,PAYMENT,-170.00,2026-11-09,PATIENT,,,CHK-9,,\"Novak, Tomas\",TX",
    ])
    mail = wait_for_mail(cloud, "tier1.approver@example.org", account)
    assert decide_link(cloud, mail.links[0], {"decision": "reject", "reason": "guarantor disputes"})[0] == 200
    case_id = wait_for_status(cloud, account, {"WORK_ITEM"})["case_id"]
    item_id = f"{case_id}.rejected"

    console = cloud.outputs["ApprovalSiteUrl"]
    browser.get(console)
    sign_in_in(browser, user(cloud, "billing@example.org"))
    row = until(browser, expected_conditions.presence_of_element_located((By.ID, f"item-{item_id}")), "the item")
    assert account in row.text and "70.00" in row.text and "Refund rejected by the approver" in row.text
    assert "guarantor disputes" in row.text
    browser.get(f"{console}?view=amount&min=80.00&kind=rejected")  # narrowed on the amount index: 70.00 is not
    assert not browser.find_elements(By.ID, f"item-{item_id}")
    browser.get(f"{console}?view=amount&min=60.00&kind=rejected")
    row = browser.find_element(By.ID, f"item-{item_id}")
    row.find_element(By.CLASS_NAME, "take").click()
    heading(browser, "Taken by me")
    row = browser.find_element(By.ID, f"item-{item_id}")
    assert "billing@example.org" in row.text

    browser.get(f"{console}cases/{case_id}")
    assert browser.find_element(By.ID, "account").text == account
    assert "Verified" in browser.find_element(By.ID, "verdict").text
    assert f"{account}-2" in browser.find_element(By.ID, "ledger").text
    browser.find_element(By.ID, "note").send_keys("called the guarantor <b>twice</b>")
    browser.find_element(By.ID, "add-note").click()
    until(browser, expected_conditions.text_to_be_present_in_element((By.ID, "history"),
                                                                      "called the guarantor <b>twice</b>"), "the note")

    browser.get(f"{console}?mine=1")
    row = browser.find_element(By.ID, f"item-{item_id}")
    row.find_element(By.CLASS_NAME, "what").send_keys("credit moved to the next visit")
    row.find_element(By.CLASS_NAME, "done").click()
    until(browser, lambda b: not b.find_elements(By.ID, f"item-{item_id}"), "the item worked off the list")
    actions = [a for a, _, _ in history_actions(cloud, case_id)]
    assert actions[-3:] == ["ASSIGNED", "NOTED", "WORKED"]

    browser.get(f"{console}compliance")  # not billing staff's
    assert "Not for your role" in browser.find_element(By.TAG_NAME, "h1").text
    browser.find_element(By.TAG_NAME, "body")
    browser.get(console)
    browser.find_element(By.ID, "sign-out").click()
    until(browser, expected_conditions.presence_of_element_located((By.ID, "password")), "the sign-in page")
    browser.get(f"{console}cases/{case_id}")  # signed out: the sign-in page, not the case
    assert browser.find_elements(By.ID, "password") and account not in browser.page_source

    sign_in_in(browser, user(cloud, "compliance@example.org"))  # back to the case, as compliance
    assert browser.find_element(By.ID, "account").text == account
    browser.get(f"{console}compliance")
    assert "Deadlines" in browser.page_source
    answer = cloud.client("lambda").invoke(FunctionName=cloud.function_name("RollUpFunction"), Payload=b"{}")
    assert "FunctionError" not in answer  # the trends' counters take in the cases so far
    browser.get(f"{console}trends")
    months = browser.find_element(By.ID, "months").find_elements(By.TAG_NAME, "tr")
    assert len(months) == 1 + 12 and months[-1].find_elements(By.TAG_NAME, "td")[1].text != "0"
    browser.delete_all_cookies()

    browser.get(f"{console}audit")
    sign_in_in(browser, user(cloud, "auditor@example.org"))
    browser.find_element(By.NAME, "account").send_keys(account)
    browser.find_element(By.ID, "search").click()
    until(browser, expected_conditions.text_to_be_present_in_element((By.ID, "records"), "WORKED"), "the records")
    assert account not in browser.current_url  # searches post: nothing that names an account in a URL
    browser.get(f"{console}cases/{case_id}")
    assert not browser.find_elements(By.ID, "add-note")  # auditors read, never act
    assert case_of(cloud, account)["status"] == "WORK_ITEM"
