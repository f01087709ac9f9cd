"""Running Alembic from code (the `moderation db upgrade` command and tests)."""

from __future__ import annotations

from alembic.config import Config

from alembic import command
from moderation.core.assets import asset_dir


def alembic_config(database_url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(asset_dir("alembic")))
    # '%' is ConfigParser syntax; URLs with escaped passwords must survive it.
    config.set_main_option("sqlalchemy.url", database_url.replace("%", "%%"))
    return config


def upgrade(database_url: str, revision: str = "head") -> None:
    command.upgrade(alembic_config(database_url), revision)
