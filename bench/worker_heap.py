"""Where a worker process's memory lies, by allocator: read inside the worker, since only it can ask its allocators.

The benchmark's memory target compares RSS per cached workflow with the floor's; this says whose the difference is:
- `python_objects`: bytes in CPython's small-object allocator's blocks in use: every Python object of up to 512
  bytes (model instances, their dicts, strings, the workflow's own state).
- `malloc_in_use`: glibc's heap in use: the SDK core's native state (its Rust bridge allocates with glibc's malloc),
  SQLite, the C libraries, and the Python objects over 512 bytes. `sqlite` is SQLite's own part of it (the trial
  record's page caches).
- `malloc_free`: freed memory glibc still holds (fragmentation), resident but in nobody's use.
A part is None where this platform has no such allocator to ask (not glibc, no shared libsqlite3).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import re
import sys
import tempfile

HEAP_PARTS = ("python_objects", "malloc_in_use", "malloc_free", "sqlite")
Heap = dict[str, int | None]  # KiB per part

_PYMALLOC_IN_USE = re.compile(r"^# bytes in allocated blocks\s*=\s*([\d,]+)\s*$", re.MULTILINE)
# Every shape of line in `sys._debugmallocstats()`'s report (CPython 3.11 to 3.13).
_REPORT_LINE = re.compile(
    r"^(\s*$|Small block threshold = |class\s+size|-----|\s*(\d+\s+){4}\d+\s*$|# |Total\s+=|\d+ arenas \* "
    r"|\d+ unused pools \* |arena map counts|\s*\d+ free .* bytes each\s+=)"
)
_MALLINFO2_FIELDS = "arena ordblks smblks hblks hblkhd usmblks fsmblks uordblks fordblks keepcost"


class _MallInfo2(ctypes.Structure):
    """glibc's `struct mallinfo2` (2.33 and later): sizes in bytes, summed over every arena."""

    _fields_ = [(name, ctypes.c_size_t) for name in _MALLINFO2_FIELDS.split()]


def heap_kib() -> Heap:
    """Each part of this process's heap now, in KiB (see the module's docstring)."""
    malloc = _malloc_bytes()
    sqlite = _sqlite_bytes()
    python = _python_object_bytes()
    return {
        "python_objects": _kib(python),
        "malloc_in_use": _kib(malloc and malloc[0]),
        "malloc_free": _kib(malloc and malloc[1]),
        "sqlite": _kib(sqlite),
    }


def parse_pymalloc_stats(text: str) -> int | None:
    """Bytes in the small-object allocator's blocks in use, from `sys._debugmallocstats()`'s report."""
    found = _PYMALLOC_IN_USE.search(text)
    return int(found.group(1).replace(",", "")) if found else None


def lines_not_in_report(text: str) -> list[str]:
    """The lines of `text` that are not the allocator's report: another thread's, written while it was caught."""
    return [line for line in text.splitlines(keepends=True) if not _REPORT_LINE.match(line)]


def _kib(size: int | None) -> int | None:
    return None if size is None else size // 1024


def _python_object_bytes() -> int | None:
    text = allocator_report()
    for line in lines_not_in_report(text):  # the worker's log must lose no line: it is counted for errors
        os.write(2, line.encode())
    return parse_pymalloc_stats(text)


def allocator_report() -> str:
    """`sys._debugmallocstats()`'s report: CPython prints it only to the C stderr, so it is caught in a file for
    the moment it takes. Another thread's line written in that moment lands there too (see lines_not_in_report)."""
    sys.stderr.flush()
    with tempfile.TemporaryFile() as caught:
        saved = os.dup(2)
        os.dup2(caught.fileno(), 2)
        try:
            sys._debugmallocstats()
        finally:
            os.dup2(saved, 2)
            os.close(saved)
        caught.seek(0)
        return caught.read().decode(errors="replace")


def _malloc_bytes() -> tuple[int, int] | None:
    """glibc's bytes in use and held free, or None (another C library, or a glibc before 2.33)."""
    try:
        libc = ctypes.CDLL(None)
        mallinfo2 = libc.mallinfo2
    except (OSError, AttributeError):
        return None
    mallinfo2.restype = _MallInfo2
    info = mallinfo2()
    return info.uordblks, info.fordblks


def _sqlite_bytes() -> int | None:
    """SQLite's heap in use, asked of the shared library Python's sqlite3 module loaded (the same instance)."""
    name = ctypes.util.find_library("sqlite3")
    if name is None:
        return None
    try:
        memory_used = ctypes.CDLL(name).sqlite3_memory_used
    except (OSError, AttributeError):
        return None
    memory_used.restype = ctypes.c_int64
    return int(memory_used())
