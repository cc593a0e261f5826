"""bench/worker_heap.py: each part of a worker's heap is read from its own allocator and moves with what that
allocator holds, so the memory figures can say whose a cached workflow's memory is."""

from __future__ import annotations

import gc
import sqlite3
from collections.abc import Callable

import pytest

from bench.worker_handle import summed_heaps
from bench.worker_heap import HEAP_PARTS, allocator_report, heap_kib, lines_not_in_report, parse_pymalloc_stats

MIB = 1024  # KiB

REPORT = """Small block threshold = 512, in 32 size classes.

# arenas allocated total           =                    3
# arenas allocated current         =                    3
# bytes in allocated blocks        =            2,198,352
# bytes in available blocks        =              290,640
Total                              =            3,145,728
"""


def test_the_small_object_allocators_bytes_in_use_are_read_from_its_report() -> None:
    assert parse_pymalloc_stats(REPORT) == 2_198_352
    assert parse_pymalloc_stats("no such line") is None


def test_another_threads_lines_caught_with_the_report_are_kept_for_the_log() -> None:
    """The worker's log is counted for errors: a line written while the report is caught must not be lost."""
    report = allocator_report().splitlines(keepends=True)
    assert report and lines_not_in_report("".join(report)) == []
    warning = '{"event": "activity failed", "level": "warning"}\n'
    core = "2026-12-07T21:00:00Z  WARN temporal_sdk_core: poll failed\n"
    middle = len(report) // 2
    mixed = [*report[:middle], warning, *report[middle:], core]
    assert lines_not_in_report("".join(mixed)) == [warning, core]


def test_reading_the_heap_writes_nothing_to_stderr(capfd: pytest.CaptureFixture[str]) -> None:
    heap_kib()
    assert capfd.readouterr().err == ""


def test_every_part_is_read_on_this_machine() -> None:
    heap = heap_kib()
    assert set(heap) == set(HEAP_PARTS)
    assert all(isinstance(heap[part], int) and heap[part] >= 0 for part in HEAP_PARTS), heap


def _small_objects() -> list[object]:
    return [(n, str(n)) for n in range(200_000)]  # about 20 MiB of tuples, ints and short strings


def _large_blocks() -> list[object]:
    return [bytearray(4_000) for _ in range(5_000)]  # 20 MB in blocks over the small-object threshold


@pytest.mark.parametrize(
    ("make", "grows", "stays"),
    [(_small_objects, "python_objects", "malloc_in_use"), (_large_blocks, "malloc_in_use", "python_objects")],
    ids=["small Python objects", "large blocks"],
)
def test_each_kind_of_allocation_counts_in_its_own_allocators_part(
    make: Callable[[], list[object]], grows: str, stays: str
) -> None:
    gc.collect()  # no earlier test's garbage freed while this one measures
    before = heap_kib()
    kept = make()
    after = heap_kib()
    assert after[grows] - before[grows] > 10 * MIB, (before, after)
    assert after[stays] - before[stays] < 5 * MIB, (before, after)
    assert kept


def test_sqlites_own_heap_is_read_from_the_library_python_loaded() -> None:
    before = heap_kib()
    database = sqlite3.connect(":memory:")
    database.execute("CREATE TABLE t (x BLOB)")
    database.executemany("INSERT INTO t VALUES (?)", ((bytes(1_000),) for _ in range(5_000)))
    after = heap_kib()
    database.close()
    assert after["sqlite"] - before["sqlite"] > 2 * MIB, (before, after)


def test_the_workers_parts_are_summed_and_a_part_one_could_not_read_is_unknown() -> None:
    first = {"python_objects": 10, "malloc_in_use": 20, "malloc_free": 1, "sqlite": 5}
    second = {"python_objects": 30, "malloc_in_use": 40, "malloc_free": 2, "sqlite": None}
    assert summed_heaps([first, second]) == {
        "python_objects": 40,
        "malloc_in_use": 60,
        "malloc_free": 3,
        "sqlite": None,
    }
    assert summed_heaps([first, {}]) == dict.fromkeys(HEAP_PARTS)
