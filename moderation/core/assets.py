"""Where the shipped assets are: templates/, static/, alembic/ and translations/.

The repository keeps them as top-level folders beside the packages. A wheel carries them inside
the package as `moderation/_assets/<folder>` (setup.py's build_py copies them there and compiles
the catalogues), because a wheel installs only packages. Installed, they are found through
`importlib.resources`; in a checkout (the editable install) they are the top-level folders.
"""

from __future__ import annotations

from functools import cache
from importlib.resources import files
from pathlib import Path

ASSET_FOLDERS = ("templates", "static", "alembic", "translations")
SHIPPED_PACKAGE_DIR = "_assets"


@cache
def assets_root() -> Path:
    """The folder holding the asset folders: the package's `_assets` when installed from a
    wheel, otherwise the checkout's root. Raises RuntimeError if neither holds them (e.g. an
    installation that lost its data files)."""
    package = files("moderation")
    shipped = package / SHIPPED_PACKAGE_DIR
    # Alembic and Flask need real directories; wheels install unpacked, so files() is a Path.
    if shipped.is_dir() and isinstance(shipped, Path):
        return shipped
    checkout = Path(str(package)).resolve().parent
    if (checkout / "templates").is_dir() and (checkout / "alembic").is_dir():
        return checkout
    raise RuntimeError(
        f"the moderation package at {package} has no templates/, static/, alembic/ or "
        "translations/: reinstall it from a wheel or run it from a checkout"
    )


def asset_dir(name: str) -> Path:
    """The directory of one asset folder (`templates`, `static`, `alembic`, `translations`)."""
    if name not in ASSET_FOLDERS:
        raise ValueError(f"unknown asset folder {name!r}; known: {', '.join(ASSET_FOLDERS)}")
    return assets_root() / name
