"""Segment sub-files read from the memory map behave like Whoosh's copies."""

from __future__ import annotations

import mmap

from hypothesis import given
from hypothesis import strategies as st
from whoosh.filedb.structfile import BufferFile

from search.mapped import MappedFile

_ops = st.lists(
    st.one_of(
        st.tuples(st.just("read"), st.integers(-1, 40)),
        st.tuples(st.just("readline"), st.integers(-1, 40)),
        st.tuples(st.just("seek"), st.integers(0, 60)),
        st.tuples(st.just("get"), st.integers(0, 60)),
        st.tuples(st.just("subset_read"), st.integers(0, 30)),
    ),
    max_size=25,
)


def _mapped(tmp_path, data: bytes, pad: bytes):
    path = tmp_path / "seg"
    path.write_bytes(pad + data + pad)
    with path.open("rb") as f:
        source = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)
    return MappedFile(source, len(pad), len(data), name="x")


@given(data=st.binary(max_size=50), pad=st.binary(min_size=1, max_size=9), ops=_ops)
def test_a_mapped_sub_file_reads_what_a_copied_one_reads(tmp_path_factory, data, pad, ops):
    data += b"\nend"
    mapped = _mapped(tmp_path_factory.mktemp("m"), data, pad)
    copied = BufferFile(data, name="x")
    for op, n in ops:
        if op == "read":
            assert mapped.read(n) == copied.read(n)
        elif op == "readline":
            assert mapped.file.readline(n) == copied.file.readline(n)
        elif op == "seek":
            mapped.seek(n)
            copied.seek(n)
        elif op == "get":
            assert mapped.get(n, 5) == copied.get(n, 5)
        else:
            assert mapped.subset(n, 6).read() == copied.subset(n, 6).read()
        assert mapped.tell() == copied.tell()


def test_a_mapped_sub_file_never_reads_past_its_end(tmp_path):
    mapped = _mapped(tmp_path, b"abc", b"OUTSIDE")
    assert mapped.read() == b"abc"
    assert mapped.read(10) == b""
    mapped.seek(1)
    assert mapped.file.readline() == b"bc"
    assert mapped.get(2, 100) == b"c"
