"""axe-core in the browser tests: run it on the page a test is on, fail on any serious or
critical violation, and list the moderate and minor ones in the test output.

axe-core comes from the npm registry, pinned by ``tests/e2e/axe/package-lock.json`` and installed
by ``make axe`` (``make test`` and ``make test-e2e`` do it first). It is evaluated into the page
through the browser's debugging protocol, so the pages' Content-Security-Policy (scripts from the
site only) stays as it is. Without it the calling test is skipped, or fails under
``SERVICEGUIDE_REQUIRE_BROWSER=1`` as in CI.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from tests.e2e.browser_support import REQUIRE_BROWSER

if TYPE_CHECKING:
    from playwright.async_api import Page

AXE_JS = Path(__file__).parent / "axe" / "node_modules" / "axe-core" / "axe.min.js"
FAILING = ("serious", "critical")


@cache
def _source() -> str:
    return AXE_JS.read_text(encoding="utf-8")


def require_axe() -> None:
    if AXE_JS.exists():
        return
    problem = f"axe-core is not installed ({AXE_JS}): run `make axe`"
    if REQUIRE_BROWSER:
        pytest.fail(problem)
    pytest.skip(problem)


def _describe(v: dict[str, Any]) -> str:
    targets = ", ".join(" ".join(n["target"]) for n in v["nodes"][:3])
    return f"{v['impact']}: {v['id']} – {v['help']} ({len(v['nodes'])}× e.g. {targets})"


async def check(page: Page, label: str) -> list[str]:
    """Run axe-core (WCAG 2.x A and AA rules and best practices) on ``page``; fail on serious
    or critical violations; return (and print) the others."""
    require_axe()
    if not await page.evaluate("() => typeof window.axe !== 'undefined'"):
        await page.evaluate(_source())
    result: dict[str, Any] = await page.evaluate(
        """async () => await window.axe.run(document, {
            runOnly: {type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa',
                                            'wcag22aa', 'best-practice']},
            resultTypes: ['violations'],
        })"""
    )
    violations = result["violations"]
    bad = [_describe(v) for v in violations if v["impact"] in FAILING]
    others = [_describe(v) for v in violations if v["impact"] not in FAILING]
    width = await page.evaluate("() => window.innerWidth")
    for line in others:
        print(f"axe [{label} @ {width}px] {line}")
    assert not bad, f"axe found serious or critical violations on {label} @ {width}px:\n" + (
        "\n".join(bad)
    )
    return others


async def assert_accessible(page: Page, where: str) -> None:
    """No serious or critical violation on the page (the others are listed in the output)."""
    await check(page, where)
