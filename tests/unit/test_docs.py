"""The documentation holds together: every file a page links to exists, and the README's table of
settings names exactly the settings there are."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from serviceguide.settings import Settings

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[2]
SKIP = {".git", ".venv", "node_modules", "var", ".pytest_cache", ".mypy_cache", ".ruff_cache"}


def markdown_files() -> list[Path]:
    return sorted(
        p
        for p in ROOT.rglob("*.md")
        if not SKIP.intersection(p.relative_to(ROOT).parts) and "site-packages" not in p.parts
    )


# [text](target) and [text]: target — not images' remote URLs, not code spans.
_INLINE = re.compile(r"\[[^\]]*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
_REFERENCE = re.compile(r"^\s*\[[^\]]+\]:\s*(\S+)", re.MULTILINE)
_FENCE = re.compile(r"^(```|~~~).*?^\1", re.MULTILINE | re.DOTALL)
_CODE = re.compile(r"`[^`\n]*`")


def relative_links(page: Path) -> list[str]:
    text = _CODE.sub("", _FENCE.sub("", page.read_text(encoding="utf-8")))
    targets = _INLINE.findall(text) + _REFERENCE.findall(text)
    return [t for t in targets if not re.match(r"^[a-z][a-z0-9+.-]*:", t) and not t.startswith("#")]


def test_there_are_pages_to_check():
    names = {p.relative_to(ROOT).as_posix() for p in markdown_files()}
    assert {"README.md", "CHANGELOG.md", "docs/concepts.md", "docs/api.md"} <= names


@pytest.mark.parametrize("page", markdown_files(), ids=lambda p: p.relative_to(ROOT).as_posix())
def test_every_file_a_page_links_to_exists(page: Path):
    missing = [
        target
        for target in relative_links(page)
        if not (page.parent / target.split("#")[0]).exists()
    ]
    assert missing == [], f"{page.relative_to(ROOT)} links to files that do not exist"


def test_the_link_check_sees_a_broken_link(tmp_path: Path):
    page = tmp_path / "page.md"
    page.write_text(
        "See [the API](api.md#errors), [a site](https://example.se/x.md), [here](#top),\n"
        "`[not a link](nowhere.md)` and\n```\n[nor this](nowhere.md)\n```\n[ref]: other.md\n",
        encoding="utf-8",
    )
    assert relative_links(page) == ["api.md#errors", "other.md"]


def readme_settings() -> list[str]:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    section = text.split("## Configure it", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"^\| `(SERVICEGUIDE_[A-Z0-9_]+)` \|", section, flags=re.MULTILINE)


def test_the_readme_table_names_every_setting_once_and_nothing_else():
    documented = readme_settings()
    fields = {f"SERVICEGUIDE_{name.upper()}" for name in Settings.model_fields}
    assert len(documented) == len(set(documented)), "a setting has two rows"
    assert sorted(fields - set(documented)) == [], "settings without a row in the README"
    assert sorted(set(documented) - fields) == [], "rows for settings that do not exist"
