"""Run Alembic from code, so `monitor migrate` works from any directory and any install."""

from __future__ import annotations

from importlib.resources import files

from alembic import command
from alembic.config import Config

from monitor.db.connection import connection_errors


def alembic_config(database_url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(files("monitor.migrations")))
    config.set_main_option("sqlalchemy.url", database_url.replace("%", "%%"))
    return config


def upgrade(database_url: str, revision: str = "head") -> None:
    """Raises `StoreUnavailable` when Postgres cannot be reached (nothing was changed then)."""
    with connection_errors():
        command.upgrade(alembic_config(database_url), revision)


def downgrade(database_url: str, revision: str) -> None:
    with connection_errors():
        command.downgrade(alembic_config(database_url), revision)
