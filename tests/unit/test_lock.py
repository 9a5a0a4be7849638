"""requirements.lock agrees with pyproject.toml: every dependency (and the dev extra, and the
build backend) is pinned at a version its range allows, with hashes, and nothing is pinned as a
direct dependency that pyproject.toml no longer names. A failure here means: run `make lock`."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[2]
_PIN = re.compile(r"^([A-Za-z0-9._-]+)==([^\s\\]+)")
HINT = "requirements.lock disagrees with pyproject.toml: run `make lock` and commit the lock"


def _pins() -> dict[str, tuple[Version, list[str], list[str]]]:
    """name -> (version, its hashes, what it is there for)."""
    pins: dict[str, tuple[Version, list[str], list[str]]] = {}
    current = None
    for line in (ROOT / "requirements.lock").read_text().splitlines():
        if m := _PIN.match(line):
            current = canonicalize_name(m[1])
            pins[current] = (Version(m[2]), [], [])
        elif current and "--hash=sha256:" in line:
            pins[current][1].append(line.split("--hash=sha256:")[1].split()[0])
        elif current and line.strip().startswith("#"):
            pins[current][2].append(line.strip().lstrip("#").strip().removeprefix("via").strip())
    return pins


def _declared() -> list[Requirement]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    names = project["project"]["dependencies"] + project["project"]["optional-dependencies"]["dev"]
    names += project["build-system"]["requires"]
    return [Requirement(n) for n in names]


def test_every_declared_dependency_is_pinned_within_its_range_with_hashes():
    pins = _pins()
    for req in _declared():
        if req.marker is not None and not req.marker.evaluate():
            continue
        name = canonicalize_name(req.name)
        assert name in pins, f"{HINT}: {req.name} is not in the lock"
        version, hashes, _ = pins[name]
        assert req.specifier.contains(version, prereleases=True), (
            f"{HINT}: {req.name}=={version} is outside {req.specifier}"
        )
        assert hashes, f"{HINT}: {req.name} has no hash"


def test_every_pin_has_a_hash_and_a_reason_and_none_is_left_over():
    declared = {canonicalize_name(r.name) for r in _declared()}
    for name, (_, hashes, why) in _pins().items():
        assert hashes and all(re.fullmatch(r"[0-9a-f]{64}", h) for h in hashes), name
        direct_only = all(w.startswith("serviceguide") for w in why if w)
        assert not (direct_only and name not in declared), (
            f"{HINT}: {name} is pinned for serviceguide, which no longer names it"
        )
