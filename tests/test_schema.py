"""Strict JSON schemas from attrs classes (`_schema.py`), and the checker that reads them."""

from __future__ import annotations

import enum
import json
from collections.abc import Iterator, Mapping
from typing import Any, Literal

import attrs
import pytest
from hypothesis import given
from hypothesis import strategies as st

from aiohelicone import InvalidInputError
from aiohelicone._converter import get_converter
from aiohelicone._schema import (
    SchemaError,
    SchemaMismatch,
    check,
    function_tool_for,
    json_schema_for,
    response_format_for,
)


class Color(enum.Enum):
    """A colour."""

    RED = "red"
    BLUE = "blue"


class Priority(enum.IntEnum):
    LOW = 1
    HIGH = 2


@attrs.frozen
class Line:
    """One line of an invoice.

    Attributes:
        sku: the product code.
    """

    sku: str
    qty: int
    price: float = attrs.field(metadata={"description": "unit price in euros"})


@attrs.frozen
class Invoice:
    """An invoice."""

    number: str
    paid: bool
    lines: list[Line]
    color: Color
    priority: Priority
    kind: Literal["sale", "refund"]
    note: str | None
    best: Line | None
    first: Line = attrs.field(metadata={"description": "the first line"})
    tags: list[str] = attrs.Factory(list)


@attrs.frozen
class Node:
    name: str
    children: list[Node]


@attrs.frozen
class Forest:
    trees: list[Node]


@attrs.frozen
class WithDict:
    tags: dict[str, int]


@attrs.frozen
class Outer:
    inner: list[WithDict]


@attrs.frozen
class WithUnion:
    value: int | str


@attrs.frozen
class WithAny:
    value: Any


def _objects(schema: Any) -> Iterator[Mapping[str, Any]]:
    if isinstance(schema, dict):
        if schema.get("type") == "object":
            yield schema
        for value in schema.values():
            yield from _objects(value)
    elif isinstance(schema, list):
        for value in schema:
            yield from _objects(value)


def test_nested_list_optional_enum_literal_schema() -> None:
    """Each kind of field maps to the strict-mode construct for it."""
    schema = json_schema_for(Invoice)
    props = schema["properties"]
    assert schema["type"] == "object" and schema["description"] == "An invoice."
    assert props["number"] == {"type": "string"}
    assert props["paid"] == {"type": "boolean"}
    assert props["lines"] == {"type": "array", "items": {"$ref": "#/$defs/Line"}}
    assert props["color"] == {"type": "string", "enum": ["red", "blue"], "description": "A colour."}
    assert props["priority"] == {"type": "integer", "enum": [1, 2]}
    assert props["kind"] == {"type": "string", "enum": ["sale", "refund"]}
    assert props["note"] == {"anyOf": [{"type": "string"}, {"type": "null"}]}
    assert props["best"] == {"anyOf": [{"$ref": "#/$defs/Line"}, {"type": "null"}]}
    assert props["tags"] == {"type": "array", "items": {"type": "string"}}
    line = schema["$defs"]["Line"]
    assert line["properties"] == {
        "sku": {"type": "string", "description": "the product code."},
        "qty": {"type": "integer"},
        "price": {"type": "number", "description": "unit price in euros"},
    }
    # A description next to a $ref is not allowed in strict mode: the definition is inlined.
    assert props["first"] == {**line, "description": "the first line"}


@pytest.mark.parametrize("cls", [Invoice, Node, Forest, Line])
def test_every_object_is_strict(cls: type) -> None:
    """All properties required, no additional properties, in every object of the schema."""
    objects = list(_objects(json_schema_for(cls)))
    assert objects
    for obj in objects:
        assert obj["required"] == list(obj["properties"])
        assert obj["additionalProperties"] is False


def test_recursive_classes_use_refs() -> None:
    """The root refers to itself with '#', a nested recursive class with its $defs entry."""
    assert json_schema_for(Node)["properties"]["children"]["items"] == {"$ref": "#"}
    forest = json_schema_for(Forest)
    assert forest["properties"]["trees"]["items"] == {"$ref": "#/$defs/Node"}
    node = forest["$defs"]["Node"]
    assert node["properties"]["children"]["items"] == {"$ref": "#/$defs/Node"}


@pytest.mark.parametrize(
    ("cls", "field", "words"),
    [
        (WithDict, "WithDict.tags", "free-form"),
        (Outer, "WithDict.tags", "free-form"),
        (WithUnion, "WithUnion.value", "T | None"),
        (WithAny, "WithAny.value", "free-form"),
    ],
)
def test_refused_types_name_the_field(cls: type, field: str, words: str) -> None:
    """dict, Any and general unions are refused with a typed error naming the field."""
    with pytest.raises(SchemaError) as caught:
        json_schema_for(cls)
    assert caught.value.field == field
    assert words in caught.value.problem
    assert isinstance(caught.value, InvalidInputError)


def test_a_non_attrs_root_is_refused() -> None:
    """Only attrs classes describe a structured output."""
    with pytest.raises(SchemaError, match="attrs class"):
        json_schema_for(dict)


def test_response_format_and_tool_bodies() -> None:
    """The request bodies wrap the schema with its name and strict: true."""
    body = response_format_for(Line, description="a line")
    assert body == {
        "type": "json_schema",
        "json_schema": {
            "name": "Line",
            "description": "a line",
            "schema": json_schema_for(Line),
            "strict": True,
        },
    }
    tool = function_tool_for(Line, name="add_line")
    assert tool == {
        "type": "function",
        "function": {
            "name": "add_line",
            "description": "One line of an invoice.",
            "parameters": json_schema_for(Line),
            "strict": True,
        },
    }
    with pytest.raises(InvalidInputError) as caught:
        response_format_for(Line, name="not ok!")
    assert caught.value.field == "name"


def test_schemas_are_copies() -> None:
    """Changing a returned schema does not change the next one."""
    json_schema_for(Line)["properties"].clear()
    assert json_schema_for(Line)["properties"]


@pytest.mark.parametrize(
    ("value", "path", "words"),
    [
        ({"sku": "a", "qty": "2", "price": 1.0}, "qty", "expected integer, got string"),
        ({"sku": "a", "qty": True, "price": 1.0}, "qty", "got boolean"),
        ({"sku": "a", "qty": 2}, "price", "missing"),
        ({"sku": "a", "qty": 2, "price": 1, "x": 0}, "", "unexpected key"),
        ([], "", "expected object"),
    ],
)
def test_check_reports_the_path(value: object, path: str, words: str) -> None:
    """A value off the schema is located by its path."""
    with pytest.raises(SchemaMismatch) as caught:
        check(value, json_schema_for(Line))
    assert caught.value.path == path
    assert words in caught.value.problem


def test_check_goes_through_refs_and_any_of() -> None:
    """Nested refs and optional branches are followed; the deepest problem is reported."""
    schema = json_schema_for(Forest)
    check({"trees": [{"name": "a", "children": [{"name": "b", "children": []}]}]}, schema)
    with pytest.raises(SchemaMismatch) as caught:
        check({"trees": [{"name": "a", "children": [{"name": 3, "children": []}]}]}, schema)
    assert caught.value.path == "trees[0].children[0].name"


_text = st.text(max_size=8)
_line = st.builds(
    Line, sku=_text, qty=st.integers(-1000, 1000), price=st.floats(allow_nan=False, width=32)
)
_invoice = st.builds(
    Invoice,
    number=_text,
    paid=st.booleans(),
    lines=st.lists(_line, max_size=3),
    color=st.sampled_from(Color),
    priority=st.sampled_from(Priority),
    kind=st.sampled_from(["sale", "refund"]),
    note=st.none() | _text,
    best=st.none() | _line,
    first=_line,
    tags=st.lists(_text, max_size=3),
)


@given(_invoice.filter(lambda i: all(abs(x.price) < 1e30 for x in [i.first, *i.lines])))
def test_every_instance_fits_its_schema_and_round_trips(invoice: Invoice) -> None:
    """Property: any instance, as JSON, passes check() and structures back to itself."""
    conv = get_converter()
    data = json.loads(json.dumps(conv.unstructure(invoice)))
    check(data, json_schema_for(Invoice))
    assert conv.structure(data, Invoice) == invoice


@attrs.frozen
class Mixed:
    flag: Literal[True]
    level: Literal["low", 2] | None
    pair: tuple[int, ...]


def test_literals_and_tuples() -> None:
    """Bool and mixed literals become typed enums; tuple[T, ...] is an array."""
    props = json_schema_for(Mixed)["properties"]
    assert props["flag"] == {"type": "boolean", "enum": [True]}
    assert props["level"] == {
        "anyOf": [
            {"type": "string", "enum": ["low"]},
            {"type": "integer", "enum": [2]},
            {"type": "null"},
        ]
    }
    assert props["pair"] == {"type": "array", "items": {"type": "integer"}}


def test_same_class_names_get_distinct_defs() -> None:
    """Two nested classes named alike do not overwrite each other in $defs."""
    first = attrs.make_class("Part", {"a": attrs.field(type=str)})
    second = attrs.make_class("Part", {"b": attrs.field(type=int)})
    both = attrs.make_class("Both", {"x": attrs.field(type=first), "y": attrs.field(type=second)})
    schema = json_schema_for(both)
    assert set(schema["$defs"]) == {"Part", "Part_2"}
    assert schema["properties"]["y"] == {"$ref": "#/$defs/Part_2"}


class Mess(enum.Enum):
    A = "a"
    B = 2


@attrs.frozen
class WithMess:
    value: Mess


@attrs.frozen
class WithBareList:
    value: list  # type: ignore[type-arg]


def test_more_refusals() -> None:
    """Enums of mixed value types and item-less lists are refused with the field named."""
    with pytest.raises(SchemaError, match="all str or all int") as caught:
        json_schema_for(WithMess)
    assert caught.value.field == "WithMess.value"
    with pytest.raises(SchemaError, match="list"):
        json_schema_for(WithBareList)


def test_an_unresolvable_annotation_is_a_schema_error() -> None:
    """A class whose annotations name something unknown fails with a SchemaError."""

    @attrs.frozen
    class Local:
        other: Unknown  # type: ignore[name-defined]  # noqa: F821

    with pytest.raises(SchemaError, match="does not resolve"):
        json_schema_for(Local)
