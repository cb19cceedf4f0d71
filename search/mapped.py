"""Segment files read in place from the memory map, not copied.

Whoosh 2.7.4 maps a compound segment file (``*.seg``) and hands out its
sub-files as ``BufferFile`` objects, whose constructor copies the sub-file
into a ``BytesIO``. Opening a searcher on the 1,747-post index so copied
about 85 MB into each process's private memory (RSS 129 -> 292 MB), pages
that every gunicorn worker held again. :class:`MappedFile` serves the same
reads from the map itself, so a worker's segment pages are the kernel's
page cache, shared by all workers and dropped under memory pressure.

:func:`in_place` wraps the storage a segment reader opens its files from;
:class:`search.codec.Codec` uses it for the terms, postings and per-document
readers.
"""

from __future__ import annotations

import mmap
from typing import Any

from whoosh.filedb.compound import CompoundStorage
from whoosh.filedb.structfile import BufferFile


class _MappedIO:
    """The file protocol (read, readline, seek, tell) over a range of a map."""

    __slots__ = ("_map", "_start", "_end", "_pos")

    def __init__(self, source: mmap.mmap, start: int, length: int):
        self._map = source
        self._start = start
        self._end = start + length
        self._pos = start

    def read(self, n: int | None = -1) -> bytes:
        pos = self._pos
        end = self._end if n is None or n < 0 else min(pos + n, self._end)
        self._pos = max(pos, end)
        return self._map[pos:end]

    def readline(self, limit: int = -1) -> bytes:
        pos = self._pos
        found = self._map.find(b"\n", pos, self._end)
        end = self._end if found < 0 else found + 1
        if limit is not None and limit >= 0:
            end = min(end, pos + limit)
        self._pos = max(pos, end)
        return self._map[pos:end]

    def seek(self, offset: int, whence: int = 0) -> int:
        base = (self._start, self._pos, self._end)[whence]
        self._pos = max(self._start, base + offset)
        return self._pos - self._start

    def tell(self) -> int:
        return self._pos - self._start

    def flush(self) -> None:
        pass

    def close(self) -> None:
        pass


class MappedFile(BufferFile):
    """A read-only segment sub-file whose bytes stay in the map."""

    def __init__(self, source: mmap.mmap, start: int, length: int, name: str | None = None):
        self._source = source
        self._start = start
        self._length = length
        self._buf = memoryview(source)[start : start + length]
        self._name = name
        self.file = _MappedIO(source, start, length)
        self.onclose = None
        self.is_real = False
        self.is_closed = False

    def subset(self, position: int, length: int, name: str | None = None) -> MappedFile:
        start = min(position, self._length)
        length = max(0, min(length, self._length - start))
        return MappedFile(self._source, self._start + start, length, name or self._name)


class _InPlaceStorage:
    """A segment reader's storage whose compound sub-files are :class:`MappedFile`."""

    def __init__(self, storage: Any, compound: CompoundStorage):
        self._storage = storage
        self._compound = compound

    def open_file(self, name: str, *args: Any, **kwargs: Any) -> Any:
        compound = self._compound
        if compound.file_exists(name) and not compound.is_closed:
            start, length = compound.range(name)
            return MappedFile(compound._source, start, length, name=name)
        return self._storage.open_file(name, *args, **kwargs)

    def __getattr__(self, attr: str) -> Any:
        return getattr(self._storage, attr)


def in_place(storage: Any) -> Any:
    """*storage*, reading a mapped compound segment in place where it is one.

    A segment reader's storage is an overlay whose first layer (``a``) is
    the segment's ``CompoundStorage``; anything else is returned unchanged.
    """
    compound = getattr(storage, "a", None)
    if isinstance(compound, CompoundStorage) and isinstance(compound._source, mmap.mmap):
        return _InPlaceStorage(storage, compound)
    return storage
