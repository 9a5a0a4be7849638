"""What every use case needs: the database and the settings."""

from __future__ import annotations

from dataclasses import dataclass

from serviceguide.settings import Settings
from serviceguide.storage.db import Database


@dataclass(frozen=True, slots=True)
class AppContext:
    db: Database
    settings: Settings
