"""Build hook: a wheel carries the top-level asset folders inside the package, catalogues compiled.

Metadata lives in setup.cfg. A wheel installs packages only, so build_py copies templates/,
static/, alembic/ and translations/ into `moderation/_assets/` (moderation.core.assets finds them
there) and compiles each translations/**/messages.po into the .mo Flask-Babel reads; the .po
sources stay in the repository. Compiling here rather than committing .mo files keeps one source
of truth that cannot go stale. An editable install reads the checkout's folders, so it only
compiles the catalogues in place (*.mo is git-ignored).
"""

from __future__ import annotations

import shutil
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

ROOT = Path(__file__).resolve().parent
ASSET_FOLDERS = ("templates", "static", "alembic", "translations")  # as moderation/core/assets.py
SHIPPED_DIR = Path("moderation") / "_assets"


def compile_catalogues(source: Path, target: Path) -> list[Path]:
    """Write target/<same path>.mo for every source/*/*/LC_MESSAGES/*.po; returns the .mo paths."""
    from babel.messages.mofile import write_mo
    from babel.messages.pofile import read_po

    written = []
    for po_path in sorted(source.glob("*/*/LC_MESSAGES/*.po")):
        mo_path = (target / po_path.relative_to(source)).with_suffix(".mo")
        mo_path.parent.mkdir(parents=True, exist_ok=True)
        with po_path.open("rb") as handle:
            catalog = read_po(handle, locale=po_path.parts[-3])
        with mo_path.open("wb") as handle:
            write_mo(handle, catalog)
        written.append(mo_path)
    return written


class build_py_with_assets(build_py):  # noqa: N801 - setuptools command naming
    def run(self) -> None:
        super().run()
        if self.editable_mode:
            compile_catalogues(ROOT / "translations", ROOT / "translations")
            return
        shipped = Path(self.build_lib) / SHIPPED_DIR
        shutil.rmtree(shipped, ignore_errors=True)  # a reused build/ must not keep stale files
        ignored = shutil.ignore_patterns("__pycache__", "*.pyc", "*.po", "*.mo", "*.pot")
        for folder in ASSET_FOLDERS:
            shutil.copytree(ROOT / folder, shipped / folder, ignore=ignored)
        compile_catalogues(ROOT / "translations", shipped / "translations")


setup(cmdclass={"build_py": build_py_with_assets})
