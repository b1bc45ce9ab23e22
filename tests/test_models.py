"""Structuring and unstructuring of response models (no event loop needed)."""

from __future__ import annotations

import base64
import copy
import struct
from typing import Any

import attrs
import pytest
from hypothesis import given
from hypothesis import strategies as st

from aiohelicone import (
    ChatCompletion,
    ChatCompletionChunk,
    Completion,
    CreateEmbeddingResponse,
    ModelList,
)
from aiohelicone._converter import (
    ShapeError,
    _builder_twin,
    _HookBuilder,
    structure,
    unstructure,
)
from aiohelicone._models import ChoiceDelta, ChunkChoice, PromptTokensDetails, Usage

DELTA_FIELDS = ("role", "content", "refusal", "tool_calls", "function_call")

CHAT: dict[str, Any] = {
    "id": "chatcmpl-123",
    "object": "chat.completion",
    "created": 1_700_000_000,
    "model": "gpt-4o-mini-2024-07-18",
    "choices": [
        {
            "index": 0,
            "message": {
                "role": "assistant",
                "content": None,
                "refusal": None,
                "tool_calls": [
                    {
                        "id": "call_1",
                        "type": "function",
                        "function": {"name": "get_weather", "arguments": '{"city":"Paris"}'},
                    }
                ],
                "annotations": [],
            },
            "logprobs": None,
            "finish_reason": "tool_calls",
        }
    ],
    "usage": {
        "prompt_tokens": 10,
        "completion_tokens": 5,
        "total_tokens": 15,
        "prompt_tokens_details": {"cached_tokens": 0, "audio_tokens": 0},
        "completion_tokens_details": {
            "reasoning_tokens": 0,
            "audio_tokens": 0,
            "accepted_prediction_tokens": 0,
            "rejected_prediction_tokens": 0,
        },
    },
    "service_tier": "default",
    "system_fingerprint": "fp_1",
}

CHUNK: dict[str, Any] = {
    "id": "chatcmpl-1",
    "object": "chat.completion.chunk",
    "created": 1,
    "model": "gpt-4o-mini",
    "choices": [{"index": 0, "delta": {"content": "Hel"}, "finish_reason": None}],
}


def test_chat_completion_round_trips_exactly() -> None:
    """unstructure(structure(json)) gives back the JSON that arrived, nulls and all."""
    completion = structure(CHAT, ChatCompletion)
    assert completion.choices[0].message.tool_calls is not None
    assert completion.choices[0].message.tool_calls[0].function.name == "get_weather"
    assert completion.usage is not None and completion.usage.total_tokens == 15
    assert unstructure(completion) == CHAT


def test_unknown_keys_are_kept_and_reachable() -> None:
    """Keys the model does not name land in `extra` at every level and are written back."""
    data = copy.deepcopy(CHAT)
    data["brand_new"] = {"x": 1}
    data["choices"][0]["message"]["thoughts"] = "thought"
    completion = structure(data, ChatCompletion)
    assert completion.extra == {"brand_new": {"x": 1}}
    assert completion.choices[0].message.extra["thoughts"] == "thought"
    assert completion.choices[0].message.extra["annotations"] == []
    assert unstructure(completion) == data


def test_absent_and_null_fields_stay_distinct() -> None:
    """An absent optional field is not written back as null, and a null one is."""
    chunk = structure(CHUNK, ChatCompletionChunk)
    out = unstructure(chunk)
    assert "usage" not in out
    assert "role" not in out["choices"][0]["delta"]
    assert out["choices"][0]["finish_reason"] is None
    assert out == CHUNK


def test_unknown_enum_values_are_tolerated() -> None:
    """A finish_reason or role this version does not know is kept as a string."""
    data = copy.deepcopy(CHUNK)
    data["choices"][0]["finish_reason"] = "brand_new_reason"
    data["choices"][0]["delta"]["role"] = "developer"
    chunk = structure(data, ChatCompletionChunk)
    assert chunk.choices[0].finish_reason == "brand_new_reason"
    assert chunk.choices[0].delta.role == "developer"


def test_models_are_frozen_and_slotted() -> None:
    """Response models cannot be mutated by accident."""
    completion = structure(CHAT, ChatCompletion)
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        completion.id = "other"  # type: ignore[misc]
    assert not hasattr(completion, "__dict__")


def test_structured_models_are_ordinary_instances() -> None:
    """Models built by the fast hooks are exact instances, equal to constructor-built ones."""
    chunk = structure(CHUNK, ChatCompletionChunk)
    assert type(chunk) is ChatCompletionChunk
    assert type(chunk.choices[0]) is ChunkChoice
    rebuilt = ChatCompletionChunk(
        id=chunk.id,
        choices=[
            ChunkChoice(
                index=0,
                delta=ChoiceDelta(**{f: getattr(chunk.choices[0].delta, f) for f in DELTA_FIELDS}),
                finish_reason=chunk.choices[0].finish_reason,
            )
        ],
        created=chunk.created,
        model=chunk.model,
        object=chunk.object,
    )
    assert chunk == rebuilt
    assert hash(chunk.choices[0].delta) == hash(rebuilt.choices[0].delta)
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        chunk.choices[0].delta.content = "x"  # type: ignore[misc]


@attrs.frozen
class _Base:
    name: str


@attrs.frozen
class _Derived(_Base):
    score: float | None = None
    extra: Any = attrs.field(default=None, kw_only=True, eq=False)
    missing: Any = attrs.field(default=None, kw_only=True, eq=False)


def test_hook_falls_back_when_no_twin_layout_exists() -> None:
    """A class a twin cannot mirror (here: a subclass) is still built by its hook."""
    assert _builder_twin(_Derived) is None
    assert _builder_twin(ChatCompletionChunk) is not None
    built = _HookBuilder().hook_for(_Derived)({"name": "a", "score": 2, "more": 1})
    assert built == _Derived("a", 2.0)
    assert type(built) is _Derived
    assert type(built.score) is float
    assert built.extra == {"more": 1}


def test_remembered_key_shapes_give_each_answer_its_own_extra_and_missing() -> None:
    """Answers with the same keys share a remembered shape but keep their own values."""
    first = structure({**CHUNK, "obfuscation": "abc"}, ChatCompletionChunk)
    second = structure({**CHUNK, "obfuscation": "xyz"}, ChatCompletionChunk)
    assert first.extra == {"obfuscation": "abc"}
    assert second.extra == {"obfuscation": "xyz"}
    assert "usage" in first.missing and "usage" in second.missing
    with_usage = structure({**CHUNK, "usage": None}, ChatCompletionChunk)
    assert "usage" not in with_usage.missing
    assert unstructure(with_usage) == {**CHUNK, "usage": None}


def test_the_shape_memory_is_bounded() -> None:
    """Many distinct key sets are all handled; only a bounded number is remembered."""
    hook = _HookBuilder().hook_for(PromptTokensDetails)
    for i in range(200):
        built = hook({"cached_tokens": i, f"new_{i}": i})
        assert built.extra == {f"new_{i}": i}
        assert built.missing == {"audio_tokens"}
    shapes = hook.__globals__["shapes"]
    assert 0 < len(shapes) <= 64


def test_numbers_are_checked_exactly() -> None:
    """A bool is not an int, an int is a float (converted), a float is not an int."""
    for bad, path in ((True, "created"), (1.5, "created")):
        with pytest.raises(ShapeError) as info:
            structure({**CHUNK, "created": bad}, ChatCompletionChunk)
        assert info.value.path == path
    usage = structure({"prompt_tokens": 1, "completion_tokens": 2, "total_tokens": 3}, Usage)
    assert usage.total_tokens == 3


@pytest.mark.parametrize(
    ("mutate", "path"),
    [
        (lambda d: d.update(choices="nope"), "choices"),
        (lambda d: d["choices"][0].update(index="0"), "choices[0].index"),
        (lambda d: d["choices"][0]["message"].update(content=5), "choices[0].message.content"),
        (lambda d: d.pop("id"), "id"),
        (lambda d: d["usage"].update(total_tokens=True), "usage.total_tokens"),
    ],
)
def test_wrong_shapes_raise_shape_error_with_path(mutate: Any, path: str) -> None:
    """A value of the wrong type raises ShapeError naming where it sits."""
    data = copy.deepcopy(CHAT)
    mutate(data)
    with pytest.raises(ShapeError) as info:
        structure(data, ChatCompletion)
    assert info.value.path == path


def test_non_object_root_is_a_shape_error() -> None:
    """A JSON list where an object is expected is refused clearly."""
    with pytest.raises(ShapeError, match="an object"):
        structure([1, 2], ChatCompletion)


def test_base64_embeddings_are_decoded_to_floats() -> None:
    """encoding_format=base64 answers become float lists (little-endian float32)."""
    vector = [0.5, -1.25, 3.0]
    encoded = base64.b64encode(struct.pack("<3f", *vector)).decode()
    data = {
        "object": "list",
        "data": [{"object": "embedding", "index": 0, "embedding": encoded}],
        "model": "text-embedding-3-small",
        "usage": {"prompt_tokens": 2, "total_tokens": 2},
    }
    response = structure(data, CreateEmbeddingResponse)
    assert response.data[0].embedding == vector


def test_float_embeddings_pass_through() -> None:
    """A float list stays as it is, ints become floats."""
    data = {"data": [{"index": 0, "embedding": [1, 0.5]}], "model": "m"}
    response = structure(data, CreateEmbeddingResponse)
    assert response.data[0].embedding == [1.0, 0.5]
    assert all(type(x) is float for x in response.data[0].embedding)


def test_bad_base64_embedding_is_a_shape_error() -> None:
    """Garbage in place of an embedding is refused with its path."""
    data = {"data": [{"index": 0, "embedding": "!!notbase64"}]}
    with pytest.raises(ShapeError) as info:
        structure(data, CreateEmbeddingResponse)
    assert info.value.path == "data[0].embedding"


def test_completion_and_model_list() -> None:
    """Text completions and model lists structure too."""
    completion = structure(
        {"id": "c", "object": "text_completion", "choices": [{"index": 0, "text": "x"}]},
        Completion,
    )
    assert completion.choices[0].text == "x"
    models = structure({"object": "list", "data": [{"id": "gpt-4o-mini"}]}, ModelList)
    assert models.data[0].id == "gpt-4o-mini"


_json_leaf = st.none() | st.booleans() | st.integers() | st.text(max_size=5)
_json = st.recursive(
    _json_leaf,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=4), inner),
    max_leaves=6,
)


@given(extras=st.dictionaries(st.text(min_size=1, max_size=8), _json, max_size=4))
def test_any_extra_keys_round_trip(extras: dict[str, Any]) -> None:
    """Whatever unknown keys a chunk carries, unstructuring gives back the same JSON."""
    data = copy.deepcopy(CHUNK)
    known = {f.name for f in attrs.fields(ChatCompletionChunk)}
    for key, value in extras.items():
        if key not in data and key not in known:  # e.g. "usage" is not an unknown key
            data[key] = value
    assert unstructure(structure(data, ChatCompletionChunk)) == data


def test_reasoning_and_images_are_typed_fields() -> None:
    """message.reasoning, reasoning_details (unknown keys kept) and images are typed."""
    data = copy.deepcopy(CHAT)
    message = data["choices"][0]["message"]
    message["reasoning"] = "thought"
    message["reasoning_details"] = [
        {"thinking": "thought", "signature": "c2ln"},
        {"type": "reasoning.text", "text": "t", "index": 0, "format": "unknown", "new": 1},
    ]
    message["images"] = [{"type": "image_url", "image_url": {"url": "data:image/png;base64,AA"}}]
    completion = structure(data, ChatCompletion)
    got = completion.choices[0].message
    assert got.reasoning == "thought"
    assert got.reasoning_details is not None
    assert (got.reasoning_details[0].thinking, got.reasoning_details[0].signature) == (
        "thought",
        "c2ln",
    )
    assert got.reasoning_details[1].type == "reasoning.text"
    assert got.reasoning_details[1].extra == {"new": 1}
    assert got.images is not None and got.images[0].image_url is not None
    assert got.images[0].image_url.url == "data:image/png;base64,AA"
    assert unstructure(completion) == data
