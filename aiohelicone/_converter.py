"""Layer 0 (core): the one cattrs converter, and the hooks that keep unknown keys.

Response models (``_models.py``) name the fields we know; the API adds fields every month.
The structure hooks generated here therefore:

- put keys the model does not name into ``extra`` (reachable, and written back out);
- note which ``None``-defaulted fields were absent, in ``missing``, so that
  ``unstructure(structure(json)) == json`` holds exactly (absent stays absent, null stays null);
- check primitive types cheaply (``type(v) is str``) and raise :class:`ShapeError` with the
  path of the offending value (``choices[0].delta.content``);
- decode base64 embedding vectors to floats.

The hooks are generated Python source, compiled once per class on first use: a chunk of a
chat stream is structured for every event, so this path is hot (see benchmarks/). cattrs is
imported lazily, when the converter is first needed, to keep ``import aiohelicone`` cheap.
"""

from __future__ import annotations

import base64
import sys
import types
import typing
from array import array
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, TypeVar

import attrs

from . import _models

if TYPE_CHECKING:
    import cattrs

__all__ = ["ShapeError", "get_converter", "structure", "unstructure"]

T = TypeVar("T")

_SKIP = frozenset({"extra", "missing", "helicone"})
_PRIMITIVES = frozenset({str, int, float, bool})


class ShapeError(ValueError):
    """A response value does not have the type the API promises.

    Attributes:
        path: where the value sits, e.g. ``choices[0].message.content``.
        problem: what was wrong.
    """

    def __init__(self, path: str, problem: str) -> None:
        self.path = path
        self.problem = problem
        super().__init__(f"{path or '<root>'}: {problem}")

    def under(self, prefix: str) -> ShapeError:
        """The same error, located under ``prefix``."""
        path = (
            f"{prefix}.{self.path}"
            if self.path and not self.path.startswith("[")
            else (prefix + self.path)
        )
        return ShapeError(path, self.problem)


def _type_name(value: object) -> str:
    return "null" if value is None else type(value).__name__


def _decode_embedding(value: object) -> list[float]:
    # OpenAI's base64 encoding is little-endian float32.
    if isinstance(value, str):
        try:
            raw = base64.b64decode(value, validate=True)
        except ValueError as exc:
            raise ShapeError("", "embedding is neither a list of floats nor base64") from exc
        if len(raw) % 4:
            raise ShapeError("", "base64 embedding length is not a multiple of 4 bytes")
        floats = array("f", raw)
        if sys.byteorder != "little":
            floats.byteswap()
        return floats.tolist()
    if type(value) is not list:
        raise ShapeError("", f"expected a list of floats, got {_type_name(value)}")
    try:
        return [float(x) for x in value if type(x) is not bool]
    except (TypeError, ValueError) as exc:
        raise ShapeError("", "embedding holds a value that is not a number") from exc


def _fail(path: str, expected: str, value: object) -> typing.NoReturn:
    raise ShapeError(path, f"expected {expected}, got {_type_name(value)}")


class _HookBuilder:
    """Generates one structure function per model class (compiled Python source).

    The generated function reads each field with one ``dict.get``, checks its type, calls
    the child hooks directly (models do not nest recursively, so children are built first)
    and calls the class positionally: a chunk of a stream goes through three of these.
    """

    def __init__(self) -> None:
        self.hooks: dict[Any, Callable[[Any], Any]] = {}

    def hook_for(self, cls: Any) -> Callable[[Any], Any]:
        hook = self.hooks.get(cls)
        if hook is None:
            hook = self._tagged(cls) if isinstance(cls, _TaggedUnion) else self._build(cls)
        return hook

    def _tagged(self, union: _TaggedUnion) -> Callable[[Any], Any]:
        """The structure function of a union of models told apart by their ``type`` key.

        Each member's ``type`` default is its tag; the one member without a tag (an
        ``Unknown...`` model) takes every other ``type``, so a new kind of item is kept
        rather than refused.
        """
        tags: dict[str, Callable[[Any], Any]] = {}
        fallback: Callable[[Any], Any] | None = None
        for member in union.members:
            tag = attrs.fields_dict(member)["type"].default
            if isinstance(tag, str) and tag:
                tags[tag] = self.hook_for(member)
            else:
                fallback = self.hook_for(member)
        get = tags.get

        def structure(d: Any) -> Any:
            if type(d) is not dict:
                _fail("", "an object", d)
            hook = get(d.get("type"), fallback)  # type: ignore[arg-type]
            if hook is None:
                raise ShapeError("type", f"unknown type {d.get('type')!r}")
            return hook(d)

        self.hooks[union] = structure
        return structure

    def _build(self, cls: type) -> Callable[[Any], Any]:
        hints = typing.get_type_hints(cls, vars(sys.modules[cls.__module__]))
        fields = [f for f in attrs.fields(cls) if f.name not in _SKIP]
        names = frozenset(f.name for f in fields)
        nullable = frozenset(f.name for f in fields if f.default is None)
        ns: dict[str, Any] = {
            "cls": cls,
            "names": names,
            "nullable": nullable,
            "ShapeError": ShapeError,
            "fail": _fail,
            "decode_embedding": _decode_embedding,
            "MISSING": _MISSING,
            "EMPTY": _models._EMPTY,
            "ok": _structures,
        }
        lines = [
            "def structure(d):",
            "    if type(d) is not dict:",
            f"        fail('', 'an object ({cls.__name__})', d)",
        ]
        for f in fields:
            lines.extend(self._field_lines(cls, f, hints[f.name], ns))
        # Which keys are unknown and which nullable fields are absent depends only on the
        # dict's keys, and answers of one kind share a few key sets: remember them.
        shapes: dict[tuple[str, ...], tuple[tuple[str, ...], frozenset[str]]] = {}
        ns["shapes"] = shapes
        ns["learn"] = lambda d, keys: _learn_shape(d, keys, names, nullable, shapes)
        lines += [
            "    keys = tuple(d)",
            "    shape = shapes.get(keys)",
            "    if shape is None:",
            "        shape = learn(d, keys)",
            "    unknown, missing = shape",
            "    extra = {k: d[k] for k in unknown} if unknown else EMPTY",
        ]
        every = list(attrs.fields(cls))
        if any(f.validator is not None or f.converter is not None for f in every):
            args = ", ".join(f"v_{f.name}" for f in fields)
            lines.append(f"    return cls({args}, extra=extra, missing=missing)")
        else:
            # No validators or converters to run: skip the frozen __init__ (one
            # object.__setattr__ call per field) and fill the slots directly.
            values = {f.name: f"v_{f.name}" for f in fields}
            values.update(extra="extra", missing="missing")
            for f in every:
                if f.name not in values:  # e.g. `helicone`: filled in later by the client
                    ns[f"default_{f.name}"] = f.default
                    values[f.name] = f"default_{f.name}"
            lines.extend(_fill_lines(cls, [(f.name, values[f.name]) for f in every], ns))
        source = "\n".join(lines)
        exec(compile(source, f"<aiohelicone structure {cls.__name__}>", "exec"), ns)
        hook: Callable[[Any], Any] = ns["structure"]
        self.hooks[cls] = hook
        return hook

    def _field_lines(
        self, cls: type, f: attrs.Attribute[Any], hint: Any, ns: dict[str, Any]
    ) -> list[str]:
        name = f.name
        optional, inner = _unwrap_optional(hint)
        var = f"v_{name}"
        body = self._check_lines(cls, name, var, inner, ns)
        if f.default is None:
            # Absent and null both give None; anything else is checked.
            out = [f"    {var} = d.get('{name}')"]
            if body:
                out.append(f"    if {var} is not None:")
                out.extend("        " + line for line in body)
            return out
        out = [f"    {var} = d.get('{name}', MISSING)", f"    if {var} is MISSING:"]
        if f.default is attrs.NOTHING:
            out.append(f"        raise ShapeError('{name}', 'required field is missing')")
        elif isinstance(f.default, attrs.Factory):  # type: ignore[arg-type]
            ns[f"factory_{name}"] = f.default.factory
            out.append(f"        {var} = factory_{name}()")
        else:
            ns[f"default_{name}"] = f.default
            out.append(f"        {var} = default_{name}")
        if body:
            if optional:
                out.append(f"    elif {var} is not None:")
                out.extend("        " + line for line in body)
            else:
                out.append("    else:")
                out.extend("        " + line for line in body)
        return out

    def _check_lines(
        self, cls: type, name: str, var: str, inner: Any, ns: dict[str, Any]
    ) -> list[str]:
        if cls is _models.Embedding and name == "embedding":
            return [
                "try:",
                f"    {var} = decode_embedding({var})",
                "except ShapeError as exc:",
                f"    raise exc.under('{name}') from None",
            ]
        if inner is Any:
            return []
        if inner in _PRIMITIVES:
            # Exact type tests: ``type(True) is not int``, so a bool never passes for a number.
            type_name = f"t_{name}"
            ns[type_name] = inner
            fail_line = f"    fail('{name}', '{inner.__name__}', {var})"
            if inner is float:  # an int is accepted and converted
                return [
                    f"if type({var}) is not {type_name}:",
                    f"    if type({var}) is not int:",
                    "    " + fail_line,
                    f"    {var} = float({var})",
                ]
            return [f"if type({var}) is not {type_name}:", fail_line]
        if _is_model_union(inner):
            inner = _TaggedUnion(inner)
        if isinstance(inner, _TaggedUnion) or attrs.has(inner):
            hook_name = f"h_{name}"
            ns[hook_name] = self.hook_for(inner)
            return [
                "try:",
                f"    {var} = {hook_name}({var})",
                "except ShapeError as exc:",
                f"    raise exc.under('{name}') from None",
            ]
        if typing.get_origin(inner) is dict:
            # Free-form objects (``metadata``, tool schemas): checked to be objects, kept as is.
            return [f"if type({var}) is not dict:", f"    fail('{name}', 'an object', {var})"]
        if typing.get_origin(inner) is list:
            (item,) = typing.get_args(inner)
            if item is Any or typing.get_origin(item) is dict:
                return [f"if type({var}) is not list:", f"    fail('{name}', 'a list', {var})"]
            if item is str:
                # Lists of names (modalities, supported parameters): checked, kept as is.
                return [
                    f"if type({var}) is not list or any(type(x) is not str for x in {var}):",
                    f"    fail('{name}', 'a list of str', {var})",
                ]
            if _is_model_union(item):
                item = _TaggedUnion(item)
            elif not attrs.has(item):
                raise TypeError(f"unsupported list item type {item!r} in {cls.__name__}")
            hook_name = f"h_{name}"
            ns[hook_name] = self.hook_for(item)
            return [
                f"if type({var}) is not list:",
                f"    fail('{name}', 'a list', {var})",
                "try:",
                f"    {var} = [{hook_name}(x) for x in {var}]",
                "except ShapeError as exc:",
                f"    i = next(i for i, x in enumerate(d['{name}']) if not ok({hook_name}, x))",
                f"    raise exc.under('{name}[' + str(i) + ']') from None",
            ]
        raise TypeError(f"unsupported field type {inner!r} in {cls.__name__}.{name}")


class _TaggedUnion:
    """A union of models distinguished by their ``type`` field (see ``_HookBuilder._tagged``)."""

    __slots__ = ("members",)

    def __init__(self, union: Any) -> None:
        self.members: tuple[type, ...] = typing.get_args(union)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, _TaggedUnion) and other.members == self.members

    def __hash__(self) -> int:
        return hash(self.members)


def _is_model_union(hint: Any) -> bool:
    origin = typing.get_origin(hint)
    if origin is not typing.Union and origin is not types.UnionType:
        return False
    members = typing.get_args(hint)
    return all(attrs.has(m) and "type" in attrs.fields_dict(m) for m in members)


_MISSING = object()
_MAX_SHAPES = 64


def _learn_shape(
    d: dict[str, Any],
    keys: tuple[str, ...],
    names: frozenset[str],
    nullable: frozenset[str],
    shapes: dict[tuple[str, ...], tuple[tuple[str, ...], frozenset[str]]],
) -> tuple[tuple[str, ...], frozenset[str]]:
    """The unknown keys of ``d`` and the nullable fields it lacks (remembered, up to a bound)."""
    shape = (
        tuple(k for k in keys if k not in names),
        nullable.difference(d) or _models._NONE_MISSING,
    )
    if len(shapes) < _MAX_SHAPES:
        shapes[keys] = shape
    return shape


def _builder_twin(cls: type) -> type | None:
    """An unfrozen class with ``cls``'s exact slot layout, or None if there can be none.

    An instance of it is filled with plain attribute stores, then becomes a ``cls`` by
    ``__class__`` assignment, which Python allows between classes of identical layout
    (the models have no ``__weakref__`` slot for this reason: see ``_models.py``).
    """
    slots = cls.__dict__.get("__slots__")
    if cls.__bases__ != (object,) or not isinstance(slots, tuple):
        return None
    twin = type(f"_{cls.__name__}Builder", (object,), {"__slots__": slots})
    probe = twin()
    try:
        probe.__class__ = cls
    except TypeError:
        return None
    return twin


def _fill_lines(cls: type, values: list[tuple[str, str]], ns: dict[str, Any]) -> list[str]:
    """Source that builds ``o``, a ``cls`` whose slots hold ``values``, and returns it."""
    twin = _builder_twin(cls)
    if twin is not None:
        # About twice as cheap as calling each slot descriptor's __set__ (callgrind).
        ns["twin"] = twin
        lines = ["    o = twin()"]
        lines += [f"    o.{name} = {value}" for name, value in values]
        return [*lines, "    o.__class__ = cls", "    return o"]
    ns["new"] = object.__new__
    lines = ["    o = new(cls)"]
    for name, value in values:
        slot = next(k.__dict__[name] for k in cls.__mro__ if name in k.__dict__)
        ns[f"set_{name}"] = slot.__set__
        lines.append(f"    set_{name}(o, {value})")
    return [*lines, "    return o"]


def _structures(hook: Callable[[Any], Any], value: Any) -> bool:
    try:
        hook(value)
    except ShapeError:
        return False
    return True


def _unwrap_optional(hint: Any) -> tuple[bool, Any]:
    origin = typing.get_origin(hint)
    if origin is typing.Union or origin is types.UnionType:
        args = [a for a in typing.get_args(hint) if a is not type(None)]
        if len(args) == 1:
            return True, args[0]
    return False, hint


#: The modules whose public attrs classes are response models. Named, not imported: the
#: Responses modules import this one, and a name check keeps the import graph acyclic.
_MODEL_MODULES = frozenset(
    {
        "aiohelicone._models",
        "aiohelicone._responses_models",
        "aiohelicone._responses_events",
        "aiohelicone._webhook_models",
        "aiohelicone._registry_models",
    }
)


def _is_model_class(cls: Any) -> bool:
    """Whether ``cls`` is a response model: a public attrs class of a model module."""
    module = getattr(cls, "__module__", None)
    if module not in _MODEL_MODULES or not isinstance(cls, type) or not attrs.has(cls):
        return False
    return cls.__name__ in getattr(sys.modules[module], "__all__", ())


def _unstructure_model(obj: Any, conv: cattrs.Converter) -> dict[str, Any]:
    missing = obj.missing
    out: dict[str, Any] = {}
    for f in attrs.fields(type(obj)):
        name = f.name
        if name in _SKIP:
            continue
        value = getattr(obj, name)
        if value is None and name in missing:
            continue
        out[name] = conv.unstructure(value)
    out.update(obj.extra)
    return out


def make_converter() -> cattrs.Converter:
    """A fresh converter configured for aiohelicone's models."""
    import cattrs

    conv = cattrs.Converter()
    configure_converter(conv)
    return conv


def configure_converter(conv: cattrs.Converter) -> None:
    """Register aiohelicone's structure and unstructure hooks on ``conv``."""
    builder = _HookBuilder()
    conv.register_structure_hook_func(
        _is_model_class, lambda value, cls: builder.hook_for(cls)(value)
    )
    conv.register_unstructure_hook_func(_is_model_class, lambda obj: _unstructure_model(obj, conv))
    conv.register_unstructure_hook(
        Mapping, lambda m: {k: conv.unstructure(v) for k, v in m.items()}
    )
    # Keep the builder reachable for the fast path below.
    _BUILDERS[id(conv)] = builder


_BUILDERS: dict[int, _HookBuilder] = {}
_CONVERTER: cattrs.Converter | None = None


def get_converter() -> cattrs.Converter:
    """The package's one converter, built on first use."""
    global _CONVERTER
    if _CONVERTER is None:
        _CONVERTER = make_converter()
    return _CONVERTER


def structure(data: Any, cls: type[T]) -> T:
    """Structure JSON data into a model; raises :class:`ShapeError` on a wrong shape."""
    conv = get_converter()
    hook = _BUILDERS[id(conv)].hook_for(cls)
    result: T = hook(data)
    return result


def structure_hook(cls: type[T]) -> Callable[[Any], T]:
    """The compiled structure function for ``cls`` (for hot loops such as streams)."""
    conv = get_converter()
    return _BUILDERS[id(conv)].hook_for(cls)


def unstructure(obj: Any) -> Any:
    """Turn a model back into the JSON it came from."""
    return get_converter().unstructure(obj)
