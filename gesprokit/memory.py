"""Memory freed by a large step given back to the system, so the next step's peak does not
stack on it: pyarrow's pool and, on glibc, the C heap (``malloc_trim``). A million-row import
frees hundreds of megabytes between its steps that the process would otherwise keep."""

from __future__ import annotations

import ctypes
import ctypes.util
from functools import cache

import pyarrow as pa


@cache
def _malloc_trim():
    """glibc's malloc_trim, or None on another C library."""
    name = ctypes.util.find_library("c")
    if name is None:
        return None
    try:
        return ctypes.CDLL(name).malloc_trim
    except (OSError, AttributeError):
        return None


def give_back_freed_memory() -> None:
    """Return the memory freed so far to the system (pyarrow's pool, then the C heap)."""
    pa.default_memory_pool().release_unused()
    trim = _malloc_trim()
    if trim is not None:
        trim(0)
