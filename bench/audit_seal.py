"""How fast one sealer links audit events onto the hash chain, on PostgreSQL.

    .venv/bin/python bench/audit_seal.py --events 50000 \\
        --database postgresql+psycopg://postgres@127.0.0.1:5432/mq_audit_bench

Events are recorded unsealed by whoever acts (a request, a job) and sealed into the chain later
by `moderation audit` / the maintenance job, one sealer at a time (the chain lock). Every action
of every report writes events, so the sealer's rate is a ceiling on the whole system's event
rate: this script records --events events (in batches, as requests would), then times
`seal_pending` and `verify_chain`, and prints events per second for each. The database is
dropped and recreated.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import create_engine  # noqa: E402
from sqlalchemy.orm import Session  # noqa: E402

from models import Base  # noqa: E402
from moderation.audit import events as audit  # noqa: E402
from moderation.core.dbadmin import sibling_database  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=50_000)
    parser.add_argument(
        "--database", default="postgresql+psycopg://postgres@127.0.0.1:5432/mq_audit_bench"
    )
    args = parser.parse_args()
    base, _, name = args.database.rpartition("/")
    sibling_database(f"{base}/postgres", name, recreate=True)
    engine = create_engine(args.database)
    Base.metadata.create_all(engine)
    with Session(engine) as session:
        started = time.perf_counter()
        for index in range(args.events):
            audit.record(
                session, "report.view", actor_kind="system", object_type="report",
                object_id=index, details={"report_ids": [index, index + 1]},
            )  # fmt: skip
            if index % 500 == 499:
                session.commit()
        session.commit()
        recorded = time.perf_counter() - started
        started = time.perf_counter()
        sealed = audit.seal_pending(session)
        sealing = time.perf_counter() - started
        started = time.perf_counter()
        verdict = audit.verify_chain(session)
        verifying = time.perf_counter() - started
    engine.dispose()
    print(f"events: {args.events}, sealed: {sealed}, chain ok: {verdict.ok}")
    print(f"record (batches of 500): {args.events / recorded:,.0f} events/s")
    print(f"seal (one sealer):       {sealed / sealing:,.0f} events/s")
    print(f"verify:                  {args.events / verifying:,.0f} events/s")


if __name__ == "__main__":
    main()
