"""``serviceguide agent``: the service provider's automation, whose commands live with the agent
itself in ``serviceguide.agent.cli``."""

from __future__ import annotations

from serviceguide.agent.cli import agent_app

__all__ = ["agent_app"]
