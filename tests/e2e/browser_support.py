"""A real browser for end-to-end tests: Debian's Chromium driven by Playwright.

Playwright's own browser download is never used (``playwright install`` cannot run here); the
tests launch the system's ``/usr/bin/chromium`` and are skipped when it or Playwright is missing
(``.ci/run`` installs Chromium, ``pip install -e '.[dev]'`` installs Playwright).
"""

from __future__ import annotations

import os
import shutil
import struct
import zlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from playwright.async_api import Browser, Page

CHROMIUM = os.environ.get("SERVICEGUIDE_CHROMIUM", "/usr/bin/chromium")
LAUNCH_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


REQUIRE_BROWSER = os.environ.get("SERVICEGUIDE_REQUIRE_BROWSER") == "1"


def require_browser() -> None:
    """Skip the calling test unless Playwright and Chromium are both installed (fail instead
    with ``SERVICEGUIDE_REQUIRE_BROWSER=1``, as ``.ci/run`` sets)."""
    problem = None
    try:
        import playwright.async_api  # noqa: F401
    except ImportError:
        problem = "Playwright is not installed (pip install -e '.[dev]')"
    if problem is None and not (Path(CHROMIUM).exists() or shutil.which(CHROMIUM)):
        problem = f"no Chromium at {CHROMIUM} (apt-get install chromium)"
    if problem and REQUIRE_BROWSER:
        pytest.fail(f"browser tests are required (SERVICEGUIDE_REQUIRE_BROWSER=1): {problem}")
    if problem:
        pytest.skip(problem)


@asynccontextmanager
async def chromium() -> AsyncIterator[Browser]:
    """A headless Chromium, closed at the end whatever happens."""
    require_browser()
    from playwright.async_api import async_playwright

    async with async_playwright() as p:
        browser = await p.chromium.launch(executable_path=CHROMIUM, args=LAUNCH_ARGS)
        try:
            yield browser
        finally:
            await browser.close()


class PageProblems:
    """JavaScript errors and console errors (a CSP violation is one) seen on a page."""

    def __init__(self, page: Page) -> None:
        self.seen: list[str] = []
        page.on("pageerror", lambda e: self.seen.append(f"page error: {e}"))
        page.on("console", self._console)

    def _console(self, message: Any) -> None:
        # A form shown again with its errors is answered 422 on purpose; Chrome logs that.
        if message.type == "error" and "status of 422" not in message.text:
            self.seen.append(f"console: {message.text}")


async def order_ids(page: Page) -> dict[int, int]:
    """The thank-you page's orders: order id → service id."""
    out: dict[int, int] = {}
    for item in await page.locator("[data-order-id]").all():
        oid = await item.get_attribute("data-order-id")
        sid = await item.get_attribute("data-service-id")
        assert oid and sid, "an order without its numbers"
        out[int(oid)] = int(sid)
    return out


async def focused(page: Page) -> dict[str, Any]:
    """What has the keyboard focus, and whether it is drawn visibly."""
    result: dict[str, Any] = await page.evaluate(
        """() => {
            const el = document.activeElement;
            const style = getComputedStyle(el);
            const box = el.getBoundingClientRect();
            return {
                tag: el.tagName.toLowerCase(), id: el.id, name: el.getAttribute("name"),
                value: el.getAttribute("value"), text: (el.textContent || "").trim(),
                visibleRing: (style.outlineStyle !== "none" && parseFloat(style.outlineWidth) >= 2)
                    || style.boxShadow !== "none",
                onScreen: box.width > 0 && box.height > 0 && box.bottom > 0,
            };
        }"""
    )
    return result


async def tab_to(page: Page, selector: str, *, limit: int = 40) -> dict[str, Any]:
    """Press Tab until the element ``selector`` finds has the focus; check the focus shows."""
    target = page.locator(selector).first
    for _ in range(limit):
        await page.keyboard.press("Tab")
        if await target.evaluate("el => el === document.activeElement"):
            state = await focused(page)
            assert state["visibleRing"], f"no visible focus on {selector}: {state}"
            assert state["onScreen"], f"the focused {selector} is off screen: {state}"
            return state
    raise AssertionError(f"{selector} was not reached with {limit} presses of Tab")


def check_screenshot(path: Path, *, min_bytes: int = 8_000) -> tuple[int, int]:
    """Assert ``path`` is a PNG of a real page: a sane size and not a single colour.

    Decoded with the standard library: the image's filtered scanlines of a one-colour page hold
    a handful of distinct byte values; a page with text and borders holds a great many.
    """
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", f"{path} is not a PNG"
    assert len(data) >= min_bytes, f"{path} is only {len(data)} bytes"
    pos, width, height, idat = 8, 0, 0, b""
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos : pos + 4])
        kind = data[pos + 4 : pos + 8]
        body = data[pos + 8 : pos + 8 + length]
        if kind == b"IHDR":
            width, height = struct.unpack(">II", body[:8])
        elif kind == b"IDAT":
            idat += body
        pos += 12 + length
    assert width >= 300 and height >= 300, f"{path} is {width}×{height}"
    pixels = zlib.decompress(idat)
    assert len(set(pixels)) > 32, f"{path} looks blank (one colour)"
    return width, height
