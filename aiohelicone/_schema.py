"""Layer 0 (core): JSON schemas for *strict* structured outputs, made from attrs classes (pure).

Strict mode (``"strict": true``) accepts a subset of JSON Schema, and this module produces
only that subset:

- every object lists all its properties in ``required`` and has
  ``additionalProperties: false``: a field with a default is still required (the model
  always sends it); make it ``T | None`` if the model may leave it out;
- the root is an object (an attrs class); nested attrs classes go to ``$defs`` and are
  referenced with ``$ref`` (``"#"`` for the root itself, so recursive classes work);
- ``T | None`` is ``anyOf: [T, {"type": "null"}]``; ``list[T]`` (also ``tuple[T, ...]``,
  ``Sequence[T]``) is an array; ``Literal[...]`` and ``enum.Enum`` classes with ``str`` or
  ``int`` values are ``enum``\\ s; ``str``, ``int``, ``float``, ``bool`` map to their JSON types;
- free-form objects (``dict``, ``Mapping``, ``Any``, ``object``) are refused, as strict mode
  refuses them, and so are unions other than ``T | None`` (the answer could not be
  structured back unambiguously), with a :class:`SchemaError` naming the field.

Descriptions: a class's docstring (first paragraph) describes its object, a field's
``metadata={"description": ...}`` or an ``Attributes:`` entry of the class docstring
describes the field. A field description next to a ``$ref`` is not allowed by strict mode,
so such a definition is inlined there.

:func:`check` validates a decoded answer against a schema made here (exact JSON types,
no unknown keys), so that ``_parse.py`` structures only what fits.
"""

from __future__ import annotations

import copy
import enum
import inspect
import re
import types
import typing
import weakref
from collections.abc import Mapping, Sequence
from typing import Any

import attrs

from ._exceptions import InvalidInputError

__all__ = [
    "SchemaError",
    "SchemaMismatch",
    "check",
    "function_tool_for",
    "json_schema_for",
    "response_format_for",
]

_NAME_RE = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
_PRIMITIVES: dict[Any, str] = {str: "string", int: "integer", float: "number", bool: "boolean"}
_FREE_FORM = "free-form objects are not allowed in strict structured outputs"


class SchemaError(InvalidInputError):
    """A class cannot be described by a strict JSON schema.

    Attributes:
        field: where the offending type sits, e.g. ``Invoice.lines[].tags``.
        problem: what is wrong and what to use instead.
    """


class SchemaMismatch(ValueError):
    """A JSON value does not follow a schema.

    Attributes:
        path: where the value sits (``lines[0].price``; empty for the root).
        problem: what was wrong.
    """

    def __init__(self, path: str, problem: str) -> None:
        self.path = path
        self.problem = problem
        super().__init__(f"{path or '<root>'}: {problem}")


# -- generation ------------------------------------------------------------------------------


def _own_doc(cls: type) -> str:
    # The class's own docstring only: not one inherited (e.g. enum.Enum's).
    doc = cls.__dict__.get("__doc__")
    return inspect.cleandoc(doc) if isinstance(doc, str) else ""


def _attribute_docs(cls: type) -> dict[str, str]:
    """``name: text`` entries of the ``Attributes:`` section of a Google-style docstring."""
    doc = _own_doc(cls)
    found: dict[str, str] = {}
    section = False
    current: str | None = None
    for line in doc.splitlines():
        stripped = line.strip()
        if not line.startswith(" ") and stripped.endswith(":"):
            section = stripped == "Attributes:"
            current = None
            continue
        if not section or not stripped:
            continue
        match = re.match(r"^\s{2,8}(\w+)(?: \([^)]*\))?:\s*(.*)$", line)
        if match and match.group(1) in {f.name for f in attrs.fields(cls)}:
            current = match.group(1)
            found[current] = match.group(2)
        elif current is not None:
            found[current] += " " + stripped
    return found


def _class_description(cls: type) -> str | None:
    doc = _own_doc(cls)
    if not doc:
        return None
    return doc.split("\n\n", 1)[0].replace("\n", " ").strip() or None


class _Builder:
    def __init__(self, root: type) -> None:
        self.root = root
        self.defs: dict[str, dict[str, Any]] = {}
        self.names: dict[type, str] = {}
        # ($ref nodes that need a description) -> filled in once every definition is built
        self.described: list[tuple[dict[str, Any], str]] = []

    def build(self) -> dict[str, Any]:
        schema = self.object(self.root, self.root.__name__)
        for node, text in self.described:
            ref = node["$ref"]
            if ref == "#":
                continue  # cannot inline the root into itself; the root has its own text
            node.clear()
            node.update(copy.deepcopy(self.defs[ref.rsplit("/", 1)[1]]))
            node["description"] = text
        if self.defs:
            schema["$defs"] = self.defs
        return schema

    def object(self, cls: type, path: str) -> dict[str, Any]:
        try:
            hints = typing.get_type_hints(cls)
        except NameError as exc:
            raise SchemaError(path, f"an annotation does not resolve ({exc})") from exc
        docs = _attribute_docs(cls)
        properties: dict[str, Any] = {}
        for field in attrs.fields(cls):
            if not field.init:
                continue
            schema = self.type(hints.get(field.name, Any), f"{path}.{field.name}")
            text = field.metadata.get("description", docs.get(field.name))
            if text:
                if "$ref" in schema:
                    self.described.append((schema, str(text)))
                else:
                    schema["description"] = str(text)
            properties[field.name] = schema
        out: dict[str, Any] = {
            "type": "object",
            "properties": properties,
            "required": list(properties),
            "additionalProperties": False,
        }
        description = _class_description(cls)
        if description:
            out["description"] = description
        return out

    def reference(self, cls: type, path: str) -> dict[str, Any]:
        if cls is self.root:
            return {"$ref": "#"}
        name = self.names.get(cls)
        if name is None:
            name = cls.__name__
            taken = set(self.defs)
            counter = 2
            while name in taken:
                name, counter = f"{cls.__name__}_{counter}", counter + 1
            self.names[cls] = name
            self.defs[name] = {}  # reserve the name: a recursive reference finds it
            self.defs[name] = self.object(cls, cls.__name__)
        return {"$ref": f"#/$defs/{name}"}

    def type(self, hint: Any, path: str) -> dict[str, Any]:
        origin = typing.get_origin(hint)
        args = typing.get_args(hint)
        if origin is typing.Annotated:
            return self.type(args[0], path)
        if hint in _PRIMITIVES:
            return {"type": _PRIMITIVES[hint]}
        if hint is type(None) or hint is None:
            return {"type": "null"}
        if origin is typing.Literal:
            return _literal(args, path)
        if isinstance(hint, type) and issubclass(hint, enum.Enum):
            return _enum(hint, path)
        if isinstance(hint, type) and attrs.has(hint):
            return self.reference(hint, path)
        if origin is typing.Union or origin is types.UnionType:
            return self.union(args, path)
        if origin in (list, Sequence) or (origin is tuple and len(args) == 2 and args[1] is ...):
            if not args:
                raise SchemaError(path, "a list needs an item type, e.g. list[str]")
            return {"type": "array", "items": self.type(args[0], f"{path}[]")}
        if origin in (dict, Mapping) or hint in (dict, Mapping, Any, object):
            raise SchemaError(
                path, f"{_type_name(hint)}: {_FREE_FORM}; describe the keys with an attrs class"
            )
        if hint in (list, tuple) or origin is tuple:
            raise SchemaError(path, f"{_type_name(hint)}: use list[T] or tuple[T, ...]")
        raise SchemaError(path, f"{_type_name(hint)} is not supported in a strict schema")

    def union(self, args: tuple[Any, ...], path: str) -> dict[str, Any]:
        present = [a for a in args if a is not type(None)]
        if len(present) != 1 or len(present) == len(args):
            names = " | ".join(_type_name(a) for a in args)
            raise SchemaError(
                path,
                f"{names}: only `T | None` unions are supported (the answer could not be "
                "structured back unambiguously); use a Literal, an enum or separate fields",
            )
        inner = self.type(present[0], path)
        branches = inner["anyOf"] if set(inner) == {"anyOf"} else [inner]
        return {"anyOf": [*branches, {"type": "null"}]}


def _type_name(hint: Any) -> str:
    if isinstance(hint, type) and not typing.get_args(hint):
        return hint.__qualname__
    return repr(hint).replace("typing.", "")


def _typed_enum(values: Sequence[Any], path: str, what: str) -> dict[str, Any]:
    kinds = {type(v) for v in values}
    if len(kinds) == 1 and (kind := next(iter(kinds))) in (str, int, bool):
        return {"type": _PRIMITIVES[kind], "enum": list(values)}
    if kinds <= {str, int, bool}:
        # Mixed kinds: one typed enum per kind.
        branches = []
        for kind in (str, int, bool):
            same = [v for v in values if type(v) is kind]
            if same:
                branches.append({"type": _PRIMITIVES[kind], "enum": same})
        return {"anyOf": branches}
    raise SchemaError(path, f"{what}: values must be str, int or bool")


def _literal(args: tuple[Any, ...], path: str) -> dict[str, Any]:
    values = [a.value if isinstance(a, enum.Enum) else a for a in args]
    if None in values:
        rest = [v for v in values if v is not None]
        schema = _typed_enum(rest, path, "Literal") if rest else None
        branches = [] if schema is None else schema.get("anyOf", [schema])
        return {"anyOf": [*branches, {"type": "null"}]}
    return _typed_enum(values, path, "Literal")


def _enum(cls: type[enum.Enum], path: str) -> dict[str, Any]:
    values = [member.value for member in cls]
    kinds = {type(v) for v in values}
    if not values or not (kinds <= {str} or kinds <= {int}):
        raise SchemaError(path, f"enum {cls.__qualname__}: values must be all str or all int")
    schema = _typed_enum(values, path, f"enum {cls.__qualname__}")
    description = _class_description(cls)
    if description:
        schema["description"] = description
    return schema


# Weak keys: classes made at run time (attrs.make_class) are not kept alive by their schema.
_CACHE: weakref.WeakKeyDictionary[type, dict[str, Any]] = weakref.WeakKeyDictionary()


def _schema_of(cls: type) -> dict[str, Any]:
    """The cached schema of ``cls`` (shared: never hand it out without copying)."""
    schema = _CACHE.get(cls)
    if schema is None:
        if not (isinstance(cls, type) and attrs.has(cls)):
            raise SchemaError(
                getattr(cls, "__qualname__", repr(cls)),
                "the root of a structured output must be an attrs class",
            )
        schema = _CACHE[cls] = _Builder(cls).build()
    return schema


def json_schema_for(cls: type) -> dict[str, Any]:
    """The strict JSON schema of an attrs class.

    Args:
        cls: an attrs class (fields: str, int, float, bool, Literal, enums, nested attrs
            classes, ``list[T]``, ``T | None``).

    Returns:
        A new JSON schema dict (yours to change).

    Raises:
        SchemaError: ``cls`` is not an attrs class, or a field's type is not allowed in strict
            mode (``field`` names it, e.g. ``Invoice.lines[].tags``).
    """
    return copy.deepcopy(_schema_of(cls))


def _checked_name(name: str | None, cls: type, field: str) -> str:
    value = cls.__name__ if name is None else name
    if not _NAME_RE.match(value):
        raise InvalidInputError(field, f"{value!r} must be 1-64 letters, digits, '_' or '-'")
    return value


def response_format_for(
    cls: type, *, name: str | None = None, description: str | None = None
) -> dict[str, Any]:
    """The ``response_format`` body asking for JSON that follows ``cls``'s strict schema.

    Args:
        cls: the attrs class of the answer.
        name: the schema's name (default: the class name).
        description: what the answer is, for the model (default: none).

    Returns:
        ``{"type": "json_schema", "json_schema": {"name", "schema", "strict": True}}``.

    Raises:
        SchemaError: as :func:`json_schema_for`.
        InvalidInputError: ``name`` is not 1-64 of ``[A-Za-z0-9_-]``.
    """
    spec: dict[str, Any] = {"name": _checked_name(name, cls, "name")}
    if description is not None:
        spec["description"] = description
    spec["schema"] = json_schema_for(cls)
    spec["strict"] = True
    return {"type": "json_schema", "json_schema": spec}


def function_tool_for(
    cls: type, name: str | None = None, description: str | None = None
) -> dict[str, Any]:
    """A strict function-tool definition whose arguments are an attrs class.

    Args:
        cls: the attrs class of the arguments.
        name: the function name (default: the class name).
        description: what the function does (default: the class docstring's first
            paragraph, if any).

    Returns:
        ``{"type": "function", "function": {"name", "description"?, "parameters",
        "strict": True}}``.

    Raises:
        SchemaError: as :func:`json_schema_for`.
        InvalidInputError: ``name`` is not 1-64 of ``[A-Za-z0-9_-]``.
    """
    function: dict[str, Any] = {"name": _checked_name(name, cls, "name")}
    text = description if description is not None else _class_description(cls)
    if text:
        function["description"] = text
    function["parameters"] = json_schema_for(cls)
    function["strict"] = True
    return {"type": "function", "function": function}


# -- validation --------------------------------------------------------------------------------

_JSON_TYPES: dict[str, tuple[type, ...]] = {
    "string": (str,),
    "integer": (int,),
    "number": (int, float),
    "boolean": (bool,),
    "null": (type(None),),
    "object": (dict,),
    "array": (list,),
}


def _is(value: object, kind: str) -> bool:
    if kind == "integer" and type(value) is float:
        return value.is_integer()
    return type(value) in _JSON_TYPES.get(kind, ())


def _json_name(value: object) -> str:
    for kind in ("null", "boolean", "integer", "number", "string", "object", "array"):
        if type(value) in _JSON_TYPES[kind]:
            return kind
    return type(value).__name__


def check(value: Any, schema: Mapping[str, Any], root: Mapping[str, Any] | None = None) -> None:
    """Check a decoded JSON value against a schema of the subset this module generates.

    Args:
        value: the decoded JSON.
        schema: the schema (``$ref`` resolved against ``root``, default ``schema`` itself).

    Raises:
        SchemaMismatch: the first place where ``value`` does not follow the schema.
    """
    _check(value, schema, schema if root is None else root, "")


def _resolve(schema: Mapping[str, Any], root: Mapping[str, Any]) -> Mapping[str, Any]:
    while "$ref" in schema:
        ref = schema["$ref"]
        if ref == "#":
            schema = root
        elif ref.startswith("#/$defs/"):
            schema = root["$defs"][ref[len("#/$defs/") :]]
        else:
            raise SchemaMismatch("", f"unsupported $ref {ref!r}")
    return schema


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def _check(value: Any, schema: Mapping[str, Any], root: Mapping[str, Any], path: str) -> None:
    schema = _resolve(schema, root)
    if "anyOf" in schema:
        problems = []
        for branch in schema["anyOf"]:
            try:
                _check(value, branch, root, path)
            except SchemaMismatch as exc:
                problems.append(exc)
            else:
                return
        deepest = max(problems, key=lambda p: len(p.path))
        if deepest.path != path:
            raise deepest
        raise SchemaMismatch(path, f"{_json_name(value)} matches none of the allowed shapes")
    kinds = schema.get("type")
    if kinds is not None:
        allowed = [kinds] if isinstance(kinds, str) else list(kinds)
        if not any(_is(value, k) for k in allowed):
            raise SchemaMismatch(path, f"expected {' or '.join(allowed)}, got {_json_name(value)}")
    if "enum" in schema and not any(
        value == option and type(value) is type(option) for option in schema["enum"]
    ):
        raise SchemaMismatch(path, f"{value!r} is not one of {schema['enum']!r}")
    if "const" in schema and value != schema["const"]:
        raise SchemaMismatch(path, f"expected {schema['const']!r}, got {value!r}")
    if isinstance(value, dict) and "properties" in schema:
        properties = schema["properties"]
        for key in schema.get("required", ()):
            if key not in value:
                raise SchemaMismatch(_join(path, key), "required key is missing")
        if schema.get("additionalProperties") is False:
            unknown = sorted(set(value) - set(properties))
            if unknown:
                raise SchemaMismatch(path, f"unexpected key(s) {unknown}")
        for key, item in value.items():
            if key in properties:
                _check(item, properties[key], root, _join(path, key))
    if isinstance(value, list) and "items" in schema:
        for index, item in enumerate(value):
            _check(item, schema["items"], root, f"{path}[{index}]")
