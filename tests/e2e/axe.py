"""axe-core in the browser tests: the accessibility rules run on a page as it is shown.

axe-core comes from the npm registry, pinned (``AXE_VERSION``), installed by ``make install``
into ``.venv/axe`` (``SERVICEGUIDE_AXE_JS`` may point at another copy). It is evaluated in the
page through the browser's debugging protocol, so the pages' Content-Security-Policy (which
allows no inline script) stays as it is for the rest of the test.
"""

from __future__ import annotations

import asyncio
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from tests.e2e.browser_support import REQUIRE_BROWSER

if TYPE_CHECKING:
    from playwright.async_api import Page

AXE_VERSION = "4.14.1"
ROOT = Path(__file__).resolve().parents[2]
AXE_JS = Path(
    os.environ.get(
        "SERVICEGUIDE_AXE_JS", ROOT / ".venv" / "axe" / "node_modules" / "axe-core" / "axe.min.js"
    )
)
#: Violations of these impacts fail a test.
SERIOUS = ("serious", "critical")
AXE_TIMEOUT = 60.0
_source: str | None = None


def axe_source() -> str:
    global _source
    if _source is None:
        if not AXE_JS.exists():
            problem = f"axe-core is not installed at {AXE_JS} (make install)"
            if REQUIRE_BROWSER:
                pytest.fail(problem)
            pytest.skip(problem)
        _source = AXE_JS.read_text(encoding="utf-8")
    return _source


async def violations(page: Page) -> list[dict[str, Any]]:
    """axe's violations on the page as it is now (WCAG 2.1 A and AA, and best practice)."""
    # axe needs the page's JavaScript on (its timers); in a context without it, it never ends.
    await page.evaluate(axe_source() + "\n;0")
    result: dict[str, Any] = await asyncio.wait_for(_run(page), AXE_TIMEOUT)
    return list(result["violations"])


async def _run(page: Page) -> dict[str, Any]:
    result: dict[str, Any] = await page.evaluate(
        """async () => await axe.run(document, {
            runOnly: {type: "tag", values: ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa",
                                            "best-practice"]},
            resultTypes: ["violations"],
        })"""
    )
    return result


async def assert_accessible(page: Page, where: str) -> None:
    """No serious or critical violation on the page."""
    found = [v for v in await violations(page) if v.get("impact") in SERIOUS]
    summary = [
        f"{v['id']} ({v['impact']}): {v['help']} — {[n['target'] for n in v['nodes'][:3]]}"
        for v in found
    ]
    assert not found, f"{where}: accessibility violations:\n" + "\n".join(summary)
