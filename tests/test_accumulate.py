"""The chat accumulator's handling of reasoning, reasoning blocks and images (pure)."""

from __future__ import annotations

from typing import Any

from aiohelicone import ChatCompletion, ChatCompletionChunk
from aiohelicone._accumulate import ChatCompletionAccumulator, completion_as_chunk, has_content
from aiohelicone._converter import structure, unstructure


def chunk(delta: dict[str, Any], finish: str | None = None) -> ChatCompletionChunk:
    return structure(
        {
            "id": "c",
            "object": "chat.completion.chunk",
            "created": 1,
            "model": "m",
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
        },
        ChatCompletionChunk,
    )


def accumulate(*deltas: dict[str, Any]) -> ChatCompletion:
    acc = ChatCompletionAccumulator()
    for delta in deltas:
        acc.add(chunk(delta))
    acc.add(chunk({}, "stop"))
    return acc.result()


def test_indexed_blocks_merge_and_whole_blocks_append() -> None:
    """Fragments sharing an index join their texts; blocks without an index stay apart."""
    result = accumulate(
        {
            "reasoning": "Let me ",
            "reasoning_details": [{"type": "reasoning.text", "text": "Let me ", "index": 0}],
        },
        {"reasoning_details": [{"type": "reasoning.encrypted", "data": "QUJ", "index": 1}]},
        {
            "reasoning": "think",
            "reasoning_details": [{"text": "think", "index": 0, "signature": "s1", "x": 1}],
        },
        {"reasoning_details": [{"data": "D", "index": 1, "format": "anthropic-v1"}]},
        {"content": "42"},
        {
            "reasoning_details": [
                {"thinking": "a", "signature": "b"},
                {"thinking": "c", "signature": "d"},
            ]
        },
    )
    message = result.choices[0].message
    assert message.reasoning == "Let me think"
    assert message.content == "42"
    details = [unstructure(d) for d in message.reasoning_details or ()]
    assert details == [
        {"type": "reasoning.text", "text": "Let me think", "index": 0, "signature": "s1", "x": 1},
        {"type": "reasoning.encrypted", "data": "QUJD", "index": 1, "format": "anthropic-v1"},
        {"thinking": "a", "signature": "b"},
        {"thinking": "c", "signature": "d"},
    ]


def test_images_are_appended_in_order() -> None:
    """Each images delta carries whole images; they are kept in arrival order."""
    one = {"type": "image_url", "image_url": {"url": "data:image/png;base64,AA"}}
    two = {"type": "image_url", "image_url": {"url": "data:image/png;base64,BB"}}
    result = accumulate({"content": "Here"}, {"images": [one]}, {"images": [two]})
    images = result.choices[0].message.images or []
    assert [i.image_url.url for i in images if i.image_url] == [
        "data:image/png;base64,AA",
        "data:image/png;base64,BB",
    ]


def test_reasoning_only_chunks_count_as_content() -> None:
    """A chunk with only reasoning or an image is content (stream read-ahead relies on it)."""
    assert has_content(chunk({"reasoning": "hm"}))
    assert has_content(chunk({"reasoning_details": [{"thinking": "x"}]}))
    assert has_content(chunk({"images": [{"type": "image_url", "image_url": {"url": "u"}}]}))
    assert not has_content(chunk({"role": "assistant"}))


def test_a_whole_completion_as_one_chunk_accumulates_to_itself() -> None:
    """completion_as_chunk keeps reasoning, blocks and images."""
    completion = structure(
        {
            "id": "c",
            "object": "chat.completion",
            "created": 1,
            "model": "m",
            "choices": [
                {
                    "index": 0,
                    "finish_reason": "stop",
                    "message": {
                        "role": "assistant",
                        "content": "hi",
                        "reasoning": "r",
                        "reasoning_details": [{"type": "reasoning.text", "text": "r", "index": 0}],
                        "images": [{"type": "image_url", "image_url": {"url": "u"}}],
                    },
                }
            ],
        },
        ChatCompletion,
    )
    acc = ChatCompletionAccumulator()
    acc.add(completion_as_chunk(completion))
    assert acc.result() == completion
