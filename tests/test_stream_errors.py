"""The errors a stream raises, built without I/O (``_stream_errors``)."""

from __future__ import annotations

from aiohelicone._exceptions import (
    APIConnectionError,
    APITimeoutError,
    ContentDecodingError,
    StreamDeadlineError,
    StreamFirstEventTimeoutError,
    StreamIdleTimeoutError,
    StreamTruncatedError,
)
from aiohelicone._metadata import HeliconeMetadata
from aiohelicone._stream_errors import decoding_cut, interrupted, read_error, truncated


def test_a_deadline_of_the_stream_is_the_total_or_the_first_event_one() -> None:
    """A TimeoutError past the total deadline is StreamDeadlineError, else first-event."""
    past = read_error(TimeoutError(), chunks=3, past_deadline=True, request_id="r")
    assert type(past) is StreamDeadlineError and past.request_id == "r"
    first = read_error(TimeoutError(), chunks=0, past_deadline=False, request_id="r")
    assert type(first) is StreamFirstEventTimeoutError


def test_a_read_timeout_is_first_event_before_any_chunk_and_idle_after() -> None:
    """The transport's read timeout means no first event at 0 chunks, an idle stream after."""
    timeout = APITimeoutError("read timed out")
    assert type(read_error(timeout, chunks=0, past_deadline=False, request_id=None)) is (
        StreamFirstEventTimeoutError
    )
    idle = read_error(timeout, chunks=4, past_deadline=False, request_id=None)
    assert type(idle) is StreamIdleTimeoutError and "after 4 chunks" in idle.message


def test_a_broken_connection_says_how_far_the_stream_got() -> None:
    """A connection error is re-raised as one naming the chunks read and the cause."""
    error = read_error(APIConnectionError("reset"), chunks=2, past_deadline=True, request_id=None)
    assert type(error) is APIConnectionError
    assert error.message == "The connection broke after 2 chunks: reset"


def test_cut_streams_carry_what_arrived() -> None:
    """A broken coding and a body cut before [DONE] are StreamTruncatedErrors with partial."""
    bad = ContentDecodingError("bad gzip", encoding="gzip", unsupported=False, status_code=200)
    cut = decoding_cut(bad, chunks=1, partial="so far", request_id=None)
    assert isinstance(cut, StreamTruncatedError) and cut.partial == "so far"
    assert "'gzip'" in cut.message
    early = truncated(chunks=5, partial="p", request_id="r")
    assert early.chunks == 5 and early.partial == "p" and "[DONE]" in early.message


def test_an_interrupted_stream_names_its_target_and_keeps_the_metadata() -> None:
    """After content, a failure names the serving target and carries .helicone."""
    meta = HeliconeMetadata(request_id="r")
    error = interrupted(
        APIConnectionError("reset"),
        target="a/openai",
        chunks=2,
        partial="p",
        request_id="r",
        helicone=meta,
    )
    assert error.target == "a/openai" and error.helicone is meta and error.partial == "p"
    assert "nothing was replayed" in error.message
