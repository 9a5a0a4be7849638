"""docs/alerts.yml is a valid Prometheus rules file whose expressions name only metrics the
server exports (docs/operations.md), checked by promtool where it is installed (CI installs
it) and by parsing the file here."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from serviceguide.api import operations
from serviceguide.observability import metrics

pytestmark = pytest.mark.unit

RULES = Path(__file__).resolve().parents[2] / "docs" / "alerts.yml"
REQUIRE_PROMTOOL = os.environ.get("SERVICEGUIDE_REQUIRE_PROMTOOL") == "1"
_NAME = re.compile(r"\b(serviceguide_[a-z_]+)\b")


def _exported() -> set[str]:
    """Every sample name /metrics can hold."""
    registry = metrics.Metrics().registry
    suffixes = ("", "_total", "_bucket", "_sum", "_count")
    names = {f.name + suffix for f in registry.collect() for suffix in suffixes}
    source = Path(operations.__file__).read_text()
    names |= set(re.findall(r'"(serviceguide_[a-z_]+)"', source))
    return names


def test_promtool_accepts_the_rules():
    promtool = shutil.which("promtool")
    if promtool is None:
        if REQUIRE_PROMTOOL:
            pytest.fail("promtool is required here (SERVICEGUIDE_REQUIRE_PROMTOOL=1)")
        pytest.skip("promtool is not installed (apt-get install prometheus)")
    done = subprocess.run(
        [promtool, "check", "rules", str(RULES)], capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stdout + done.stderr


def test_every_rule_is_complete_and_names_only_exported_metrics():
    doc = yaml.safe_load(RULES.read_text())
    rules = [r for group in doc["groups"] for r in group["rules"]]
    assert len(rules) >= 10
    exported = _exported()
    for rule in rules:
        assert set(rule) <= {"alert", "expr", "for", "labels", "annotations"}, rule
        assert rule["alert"].startswith("Serviceguide") and rule["annotations"]["summary"]
        assert rule["labels"]["severity"] in ("page", "ticket")
        assert re.fullmatch(r"\d+[smh]", rule["for"]), rule["for"]
        unknown = set(_NAME.findall(rule["expr"])) - exported
        assert not unknown, (rule["alert"], unknown)
        assert rule["expr"].count("(") == rule["expr"].count(")"), rule["alert"]


def test_every_alert_has_a_line_in_the_operations_guide():
    guide = (RULES.parent / "operations.md").read_text()
    for group in yaml.safe_load(RULES.read_text())["groups"]:
        for rule in group["rules"]:
            assert f"`{rule['alert']}`" in guide, rule["alert"]
            anchor = rule["annotations"].get("runbook", "#").split("#", 1)[1]
            if anchor:
                assert f"### {anchor.replace('-', ' ')}" in guide.lower(), anchor


def test_serve_starts_from_an_empty_metrics_directory_of_its_own_port(tmp_path):
    one, two = metrics.serve_directory(tmp_path, 8000), metrics.serve_directory(tmp_path, 8001)
    assert one != two and one.parent == two.parent == tmp_path / "metrics"
    one.mkdir(parents=True)
    (one / "counter_123.db").write_bytes(b"old")
    (one / "notes.txt").write_text("not ours")
    metrics.empty_directory(one)
    metrics.empty_directory(two)
    assert sorted(p.name for p in one.iterdir()) == ["notes.txt"]
    assert two.is_dir()
