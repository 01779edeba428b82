"""The fleet dashboard in a real headless Chromium against a real small fleet.

Drives Debian's ``/usr/bin/chromium`` with playwright (installed by ``make browser``; never
``playwright install``). Checks what an operator relies on: the page loads from the fleet
alone (no console errors, no request to another host), the live sections fill in from the
GET endpoints and the SSE stream, an order submitted through the form reaches COMPLETED
without a reload, a server-side validation error shows next to its field, and the robots
table filters by zone. A full-page screenshot is left in /tmp for a human to look at. With
API tokens on, the page shows a login screen first; the token goes to ``POST /api/login``
once and an HttpOnly cookie carries the session (also for the ``EventSource`` stream).

Without Chromium or playwright these tests skip with the install hint, except under CI
(``CI=true``): there a missing browser fails them, so a green CI run always includes the
browser (``tests/fleet/test_dashboard_ci.py`` checks both ways; ``RFOS_TEST_CHROMIUM``
points them at another binary).
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import tempfile
from pathlib import Path
from typing import Any, cast
from urllib.parse import urlsplit

import pytest
from topology import fast_fleet_config, fleet_service, small_fleet
from vda_like import vda_like

from robotfleet_nodes.config.models import HttpConfig
from robotfleet_nodes.idl import default_registry
from robotfleet_nodes.security.tokens import create_token

try:
    from playwright.async_api import ConsoleMessage, Frame, Page, Request, async_playwright, expect
except ImportError:
    PLAYWRIGHT_MISSING = True
else:
    PLAYWRIGHT_MISSING = False

CHROMIUM = Path(os.environ.get("RFOS_TEST_CHROMIUM", "/usr/bin/chromium"))
IN_CI = os.environ.get("CI", "").strip().lower() in {"1", "true", "yes"}
# Flags for this closed network: no background calls home, no GPU (see the machine notes).
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SCREENSHOT = Path(tempfile.gettempdir()) / "rfos-dashboard.png"
PRIORITY_LABEL = re.compile(r"^Priority")  # the label reads "Priority (0 to 9)" with an en dash
LIVE_TIMEOUT_MS = 30_000  # zone reports, dispatch and execution on a fast small fleet


def browser_missing() -> str | None:
    """What is missing for these tests and how to install it, or None."""
    if not CHROMIUM.exists():
        return f"{CHROMIUM} is missing: run `make browser` (installs Debian chromium)"
    if PLAYWRIGHT_MISSING:
        return "playwright is missing: run `make browser` (pip-installs the pinned playwright)"
    return None


MISSING = browser_missing()
pytestmark = [
    pytest.mark.slow,
    pytest.mark.timeout(180),
    pytest.mark.skipif(MISSING is not None and not IN_CI, reason=str(MISSING)),
]


@pytest.fixture(autouse=True)
def _browser_installed() -> None:
    """Under CI a missing browser is an error: CI installs it (``make browser``) or fails."""
    if MISSING is not None:
        pytest.fail(f"CI=true and {MISSING}", pytrace=False)


class PageWatch:
    """Collects console errors, page errors, off-host requests and failed requests."""

    def __init__(self, page: Page, base_url: str) -> None:
        self.origin = urlsplit(base_url).netloc
        self.console_errors: list[str] = []
        self.off_host: list[str] = []
        self.failed: list[str] = []
        self.navigations = 0
        page.on("console", self._on_console)
        page.on("pageerror", lambda exc: self.console_errors.append(f"pageerror: {exc}"))
        page.on("request", self._on_request)
        page.on("requestfailed", self._on_failed)
        page.on("framenavigated", lambda frame: self._on_navigated(page, frame))

    def _on_console(self, msg: ConsoleMessage) -> None:
        if msg.type == "error":
            self.console_errors.append(msg.text)

    def _on_request(self, request: Request) -> None:
        url = urlsplit(request.url)
        if url.scheme in ("http", "https", "ws", "wss") and url.netloc != self.origin:
            self.off_host.append(request.url)

    def _on_failed(self, request: Request) -> None:
        # The SSE stream is long-lived and may be torn down on reconnect: not a failure.
        if not request.url.endswith("/api/events"):
            self.failed.append(f"{request.method} {request.url}: {request.failure}")

    def _on_navigated(self, page: Page, frame: Frame) -> None:
        if frame == page.main_frame:
            self.navigations += 1


async def test_dashboard_live_with_real_fleet(nats_url: str, unique: str) -> None:
    """The open API (no tokens file): no login screen. robot-3 is a VDA 5050 vehicle (its kind
    shows in the robots table, its tooltip, the kind filter and the fleet's counts)."""
    drivers = {"robot-3": vda_like()}
    async with small_fleet(nats_url, unique, areas=1, zones=2, robots=10, fast=True, drivers=drivers) as topo:
        await exercise_dashboard(topo.base_url, unique, vda_robot="robot-3")


async def test_dashboard_live_with_real_fleet_and_tokens(
    nats_url: str, unique: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The same with API tokens: log in first; the stream and the form then work by the cookie."""
    import topology

    tokens_file = tmp_path / "api-tokens.json"
    token = create_token(tokens_file, "ops", "operator")
    plain = topology.fast_fleet_config

    def secured(areas: list[str] | None = None) -> Any:
        return plain(areas).model_copy(update={"http": HttpConfig(tokens_file=str(tokens_file))})

    monkeypatch.setattr(topology, "fast_fleet_config", secured)
    async with small_fleet(nats_url, unique, areas=1, zones=2, robots=10, fast=True) as topo:
        assert topo.fleet is not None and topo.fleet.service.config.http.tokens_file == str(tokens_file)
        await exercise_dashboard(topo.base_url, unique, token=token)


async def exercise_dashboard(
    base_url: str, unique: str, token: str | None = None, vda_robot: str | None = None
) -> None:
    """Everything the test checks, against a fleet serving ``base_url`` (logging in with
    ``token``); ``vda_robot``: the one robot of kind ``vda5050`` (the others are ``sim``)."""
    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
        try:
            page = await browser.new_page(viewport={"width": 1440, "height": 900})
            page.set_default_timeout(LIVE_TIMEOUT_MS)
            watch = PageWatch(page, base_url)
            response = await page.goto(base_url.rstrip("/") + "/")
            assert response is not None and response.ok
            if token is None:
                await expect(page.get_by_test_id("login")).to_be_hidden()
            else:
                await expect(page.get_by_test_id("login")).to_be_visible()
                await page.get_by_label("API token").fill(token)
                await page.get_by_test_id("login-submit").click()
                await expect(page.get_by_test_id("login")).to_be_hidden()
            await _check_live_state(page)
            assert watch.console_errors == [], watch.console_errors
            await _check_submit_reaches_completed(page, f"{unique}-ui-1")
            assert watch.navigations == 1, "the page reloaded; updates must come over SSE"
            assert watch.console_errors == [], watch.console_errors
            await _check_validation_errors(page, f"{unique}-ui-2")
            await _check_robot_zone_filter(page, base_url)
            await _check_robot_kinds(page, vda_robot)
            await page.screenshot(path=str(SCREENSHOT), full_page=True)
            # A rejected POST is logged by Chromium as "Failed to load resource ... 422";
            # that is the expected 4xx, anything else is a real error.
            unexpected = [e for e in watch.console_errors if not re.search(r"status of 4\d\d", e)]
            assert unexpected == [], unexpected
            assert watch.off_host == [], f"requests to other hosts: {watch.off_host}"
            assert watch.failed == [], f"failed requests: {watch.failed}"
        finally:
            await browser.close()


async def _check_live_state(page: Page) -> None:
    """Fleet state and Areas fill in from the real zone reports."""
    await expect(page.get_by_test_id("conn-status")).to_have_attribute("data-state", "live")
    await expect(page.get_by_test_id("fleet-robots")).to_have_text("10")
    await expect(page.get_by_test_id("fleet-robots-online")).to_have_text("10")
    await expect(page.get_by_test_id("fleet-areas")).to_have_text("1")
    await expect(page.get_by_test_id("fleet-role")).to_have_text("fleet · leader")  # one instance
    await expect(page.get_by_test_id("fleet-zones")).to_have_text("2")
    area = page.get_by_test_id("area-area-1")
    await expect(area).to_be_visible()
    await expect(area.get_by_test_id("area-zone-zone-1")).to_be_visible()
    await expect(area.get_by_test_id("area-zone-zone-2")).to_be_visible()
    await expect(area).to_contain_text("10 robots")
    await expect(page.get_by_test_id("zone-row-zone-1")).to_be_visible()
    # The live map drew every robot (its canvas carries how many it drew).
    await expect(page.get_by_test_id("map-canvas")).to_have_attribute("data-robots", "10")


async def _check_submit_reaches_completed(page: Page, order_id: str) -> None:
    """An order typed into the form goes PENDING -> ... -> COMPLETED in the live list."""
    await page.evaluate("window.__noReload = true")
    await page.get_by_label("Area", exact=True).select_option("area-1")
    await page.get_by_label("Task", exact=True).fill("pick")
    await page.get_by_label(PRIORITY_LABEL).fill("5")
    await page.get_by_label("Order id (optional)").fill(order_id)
    await page.get_by_test_id("order-submit").click()
    await expect(page.get_by_test_id("form-ok")).to_contain_text(order_id)
    item = page.get_by_test_id(f"order-{order_id}")
    await expect(item).to_be_visible()
    await expect(item).to_have_attribute("data-state", "COMPLETED")
    assert await page.evaluate("window.__noReload") is True
    # Its history, one click away.
    await item.get_by_role("button").click()
    history = page.get_by_test_id("order-history")
    await expect(history).to_contain_text("PENDING")
    await expect(history).to_contain_text("COMPLETED")
    await expect(page.get_by_test_id("order-detail")).to_contain_text(order_id)


async def _check_validation_errors(page: Page, order_id: str) -> None:
    """A 4xx body's details show next to the fields they name, then clear on success."""
    await page.get_by_label("Order id (optional)").fill(order_id)
    await page.get_by_label(PRIORITY_LABEL).fill("12")
    await page.get_by_test_id("order-submit").click()
    priority_error = page.get_by_test_id("error-priority")
    await expect(priority_error).to_be_visible()
    await expect(priority_error).not_to_have_text("")
    await expect(page.get_by_label(PRIORITY_LABEL)).to_have_attribute("aria-invalid", "true")
    await expect(page.get_by_test_id(f"order-{order_id}")).to_have_count(0)

    await page.get_by_label(PRIORITY_LABEL).fill("5")
    await page.get_by_label("Order id (optional)").fill("has a space")
    await page.get_by_test_id("order-submit").click()
    id_error = page.get_by_test_id("error-id")
    await expect(id_error).to_be_visible()
    await expect(id_error).not_to_have_text("")
    await expect(priority_error).to_be_hidden()  # the previous error was cleared


async def _check_robot_zone_filter(page: Page, base_url: str) -> None:
    """Filtering the robots table by zone keeps exactly that zone's robots."""
    robots = await (await page.request.get(f"{base_url}/api/robots")).json()
    expected = sorted(r["id"] for r in robots if r["zone_id"] == "zone-1")
    assert 0 < len(expected) < 10
    await expect(page.get_by_test_id("robots-table").locator("tbody tr")).to_have_count(10)
    await page.get_by_test_id("robots-zone").select_option("zone-1")
    rows = page.get_by_test_id("robots-table").locator("tbody tr")
    await expect(rows).to_have_count(len(expected))
    await expect(page.get_by_test_id("robots-count")).to_have_text(f"{len(expected)} of 10 robots")
    zones = await rows.locator("td:nth-child(2)").all_inner_texts()
    assert set(zones) == {"zone-1"}
    shown = await rows.locator("td:nth-child(1)").all_inner_texts()
    assert sorted(shown) == expected
    # The search box narrows further, and clearing the filters brings everyone back.
    await page.get_by_test_id("robots-search").fill(expected[0])
    await expect(rows.first).to_contain_text(expected[0])
    await page.get_by_test_id("robots-search").fill("")
    await page.get_by_test_id("robots-zone").select_option("")
    await expect(rows).to_have_count(10)


async def _check_robot_kinds(page: Page, vda_robot: str | None) -> None:
    """Each row shows its robot's kind (named in its tooltip); the kind filter keeps exactly
    that kind; the fleet card counts robots per kind."""
    kind_cell = page.get_by_test_id("robot-row-robot-1").locator("td:nth-child(3)")
    await expect(kind_cell).to_have_text("sim")
    await expect(kind_cell).to_have_attribute("title", "simulated robot")
    if vda_robot is None:
        await expect(page.get_by_test_id("fleet-robot-kinds")).to_have_text("sim 10")
        return
    vda_cell = page.get_by_test_id(f"robot-row-{vda_robot}").locator("td:nth-child(3)")
    await expect(vda_cell).to_have_text("vda5050")
    await expect(vda_cell).to_have_attribute("title", "VDA 5050 vehicle (MQTT)")
    await expect(page.get_by_test_id("fleet-robot-kinds")).to_have_text("sim 9 · vda5050 1")
    rows = page.get_by_test_id("robots-table").locator("tbody tr")
    await page.get_by_test_id("robots-kind").select_option("vda5050")
    await expect(rows).to_have_count(1)
    await expect(rows.first).to_have_attribute("data-testid", f"robot-row-{vda_robot}")
    await page.get_by_test_id("robots-kind").select_option("sim")
    await expect(rows).to_have_count(9)
    await page.get_by_test_id("robots-kind").select_option("")
    await expect(rows).to_have_count(10)


async def test_dashboard_applies_robot_deltas(nats_url: str, unique: str) -> None:
    """A robot's changed battery reaches the table by a delta (only that row is sent)."""
    async with fleet_service(nats_url, unique) as fleet:
        service = fleet.service
        service._on_robot_table(robot_table({"robot-1": 90.0, "robot-2": 80.0}))
        async with async_playwright() as pw:
            browser = await pw.chromium.launch(
                executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
            )
            try:
                page = await browser.new_page(viewport={"width": 1440, "height": 900})
                page.set_default_timeout(LIVE_TIMEOUT_MS)
                watch = PageWatch(page, fleet.base_url)
                response = await page.goto(fleet.base_url + "/")
                assert response is not None and response.ok
                await expect(page.get_by_test_id("conn-status")).to_have_attribute("data-state", "live")
                row = page.get_by_test_id("robot-row-robot-2")
                await expect(row).to_contain_text("80%")
                async with service.events.subscribe() as sub:  # to see what the page was sent
                    service._on_robot_table(robot_table({"robot-1": 90.0, "robot-2": 42.0}))
                    event = await asyncio.wait_for(anext(sub), 10.0)
                    sent = json.loads(cast(str, event.data))
                    assert sent["full"] is False and [r["id"] for r in sent["robots"]] == ["robot-2"]
                await expect(row).to_contain_text("42%")
                await expect(page.get_by_test_id("robot-row-robot-1")).to_contain_text("90%")
                service._on_robot_table(robot_table({"robot-1": 90.0}))  # robot-2 removed
                await expect(row).to_have_count(0)
                await expect(page.get_by_test_id("robots-count")).to_have_text("1 of 1 robots")
                assert watch.console_errors == [], watch.console_errors
            finally:
                await browser.close()


async def test_dashboard_login_when_the_api_needs_tokens(nats_url: str, unique: str, tmp_path: Path) -> None:
    """Login screen first; a wrong token is refused; after login the page is live and submits;
    the session survives a reload, the cookie is out of JavaScript's reach; logout ends it."""
    tokens_file = tmp_path / "api-tokens.json"
    operator = create_token(tokens_file, "ops", "operator")
    viewer = create_token(tokens_file, "eyes", "viewer")
    config = fast_fleet_config().model_copy(update={"http": HttpConfig(tokens_file=str(tokens_file))})
    async with fleet_service(nats_url, unique, config) as fleet, async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
        try:
            page = await browser.new_page(viewport={"width": 1440, "height": 900})
            page.set_default_timeout(LIVE_TIMEOUT_MS)
            watch = PageWatch(page, fleet.base_url)
            response = await page.goto(fleet.base_url + "/")
            assert response is not None and response.ok
            await expect(page.get_by_test_id("login")).to_be_visible()
            await expect(page.get_by_test_id("fleet-state")).to_be_hidden()

            await page.get_by_label("API token").fill(operator + "x")
            await page.get_by_test_id("login-submit").click()
            await expect(page.get_by_test_id("login-error")).to_contain_text("Unknown or revoked token")
            await expect(page.get_by_test_id("fleet-state")).to_be_hidden()

            await page.get_by_label("API token").fill(operator)
            await page.get_by_test_id("login-submit").click()
            await expect(page.get_by_test_id("login")).to_be_hidden()
            await expect(page.get_by_test_id("conn-status")).to_have_attribute("data-state", "live")
            await expect(page.get_by_test_id("who")).to_have_text("ops (operator)")
            assert await page.get_by_label("API token").input_value() == ""
            assert "rfos_session" not in await page.evaluate("document.cookie"), "the cookie must be HttpOnly"
            cookies = await page.context.cookies()
            [session] = [c for c in cookies if c["name"] == "rfos_session"]
            assert (
                session["httpOnly"] and session["sameSite"] == "Strict" and operator not in session["value"]
            )

            order_id = f"{unique}-login-1"
            await page.get_by_label("Area", exact=True).select_option("area-1")
            await page.get_by_label("Order id (optional)").fill(order_id)
            await page.get_by_test_id("order-submit").click()
            await expect(page.get_by_test_id("form-ok")).to_contain_text(order_id)
            await expect(page.get_by_test_id(f"order-{order_id}")).to_be_visible()

            await page.reload()  # the session cookie keeps it logged in
            await expect(page.get_by_test_id("conn-status")).to_have_attribute("data-state", "live")
            await expect(page.get_by_test_id("login")).to_be_hidden()

            await page.get_by_test_id("logout").click()
            await expect(page.get_by_test_id("login")).to_be_visible()
            await expect(page.get_by_test_id("fleet-state")).to_be_hidden()
            assert (await page.request.get(f"{fleet.base_url}/api/fleet")).status == 401

            await page.get_by_label("API token").fill(viewer)  # a viewer sees, may not submit
            await page.get_by_test_id("login-submit").click()
            await expect(page.get_by_test_id("who")).to_have_text("eyes (viewer)")
            await expect(page.get_by_test_id("order-submit")).to_be_disabled()
            await expect(page.get_by_test_id(f"order-{order_id}")).to_be_visible()

            errors = [e for e in watch.console_errors if not re.search(r"status of 4\d\d", e)]
            assert errors == [], errors
            assert watch.off_host == [], watch.off_host
        finally:
            await browser.close()


def robot_table(batteries: dict[str, float]) -> Any:
    """zone-1's RobotTable: one IDLE robot per entry of ``batteries``."""
    cls: Any = default_registry().get_class("robotfleet_nodes/msg/RobotTable")
    ids = list(batteries)
    n = len(ids)
    return cls(
        zone_id="zone-1",
        robot_ids=ids,
        x=[float(i) for i in range(n)],
        y=[0.0] * n,
        theta=[0.0] * n,
        battery_percent=[batteries[i] for i in ids],
        states=[0] * n,
        current_order_ids=[""] * n,
        order_progress=[0.0] * n,
    )


async def test_dashboard_lists_an_order_stored_with_a_nan_target(nats_url: str, unique: str) -> None:
    """An order stored before targets were checked (NaN) does not break the order list, and a
    target outside +-1e6 is refused next to the target fields."""
    import math

    from topology import nats_context

    from robotfleet_nodes.fleet.protocol import OrderStore, nats_transport_of, now_stamp
    from robotfleet_nodes.msg import WorkOrder

    async with nats_context(nats_url, unique) as ctx:
        store = OrderStore(nats_transport_of(ctx.transport))
        await store.ensure()
        for order_id, x in [("nan-1", math.nan), ("fine-1", 1.5)]:
            stamp = now_stamp()
            await store.create(
                WorkOrder(
                    id=order_id,
                    area_id="area-1",
                    task="move",
                    has_target=True,
                    target_x=x,
                    target_y=0.0,
                    state=WorkOrder.STATE_CANCELLED,
                    created=stamp,
                    updated=stamp,
                )
            )
    async with fleet_service(nats_url, unique) as fleet, async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
        try:
            page = await browser.new_page(viewport={"width": 1440, "height": 900})
            page.set_default_timeout(LIVE_TIMEOUT_MS)
            watch = PageWatch(page, fleet.base_url)
            response = await page.goto(fleet.base_url + "/")
            assert response is not None and response.ok
            await expect(page.get_by_test_id("order-nan-1")).to_be_visible()
            await expect(page.get_by_test_id("order-fine-1")).to_be_visible()

            await page.get_by_label("Order id (optional)").fill("far-1")
            await page.get_by_test_id("order-x").fill("2000000")
            await page.get_by_test_id("order-y").fill("0")
            await page.get_by_test_id("order-submit").click()
            target_error = page.get_by_test_id("error-target")
            await expect(target_error).to_contain_text("target.x")
            await expect(page.get_by_test_id("order-x")).to_have_attribute("aria-invalid", "true")
            await expect(page.get_by_test_id("order-far-1")).to_have_count(0)
            errors = [e for e in watch.console_errors if "Failed to load resource" not in e]
            assert errors == [], errors
        finally:
            await browser.close()
