"""The package's layers hold: read every module's imports with ``ast`` and check them.

docs/ARCHITECTURE.md draws the layers; ``LAYERS`` below is the same table, and this test is
what keeps the two honest. A module may import modules of its own layer or of lower ones,
never a higher one (lazy imports inside functions and ``TYPE_CHECKING`` imports count too);
the import graph has no cycle; and a module does not reach for another layer's private
names (``from ._x import _name`` or ``_x._name``): within one layer, modules may share
private helpers, across layers only public ones.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "aiohelicone"

#: layer number -> (layer name, modules in it). Lower layers never import higher ones.
#: A listed module need not exist (a name may be reserved for work in flight); a module that
#: exists must be listed.
LAYERS: dict[int, tuple[str, frozenset[str]]] = {
    0: (
        "core",
        frozenset(
            {
                "_version",
                "_json",
                "_secrets",
                "_wait_headers",
                "_exceptions",
                "_error_bodies",
                "_metadata",
                "_timeouts",
                "_sse",
                "_decoders",
                "_header_values",
                "_modelstring",
                "_helicone",
                "_helicone_fields",
                "_helicone_resolve",
                "_models",
                "_converter",
                "_accumulate",
                "_retry",
                "_arguments",
                "_decode",
                "_schema",
                "_parse",
                "_responses_models",
                "_responses_events",
                "_responses_accumulate",
                "_responses_args",
                "_rest_url",
                "_rest_args",
                "_rest_records",
                "_rest_filters",
                "_analytics",
                "_governor",
                "_fallback_policy",
                "_stream_errors",
                "_rest_errors",
                "_session_names",
                "_webhook_models",
                "_registry_models",
                "webhooks",
            }
        ),
    ),
    1: ("transport", frozenset({"_transport_errors", "_stream_response", "_transport"})),
    2: ("send path", frozenset({"_send", "_send_call"})),
    3: (
        "streams and REST connection",
        frozenset(
            {"_stream_open", "_stream_base", "_streaming", "_responses_stream", "_rest_connection"}
        ),
    ),
    4: ("fallback and REST", frozenset({"_fallback", "_routing", "_rest"})),
    5: (
        "resources and client",
        frozenset(
            {"_resources", "_responses", "_responses_parse", "_chat", "_chat_parse", "_client"}
        ),
    ),
    6: (
        "batch engine",
        frozenset({"_batch", "_batch_items", "_batch_source", "_batch_output", "ray"}),
    ),
    7: ("public face", frozenset({"__init__"})),
    8: ("test kit", frozenset({"testing"})),
    9: (
        "command line",
        frozenset(
            {
                "cli",
                "__main__",
                "_cli_batch",
                "_cli_batch_input",
                "_cli_batch_ray",
                "_cli_exits",
                "_cli_progress",
                "_cli_report",
            }
        ),
    ),
}


def _layer_of(module: str) -> int:
    """The layer of ``aiohelicone.<module>`` (``testing.*`` is one layer)."""
    top = module.split(".")[0]
    for number, (_, members) in LAYERS.items():
        if top in members:
            return number
    raise AssertionError(
        f"aiohelicone.{module} has no layer: add it to LAYERS here and to docs/ARCHITECTURE.md"
    )


def _modules() -> Iterator[tuple[str, Path]]:
    for path in sorted(PACKAGE.rglob("*.py")):
        relative = path.relative_to(PACKAGE).with_suffix("")
        parts = list(relative.parts)
        if parts[-1] == "__init__" and len(parts) > 1:
            parts = parts[:-1]
        yield ".".join(parts), path


def _is_package(module: str) -> bool:
    return module == "__init__" or (PACKAGE / module.replace(".", "/") / "__init__.py").exists()


def _resolve(module: str, node: ast.ImportFrom) -> str:
    """The absolute ``aiohelicone``-relative name an ``ImportFrom`` reads from ("" = the package)."""
    if node.level == 0:
        name = node.module or ""
        if name == "aiohelicone":
            return ""
        return name.removeprefix("aiohelicone.")
    parts = [] if module == "__init__" else module.split(".")
    if not _is_package(module):
        parts = parts[:-1]
    if node.level > 1:
        parts = parts[: len(parts) - (node.level - 1)]
    if node.module:
        parts = [*parts, *node.module.split(".")]
    return ".".join(parts)


def _exists(module: str) -> bool:
    base = PACKAGE / module.replace(".", "/")
    return base.with_suffix(".py").exists() or (base / "__init__.py").exists()


def _imports(module: str, tree: ast.AST) -> Iterator[tuple[str, int, str | None]]:
    """(imported module, line, private name taken from it or None) for every import."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name == "aiohelicone" or alias.name.startswith("aiohelicone."):
                    target = alias.name.removeprefix("aiohelicone").lstrip(".")
                    yield (target or "__init__"), node.lineno, None
        elif isinstance(node, ast.ImportFrom):
            if node.level == 0 and not (node.module or "").startswith("aiohelicone"):
                continue
            base = _resolve(module, node)
            for alias in node.names:
                sub = f"{base}.{alias.name}" if base else alias.name
                if _exists(sub):
                    yield sub, node.lineno, None
                else:
                    name = alias.name
                    private = name if name.startswith("_") and not name.startswith("__") else None
                    yield (base or "__init__"), node.lineno, private


def _graph() -> dict[str, list[tuple[str, int, str | None]]]:
    return {
        module: list(_imports(module, ast.parse(path.read_text(), str(path))))
        for module, path in _modules()
    }


def _same_unit(a: str, b: str) -> bool:
    """Modules that may share private names: one layer, or one subpackage."""
    return _layer_of(a) == _layer_of(b)


def test_every_module_has_a_layer_and_a_docstring() -> None:
    """Each module is in the layer table and its docstring opens "Layer N (name): job"."""
    wrong = []
    for module, path in _modules():
        number = _layer_of(module)
        doc = ast.get_docstring(ast.parse(path.read_text())) or ""
        first = doc.strip().splitlines()[0] if doc.strip() else ""
        if not re.match(rf"Layer {number} \([^)]+\): \S", first):
            wrong.append(f"aiohelicone.{module}: {first!r} (layer {number})")
    assert not wrong, "\n".join(wrong)


def test_no_module_reads_the_client_or_senders_private_attributes() -> None:
    """Nothing outside their own class reaches into AsyncHelicone's or Sender's privates.

    ``client._x``, ``sender._x``, ``self._client._x``: the client and the send path are
    used through their public methods only, by every module.
    """
    holders = {"client", "sender", "_sender", "_client", "helicone_client"}
    found = []
    for module, path in _modules():
        for node in ast.walk(ast.parse(path.read_text())):
            if not isinstance(node, ast.Attribute) or not node.attr.startswith("_"):
                continue
            if node.attr.startswith("__"):
                continue
            value = node.value
            holder = (
                value.id
                if isinstance(value, ast.Name)
                else value.attr
                if isinstance(value, ast.Attribute)
                else None
            )
            if holder in holders:
                found.append(f"aiohelicone.{module}:{node.lineno} {ast.unparse(node)}")
    assert found == []


def test_no_module_imports_a_higher_layer() -> None:
    """Imports point down or sideways, never up (lazy and TYPE_CHECKING imports included)."""
    wrong = sorted(
        {
            f"aiohelicone.{module}:{line} (layer {_layer_of(module)}) imports "
            f"aiohelicone.{target} (layer {_layer_of(target)})"
            for module, imports in _graph().items()
            for target, line, _ in imports
            if _layer_of(target) > _layer_of(module)
        }
    )
    assert not wrong, "\n".join(wrong)


def test_the_import_graph_has_no_cycle() -> None:
    """No circle of imports, not even inside one layer."""
    edges = {
        module: sorted({target for target, _, _ in imports if target != module})
        for module, imports in _graph().items()
    }
    # The package's __init__ re-exports; a submodule importing the package itself would be a
    # cycle through it, which the layer check already refuses below layer 7.
    state: dict[str, int] = {}
    path: list[str] = []

    def visit(node: str) -> None:
        state[node] = 1
        path.append(node)
        for nxt in edges.get(node, []):
            if state.get(nxt) == 1:
                cycle = [*path[path.index(nxt) :], nxt]
                pytest.fail("import cycle: " + " -> ".join(cycle))
            if state.get(nxt) is None:
                visit(nxt)
        path.pop()
        state[node] = 2

    for node in edges:
        if state.get(node) is None:
            visit(node)


def test_no_private_names_across_layers() -> None:
    """``from ._x import _name`` and ``_x._name`` stay inside one layer."""
    wrong: list[str] = []
    for module, path in _modules():
        tree = ast.parse(path.read_text())
        aliases: dict[str, str] = {}
        for target, line, private in _imports(module, tree):
            if private and not _same_unit(module, target):
                wrong.append(f"aiohelicone.{module}:{line} imports {private} from {target}")
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and (
                node.level or (node.module or "").startswith("aiohelicone")
            ):
                base = _resolve(module, node)
                for alias in node.names:
                    sub = f"{base}.{alias.name}" if base else alias.name
                    if _exists(sub):
                        aliases[alias.asname or alias.name] = sub
        for node in ast.walk(tree):
            if (
                isinstance(node, ast.Attribute)
                and isinstance(node.value, ast.Name)
                and node.value.id in aliases
                and node.attr.startswith("_")
                and not node.attr.startswith("__")
                and not _same_unit(module, aliases[node.value.id])
            ):
                wrong.append(
                    f"aiohelicone.{module}:{node.lineno} uses {aliases[node.value.id]}.{node.attr}"
                )
    assert not wrong, "\n".join(wrong)


def test_the_architecture_page_draws_the_same_table() -> None:
    """docs/ARCHITECTURE.md lists the same modules in the same layers as ``LAYERS``."""
    page = (PACKAGE.parent / "docs" / "ARCHITECTURE.md").read_text()
    drawn: dict[int, set[str]] = {}
    for line in page.splitlines():
        row = re.match(r"\| (\d+) \| [^|]+ \| ([^|]+) \|", line)
        if row:
            drawn[int(row[1])] = set(re.findall(r"`([\w.]+)`", row[2]))
    assert drawn == {number: set(members) for number, (_, members) in LAYERS.items()}


def test_the_checks_see_upward_and_private_imports() -> None:
    """The resolver sees relative, absolute and private imports (so the checks can fail)."""
    source = (
        "from ._client import AsyncHelicone\n"
        "from .. import _transport\n"
        "import aiohelicone.testing\n"
        "from .._retry import _private\n"
    )
    found = set(_imports("testing._gateway", ast.parse(source)))
    assert {target for target, _, _ in found} >= {"testing._client", "_transport", "testing"}
    assert ("_retry", 4, "_private") in set(_imports("testing._gateway", ast.parse(source)))
    assert _layer_of("_client") > _layer_of("_retry")
