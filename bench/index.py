"""Benchmark of the exact PDQ index (moderation.pdq_index) against brute force; prints figures.

    .venv/bin/python bench/index.py --n 10000000 --queries 1000

Data is synthetic: uniformly random 256-bit hashes plus planted near-duplicate families. Queries
are images of eight dihedral hashes; half the images have one hash within 0..40 bits of an
indexed entry, the rest are unrelated. faiss-cpu (IndexBinaryFlat) is an optional, bench-only
baseline: it is used when installed.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from moderation.pdq_index import PdqIndex  # noqa: E402
from moderation.pdq_index.codec import popcount_rows, to_words  # noqa: E402

DIHEDRAL = 8


def status_kib(field: str, path: str = "/proc/self/status") -> int:
    """A `Field:  N kB` value from /proc (VmRSS from status, Rss/Pss from smaps_rollup)."""
    for line in Path(path).read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    return -1


def flip_bits(hashes: np.ndarray, counts: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Copies of `hashes` with counts[i] distinct random bits flipped in row i."""
    bits = np.unpackbits(hashes, axis=1)
    for row, count in enumerate(counts):
        bits[row, rng.choice(256, size=int(count), replace=False)] ^= 1
    return np.packbits(bits, axis=1)


def make_data(n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """n hashes (5% near-duplicates of others, as banks hold variants) and sparse int64 ids."""
    hashes = np.frombuffer(rng.bytes(n * 32), dtype=np.uint8).reshape(n, 32).copy()
    variants = rng.choice(n, size=n // 20, replace=False)
    sources = rng.integers(0, n, size=variants.size)
    for start in range(0, variants.size, 100_000):
        part = slice(start, start + 100_000)
        counts = rng.integers(0, 17, size=variants[part].size)
        hashes[variants[part]] = flip_bits(hashes[sources[part]], counts, rng)
    ids = np.arange(n, dtype=np.int64) * 3 + 1_000_000
    return ids, hashes


def make_queries(hashes: np.ndarray, images: int, rng: np.random.Generator) -> np.ndarray:
    """(images, 8, 32) queries; half the images hold one near-duplicate at 0..40 bits."""
    queries = np.frombuffer(rng.bytes(images * DIHEDRAL * 32), dtype=np.uint8)
    queries = queries.reshape(images, DIHEDRAL, 32).copy()
    planted = np.arange(0, images, 2)
    sources = hashes[rng.integers(0, len(hashes), size=planted.size)]
    queries[planted, 0] = flip_bits(sources, rng.integers(0, 41, size=planted.size), rng)
    return queries


def percentiles(samples: list[float]) -> str:
    values = np.array(samples) * 1e3
    return f"p50 {np.percentile(values, 50):.2f} ms, p99 {np.percentile(values, 99):.2f} ms"


def worker(directory: Path, queries_file: Path) -> None:
    """Child process: open, warm up, time one-image lookups, then report memory on request."""
    rss_before = status_kib("VmRSS")
    started = time.perf_counter()
    index = PdqIndex.open(directory)
    open_seconds = time.perf_counter() - started
    rss_open = status_kib("VmRSS")
    queries = np.load(queries_file)
    for image in queries[: min(len(queries), 200)]:
        index.search(image)
    timings = []
    for image in queries:
        started = time.perf_counter()
        index.search(image)
        timings.append(time.perf_counter() - started)
    report = {
        "open_seconds": open_seconds,
        "rss_before_kib": rss_before,
        "rss_open_kib": rss_open,
        "rss_warm_kib": status_kib("VmRSS"),
        "latency": percentiles(timings),
    }
    print(json.dumps(report), flush=True)
    sys.stdin.readline()  # the parent asks for memory once every worker is alive
    rollup = "/proc/self/smaps_rollup"
    memory = {"rss_kib": status_kib("Rss", rollup), "pss_kib": status_kib("Pss", rollup)}
    print(json.dumps(memory), flush=True)
    sys.stdin.readline()  # stay alive until every worker has reported


def start_worker(directory: Path, queries_file: Path) -> tuple[subprocess.Popen, dict]:
    command = [sys.executable, __file__, "--worker", str(directory), str(queries_file)]
    process = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    return process, json.loads(process.stdout.readline())


def brute_force(words: np.ndarray, ids: np.ndarray, query: np.ndarray, radius: int) -> list:
    distances = popcount_rows(words ^ query)
    hits = np.flatnonzero(distances <= radius)
    return sorted(
        zip(ids[hits].tolist(), distances[hits].tolist(), strict=True), key=lambda p: (p[1], p[0])
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=10_000_000, help="hashes in the index")
    parser.add_argument("--queries", type=int, default=1000, help="images (8 hashes each)")
    parser.add_argument("--recall-images", type=int, default=50, help="images checked by numpy")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--dir", type=Path, help="index directory (default: a temporary one)")
    parser.add_argument("--worker", nargs=2, type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        worker(*args.worker)
        return
    rng = np.random.default_rng(args.seed)
    directory = args.dir or Path(tempfile.mkdtemp(prefix="pdq-index-bench-"))
    print(f"n = {args.n:,} hashes, {args.queries} images x {DIHEDRAL} dihedral hashes")
    print(f"load average at start: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")

    started = time.perf_counter()
    ids, hashes = make_data(args.n, rng)
    queries = make_queries(hashes, args.queries, rng)
    print(f"data generated in {time.perf_counter() - started:.1f} s")
    queries_file = directory / "bench-queries.npy"
    directory.mkdir(parents=True, exist_ok=True)
    np.save(queries_file, queries)

    started = time.perf_counter()
    PdqIndex.build(directory, ids, hashes)
    print(f"build (sort + write base segment): {time.perf_counter() - started:.1f} s")
    size = sum(f.stat().st_size for f in directory.glob("v-*/*"))
    cold = sum(f.stat().st_size for f in directory.glob("v-*/cold.bin"))
    print(
        f"index files: {size / 2**20:.0f} MiB = {size / args.n:.1f} bytes per hash, of which"
        f" segment.bin (mapped and loaded) {(size - cold) / args.n:.1f} B/hash and cold.bin"
        f" (read only for confirmed candidates) {cold / args.n:.1f} B/hash"
    )

    print(f"load average before the latency runs: {os.getloadavg()[0]:.1f}")
    first, first_report = start_worker(directory, queries_file)
    second, second_report = start_worker(directory, queries_file)
    for name, report in (("worker 1", first_report), ("worker 2", second_report)):
        grown = (report["rss_warm_kib"] - report["rss_before_kib"]) * 1024
        print(
            f"{name}: open {report['open_seconds'] * 1e3:.0f} ms; RSS +{grown / 2**20:.0f} MiB"
            f" after open + warm-up ({grown / args.n:.1f} B/hash, shared page cache);"
            f" one image (8 hashes) {report['latency']}"
        )
    for process in (first, second):
        process.stdin.write("report\n")
        process.stdin.flush()
    memories = [json.loads(process.stdout.readline()) for process in (first, second)]
    for name, memory in (("worker 1", memories[0]), ("worker 2", memories[1])):
        print(
            f"{name} with both alive: RSS {memory['rss_kib'] / 1024:.0f} MiB,"
            f" PSS {memory['pss_kib'] / 1024:.0f} MiB (proportional share of shared pages)"
        )
    for process in (first, second):
        process.stdin.close()
        process.wait()

    index = PdqIndex.open(directory)
    words = to_words(hashes)
    checked, matches, misses, numpy_times = 0, 0, 0, []
    for image in queries[: args.recall_images]:
        started = time.perf_counter()
        truth = [brute_force(words, ids, to_words(query)[0], 31) for query in image]
        numpy_times.append(time.perf_counter() - started)
        found = index.search(image)
        checked += len(image)
        matches += sum(len(t) for t in truth)
        misses += sum(t != f for t, f in zip(truth, found, strict=True))
    print(
        f"recall vs numpy brute force: {checked} queries, {matches} true matches (<= 31),"
        f" {misses} queries differing -> recall {'100%' if misses == 0 else 'BELOW 100%'}"
    )
    print(f"numpy brute force, one image (8 hashes): {percentiles(numpy_times)}")
    faiss_baseline(hashes, ids, queries, index)

    new_hash = np.frombuffer(rng.bytes(32), dtype=np.uint8).reshape(1, 32)
    started = time.perf_counter()
    index.add([ids[-1] + 1], new_hash)
    found = index.search(new_hash)[0]
    elapsed = time.perf_counter() - started
    print(f"add one hash then find it: {elapsed * 1e3:.2f} ms (found: {found[:1]})")
    extra = np.frombuffer(rng.bytes(10_000 * 32), dtype=np.uint8).reshape(-1, 32)
    index.add(np.arange(10_000) + ids[-1] + 10, extra)
    timings = []
    for image in queries:
        started = time.perf_counter()
        index.search(image)
        timings.append(time.perf_counter() - started)
    print(f"one image with a 10,000-entry delta: {percentiles(timings)}")
    if args.dir is None:
        print(f"(index left in {directory}; delete it when done)")


def faiss_baseline(hashes: np.ndarray, ids: np.ndarray, queries: np.ndarray, index) -> None:
    """IndexBinaryFlat range search (exact scan), also a second recall check over all queries."""
    try:
        import faiss
    except ImportError:
        print("faiss not installed: skipped (pip install faiss-cpu for this baseline)")
        return
    flat = faiss.IndexBinaryFlat(256)
    flat.add(hashes)
    timings, misses, matches = [], 0, 0
    for image in queries[:200]:
        started = time.perf_counter()
        limits, distances, labels = flat.range_search(image, 32)  # faiss keeps d < radius
        timings.append(time.perf_counter() - started)
        found = index.search(image)
        for row in range(len(image)):
            part = slice(limits[row], limits[row + 1])
            truth = sorted(zip(ids[labels[part]].tolist(), distances[part].tolist(), strict=True))
            misses += truth != sorted(found[row])
            matches += len(truth)
    print(
        f"faiss IndexBinaryFlat ({faiss.omp_get_max_threads()} threads), one image:"
        f" {percentiles(timings)}; {len(timings) * DIHEDRAL} queries cross-checked"
        f" ({matches} true matches), {misses} differing"
    )


if __name__ == "__main__":
    os.environ.setdefault("OMP_NUM_THREADS", "2")
    main()
