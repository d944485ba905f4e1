"""The dashboard in a real browser: Playwright for Python driving Debian's Chromium (``/usr/bin/chromium``)
against the real proxy (machine's PostgreSQL, simulator upstream), traffic sent with the official
``openai`` client.

* an admin logs in with the master key, creates a team and a key IN THE UI, traffic is sent with that
  key; the overview's totals equal ``GET /global/spend/report``; a log row opens with its cost breakdown;
  every table downloads as CSV;
* a team admin (username/password) sees its team's spend only and may create keys, not teams;
* an internal user (its own virtual key) sees only its own calls and no admin pages;
* a viewer (``proxy_admin_viewer``) sees everything but no edit form, and a change it posts anyway is 403.

Screenshots of every page land in the test's tmp dir (``screenshots/``). Without Chromium the module
skips, except under ``CI=true`` where it fails (``.ci/run`` installs Chromium).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect, sync_playwright
from tests.e2e.conftest import MASTER_KEY, Proxy
from tests.helpers.pg import temp_database

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
PAGES = ("overview", "logs", "keys", "teams", "users", "end_users", "budgets", "models")
PAGES_EXTRA = ("reconciliation", "tag_drift")
MESSAGES: Any = [{"role": "user", "content": "dashboard traffic"}]


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """Debian's Chromium under Playwright (never downloaded)."""
    if not CHROMIUM.exists():
        message = f"{CHROMIUM} is missing (apt-get install chromium)"
        if os.environ.get("CI") == "true":
            pytest.fail(f"{message}; CI=true: .ci/run installs it")
        pytest.skip(message)
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture(scope="module")
def dashboard_db(postgres_url: str) -> Iterator[str]:
    """A fresh PostgreSQL database for this module (requested before ``proxy_factory``: dropped after)."""
    with temp_database(postgres_url) as url:
        yield url


@pytest.fixture(scope="module")
def proxy(dashboard_db: str, proxy_factory: Any) -> Proxy:
    return proxy_factory(dashboard_db)


@pytest.fixture
def shots(tmp_path: Path) -> Path:
    folder = tmp_path / "screenshots"
    folder.mkdir()
    return folder


def _login(browser: Any, proxy: Proxy, password: str, username: str = "") -> Any:
    page = browser.new_page(viewport={"width": 1400, "height": 900})
    page.goto(f"{proxy.url}/ui/")
    page.fill("#login-username", username)
    page.fill("#login-password", password)
    page.click("#login-submit")
    page.wait_for_selector("#nav a")
    _wait_loaded(page)
    return page


def _wait_loaded(page: Any) -> None:
    page.wait_for_selector("#page[data-loaded='true']")


def _open(page: Any, name: str) -> None:
    page.evaluate("document.getElementById('page').dataset.loaded = 'false'")
    page.goto(page.url.split("#")[0] + "#" + name)
    page.wait_for_selector(f"#page[data-page='{name}'][data-loaded='true']")


def _money(text: str) -> Decimal:
    assert text.startswith("$"), text
    return Decimal(text[1:])


def _report_total(proxy: Proxy, key: str = MASTER_KEY) -> tuple[Decimal, int]:
    """Spend of ``/global/spend/report`` (LiteLLM's shape: one entry per day, per model) and the
    request count of ``/global/spend/report/v2`` (totals per group)."""
    days = proxy.ok("GET", "/global/spend/report?group_by=model", key=key)
    total = sum((Decimal(str(e["total_spend"])) for day in days for e in day["models"]), Decimal(0))
    groups = proxy.ok("GET", "/global/spend/report/v2?group_by=model", key=key)["data"]
    return total, sum(row["api_requests"] for row in groups)


def _report_team(proxy: Proxy, team_id: str) -> Decimal:
    days = proxy.ok("GET", "/global/spend/report?group_by=team")
    spends = [Decimal(str(e["total_spend"])) for day in days for e in day["teams"] if e["team_id"] == team_id]
    return sum(spends, Decimal(0))


def _send(proxy: Proxy, key: str, models: list[str]) -> None:
    client = proxy.client(key)
    for model in models:
        client.chat.completions.create(model=model, messages=MESSAGES)


def _create_team_and_key(page: Any) -> tuple[str, str]:
    _open(page, "teams")
    page.fill("#team-alias", "ui-team")
    page.fill("#team-budget", "25")
    page.fill("#team-duration", "30d")
    page.click("#team-create")
    row = page.wait_for_selector("#teams-table tr:has-text('ui-team')")
    team_id = row.get_attribute("data-id")
    assert team_id
    _open(page, "keys")
    page.fill("#key-alias", "ui-key")
    page.fill("#key-team", team_id)
    page.click("#key-create")
    key = page.wait_for_selector("#new-key").inner_text()
    page.wait_for_selector("#keys-table tr:has-text('ui-key')")
    return team_id, key


@pytest.fixture(scope="module")
def world(proxy: Proxy, browser: Any) -> dict[str, Any]:
    """A team and key made in the UI by the admin, users of every role, traffic from the official client."""
    page = _login(browser, proxy, MASTER_KEY, "admin")
    team_id, team_key = _create_team_and_key(page)
    page.close()
    members = [{"user_id": "alice", "role": "admin"}]
    proxy.ok("POST", "/user/new", {"user_id": "alice", "password": "alice-pw-1", "auto_create_key": False})
    proxy.ok("POST", "/team/update", {"team_id": team_id, "members": members})
    bob_key = proxy.ok("POST", "/user/new", {"user_id": "bob", "user_role": "internal_user"})["key"]
    viewer = {"user_id": "vera", "user_role": "proxy_admin_viewer", "password": "vera-pw-1"}
    proxy.ok("POST", "/user/new", {**viewer, "auto_create_key": False})
    _send(proxy, team_key, ["priced", "priced"])  # the team has a budget: unpriced models are refused
    _send(proxy, bob_key, ["priced", "unpriced"])
    _send(proxy, MASTER_KEY, ["gpt-4o-mini"])
    proxy.wait_written()
    return {"team_id": team_id, "team_key": team_key, "bob_key": bob_key}


def test_admin_overview_logs_and_every_page(
    browser: Any, proxy: Proxy, world: dict[str, Any], shots: Path
) -> None:
    page = _login(browser, proxy, MASTER_KEY, "admin")
    total, requests = _report_total(proxy)
    page.wait_for_selector("#total-spend")
    assert _money(page.inner_text("#total-spend")) == total
    assert int(page.inner_text("#total-requests")) == requests == 5
    assert int(page.inner_text("#total-unpriced")) == 1
    page.select_option("#ov-dimension", "team")
    page.click("#ov-apply")
    team_row = page.wait_for_selector(f"#ov-groups tr:has-text('{world['team_id']}')")
    expected = _report_team(proxy, world["team_id"])
    assert f"${expected.normalize():f}" in team_row.inner_text()
    page.screenshot(path=str(shots / "overview.png"), full_page=True)

    _open(page, "logs")
    page.wait_for_selector("#logs-table tbody tr")
    assert page.locator("#logs-table tbody tr").count() == 5
    page.fill("#lf-model", "priced")
    page.click("#lf-apply")
    expect(page.locator("#logs-table tbody tr")).to_have_count(3)
    page.click("#logs-table tbody tr >> nth=0")
    page.wait_for_selector("#detail-cost tbody tr")
    categories = page.locator("#detail-cost tbody tr td:first-child").all_inner_texts()
    assert {"input", "output"} <= set(categories), categories
    assert _money(page.inner_text("#detail-total")) > 0
    page.screenshot(path=str(shots / "logs.png"), full_page=True)
    with page.expect_download() as download:
        page.click("#logs-table .csv-download")
    csv_path = shots / "spend-logs.csv"
    download.value.save_as(csv_path)
    assert csv_path.read_text().count("\n") == 1 + 3

    for name in (*PAGES[2:], *PAGES_EXTRA):
        _open(page, name)
        page.screenshot(path=str(shots / f"{name}.png"), full_page=True)
    paths = {getattr(route, "path", "") for route in proxy.app.routes}
    for name, path, table in (
        ("reconciliation", "/reconcile/runs", "reconciliation-runs"),
        ("tag_drift", "/tags/drift", "tag-drift"),
    ):
        _open(page, name)
        if path in paths:  # the feature is installed: its table, else "not available"
            assert page.locator(f"[data-table='{table}']").count() == 1, name
        else:
            assert "not available" in page.inner_text("#page"), name
    assert len(list(shots.glob("*.png"))) == len(PAGES) + len(PAGES_EXTRA)


def test_team_admin_sees_its_team_and_creates_keys_only(
    browser: Any, proxy: Proxy, world: dict[str, Any], shots: Path
) -> None:
    page = _login(browser, proxy, "alice-pw-1", "alice")
    team_spend = Decimal(str(proxy.ok("GET", f"/team/info?team_id={world['team_id']}")["team_info"]["spend"]))
    assert _money(page.inner_text("#total-spend")) == team_spend
    assert int(page.inner_text("#total-requests")) == 2
    nav = page.locator("#nav a").all_inner_texts()
    assert "Users" not in nav and "Models" not in nav
    _open(page, "keys")
    assert page.locator("#key-form").count() == 1
    assert page.locator("#keys-table tbody tr").count() == 1
    _open(page, "teams")
    assert page.locator("#team-form").count() == 0
    page.screenshot(path=str(shots / "team-admin-teams.png"), full_page=True)
    answer = page.request.post(f"{proxy.url}/ui/api/teams/new", data={"team_alias": "nope"})
    assert answer.status == 403


def test_internal_user_sees_only_its_own_calls(
    browser: Any, proxy: Proxy, world: dict[str, Any], shots: Path
) -> None:
    page = _login(browser, proxy, world["bob_key"])
    assert int(page.inner_text("#total-requests")) == 2
    assert int(page.inner_text("#total-unpriced")) == 1
    _open(page, "logs")
    users = page.locator("#logs-table tbody tr td:nth-child(7)").all_inner_texts()
    assert users == ["bob", "bob"]
    assert page.request.get(f"{proxy.url}/ui/api/users").status == 403
    page.screenshot(path=str(shots / "internal-user-logs.png"), full_page=True)


def test_viewer_cannot_reach_edit_forms(browser: Any, proxy: Proxy, world: dict[str, Any]) -> None:
    page = _login(browser, proxy, "vera-pw-1", "vera")
    for name in ("keys", "teams", "users", "end_users"):
        _open(page, name)
        assert page.locator("#page form").count() == 0, name
        assert page.locator("#page td button").count() == 0, name
    assert page.locator("#keys-table, #teams-table, #users-table, #end-users-table").count() == 1
    answer = page.request.post(f"{proxy.url}/ui/api/keys/new", data={"key_alias": "viewer-key"})
    assert answer.status == 403
    answer = page.request.post(
        f"{proxy.url}/ui/api/keys/block", data={"key": world["team_key"], "blocked": True}
    )
    assert answer.status == 403


def test_wrong_password_is_refused_in_the_page(browser: Any, proxy: Proxy, world: dict[str, Any]) -> None:
    page = browser.new_page()
    page.goto(f"{proxy.url}/ui/")
    page.fill("#login-username", "alice")
    page.fill("#login-password", "wrong")
    page.click("#login-submit")
    page.wait_for_selector("#login-error:has-text('invalid username or password')")
    assert page.locator("#nav a").count() == 0


def test_models_page_shows_health_and_cooldowns(browser: Any, proxy: Proxy, shots: Path) -> None:
    """Issue 21: each deployment's health and cooldown from the router, as ``/model/info`` reports them."""
    page = _login(browser, proxy, MASTER_KEY, "admin")
    _open(page, "models")
    info = proxy.ok("GET", "/model/info")["data"]
    cooling = sum(1 for row in info if row["model_info"]["health"] == "cooldown")
    summary = page.inner_text("#models-summary")
    assert summary == f"{len(info) - cooling} healthy, {cooling} cooling down", summary
    headers = page.locator("#models-table th").all_inner_texts()
    assert {"health", "cooldown s", "in flight", "rpm", "tpm"} <= set(headers), headers
    healths = page.locator("#models-table tbody tr td:nth-child(7)").all_inner_texts()
    assert len(healths) == len(info) and all(h == "healthy" or h.startswith("cooldown") for h in healths)
    page.screenshot(path=str(shots / "models-health.png"), full_page=True)


def test_budget_forecast_shown_on_teams_and_keys(
    browser: Any, proxy: Proxy, world: dict[str, Any], shots: Path
) -> None:
    """Issue 21: the ``budget_forecast`` of ``/team/info`` (burn rate per hour) in the teams table."""
    page = _login(browser, proxy, MASTER_KEY, "admin")
    _open(page, "teams")
    row = page.wait_for_selector(f"#teams-table tr[data-id='{world['team_id']}']")
    info = proxy.ok("GET", f"/team/info?team_id={world['team_id']}")
    forecast = info.get("budget_forecast") or info["team_info"].get("budget_forecast")
    assert forecast is not None
    text = row.inner_text()
    assert "/h, runs out " + forecast["runs_out_at"][:16].replace("T", " ") in text, text
    page.screenshot(path=str(shots / "teams-forecast.png"), full_page=True)
    _open(page, "keys")
    assert "forecast" in page.locator("#keys-table th").all_inner_texts()


def test_session_ends_when_its_key_is_blocked(browser: Any, proxy: Proxy, shots: Path) -> None:
    """Issue 21: a session is re-checked at every request; blocking its key sends the page to log-in."""
    key = proxy.new_key(key_alias="browser-session")
    page = _login(browser, proxy, key)
    proxy.ok("POST", "/key/block", {"key": key})
    page.evaluate("document.getElementById('page').dataset.loaded = 'false'")
    page.goto(page.url.split("#")[0] + "#logs")
    page.wait_for_selector("#login:not([hidden])")
    assert page.locator("#nav a").count() == 0
    page.screenshot(path=str(shots / "session-ended.png"), full_page=True)


def test_login_attempt_limit_in_the_page(browser: Any, proxy: Proxy, shots: Path) -> None:
    """Issue 21: the 6th log-in of one username within 5 minutes is refused (429), even when right."""
    proxy.ok("POST", "/user/new", {"user_id": "gina", "password": "gina-pw-1", "auto_create_key": False})
    page = browser.new_page()
    page.goto(f"{proxy.url}/ui/")
    for attempt in range(6):
        page.fill("#login-username", "gina")
        page.fill("#login-password", "gina-pw-1" if attempt == 5 else "wrong")
        page.click("#login-submit")
        expected = "too many failed log-ins" if attempt == 5 else "invalid username or password"
        page.wait_for_selector(f"#login-error:has-text('{expected}')")
    assert page.locator("#nav a").count() == 0
    page.screenshot(path=str(shots / "login-limited.png"), full_page=True)
