"""The example site as a visitor, a tenant's member and an operator see it, in Chromium.

The site is ``./dev example``'s (examples/site, on SQLite) with the demo data of
``setup_demo``: tenants acme (user alice) and globex (user bob), the master's user
operator. Each test has a browser of its own, so no sign-in carries over.
"""

from __future__ import annotations

import uuid

import pytest
from selenium.common.exceptions import NoSuchElementException, WebDriverException
from selenium.webdriver import Chrome
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webelement import WebElement
from selenium.webdriver.support import expected_conditions as ready
from selenium.webdriver.support.wait import WebDriverWait

from tests.browser.conftest import ExampleSite

PASSWORD = "omnitenant-demo"  # noqa: S105 - setup_demo's DEMO_PASSWORD, given in the README
PROVISIONING_TIMEOUT = 90  # seconds; a database tenant's migrations on a loaded machine


def _text(browser: Chrome) -> str:
    return str(browser.find_element(By.TAG_NAME, "body").text)


def _click(browser: Chrome, element: WebElement) -> None:
    """Click a link or button and wait until the next page replaced this one.

    While the page is being replaced, ChromeDriver may answer the staleness check with
    another error than "stale element" ("Node with given id does not belong to the
    document", seen with Chromium 156): the wait asks again until the answer is "stale".
    """
    element.click()
    WebDriverWait(browser, 30, ignored_exceptions=(WebDriverException,)).until(
        ready.staleness_of(element)
    )


def _sign_in(browser: Chrome, site: ExampleSite, host: str, username: str, password: str) -> None:
    browser.get(site.url(host, "/accounts/login/"))
    browser.find_element(By.ID, "id_username").send_keys(username)
    browser.find_element(By.ID, "id_password").send_keys(password)
    _click(browser, browser.find_element(By.CSS_SELECTOR, "form.form button[type=submit]"))


def _add_note(browser: Chrome, text: str) -> None:
    browser.find_element(By.ID, "id_text").send_keys(text)
    _click(browser, browser.find_element(By.CSS_SELECTOR, "form.form button[type=submit]"))
    assert "Note added." in _text(browser)


def _note_row(browser: Chrome, text: str) -> WebElement:
    return browser.find_element(By.XPATH, f"//li[@class='note'][span[@class='text']='{text}']")


def _isolation_shown(browser: Chrome, name: str) -> str:
    """The isolation type the public page's list shows beside the workspace ``name``."""
    xpath = f"//ul[@class='workspaces']/li[a='{name}']/span[@class='tag']"
    return str(browser.find_element(By.XPATH, xpath).text)


def _sign_up(browser: Chrome, site: ExampleSite, tenant_id: str, name: str) -> None:
    """Sign up as a visitor, follow the progress, sign in, write a note."""
    browser.get(site.url())
    assert "Create a workspace" in _text(browser)
    form = browser.find_element(By.ID, "signup")
    for field, value in {
        "id_name": name,
        "id_tenant_id": tenant_id,
        "id_username": "peter",
        "id_email": "peter@initech.example",
        "id_password": "tps-reports-2026",
    }.items():
        form.find_element(By.ID, field).send_keys(value)
    _click(browser, form.find_element(By.CSS_SELECTOR, "button[type=submit]"))

    # The progress page, which polls the tenant's state until provisioning is done.
    assert browser.current_url == site.url("localhost", f"/signup/{tenant_id}/")
    assert f"Workspace {tenant_id} reserved" in _text(browser)
    progress = browser.find_element(By.ID, "progress")
    WebDriverWait(browser, PROVISIONING_TIMEOUT).until(
        lambda _: progress.get_attribute("data-status") != "provisioning"
    )
    assert "Your workspace is ready." in _text(browser), _text(browser)
    assert progress.get_attribute("data-status") == "active"
    steps = browser.find_elements(By.CSS_SELECTOR, ".steps .step")
    assert [step.get_attribute("class") for step in steps] == ["step done"] * 3

    # The new tenant's own host, its own sign-in with the owner made at sign-up.
    host = f"{tenant_id}.localhost"
    _click(browser, browser.find_element(By.ID, "sign-in"))
    assert browser.current_url == site.url(host, "/accounts/login/")
    _sign_in(browser, site, host, "peter", "tps-reports-2026")
    assert browser.current_url == site.url(host, "/")
    assert f"Notes of {name}" in _text(browser)
    assert "No notes yet." in _text(browser)
    _add_note(browser, "Fix the printer")
    assert "Fix the printer" in _text(browser)


def test_sign_up_creates_a_working_tenant(browser: Chrome, example_site: ExampleSite) -> None:
    _sign_up(browser, example_site, "initech", "Initech")

    # The public page lists it now (a database tenant on SQLite); its address is taken.
    browser.get(example_site.url())
    link = browser.find_element(By.LINK_TEXT, "Initech")
    assert link.get_attribute("href") == example_site.url("initech.localhost", "/")
    assert _isolation_shown(browser, "Initech") == "database"
    form = browser.find_element(By.ID, "signup")
    form.find_element(By.ID, "id_name").send_keys("Initech again")
    form.find_element(By.ID, "id_tenant_id").send_keys("initech")
    form.find_element(By.ID, "id_username").send_keys("bill")
    form.find_element(By.ID, "id_password").send_keys("tps-reports-2026")
    _click(browser, form.find_element(By.CSS_SELECTOR, "button[type=submit]"))
    assert "This address is taken; choose another." in _text(browser)


@pytest.mark.postgres
def test_sign_up_on_postgresql_creates_a_schema_tenant(
    browser: Chrome, example_site_on_postgresql: ExampleSite
) -> None:
    _sign_up(browser, example_site_on_postgresql, "initrode", "Initrode")
    browser.get(example_site_on_postgresql.url())
    assert _isolation_shown(browser, "Initrode") == "schema"
    # The demo tenants of setup_demo are schema tenants here too, with their own users.
    _sign_in(browser, example_site_on_postgresql, "acme.localhost", "alice", PASSWORD)
    assert "Ship the anvils" in _text(browser)
    assert "Fix the printer" not in _text(browser)


def test_a_failed_sign_up_says_so_and_serves_nothing(
    browser: Chrome, example_site: ExampleSite
) -> None:
    # A folder where the new tenant's SQLite file must go: making its database fails.
    blocker = example_site.var / "tenants" / "doomed.sqlite3"
    blocker.mkdir(parents=True)
    browser.get(example_site.url())
    form = browser.find_element(By.ID, "signup")
    form.find_element(By.ID, "id_name").send_keys("Doomed")
    form.find_element(By.ID, "id_tenant_id").send_keys("doomed")
    form.find_element(By.ID, "id_username").send_keys("someone")
    form.find_element(By.ID, "id_password").send_keys("long-enough-password")
    _click(browser, form.find_element(By.CSS_SELECTOR, "button[type=submit]"))
    progress = browser.find_element(By.ID, "progress")
    WebDriverWait(browser, PROVISIONING_TIMEOUT).until(
        lambda _: progress.get_attribute("data-status") != "provisioning"
    )
    assert progress.get_attribute("data-status") == "failed"
    assert "Setting up failed:" in _text(browser)
    assert not browser.find_element(By.ID, "sign-in").is_displayed()
    # Not listed, not served.
    browser.get(example_site.url())
    assert "Doomed" not in browser.find_element(By.CSS_SELECTOR, ".workspaces").text
    browser.get(example_site.url("doomed.localhost", "/"))
    assert "Not Found" in _text(browser)
    assert blocker.is_dir()  # what was there before is left alone


def test_sign_up_refuses_a_bad_address_and_saves_nothing(
    browser: Chrome, example_site: ExampleSite
) -> None:
    browser.get(example_site.url())
    form = browser.find_element(By.ID, "signup")
    form.find_element(By.ID, "id_name").send_keys("Bad Address")
    form.find_element(By.ID, "id_tenant_id").send_keys("Not-A-Host!")
    form.find_element(By.ID, "id_username").send_keys("someone")
    form.find_element(By.ID, "id_password").send_keys("long-enough-password")
    _click(browser, form.find_element(By.CSS_SELECTOR, "button[type=submit]"))
    assert "Use 2 to 30 lowercase letters and digits." in _text(browser)
    assert browser.current_url == example_site.url("localhost", "/signup/")
    assert "Bad Address" not in browser.find_element(By.CSS_SELECTOR, ".workspaces").text


def test_sign_in_belongs_to_one_tenant(browser: Chrome, example_site: ExampleSite) -> None:
    # bob is globex's user: acme does not know him.
    _sign_in(browser, example_site, "acme.localhost", "bob", PASSWORD)
    assert "Please enter a correct username and password" in _text(browser)
    _sign_in(browser, example_site, "acme.localhost", "alice", "wrong-password")
    assert "Please enter a correct username and password" in _text(browser)
    _sign_in(browser, example_site, "acme.localhost", "alice", PASSWORD)
    assert "Notes of ACME Corporation" in _text(browser)
    assert "Sign out alice" in _text(browser)
    # The session is acme's: on globex's host alice is nobody.
    browser.get(example_site.url("globex.localhost", "/"))
    assert browser.current_url == example_site.url("globex.localhost", "/accounts/login/?next=/")
    # Signing out ends it.
    browser.get(example_site.url("acme.localhost", "/"))
    _click(browser, browser.find_element(By.XPATH, "//button[starts-with(., 'Sign out')]"))
    browser.get(example_site.url("acme.localhost", "/"))
    assert browser.current_url == example_site.url("acme.localhost", "/accounts/login/?next=/")


def test_notes_are_created_edited_deleted_and_isolated(
    browser: Chrome, example_site: ExampleSite
) -> None:
    secret = f"acme plan {uuid.uuid4().hex[:8]}"
    _sign_in(browser, example_site, "acme.localhost", "alice", PASSWORD)
    assert "Ship the anvils" in _text(browser)
    assert "Hire a new CEO" not in _text(browser)
    _add_note(browser, secret)

    # Edit it.
    edit = _note_row(browser, secret).find_element(By.LINK_TEXT, "Edit")
    edit_path = str(edit.get_attribute("href")).removeprefix(example_site.url("acme.localhost", ""))
    _click(browser, edit)
    field = browser.find_element(By.ID, "id_text")
    field.clear()
    field.send_keys(secret + " (revised)")
    _click(browser, browser.find_element(By.CSS_SELECTOR, "form.form button[type=submit]"))
    assert "Note saved." in _text(browser)
    assert secret + " (revised)" in _text(browser)

    # globex's member sees globex's notes only.
    browser.delete_all_cookies()
    _sign_in(browser, example_site, "globex.localhost", "bob", PASSWORD)
    assert "Notes of Globex Corporation" in _text(browser)
    assert "Hire a new CEO" in _text(browser)
    assert secret not in _text(browser)
    assert "Ship the anvils" not in _text(browser)
    # Nor can he open acme's note by its number: on his host it is not there.
    browser.get(example_site.url("globex.localhost", edit_path))
    assert "Page not found" in _text(browser)
    # And on acme's host he is nobody (his session is globex's).
    browser.get(example_site.url("acme.localhost", edit_path))
    assert "/accounts/login/" in browser.current_url

    # Delete it on acme.
    _sign_in(browser, example_site, "acme.localhost", "alice", PASSWORD)
    _click(browser, _note_row(browser, secret + " (revised)").find_element(By.LINK_TEXT, "Delete"))
    assert "Delete this note?" in _text(browser)
    _click(browser, browser.find_element(By.CSS_SELECTOR, "button.danger"))
    assert "Note deleted." in _text(browser)
    assert secret not in _text(browser)
    assert "Ship the anvils" in _text(browser)


def test_admin_is_scoped_to_the_tenant_of_its_host(
    browser: Chrome, example_site: ExampleSite
) -> None:
    _sign_in(browser, example_site, "acme.localhost", "alice", PASSWORD)
    _click(browser, browser.find_element(By.LINK_TEXT, "Admin"))
    assert browser.current_url == example_site.url("acme.localhost", "/admin/")
    assert browser.find_element(By.ID, "site-name").text == "ACME Corporation admin"
    index = _text(browser)
    assert "Notes" in index
    assert "Tenants" not in index  # the tenant registry is the operators' only

    _click(browser, browser.find_element(By.LINK_TEXT, "Notes"))
    notes = browser.find_element(By.ID, "result_list").text
    assert "Ship the anvils" in notes
    assert "Hire a new CEO" not in notes
    browser.get(example_site.url("acme.localhost", "/admin/auth/user/"))
    users = browser.find_element(By.ID, "result_list").text
    assert "alice" in users
    assert "bob" not in users
    assert "operator" not in users

    # The operators' admin on the public host: tenants, no notes; alice is unknown there.
    browser.get(example_site.url("localhost", "/admin/"))
    assert "/admin/login/" in browser.current_url
    browser.find_element(By.ID, "id_username").send_keys("operator")
    browser.find_element(By.ID, "id_password").send_keys(PASSWORD)
    _click(browser, browser.find_element(By.CSS_SELECTOR, "#login-form [type=submit]"))
    assert browser.find_element(By.ID, "site-name").text == "Omninotes operators admin"
    assert "Notes" not in _text(browser)
    _click(browser, browser.find_element(By.LINK_TEXT, "Tenants"))
    tenants = browser.find_element(By.ID, "result_list").text
    assert "acme" in tenants
    assert "globex" in tenants
    # And the way back to the public page (the admin's CSS upper-cases its link text).
    _click(browser, browser.find_element(By.ID, "all-workspaces"))
    assert browser.current_url == example_site.url()


def test_an_unknown_host_is_not_found(browser: Chrome, example_site: ExampleSite) -> None:
    browser.get(example_site.url("nobody.localhost", "/"))
    assert "Not Found: unknown host." in _text(browser)
    browser.get(example_site.url("nobody.localhost", "/admin/"))
    assert "Not Found: unknown host." in _text(browser)
    try:
        browser.find_element(By.ID, "id_username")
    except NoSuchElementException:
        pass
    else:
        raise AssertionError("an unknown host showed a sign-in form")


def test_pages_use_the_sites_own_style_and_fit_a_phone(
    browser: Chrome, example_site: ExampleSite
) -> None:
    _sign_in(browser, example_site, "acme.localhost", "alice", PASSWORD)
    # Every style sheet and script comes from this server: nothing outside is fetched.
    origins = browser.execute_script(
        "return performance.getEntriesByType('resource').map(e => new URL(e.name).origin)"
        ".concat([...document.styleSheets].map(s => new URL(s.href).origin));"
    )
    assert origins
    assert set(origins) == {example_site.url("acme.localhost", "/").rstrip("/")}
    # The style sheet applies (the accent colour on the primary button).
    button = browser.find_element(By.CSS_SELECTOR, "form.form .button")
    assert button.value_of_css_property("background-color") == "rgba(59, 91, 219, 1)"

    # From a tenant's page back to the public page.
    _click(browser, browser.find_element(By.LINK_TEXT, "All workspaces"))
    assert browser.current_url == example_site.url()

    # On a phone's width the sign-up and the list of workspaces stack.
    browser.set_window_size(390, 844)
    signup = browser.find_element(By.ID, "signup").rect
    cards = browser.find_elements(By.CSS_SELECTOR, ".grid > .card")
    assert len(cards) == 2
    second = cards[1].rect
    assert second["y"] >= signup["y"] + signup["height"]
    assert browser.execute_script("return document.documentElement.scrollWidth") <= 390
