"""The sans-I/O content decoders: every coding, any split of the input, corrupt and cut data."""

from __future__ import annotations

import gzip
import itertools
import zlib
from collections.abc import Callable, Iterator

import brotli  # type: ignore[import-untyped,unused-ignore]
import pytest
from backports import zstd
from hypothesis import given
from hypothesis import strategies as st

from aiohelicone import _decoders
from aiohelicone._decoders import (
    MAX_PIECE,
    DecodingError,
    UnsupportedEncoding,
    accept_encoding,
    make_decoder,
)

DATA = b"".join(b'data: {"i": %d, "text": "hello, compressed world"}\n\n' % i for i in range(400))


def raw_deflate(data: bytes) -> bytes:
    obj = zlib.compressobj(wbits=-zlib.MAX_WBITS)
    return obj.compress(data) + obj.flush()


ENCODERS: dict[str, tuple[str, Callable[[bytes], bytes]]] = {
    "gzip": ("gzip", gzip.compress),
    "deflate-zlib": ("deflate", zlib.compress),
    "deflate-raw": ("deflate", raw_deflate),
    "br": ("br", brotli.compress),
    "zstd": ("zstd", zstd.compress),
}


def decode_all(coding: str, body: bytes, size: int) -> bytes:
    decoder = make_decoder(coding)
    assert decoder is not None
    out: list[bytes] = []
    for start in range(0, len(body), size):
        out += decoder.decode(body[start : start + size])
    out += decoder.flush()
    return b"".join(out)


@pytest.mark.parametrize("size", [1, 2, 7, 4096, 1 << 30])
@pytest.mark.parametrize("name", list(ENCODERS))
def test_every_coding_decodes_in_any_piece_size(name: str, size: int) -> None:
    """Each coding decodes to the original body whether it arrives byte by byte or whole."""
    coding, encode = ENCODERS[name]
    assert decode_all(coding, encode(DATA), size) == DATA


@given(cuts=st.lists(st.integers(min_value=0, max_value=2000), max_size=12))
@pytest.mark.parametrize("name", ["gzip", "deflate-raw", "zstd"])
def test_any_split_decodes_the_same(name: str, cuts: list[int]) -> None:
    """However the network splits the body, the decoded bytes are the same."""
    coding, encode = ENCODERS[name]
    body = encode(DATA)
    points = sorted({0, len(body), *(c % (len(body) + 1) for c in cuts)})
    decoder = make_decoder(coding)
    assert decoder is not None
    out: list[bytes] = []
    for start, end in itertools.pairwise(points):
        out += decoder.decode(body[start:end])
    out += decoder.flush()
    assert b"".join(out) == DATA


def test_gzip_members_in_a_row_are_one_body() -> None:
    """Several gzip members, as gzip(1) concatenates them, decode to the whole body."""
    body = gzip.compress(DATA[:1000]) + gzip.compress(DATA[1000:])
    assert decode_all("gzip", body, 1) == DATA
    assert decode_all("gzip", body, len(body)) == DATA


def test_gzip_nul_padding_is_ignored_and_garbage_is_not() -> None:
    """NUL bytes after the last member end the body; other bytes there are corrupt."""
    body = gzip.compress(DATA)
    assert decode_all("gzip", body + b"\x00" * 8, 3) == DATA
    with pytest.raises(DecodingError, match="after the last member"):
        decode_all("gzip", body + b"\x00junk", 100)


def test_x_gzip_and_identity_names() -> None:
    """``x-gzip`` is gzip (RFC 9110 §8.4.1.3); ``identity`` or nothing needs no decoder."""
    assert decode_all("x-gzip", gzip.compress(DATA), 50) == DATA
    assert make_decoder("identity") is None
    assert make_decoder(" , identity") is None


@pytest.mark.parametrize("name", list(ENCODERS))
def test_a_truncated_body_raises_naming_the_coding(name: str) -> None:
    """A body that ends inside the compressed data raises at flush, naming the coding."""
    coding, encode = ENCODERS[name]
    body = encode(DATA)
    decoder = make_decoder(coding)
    assert decoder is not None
    decoded = b"".join(decoder.decode(body[: len(body) // 2]))
    assert DATA.startswith(decoded)
    with pytest.raises(DecodingError, match="truncated") as caught:
        decoder.flush()
    assert caught.value.coding == coding


@pytest.mark.parametrize(("name", "offset"), [("gzip", 8), ("deflate-zlib", 4)])
def test_a_bad_checksum_raises(name: str, offset: int) -> None:
    """A gzip CRC-32 or zlib Adler-32 that does not match the data is corrupt."""
    coding, encode = ENCODERS[name]
    body = bytearray(encode(DATA))
    body[-offset] ^= 0x01
    with pytest.raises(DecodingError, match="corrupt") as caught:
        decode_all(coding, bytes(body), 64)
    assert caught.value.coding == coding


def test_garbage_is_corrupt_not_silently_passed() -> None:
    """Bytes that are not the named coding raise instead of coming through as the body."""
    for coding in ("gzip", "br", "zstd"):
        with pytest.raises(DecodingError, match=coding):
            decode_all(coding, b'{"not": "compressed"} at all, really', 4)


def test_an_empty_body_needs_no_data() -> None:
    """A bodiless answer (HEAD, 204) with a content coding decodes to nothing, cleanly."""
    for coding in ("gzip", "deflate", "br", "zstd"):
        assert decode_all(coding, b"", 1) == b""


def test_stacked_codings_are_undone_in_reverse_order() -> None:
    """``gzip, br`` (gzip applied first) decodes br, then gzip."""
    body = brotli.compress(gzip.compress(DATA))
    assert decode_all("gzip, br", body, 5) == DATA
    decoder = make_decoder("gzip, br")
    assert decoder is not None
    assert decoder.coding == "gzip, br"


def test_too_many_stacked_codings_are_refused() -> None:
    """More codings than MAX_CODINGS are refused rather than run."""
    with pytest.raises(UnsupportedEncoding, match="stacked"):
        make_decoder("gzip, gzip, gzip, gzip")


def test_an_unknown_coding_is_refused_by_name() -> None:
    """``snappy`` is refused, naming it and what can be decoded."""
    with pytest.raises(UnsupportedEncoding) as caught:
        make_decoder("gzip, snappy")
    assert caught.value.coding == "snappy"
    assert accept_encoding() in str(caught.value)


def test_pieces_are_bounded() -> None:
    """A small, highly compressed input never inflates into one piece over MAX_PIECE."""
    zeros = b"\x00" * (5 * MAX_PIECE)
    for coding, body in [
        ("gzip", gzip.compress(zeros)),
        ("deflate", zlib.compress(zeros)),
        ("br", brotli.compress(zeros)),
        ("zstd", zstd.compress(zeros)),
    ]:
        decoder = make_decoder(coding)
        assert decoder is not None
        pieces = decoder.decode(body) + decoder.flush()
        assert b"".join(pieces) == zeros
        assert max(map(len, pieces)) <= MAX_PIECE, coding


@pytest.fixture
def without_optional_decoders(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """As if brotli and backports.zstd were not installed."""
    accept_encoding.cache_clear()
    monkeypatch.setattr(_decoders, "_brotli", lambda: None)
    monkeypatch.setattr(_decoders, "zstd_module", lambda: None)
    yield
    accept_encoding.cache_clear()


@pytest.mark.usefixtures("without_optional_decoders")
def test_without_the_extra_only_gzip_and_deflate_are_advertised() -> None:
    """Accept-Encoding names exactly what can be decoded; br then says how to get it."""
    assert accept_encoding() == "gzip, deflate"
    with pytest.raises(UnsupportedEncoding, match="brotli"):
        make_decoder("br")
    with pytest.raises(UnsupportedEncoding, match="zstd"):
        make_decoder("zstd")


def test_with_the_extra_br_and_zstd_are_advertised() -> None:
    """With brotli and a zstd module installed (the test extra), all four are advertised."""
    assert accept_encoding() == "gzip, deflate, br, zstd"
