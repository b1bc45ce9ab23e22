"""The send-path layering (issue 21): read from the imports and attribute accesses with ast."""

from __future__ import annotations

import ast
import pathlib

import aiohelicone

PACKAGE = pathlib.Path(aiohelicone.__file__).parent

# The modules above the client: the package face, the command line, batch runs, the test kit.
_ABOVE_CLIENT = {"__init__", "__main__", "cli", "_cli_batch", "_cli_report", "_batch", "ray"}


def _modules() -> list[tuple[str, ast.Module]]:
    return [
        (str(path.relative_to(PACKAGE).with_suffix("")), ast.parse(path.read_text("utf-8")))
        for path in sorted(PACKAGE.rglob("*.py"))
    ]


def test_no_module_below_the_client_imports_it() -> None:
    """Only the package face, the CLI, batch runs and the test kit import _client."""
    importers = set()
    for name, tree in _modules():
        if name.startswith("testing/"):
            continue  # the test kit sits above the client (its own _client is another module)
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and (
                (node.level == 1 and node.module == "_client")
                or node.module == "aiohelicone._client"
            ):
                importers.add(name)
    assert importers <= _ABOVE_CLIENT, importers - _ABOVE_CLIENT


def test_no_module_reads_the_client_or_senders_private_attributes() -> None:
    """Nothing outside their own class reaches into AsyncHelicone's or Sender's privates."""
    holders = {"client", "sender", "_sender", "_client", "helicone_client"}
    found = []
    for name, tree in _modules():
        for node in ast.walk(tree):
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
                found.append(f"{name}:{node.lineno} {ast.unparse(node)}")
    assert found == []
