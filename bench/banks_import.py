"""Benchmark: stream-import N generated PDQ lines into a bank and print time and peak memory.

    .venv/bin/python bench/banks_import.py [--lines 1000000] [--database-url URL]

Uses a throwaway SQLite file unless --database-url is given (its tables are created if
missing; the bank is named uniquely). Peak memory is the process's maximum resident set size.
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--lines", type=int, default=1_000_000)
    parser.add_argument("--database-url", default=None)
    args = parser.parse_args()
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

    from models import Base
    from moderation import create_app
    from moderation.banks.import_export import import_file
    from moderation.banks.service import create_bank
    from moderation.core.db import db

    workdir = Path(tempfile.mkdtemp(prefix="bank-bench-"))
    path = workdir / "list.txt"
    rng = np.random.default_rng(1)
    with path.open("w") as handle:
        for start in range(0, args.lines, 100_000):
            block = rng.integers(
                0, 256, size=(min(100_000, args.lines - start), 32), dtype=np.uint8
            )
            handle.writelines(f"pdq {row.tobytes().hex()}\n" for row in block)
    url = args.database_url or f"sqlite:///{workdir / 'bench.sqlite3'}"
    app = create_app({"DATABASE_URL": url, "BANK_INDEX_DIR": str(workdir / "index")})
    with app.app_context():
        Base.metadata.create_all(db.engine)
        rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        bank = create_bank(db.session, f"bench-{os.getpid()}-{time.time_ns()}")
        started = time.perf_counter()
        summary = import_file(db.session, bank.id, path, "plain", actor_kind="cli")
        elapsed = time.perf_counter() - started
        rss_after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(f"database: {url.split(':', 1)[0]}")
    print(f"lines: {summary.records:,} ({path.stat().st_size / 1e6:.1f} MB file)")
    print(f"import: {elapsed:.1f} s ({summary.records / elapsed:,.0f} lines/s)")
    print(f"peak RSS: {rss_after / 1024:.0f} MB (before import: {rss_before / 1024:.0f} MB)")
    shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
