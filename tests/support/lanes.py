"""How ``make test`` shares the suite out among its pytest-xdist workers (``--dist loadgroup``).

Two kinds of tests share two cores. In-process tests (unit, integration) keep a core busy and
never wait. Process tests (tests/e2e, tests/faults) start ``serviceguide`` servers, relays and
browsers, wait for them, and many time what those processes do — a relay's retries, a server's
grace at stop, a fault that lasts a few seconds — so they suffer when several of them start up
processes at once. The scheduler therefore keeps process tests to half the workers ("lanes")
while there are in-process tests left to give the others; within each kind it hands out the
largest units first, as ``loadgroup`` does. Without in-process tests left, every worker takes
process tests.

A unit of work is what xdist hands out at once: a group of tests that share module-scoped
fixtures (tests/conftest.py names the group after the module and the fixtures' parameters),
or a single test. A process test's group name starts with :data:`PROCESS`.
"""

from __future__ import annotations

from typing import Any

from xdist.scheduler import LoadGroupScheduling

#: The prefix of the group names of tests that run ``serviceguide`` as separate processes.
PROCESS = "process:"


def is_process_unit(scope: str) -> bool:
    return scope.startswith(PROCESS)


class LaneScheduling(LoadGroupScheduling):
    """``--dist loadgroup`` with process tests kept to ``lanes`` workers at a time (see the
    module's docstring)."""

    def _lanes(self) -> int:
        return max(1, len(self.nodes) // 2)

    def _runs_process_tests(self, node: Any) -> bool:
        return any(
            is_process_unit(scope) and not all(done.values())
            for scope, done in self.assigned_work.get(node, {}).items()
        )

    def _assign_work_unit(self, node: Any) -> None:
        others = sum(1 for n in self.assigned_work if n is not node and self._runs_process_tests(n))
        want_process = others < self._lanes()
        scope = next(
            (s for s in self.workqueue if is_process_unit(s) == want_process),
            next(iter(self.workqueue)),
        )
        work_unit = self.workqueue.pop(scope)
        self.assigned_work.setdefault(node, {})[scope] = work_unit
        collection = self.registered_collections[node]
        node.send_runtest_some(
            [collection.index(nodeid) for nodeid, done in work_unit.items() if not done]
        )
