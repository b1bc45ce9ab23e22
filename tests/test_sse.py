"""Tests for the sans-I/O Server-Sent Events decoder (aiohelicone._sse)."""

from __future__ import annotations

import itertools
import re

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from aiohelicone import _sse
from aiohelicone._sse import ServerSentEvent, SSEDecodeError, SSEDecoder

E = ServerSentEvent
BOM = b"\xef\xbb\xbf"

Outcome = tuple[list[ServerSentEvent], ServerSentEvent | None]


def run(chunks: list[bytes], **kwargs: int) -> Outcome:
    """Decode ``chunks`` with a fresh decoder; return the events and what flush() returns."""
    decoder = SSEDecoder(**kwargs)
    events: list[ServerSentEvent] = []
    for chunk in chunks:
        events.extend(decoder.decode(chunk))
    return events, decoder.flush()


def run_limited(chunks: list[bytes], limit: int) -> tuple[list[ServerSentEvent], object]:
    """Like run(), but stop at SSEDecodeError; the second item is the flush result or "error"."""
    decoder = SSEDecoder(max_event_bytes=limit)
    events: list[ServerSentEvent] = []
    try:
        for chunk in chunks:
            events.extend(decoder.decode(chunk))
        return events, decoder.flush()
    except SSEDecodeError:
        return events, "error"


def split_at(stream: bytes, points: list[int]) -> list[bytes]:
    """Cut ``stream`` at the given offsets (sorted, duplicates give empty chunks)."""
    bounds = [0, *sorted(points), len(stream)]
    return [stream[a:b] for a, b in itertools.pairwise(bounds)]


_LINE_END = re.compile("\r\n|\r|\n")


def reference(stream: bytes) -> Outcome:
    """A literal, whole-stream transcription of WHATWG §9.2.5-9.2.6, plus our flush() rule."""
    text = stream.decode("utf-8", "replace")
    text = text.removeprefix("\ufeff")
    *lines, rest = _LINE_END.split(text)
    events: list[ServerSentEvent] = []
    data = ""
    event_type = ""
    last_id: str | None = None
    retry: int | None = None
    fields = False

    def process(line: str) -> None:
        nonlocal data, event_type, last_id, retry, fields
        if line.startswith(":"):
            return
        name, colon, value = line.partition(":")
        if colon and value.startswith(" "):
            value = value[1:]
        if name == "data":
            data += value + "\n"
        elif name == "event":
            event_type, fields = value, True
        elif name == "id":
            if "\0" not in value:
                last_id, fields = value, True
        elif name == "retry" and value and all(c in "0123456789" for c in value):
            retry, fields = int(value), True

    for line in lines:
        if line:
            process(line)
            continue
        if data:
            events.append(E(event_type or "message", data.removesuffix("\n"), last_id, retry))
        data, event_type, retry, fields = "", "", None, False
    if rest:
        process(rest)
    pending = None
    if data or fields:
        pending = E(event_type or "message", data.removesuffix("\n"), last_id, retry)
    return events, pending


# Streams with the events and flush() result the spec (or our flush rule) gives for them.
# The first six are the examples of WHATWG HTML §9.2.1 and §9.2.6, verbatim.
FIXTURES: list[tuple[str, bytes, list[ServerSentEvent], ServerSentEvent | None]] = [
    (
        "spec-intro-three-messages",
        b"data: This is the first message.\n\n"
        b"data: This is the second message, it\ndata: has two lines.\n\n"
        b"data: This is the third message.\n\n",
        [
            E(data="This is the first message."),
            E(data="This is the second message, it\nhas two lines."),
            E(data="This is the third message."),
        ],
        None,
    ),
    (
        "spec-intro-add-remove",
        b"event: add\ndata: 73857293\n\nevent: remove\ndata: 2153\n\nevent: add\ndata: 113411\n\n",
        [E("add", "73857293"), E("remove", "2153"), E("add", "113411")],
        None,
    ),
    (
        "spec-stock-ticker",
        b"data: YHOO\ndata: +2\ndata: 10\n\n",
        [E(data="YHOO\n+2\n10")],
        None,
    ),
    (
        # "the last block just fires an event with the data ' third event' ... the last still
        # has to end with a blank line": as printed, the stream ends without one.
        "spec-test-stream-as-printed",
        b": test stream\n\ndata: first event\nid: 1\n\ndata:second event\nid\n\ndata:  third event\n",
        [E(data="first event", id="1"), E(data="second event", id="")],
        E(data=" third event", id=""),
    ),
    (
        "spec-empty-data",
        b"data\n\ndata\ndata\n\ndata:",
        [E(data=""), E(data="\n")],
        E(data=""),  # the spec discards this last block; flush() reports it
    ),
    (
        "spec-space-after-colon",
        b"data:test\n\ndata: test\n\n",
        [E(data="test"), E(data="test")],
        None,
    ),
    (
        "spec-test-stream-terminated",
        b": test stream\n\ndata: first event\nid: 1\n\ndata:second event\nid\n\ndata:  third event\n\n",
        [
            E(data="first event", id="1"),
            E(data="second event", id=""),
            E(data=" third event", id=""),
        ],
        None,
    ),
    (
        "openai-chunks-and-done",
        b'data: {"id":"c1","choices":[{"delta":{"content":"H\xc3\xa9"}}]}\n\n'
        b": keep-alive\n\n"
        b"data: [DONE]\n\n",
        [E(data='{"id":"c1","choices":[{"delta":{"content":"Hé"}}]}'), E(data="[DONE]")],
        None,
    ),
    (
        "crlf-and-cr-line-ends",
        b"data: a\r\ndata: b\r\n\r\ndata: c\r\rdata: d\n\r\n",
        [E(data="a\nb"), E(data="c"), E(data="d")],
        None,
    ),
    (
        "bom-then-event",
        BOM + b"data: x\n\n",
        [E(data="x")],
        None,
    ),
    (
        "utf8-multibyte",
        "data: héllo € 😀 日本\n\n".encode(),
        [E(data="héllo € 😀 日本")],
        None,
    ),
    (
        "event-only-block-dispatches-nothing",
        b"event: ping\n\ndata: x\n\n",
        [E(data="x")],
        None,
    ),
    (
        "retry-id-event-fields",
        b"retry: 1500\nid: 7\nevent: delta\ndata: a\n\ndata: b\n\n",
        [E("delta", "a", "7", 1500), E("message", "b", "7", None)],
        None,
    ),
    (
        "unterminated-final-line",
        b"data: a\n\nevent: x\ndata: partial",
        [E(data="a")],
        E("x", "partial"),
    ),
    (
        "final-block-ends-in-cr",
        b"data: a\r",
        [],
        E(data="a"),
    ),
    ("empty-stream", b"", [], None),
]


@pytest.mark.parametrize(
    ("stream", "expected", "pending"), [f[1:] for f in FIXTURES], ids=[f[0] for f in FIXTURES]
)
def test_fixture_in_one_chunk(
    stream: bytes, expected: list[ServerSentEvent], pending: ServerSentEvent | None
) -> None:
    """Each fixture decoded in one chunk gives its events and flush() result."""
    assert run([stream]) == (expected, pending)


@pytest.mark.parametrize(
    ("stream", "expected", "pending"), [f[1:] for f in FIXTURES], ids=[f[0] for f in FIXTURES]
)
def test_fixture_matches_reference(
    stream: bytes, expected: list[ServerSentEvent], pending: ServerSentEvent | None
) -> None:
    """The test's whole-stream reference model agrees with each fixture's expected result."""
    assert reference(stream) == (expected, pending)


@pytest.mark.parametrize(
    ("stream", "expected", "pending"), [f[1:] for f in FIXTURES], ids=[f[0] for f in FIXTURES]
)
def test_fixture_at_every_split_point(
    stream: bytes, expected: list[ServerSentEvent], pending: ServerSentEvent | None
) -> None:
    """Cutting a fixture into two chunks at any offset gives the same result."""
    for i in range(len(stream) + 1):
        assert run([stream[:i], stream[i:]]) == (expected, pending), i


@pytest.mark.parametrize(
    ("stream", "expected", "pending"), [f[1:] for f in FIXTURES], ids=[f[0] for f in FIXTURES]
)
def test_fixture_byte_by_byte(
    stream: bytes, expected: list[ServerSentEvent], pending: ServerSentEvent | None
) -> None:
    """Feeding a fixture one byte at a time (with empty chunks between) gives the same result."""
    chunks = [b for i in range(len(stream)) for b in (stream[i : i + 1], b"")]
    assert run(chunks) == (expected, pending)


# ---------------------------------------------------------------------------------------------
# Property tests
# ---------------------------------------------------------------------------------------------

_values = st.one_of(
    st.text(alphabet=st.characters(blacklist_characters="\r\n"), max_size=12),
    st.sampled_from(["", " ", "  x", ":", "a:b", "0", "123", "12a", "-1", "\0", "\ufeff", "١٢"]),
)
_line = st.one_of(
    st.just(""),
    st.tuples(
        st.sampled_from(["data", "event", "id", "retry", "Data", "x", ""]),
        st.sampled_from([":", ": ", ""]),
        _values,
    ).map("".join),
    _values.map(lambda v: ":" + v),
)
_lines = st.lists(_line, max_size=25)


def _join(lines: list[str], ends: list[str]) -> bytes:
    """Join lines with the given terminators, keeping a CR before an empty LF-ended line apart."""
    out = []
    for i, line in enumerate(lines):
        end = ends[i % len(ends)]
        nxt = ends[(i + 1) % len(ends)]
        if end == "\r" and i + 1 < len(lines) and lines[i + 1] == "" and nxt.startswith("\n"):
            end = "\r\n"  # "\r" then "\n" would read as one CRLF, merging two line ends
        out.append(line + end)
    return "".join(out).encode("utf-8", "surrogatepass")


_streams = st.builds(
    lambda bom, lines, ends, tail: (
        (BOM if bom else b"") + _join(lines, ends) + tail.encode("utf-8", "surrogatepass")
    ),
    st.booleans(),
    _lines,
    st.lists(st.sampled_from(["\n", "\r", "\r\n"]), min_size=1, max_size=4),
    st.sampled_from(["", "data: tail", "event: e", ": c", "id"]),
)
_raw_streams = st.one_of(_streams, st.binary(max_size=60))


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(stream=_raw_streams, points=st.lists(st.integers(min_value=0, max_value=200), max_size=8))
def test_any_chunking_matches_one_shot_and_reference(stream: bytes, points: list[int]) -> None:
    """Any chunking of any byte stream gives what one-shot decoding and the spec model give."""
    points = [p % (len(stream) + 1) for p in points]
    one_shot = run([stream])
    assert one_shot == reference(stream)
    assert run(split_at(stream, points)) == one_shot


@settings(max_examples=150, deadline=None)
@given(lines=_lines.map(lambda ls: [*ls, ""]))
def test_lf_cr_crlf_are_equivalent(lines: list[str]) -> None:
    """A stream gives the same events whether its lines end in LF, CR, CRLF or a mix."""
    expected = run([_join(lines, ["\n"])])
    for ends in (["\r"], ["\r\n"], ["\n", "\r", "\r\n"], ["\r\n", "\r"]):
        stream = _join(lines, ends)
        assert run([stream]) == expected
        assert run([stream[i : i + 1] for i in range(len(stream))]) == expected


@settings(max_examples=200, deadline=None)
@given(
    stream=_raw_streams,
    points=st.lists(st.integers(min_value=0, max_value=200), max_size=6),
    limit=st.integers(min_value=1, max_value=40),
)
def test_size_limit_is_chunking_independent(stream: bytes, points: list[int], limit: int) -> None:
    """With a small bound, the events delivered and whether the bound trips do not depend on chunking."""
    points = [p % (len(stream) + 1) for p in points]
    one_shot = run_limited([stream], limit)
    assert run_limited(split_at(stream, points), limit) == one_shot
    assert run_limited([stream[i : i + 1] for i in range(len(stream))], limit) == one_shot


# ---------------------------------------------------------------------------------------------
# Line ends, BOM and UTF-8
# ---------------------------------------------------------------------------------------------


def test_crlf_split_across_chunks_is_one_line_end() -> None:
    """A chunk ending in CR followed by one starting with LF makes one line end, not two."""
    events, _ = run([b"data: a\r", b"\ndata: b\r", b"\n\r", b"\n"])
    assert events == [E(data="a\nb")]


def test_lone_cr_ends_a_line() -> None:
    """CR alone ends a line, also when the next chunk starts with something other than LF."""
    assert run([b"data: a\r", b"\r", b"data: b\r\r"]) == ([E(data="a"), E(data="b")], None)


def test_bom_is_dropped_at_stream_start() -> None:
    """A leading UTF-8 BOM is not part of the first field name."""
    assert run([BOM + b"data: x\n\n"]) == ([E(data="x")], None)


def test_bom_split_across_chunks_is_dropped() -> None:
    """A leading BOM cut into pieces is still recognised."""
    assert run([b"\xef", b"\xbb", b"\xbfdata: x\n\n"]) == ([E(data="x")], None)


def test_only_one_bom_is_dropped() -> None:
    """A second BOM stays, so the field name becomes '\\ufeffdata' and is ignored."""
    assert run([BOM + BOM + b"data: x\n\n"]) == ([], None)


def test_bom_later_in_stream_is_kept() -> None:
    """A BOM after the stream start is ordinary data (and a BOM-like field name is unknown)."""
    events, _ = run([b"data: a\n\n", BOM + b"data: b\n\ndata: " + BOM + b"c\n\n"])
    assert events == [E(data="a"), E(data="\ufeffc")]


def test_partial_bom_alone_at_end_gives_nothing() -> None:
    """A stream that is just the start of a BOM ends with nothing pending."""
    assert run([b"\xef\xbb"]) == ([], None)


def test_utf8_sequence_split_across_chunks() -> None:
    """A multi-byte UTF-8 character cut across chunks decodes whole."""
    raw = "data: €😀\n\n".encode()
    for i in range(7, 14):
        assert run([raw[:i], raw[i:]])[0] == [E(data="€😀")]


def test_invalid_utf8_becomes_replacement_character() -> None:
    """Invalid UTF-8 decodes to U+FFFD instead of raising."""
    assert run([b"data: a\xffb\xe2\x82\n\n"])[0] == [E(data="a\ufffdb\ufffd")]


# ---------------------------------------------------------------------------------------------
# Fields
# ---------------------------------------------------------------------------------------------


def test_comments_are_ignored() -> None:
    """Lines starting with a colon are comments, wherever they appear."""
    assert run([b": hello\ndata: a\n:data: b\n:\n\n"]) == ([E(data="a")], None)


def test_only_one_leading_space_is_stripped() -> None:
    """One space after the colon is dropped; further spaces and colons stay in the value."""
    assert run([b"data:  a: b \n\n"])[0] == [E(data=" a: b ")]


def test_field_without_colon_has_empty_value() -> None:
    """A line that is only a field name sets that field to the empty string."""
    assert run([b"data\n\n"])[0] == [E(data="")]


def test_empty_data_field_dispatches_empty_event() -> None:
    """'data:' with no value still makes the data buffer non-empty, so an event fires."""
    assert run([b"data:\n\n"])[0] == [E(data="")]


def test_multiline_data_is_joined_with_lf() -> None:
    """Several data lines in one block join with a single LF between them."""
    assert run([b"data: a\ndata:\ndata: c\n\n"])[0] == [E(data="a\n\nc")]


def test_unknown_and_wrong_case_fields_are_ignored() -> None:
    """Unknown field names, including differently cased known ones, are ignored."""
    assert run([b"Data: a\nDATA: b\nfoo: c\n\n"]) == ([], None)


def test_event_only_block_dispatches_nothing_and_does_not_leak() -> None:
    """An event: field without data fires nothing, and its type does not carry to the next block."""
    assert run([b"event: ping\n\ndata: x\n\n"])[0] == [E("message", "x")]


def test_empty_event_field_means_message() -> None:
    """An empty event type falls back to 'message'."""
    assert run([b"event:\ndata: x\n\n"])[0] == [E("message", "x")]


def test_id_with_nul_is_ignored() -> None:
    """An id value containing NUL leaves the last event id unchanged."""
    events, _ = run([b"id: 1\ndata: a\n\nid: 2\x003\ndata: b\n\n"])
    assert events == [E(data="a", id="1"), E(data="b", id="1")]


def test_id_persists_and_is_none_until_set() -> None:
    """The last event id is None before any id field and carries over to later events."""
    events, _ = run([b"data: a\n\nid: 5\n\ndata: b\n\nid\ndata: c\n\n"])
    assert [e.id for e in events] == [None, "5", ""]


def test_retry_applies_to_its_block_only() -> None:
    """retry is reported on the event of the block that set it, not on later events."""
    events, _ = run([b"retry: 250\ndata: a\n\ndata: b\n\n"])
    assert [e.retry for e in events] == [250, None]


@pytest.mark.parametrize(
    "value", [b"1a", b"-1", b"+1", b"", b" 1", b"1.5", "\u0661\u0662".encode(), "\uff11".encode()]
)
def test_retry_must_be_ascii_digits(value: bytes) -> None:
    """A retry value that is not all ASCII digits is ignored."""
    assert run([b"retry: " + value + b"\ndata: x\n\n"])[0] == [E(data="x")]


def test_retry_too_long_for_int_is_ignored() -> None:
    """A retry of more digits than int() accepts is ignored instead of raising."""
    assert run([b"retry: " + b"9" * 5000 + b"\ndata: x\n\n"])[0] == [E(data="x")]


# ---------------------------------------------------------------------------------------------
# flush()
# ---------------------------------------------------------------------------------------------


def test_flush_after_terminated_stream_returns_none() -> None:
    """A stream that ends on an event boundary leaves nothing to flush."""
    assert run([b"data: a\n\n"]) == ([E(data="a")], None)


def test_flush_returns_block_missing_blank_line() -> None:
    """A final block whose lines ended but no blank line followed is returned by flush()."""
    assert run([b"data: a\n\ndata: b\n"]) == ([E(data="a")], E(data="b"))


def test_flush_includes_final_line_without_terminator() -> None:
    """A final line with no line end is processed into the flushed event."""
    assert run([b"id: 3\ndata: a\ndata: b"]) == ([], E(data="a\nb", id="3"))


def test_flush_of_empty_input_returns_none() -> None:
    """No input at all flushes to None."""
    assert SSEDecoder().flush() is None


@pytest.mark.parametrize(
    "tail", [b": comment", b": comment\n", b"unknown: x\n", b"id: 1\x00\n", b"retry: x\n"]
)
def test_flush_ignores_block_without_fields(tail: bytes) -> None:
    """A pending block of comments, unknown or invalid fields flushes to None."""
    assert run([b"data: a\n\n" + tail]) == ([E(data="a")], None)


def test_flush_reports_event_only_block() -> None:
    """A pending block with only an event field is reported (it shows the stream was cut)."""
    assert run([b"event: done\n"]) == ([], E("done", ""))


def test_flush_resets_the_decoder() -> None:
    """After flush() the decoder starts afresh: no last id, no buffered line, BOM allowed again."""
    decoder = SSEDecoder()
    decoder.decode(b"id: 9\ndata: partial")
    assert decoder.flush() == E(data="partial", id="9")
    assert decoder.decode(BOM + b"data: new\n\n") == [E(data="new")]
    assert decoder.flush() is None


# ---------------------------------------------------------------------------------------------
# Size bound
# ---------------------------------------------------------------------------------------------


def _feed_until_error(decoder: SSEDecoder, chunk: bytes, times: int) -> int:
    """Feed ``chunk`` up to ``times`` times; return how many calls succeeded before an error."""
    for done in range(times):
        try:
            decoder.decode(chunk)
        except SSEDecodeError:
            return done
    return times


def test_endless_line_raises_before_buffering_past_limit() -> None:
    """A line that never ends raises as soon as the buffered bytes pass the bound."""
    decoder = SSEDecoder(max_event_bytes=100)
    decoder.decode(b"data: ")
    # 6 + 9 * 10 = 96 bytes are accepted; the 10th chunk takes it to 106 and raises.
    assert _feed_until_error(decoder, b"x" * 10, 1000) == 9
    with pytest.raises(SSEDecodeError, match="max_event_bytes=100") as info:
        decoder.decode(b"x")
    assert info.value.limit == 100


def test_many_small_lines_in_one_block_raise() -> None:
    """A block made of many short lines is bounded as a whole."""
    decoder = SSEDecoder(max_event_bytes=1000)
    # Each line counts 16 bytes: 62 lines (992 bytes) fit, the 63rd does not.
    assert _feed_until_error(decoder, b"data: 0123456789\n", 1000) == 62


def test_event_exactly_at_limit_is_accepted() -> None:
    """An event whose lines total exactly max_event_bytes is decoded."""
    line = b"data: " + b"x" * 94  # 100 bytes
    assert run([line + b"\n\n"], max_event_bytes=100)[0] == [E(data="x" * 94)]
    with pytest.raises(SSEDecodeError):
        run([line + b"x\n\n"], max_event_bytes=100)


def test_limit_is_per_event_not_per_stream() -> None:
    """Many events each under the bound never trip it."""
    events, _ = run([b"data: 0123456789\n\n" * 1000], max_event_bytes=20)
    assert len(events) == 1000


def test_events_before_oversized_one_are_delivered_then_error() -> None:
    """Events completed in the same chunk as the oversized block come first; the error follows."""
    decoder = SSEDecoder(max_event_bytes=50)
    assert decoder.decode(b"data: a\n\ndata: " + b"x" * 60) == [E(data="a")]
    with pytest.raises(SSEDecodeError):
        decoder.decode(b"more\n\n")
    with pytest.raises(SSEDecodeError):
        decoder.decode(b"data: b\n\n")  # a failed decoder stays failed...
    with pytest.raises(SSEDecodeError):
        decoder.flush()  # ...until flush(), which raises and resets
    assert decoder.decode(b"data: b\n\n") == [E(data="b")]


@pytest.mark.parametrize("bad", [0, -1, True, 1.5, "10"])
def test_max_event_bytes_must_be_positive_int(bad: object) -> None:
    """A max_event_bytes that is not a positive int is refused."""
    with pytest.raises(ValueError, match="max_event_bytes"):
        SSEDecoder(max_event_bytes=bad)  # type: ignore[arg-type]


# ---------------------------------------------------------------------------------------------
# ServerSentEvent
# ---------------------------------------------------------------------------------------------


def test_event_defaults_equality_hash_and_repr() -> None:
    """ServerSentEvent defaults to a 'message' event and compares, hashes and prints by value."""
    event = E(data="x")
    assert (event.event, event.data, event.id, event.retry) == ("message", "x", None, None)
    assert event == E("message", "x", None, None)
    assert event != E("message", "x", "", None)
    assert event != ("message", "x", None, None)
    assert hash(event) == hash(E(data="x"))
    assert repr(event) == "ServerSentEvent(event='message', data='x', id=None, retry=None)"


def test_event_has_no_instance_dict() -> None:
    """ServerSentEvent is slotted: unknown attributes cannot be added."""
    with pytest.raises(AttributeError):
        E().extra = 1  # type: ignore[attr-defined]


def test_module_all() -> None:
    """The module exports exactly its three public names."""
    assert _sse.__all__ == ["SSEDecodeError", "SSEDecoder", "ServerSentEvent"]
