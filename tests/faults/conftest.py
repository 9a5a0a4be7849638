"""Fault injection: the real ``serviceguide`` processes (tests/e2e/conftest.py), with faults
injected from outside — processes killed, the database stopped, receivers down or slow."""

from __future__ import annotations

import pytest

from tests.e2e.conftest import (  # noqa: F401 - fixtures
    _demo_templates,
    backend,
    deployment,
    new_deployment,
)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "tests/faults/" in str(item.path).replace("\\", "/"):
            item.add_marker(pytest.mark.faults)
