"""The hot-path JSON decoder: orjson with a standard-library fallback reads what json reads."""

from __future__ import annotations

import json
import sys
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from aiohelicone import _json
from aiohelicone._json import Loads, loads_function

FAST = _json._resolve()

JSON_VALUES = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**63), max_value=2**64 - 1)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(),
    lambda children: st.lists(children) | st.dictionaries(st.text(), children),
    max_leaves=30,
)


def test_orjson_is_used_when_installed() -> None:
    """With the fast extra installed (the test extra has it), the fast decoder is chosen."""
    pytest.importorskip("orjson")
    assert FAST is not json.loads
    assert loads_function() is not json.loads


def test_without_orjson_the_standard_library_is_used(monkeypatch: pytest.MonkeyPatch) -> None:
    """When orjson cannot be imported, json.loads is the decoder."""
    monkeypatch.setitem(sys.modules, "orjson", None)  # makes `import orjson` fail
    assert _json._resolve() is json.loads


@given(JSON_VALUES)
def test_fast_decoder_reads_every_document_as_json_does(value: Any) -> None:
    """For any JSON document, the fast decoder's result equals json.loads's."""
    text = json.dumps(value)
    assert FAST(text) == json.loads(text)
    assert FAST(text.encode()) == json.loads(text)


@pytest.mark.parametrize(
    "text",
    [
        '{"x": NaN}',
        '{"x": -Infinity}',
        '{"content": "\\ud83d"}',  # a lone surrogate, as a model may emit mid-emoji
    ],
)
def test_text_only_json_accepts_is_still_read(text: str) -> None:
    """Documents orjson refuses but json accepts decode to json's result."""
    expected = json.loads(text)
    result = FAST(text)
    assert repr(result) == repr(expected)  # repr: NaN != NaN


def test_integers_beyond_64_bits_are_the_one_difference() -> None:
    """orjson reads integers outside [-2**63, 2**64) as floats (documented in _json.py)."""
    pytest.importorskip("orjson")
    assert FAST(str(2**64 - 1)) == 2**64 - 1
    assert FAST(str(-(2**63))) == -(2**63)
    assert isinstance(FAST(str(2**64)), float)
    assert json.loads(str(2**64)) == 2**64


@pytest.mark.parametrize("decoder", [json.loads, FAST], ids=["stdlib", "fast"])
@pytest.mark.parametrize("text", ["", "{", '{"a": 1,}', "data: {}", "\x00"])
def test_invalid_json_raises_value_error(decoder: Loads, text: str) -> None:
    """Text that is not JSON raises a ValueError (json's JSONDecodeError) from either decoder."""
    with pytest.raises(json.JSONDecodeError):
        decoder(text)
