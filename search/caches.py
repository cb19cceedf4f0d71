"""Caches bounded by the bytes they hold, not by how many entries.

A bound on entries is a bound on memory only when entries are alike, and
a query's are not: a distinct 440-character query added 30-35 KB to the
Janome run cache, so its 50,000 entries could reach 1.7 GB in a worker.
These caches count an estimate of each value's size (``sys.getsizeof`` of
the containers, strings and arrays in it) and evict the least recently
used entries past their budget.
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Callable
from typing import Any, TypeVar

import numpy as np
from cachetools import LRUCache, cached

MB = 1 << 20
F = TypeVar("F", bound=Callable[..., Any])


def approximate_size(value: Any) -> int:
    """Bytes held by *value*: containers, strings, numbers and NumPy arrays
    in it, each counted once per reference (shared objects count twice; the
    estimate errs on the side of evicting early)."""
    if isinstance(value, np.ndarray):
        return value.nbytes + 112
    size = sys.getsizeof(value)
    if isinstance(value, tuple | list | set | frozenset):
        size += sum(approximate_size(v) for v in value)
    elif isinstance(value, dict):
        size += sum(approximate_size(k) + approximate_size(v) for k, v in value.items())
    elif hasattr(value, "__dataclass_fields__"):
        size += sum(approximate_size(getattr(value, f)) for f in value.__dataclass_fields__)
    return size


def sized_cache(max_bytes: int) -> LRUCache:
    """An LRU cache holding at most about *max_bytes* of values (not
    thread-safe by itself: callers hold a lock)."""
    return LRUCache(maxsize=max_bytes, getsizeof=lambda v: approximate_size(v) + 64)


def memoize(max_bytes: int) -> Callable[[F], F]:
    """Like ``functools.lru_cache`` for functions of hashable arguments,
    bounded by *max_bytes* of results and safe to call from threads."""

    def wrap(func: F) -> F:
        cache = sized_cache(max_bytes)
        wrapper = cached(cache, lock=threading.Lock())(func)
        wrapper.cache = cache  # type: ignore[attr-defined]
        return wrapper  # type: ignore[return-value]

    return wrap
