"""Tests of the exact PDQ index: recall against brute force, delta, tombstones, files, rebuilds."""

from __future__ import annotations

import csv
import json
import subprocess
import sys
from itertools import combinations
from pathlib import Path

import numpy as np
import pdqhash
import pytest
from PIL import Image

from moderation.pdq_index import (
    DuplicateIdError,
    IndexFormatError,
    InvalidHashError,
    PdqIndex,
    UnsupportedDistanceError,
    bits_to_bytes,
    bytes_to_hex,
    hamming,
    hashes_from_hex,
    hex_to_bytes,
)
from tests.conftest import TESTDATA

REPO = Path(__file__).resolve().parents[2]
PDQ_TESTDATA = TESTDATA / "pdq"


def random_hashes(rng: np.random.Generator, count: int) -> np.ndarray:
    return rng.integers(0, 256, size=(count, 32), dtype=np.uint8)


def flipped(source: np.ndarray, count: int, rng: np.random.Generator) -> np.ndarray:
    """`source` (32 bytes) with exactly `count` distinct bits flipped."""
    bits = np.unpackbits(source)
    bits[rng.choice(256, size=count, replace=False)] ^= 1
    return np.packbits(bits)


def brute_force(ids: np.ndarray, hashes: np.ndarray, query: np.ndarray, radius: int) -> list:
    distances = np.unpackbits(hashes ^ query, axis=1).sum(axis=1)
    hits = np.flatnonzero(distances <= radius)
    pairs = zip(ids[hits].tolist(), distances[hits].tolist(), strict=True)
    return sorted(pairs, key=lambda pair: (pair[1], pair[0]))


@pytest.fixture
def no_scan(monkeypatch) -> None:
    """Never fall back to a plain scan, so small test indexes exercise the probing path."""
    from moderation.pdq_index import segment

    monkeypatch.setattr(segment, "SCAN_FRACTION", float("inf"))


@pytest.fixture
def corpus() -> tuple[np.ndarray, np.ndarray, np.ndarray, list[int]]:
    """20,000 random hashes plus planted near-duplicates of query 0..41 at distance 0..41."""
    rng = np.random.default_rng(1234)
    queries = random_hashes(rng, 42)
    planted = np.array([flipped(queries[d], d, rng) for d in range(42)])
    hashes = np.concatenate([random_hashes(rng, 20_000), planted])
    ids = rng.permutation(len(hashes)).astype(np.int64) * 7919 + 10**12  # sparse, above 2**32
    planted_ids = ids[-42:].tolist()
    return ids, hashes, queries, planted_ids


def test_search_equals_brute_force_for_every_threshold(tmp_path, corpus, no_scan) -> None:
    ids, hashes, queries, planted_ids = corpus
    index = PdqIndex.build(tmp_path, ids, hashes)
    for radius in (0, 1, 5, 10, 11, 21, 22, 30, 31):
        found = index.search(queries, max_distance=radius)
        expected = [brute_force(ids, hashes, query, radius) for query in queries]
        assert found == expected, radius
    found = index.search(queries)
    for distance, planted_id in enumerate(planted_ids):
        returned = dict(found[distance])
        if distance <= 31:
            assert returned[planted_id] == distance
        else:
            assert planted_id not in returned


def test_matches_spread_evenly_over_every_chunk_are_found(tmp_path, no_scan) -> None:
    # The adversarial case for multi-index hashing: 31 differing bits spread so that every
    # chunk differs by 2 or 3 bits. Plant every arrangement; all must be found, none at 32.
    from moderation.pdq_index.chunks import CHUNK_COUNT, chunk_bits_for
    from moderation.pdq_index.codec import to_words

    rng = np.random.default_rng(11)
    filler = random_hashes(rng, 3000)
    query = random_hashes(rng, 1)
    bits = chunk_bits_for(3000 + 2 * 55)
    planted = []
    for total in (31, 32):
        for light in combinations(range(CHUNK_COUNT), 2):
            words = to_words(query).copy()
            for chunk in range(CHUNK_COUNT):
                flips = 2 if chunk in light else 3
                if total == 32 and chunk == light[0]:
                    flips = 3
                for bit in rng.choice(bits, size=flips, replace=False) + chunk * bits:
                    words[0, bit // 64] ^= np.uint64(1) << np.uint64(63 - bit % 64)
            planted.append(words.view(np.uint8).reshape(32))
    hashes = np.concatenate([filler, np.array(planted)])
    ids = np.arange(len(hashes), dtype=np.int64)
    found = dict(PdqIndex.build(tmp_path, ids, hashes).search(query)[0])
    at_31 = set(range(3000, 3055))
    assert {entry_id for entry_id, distance in found.items() if distance == 31} == at_31
    assert not set(range(3055, 3110)) & set(found)


def test_hot_buckets_stay_exact(tmp_path, no_scan) -> None:
    # 3,000 variants of one hash pile into the same buckets (and overflow the compact offsets).
    rng = np.random.default_rng(7)
    centre = random_hashes(rng, 1)[0]
    family = np.array([flipped(centre, int(k), rng) for k in rng.integers(0, 40, size=3000)])
    hashes = np.concatenate([family, random_hashes(rng, 5000)])
    ids = np.arange(len(hashes), dtype=np.int64)
    index = PdqIndex.build(tmp_path, ids, hashes)
    queries = np.stack([centre, flipped(centre, 12, rng), flipped(centre, 31, rng)])
    found = index.search(queries)
    assert found == [brute_force(ids, hashes, query, 31) for query in queries]
    assert len(found[0]) > 1000


@pytest.mark.parametrize("per_bucket", [0.01, 1.2, 2.4, 40.0, 400.0])
@pytest.mark.parametrize("block_shift", [None, 4])
def test_compact_offsets_decode_every_bucket(monkeypatch, per_bucket, block_shift) -> None:
    # Every density picks its own block size (None); 4 is the fixed block of earlier files,
    # which must still decode. One hot bucket forces an exception block.
    from moderation.pdq_index import offsets

    if block_shift is not None:
        monkeypatch.setattr(offsets, "block_shift_for", lambda entries, buckets: block_shift)
    rng = np.random.default_rng(3)
    counts = rng.poisson(per_bucket, size=1 << 12)
    counts[1234] += 300
    encoded = offsets.encode_offsets(counts)
    decoder = offsets.CompactOffsets.from_arrays(*encoded.values())
    assert decoder.exception_blocks.size >= 1
    expected = np.concatenate([[0], np.cumsum(counts)])
    assert np.array_equal(decoder.lookup(np.arange(counts.size + 1)), expected)


def test_compact_offsets_reject_arrays_that_are_not_whole_blocks() -> None:
    from moderation.pdq_index.offsets import CompactOffsets

    empty = np.empty(0, dtype=np.int64)
    with pytest.raises(IndexFormatError):
        CompactOffsets.from_arrays(
            np.zeros(4, np.uint32), np.zeros(1 << 10, np.uint8), empty, empty
        )


@pytest.mark.parametrize("setting", ["SCAN_FRACTION", "THREE_BYTE_POSITIONS"])
def test_scan_fallback_and_wide_positions_stay_exact(
    tmp_path, corpus, monkeypatch, setting
) -> None:
    # Both paths normally need pathological data or more than 2**24 hashes: force them.
    from moderation.pdq_index import segment

    monkeypatch.setattr(segment, setting, 0)
    ids, hashes, queries, _ = corpus
    index = PdqIndex.build(tmp_path, ids, hashes)
    assert index.search(queries) == [brute_force(ids, hashes, query, 31) for query in queries]


def test_dihedral_hashes_find_every_rotation_and_flip(tmp_path, no_scan) -> None:
    folder = PDQ_TESTDATA / "dihedral"
    original = np.asarray(Image.open(folder / "bridge-1-original.jpg").convert("RGB"))
    dihedral_bits, _ = pdqhash.compute_dihedral(original)
    queries = np.array(
        [np.frombuffer(bits_to_bytes(bits), dtype=np.uint8) for bits in dihedral_bits]
    )
    others = sorted(folder.glob("bridge-[2-8]-*.jpg"))
    assert len(others) == 7
    plain = []
    for path in others:
        bits, _quality = pdqhash.compute(np.asarray(Image.open(path).convert("RGB")))
        plain.append(np.frombuffer(bits_to_bytes(bits), dtype=np.uint8))
    filler = random_hashes(np.random.default_rng(3), 5000)
    ids = np.arange(5007, dtype=np.int64) + 1
    index = PdqIndex.build(tmp_path, ids, np.concatenate([np.array(plain), filler]))
    found = {entry_id for matches in index.search(queries) for entry_id, _ in matches}
    assert set(range(1, 8)) <= found
    # Plain PDQ alone is not rotation-invariant: the original's own hash misses the rotations.
    alone = {entry_id for entry_id, _ in index.search(queries[:1])[0]}
    assert not set(range(1, 8)) <= alone


def test_add_is_searchable_at_once_and_remove_hides(tmp_path, corpus) -> None:
    ids, hashes, queries, planted_ids = corpus
    index = PdqIndex.build(tmp_path, ids, hashes)
    rng = np.random.default_rng(99)
    fresh = np.stack([flipped(queries[40], 3, rng), flipped(queries[41], 31, rng)])
    index.add([5, 6], fresh)
    found = index.search(queries[40:42])
    assert (5, 3) in found[0] and (6, 31) in found[1]
    assert len(index) == len(ids) + 2
    assert index.high_water_id == int(ids.max())
    with pytest.raises(DuplicateIdError):
        index.add([5], fresh[:1])

    index.remove([5, planted_ids[10], 123])  # 123 is unknown: accepted and ignored
    found = index.search(queries)
    assert all(entry_id != 5 for entry_id, _ in found[40])
    assert all(entry_id != planted_ids[10] for entry_id, _ in found[10])
    assert (6, 31) in found[41]
    assert len(index) == len(ids)


def test_open_in_a_fresh_process_returns_the_same_results(tmp_path, corpus) -> None:
    ids, hashes, queries, _ = corpus
    expected = PdqIndex.build(tmp_path, ids, hashes).search(queries)
    script = (
        "import json, sys\n"
        "import numpy as np\n"
        "from moderation.pdq_index import PdqIndex\n"
        "index = PdqIndex.open(sys.argv[1])\n"
        "queries = np.frombuffer(bytes.fromhex(sys.stdin.read()), dtype=np.uint8).reshape(-1, 32)\n"
        "print(json.dumps(index.search(queries)))\n"
    )
    completed = subprocess.run(
        [sys.executable, "-c", script, str(tmp_path)],
        input=queries.tobytes().hex(),
        capture_output=True,
        text=True,
        cwd=REPO,
        check=True,
        timeout=60,
    )
    found = json.loads(completed.stdout)
    assert [[tuple(pair) for pair in row] for row in found] == expected


def test_rebuild_is_atomic_for_open_readers(tmp_path, corpus) -> None:
    ids, hashes, queries, planted_ids = corpus
    reader = PdqIndex.open(PdqIndex.build(tmp_path, ids, hashes).directory)
    before = reader.search(queries)
    reader.add([7], queries[:1])  # in the delta only
    # Two rebuilds: the reader's version folder is deleted from disk under it.
    PdqIndex.build(tmp_path, ids[:100], hashes[:100], high_water_id=int(ids.max()))
    PdqIndex.build(tmp_path, ids[-42:], hashes[-42:], high_water_id=int(ids.max()))
    assert not (tmp_path / reader.version).exists()
    assert reader.search(queries)[1:] == before[1:]
    assert reader.refresh() is True
    assert reader.refresh() is False
    assert reader.delta_size == 0  # id 7 is below the new high-water id, so the base owns it
    after = reader.search(queries)
    assert after == [brute_force(ids[-42:], hashes[-42:], query, 31) for query in queries]
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith("v-")) == sorted(
        [reader.version, *(p.name for p in tmp_path.glob("v-*") if p.name != reader.version)]
    )
    assert len(list(tmp_path.glob("v-*"))) == 2


def test_compact_folds_delta_and_removals_into_a_new_base(tmp_path, corpus) -> None:
    ids, hashes, queries, planted_ids = corpus
    index = PdqIndex.build(tmp_path, ids, hashes)
    old_version = index.version
    index.add([1, 2], queries[:2])
    index.remove([planted_ids[3]])
    expected = index.search(queries)
    new_version = index.compact()
    assert new_version != old_version and index.delta_size == 0
    assert index.search(queries) == expected
    assert PdqIndex.open(tmp_path).search(queries) == expected
    assert len(PdqIndex.open(tmp_path)) == len(ids) + 1


def test_candidates_near_on_the_hot_half_are_confirmed_on_the_cold_half(tmp_path, no_scan) -> None:
    # Search reads the first 16 bytes of every candidate and the last 16 only for those within
    # the radius there: plant entries identical on the hot half and 0..40 bits off on the cold
    # half, and split distances (hot + cold) around 31, and compare with brute force.
    rng = np.random.default_rng(5)
    query = random_hashes(rng, 1)[0]
    planted = []
    for hot_bits, cold_bits in [(0, k) for k in range(41)] + [(20, 11), (20, 12), (31, 0)]:
        bits = np.unpackbits(query)
        bits[rng.choice(128, size=hot_bits, replace=False)] ^= 1
        bits[128 + rng.choice(128, size=cold_bits, replace=False)] ^= 1
        planted.append(np.packbits(bits))
    hashes = np.concatenate([random_hashes(rng, 5000), np.array(planted)])
    ids = np.arange(len(hashes), dtype=np.int64) + 2**40
    index = PdqIndex.build(tmp_path, ids, hashes)
    for radius in (0, 11, 31):
        assert index.search(query[None], radius) == [brute_force(ids, hashes, query, radius)]
    found = dict(index.search(query[None])[0])
    assert [found.get(ids[5000 + k]) for k in (31, 32, 41, 42, 43)] == [31, None, 31, None, 31]


def test_cold_arrays_are_stored_apart_and_old_formats_are_refused(tmp_path) -> None:
    rng = np.random.default_rng(3)
    hashes = random_hashes(rng, 100)
    PdqIndex.build(tmp_path, np.arange(100, dtype=np.int64) + 7, hashes)
    version = (tmp_path / "CURRENT").read_text()
    # Opened and searched (a confirmed match reads its cold row): only segment.bin is mapped.
    index = PdqIndex.open(tmp_path)
    assert index.search(hashes[40:41]) == [[(47, 0)]]
    maps = Path("/proc/self/maps").read_text()
    assert f"{version}/segment.bin" in maps and "cold.bin" not in maps
    meta_file = tmp_path / version / "meta.json"
    meta = json.loads(meta_file.read_text())
    files = {name: spec["file"] for name, spec in meta["arrays"].items()}
    assert {name for name, file in files.items() if file == "cold.bin"} == {"hashes_cold", "ids"}
    assert files["hashes_hot"] == "segment.bin"
    meta_file.write_text(json.dumps({**meta, "format": 1}))
    with pytest.raises(IndexFormatError):
        PdqIndex.open(tmp_path)


def test_empty_index_and_bad_input(tmp_path) -> None:
    index = PdqIndex.build(tmp_path, np.empty(0, dtype=np.int64), np.empty((0, 32), np.uint8))
    assert len(index) == 0 and index.high_water_id is None
    query = np.zeros((1, 32), dtype=np.uint8)
    assert index.search(query) == [[]]
    index.add([42], query)
    assert index.search(query) == [[(42, 0)]]
    with pytest.raises(UnsupportedDistanceError):
        index.search(query, max_distance=32)
    with pytest.raises(InvalidHashError):
        index.add([1], np.zeros((1, 31), dtype=np.uint8))
    with pytest.raises(InvalidHashError):
        index.add([1, 2], query)
    with pytest.raises(DuplicateIdError):
        PdqIndex.build(tmp_path / "other", [1, 1], np.zeros((2, 32), dtype=np.uint8))
    with pytest.raises(IndexFormatError):
        PdqIndex.open(tmp_path / "missing")


def test_byte_order_round_trips_reference_vectors() -> None:
    with open(PDQ_TESTDATA / "expected.csv", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) >= 12
    for row in rows:
        raw = hex_to_bytes(row["pdq_hex"])
        assert bytes_to_hex(raw) == row["pdq_hex"]
        assert raw[0] == int(row["pdq_hex"][:2], 16)
    matrix = hashes_from_hex(row["pdq_hex"] for row in rows)
    assert matrix.shape == (len(rows), 32)
    original = rows[0]["pdq_hex"]
    expected_distance = bin(int(original, 16) ^ int(rows[1]["pdq_hex"], 16)).count("1")
    assert hamming(original, rows[1]["pdq_hex"]) == expected_distance
    assert 0 < expected_distance <= 31  # "blur a little" is a near-duplicate
    # pdqhash's bit vector, packed, is the reference byte order.
    image = np.asarray(Image.open(PDQ_TESTDATA / rows[0]["file"]).convert("RGB"))
    bits, _quality = pdqhash.compute(image)
    assert bytes_to_hex(bits_to_bytes(bits)) == original
    with pytest.raises(InvalidHashError):
        hex_to_bytes("zz" * 32)
    with pytest.raises(InvalidHashError):
        hex_to_bytes(original[:-1])
