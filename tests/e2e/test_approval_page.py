"""The approval page in a real headless Chromium: open the mailed link, see the case, approve (issue 4)."""

from __future__ import annotations

import os
import shutil
import tempfile

import pytest
from selenium import webdriver
from selenium.common.exceptions import WebDriverException
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions
from selenium.webdriver.support.ui import WebDriverWait

from tests.integration.conftest import case_of, drop, history_actions, wait_for_mail, wait_for_status

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


def test_an_approver_opens_the_mailed_link_and_approves_in_chromium(cloud, browser):
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
    # While the answer page loads, the old page's heading may be gone: Chromium then says so in words
    # selenium does not map to a stale element, so any driver error only means "look again".
    WebDriverWait(browser, 20, ignored_exceptions=(WebDriverException,)).until(
        expected_conditions.text_to_be_present_in_element((By.TAG_NAME, "h1"), "Decision recorded"))
    assert "re-checked against the ledger" in browser.find_element(By.ID, "message").text

    case = wait_for_status(cloud, account, {"REFUND_ISSUED"})
    assert [a for a, _, _ in history_actions(cloud, case["case_id"])][-3:] == ["DECIDED", "RECHECKED", "ISSUED"]
    browser.back()
    browser.refresh()  # the link again, after it decided: a clear page, no stack trace
    assert "already been used" in browser.find_element(By.ID, "message").text
