"""The long hostile-input runs: the hypothesis harnesses over the decode path and the webhook
body parser, and schemathesis over /api/openapi.json, with many more cases than `make test`.

    .venv/bin/python bench/fuzz.py --examples 5000 --schemathesis-examples 1000

Runs pytest on tests/media/test_decode_fuzz.py, tests/intake/test_webhook_fuzz.py and the
schemathesis test of tests/intake/test_openapi.py with FUZZ_EXAMPLES and SCHEMATHESIS_EXAMPLES
raised, and prints, per file, the cases asked for, the wall time and the outcome. Any failure is
a bug (a 5xx, an exception other than the readable error, a hash of the wrong bytes).
schemathesis' examples are per operation and generation mode (positive, negative, signed).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RUNS = (
    ("decode path", "tests/media/test_decode_fuzz.py"),
    ("webhook body parser", "tests/intake/test_webhook_fuzz.py"),
    ("schemathesis", "tests/intake/test_openapi.py::test_schemathesis_finds_no_server_error"),
)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--examples", type=int, default=5000, help="hypothesis cases per test")
    parser.add_argument("--schemathesis-examples", type=int, default=1000)
    args = parser.parse_args()
    env = dict(os.environ)
    env["FUZZ_EXAMPLES"] = str(args.examples)
    env["SCHEMATHESIS_EXAMPLES"] = str(args.schemathesis_examples)
    failed = 0
    print(f"{'run':22} {'cases':>8} {'seconds':>8}  outcome")
    for name, target in RUNS:
        cases = args.schemathesis_examples if name == "schemathesis" else args.examples
        started = time.monotonic()
        done = subprocess.run(
            [sys.executable, "-m", "pytest", "-q", "-n", "0", "-p", "no:randomly", target],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
        )
        seconds = time.monotonic() - started
        last = (done.stdout.strip().splitlines() or ["(no output)"])[-1]
        print(f"{name:22} {cases:>8} {seconds:>8.1f}  {last}")
        if done.returncode != 0:
            failed += 1
            print(done.stdout[-4000:], file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
