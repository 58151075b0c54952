"""The browser tests' Chromium and the steps every one of them takes: sign in, wait for the next page."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from localcloud.identity import fresh_code
from selenium import webdriver
from selenium.common.exceptions import TimeoutException, WebDriverException
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions
from selenium.webdriver.support.ui import WebDriverWait

CHROMIUM, CHROMEDRIVER = shutil.which("chromium"), shutil.which("chromedriver")
os.environ.setdefault("SE_OFFLINE", "true")  # the driver is Debian's: Selenium Manager never downloads one
PAGE_SECONDS = 30  # a page of the console on two busy cores (its function may start cold)


@pytest.fixture
def browser() -> Iterator[webdriver.Chrome]:
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
    driver.set_page_load_timeout(PAGE_SECONDS)
    yield driver
    driver.quit()
    shutil.rmtree(profile, ignore_errors=True)


def user(cloud: Any, email: str) -> dict:
    return next(u for u in cloud.users["users"] if u["email"] == email)


def until(browser: webdriver.Chrome, condition: Callable[[Any], Any], waiting_for: str) -> Any:
    """Wait for the next page to show what `condition` looks for. While a page loads, the old one's elements
    may be gone in a way selenium does not map to a stale element: any driver error only means "look again".
    A page that never shows it fails the test with what the page said instead."""
    try:
        return WebDriverWait(browser, PAGE_SECONDS, ignored_exceptions=(WebDriverException,)).until(condition)
    except TimeoutException:
        headings = [h.text for h in browser.find_elements(By.TAG_NAME, "h1")]
        said = [m.text for m in browser.find_elements(By.ID, "message")]
        pytest.fail(f"waited {PAGE_SECONDS}s for {waiting_for}; the page at {browser.current_url.split('?')[0]} "
                    f"shows {headings} {said}")


def heading(browser: webdriver.Chrome, text: str) -> None:
    until(browser, expected_conditions.text_to_be_present_in_element((By.TAG_NAME, "h1"), text), repr(text))


def sign_in_in(browser: webdriver.Chrome, who: dict, wrong_code: bool = False) -> None:
    """Sign in on the console's page: user name and password, then the authenticator's code."""
    until(browser, expected_conditions.presence_of_element_located((By.ID, "password")), "the sign-in page")
    browser.find_element(By.ID, "username").send_keys(who["username"])
    browser.find_element(By.ID, "password").send_keys(who["password"])
    browser.find_element(By.ID, "sign-in").click()
    until(browser, expected_conditions.presence_of_element_located((By.ID, "code")), "the code's page")
    code = fresh_code(who["totp_secret"])
    browser.find_element(By.ID, "code").send_keys(f"{(int(code) + 1) % 1_000_000:06d}" if wrong_code else code)
    browser.find_element(By.ID, "sign-in").click()
    until(browser, lambda b: not b.find_elements(By.ID, "code"), "the page after the code")
