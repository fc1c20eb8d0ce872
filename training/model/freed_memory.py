"""Give memory that was freed back to the system (glibc's `malloc_trim`).

Clips and windows of every length leave activation buffers of every size freed in glibc's heap
(its mmap threshold rises after the first large free, and torch's worker threads each keep an
arena), so resident memory would grow with the number of clips or a file's length; trimming after
each batch keeps it flat (measured in BENCHMARKS.md: long recordings, frozen features).
"""

from __future__ import annotations

import ctypes
import ctypes.util


def _malloc_trim():
    """glibc's `malloc_trim`, or None on other C libraries."""
    try:
        return ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6").malloc_trim
    except (OSError, AttributeError, TypeError):
        return None


_MALLOC_TRIM = _malloc_trim()


def release_freed_memory() -> None:
    """Return the heap's free pages to the system; a no-op where glibc is not the C library."""
    if _MALLOC_TRIM is not None:
        _MALLOC_TRIM(0)
