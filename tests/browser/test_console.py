"""The fleet console of the example's public host, in Chromium: an operator's action.

The console (``django_omnitenant.console``) is mounted at ``/console/`` of the public
host. The operator suspends globex through it (a confirmed action that goes through
``provisioning``), globex's host then refuses requests, and resuming serves it again.
"""

from __future__ import annotations

from selenium.webdriver import Chrome
from selenium.webdriver.common.by import By

from tests.browser.conftest import ExampleSite
from tests.browser.test_example import PASSWORD, _click, _text


def _open_tenant(browser: Chrome, site: ExampleSite, tenant_id: str) -> None:
    browser.get(site.url("localhost", "/console/"))
    search = browser.find_element(By.NAME, "q")
    search.send_keys(tenant_id)
    _click(browser, browser.find_element(By.CSS_SELECTOR, "form.filters button[type=submit]"))
    rows = browser.find_elements(By.CSS_SELECTOR, "table tbody tr")
    assert len(rows) == 1, [row.text for row in rows]
    _click(browser, rows[0].find_element(By.LINK_TEXT, tenant_id))


def _confirm(browser: Chrome, action: str, reason: str | None = None) -> None:
    _click(browser, browser.find_element(By.LINK_TEXT, action))
    assert f"{action} tenant" in _text(browser)
    if reason is not None:
        browser.find_element(By.NAME, "reason").send_keys(reason)
    _click(browser, browser.find_element(By.XPATH, "//form//button[starts-with(., 'Yes,')]"))


def test_operator_suspends_and_resumes_a_tenant_in_the_console(
    browser: Chrome, example_site: ExampleSite
) -> None:
    # Staff only: the console sends an anonymous visitor to the operators' sign-in.
    browser.get(example_site.url("localhost", "/console/"))
    assert "/admin/login/" in browser.current_url
    browser.find_element(By.ID, "id_username").send_keys("operator")
    browser.find_element(By.ID, "id_password").send_keys(PASSWORD)
    _click(browser, browser.find_element(By.CSS_SELECTOR, "#login-form [type=submit]"))
    assert browser.current_url == example_site.url("localhost", "/console/")
    fleet = _text(browser)
    assert "acme" in fleet
    assert "globex" in fleet

    _open_tenant(browser, example_site, "globex")
    _confirm(browser, "Suspend", reason="invoice unpaid")
    assert "Suspended" in browser.find_element(By.CSS_SELECTOR, "dl.facts").text
    history = browser.find_element(By.XPATH, "//h3[.='History']/following-sibling::table").text
    assert "suspended" in history
    assert "invoice unpaid" in history
    assert "operator" in history

    # The tenant's host refuses it now; acme is untouched.
    browser.get(example_site.url("globex.localhost", "/accounts/login/"))
    assert "this site is suspended" in _text(browser)
    browser.get(example_site.url("acme.localhost", "/accounts/login/"))
    assert "Sign in to ACME Corporation" in _text(browser)

    _open_tenant(browser, example_site, "globex")
    _confirm(browser, "Resume")
    assert "Active" in browser.find_element(By.CSS_SELECTOR, "dl.facts").text
    browser.get(example_site.url("globex.localhost", "/accounts/login/"))
    assert "Sign in to Globex Corporation" in _text(browser)
