"""The public surface: exports, version, and what importing the package costs."""

from __future__ import annotations

import ast
import importlib.metadata
import pathlib
import subprocess
import sys
import types

import pytest

import aiohelicone
import aiohelicone.testing


def _public_names(module: types.ModuleType) -> set[str]:
    return {
        name
        for name, value in vars(module).items()
        if not name.startswith("_") and not isinstance(value, types.ModuleType)
    } | ({"__version__"} if hasattr(module, "__version__") else set())


def test_all_lists_exactly_the_public_names() -> None:
    """__all__ is sorted, every name in it resolves, and nothing else public is exposed."""
    assert aiohelicone.__all__ == sorted(aiohelicone.__all__)
    for name in aiohelicone.__all__:
        assert getattr(aiohelicone, name) is not None, name
    assert set(aiohelicone.__all__) == _public_names(aiohelicone)
    assert set(aiohelicone.__all__) <= set(dir(aiohelicone))


def test_lazy_names_come_from_their_modules() -> None:
    """Each lazily loaded name is the object its module defines."""
    import importlib

    for name, module in aiohelicone._LAZY.items():
        assert name in aiohelicone.__all__
        source = importlib.import_module(f"aiohelicone.{module}")
        assert getattr(aiohelicone, name) is getattr(source, name)


def test_type_checkers_see_the_lazy_names() -> None:
    """The TYPE_CHECKING imports of __init__ name exactly _LAZY's names, from its modules."""
    assert aiohelicone.__file__ is not None
    tree = ast.parse(pathlib.Path(aiohelicone.__file__).read_text())
    seen: dict[str, str] = {}
    for node in tree.body:
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            for imp in node.body:
                assert isinstance(imp, ast.ImportFrom) and imp.module is not None
                for alias in imp.names:
                    assert alias.asname == alias.name  # an explicit re-export
                    seen[alias.name] = imp.module
    assert seen == aiohelicone._LAZY


def test_testing_all_lists_exactly_the_public_names() -> None:
    """aiohelicone.testing's __all__ is sorted and complete too."""
    names = aiohelicone.testing.__all__
    assert names == sorted(names)
    assert set(names) == _public_names(aiohelicone.testing)


def test_version_matches_installed_metadata() -> None:
    """The literal __version__ agrees with the installed distribution."""
    assert aiohelicone.__version__ == importlib.metadata.version("aiohelicone")


def test_py_typed_is_shipped() -> None:
    """The package is marked as typed."""
    assert aiohelicone.__file__ is not None
    from pathlib import Path

    assert (Path(aiohelicone.__file__).parent / "py.typed").is_file()


def test_import_is_cheap_and_quiet() -> None:
    """`import aiohelicone` imports neither httpx2 nor cattrs and starts no thread."""
    code = (
        "import sys, threading\n"
        "import aiohelicone\n"
        "assert 'httpx2' not in sys.modules, 'httpx2 imported'\n"
        "assert 'cattrs' not in sys.modules, 'cattrs imported'\n"
        "assert 'aiohelicone._rest' not in sys.modules, 'REST resources imported'\n"
        "assert 'aiohelicone._batch' not in sys.modules, 'batch imported'\n"
        "assert 'aiohelicone._decoders' not in sys.modules, 'content decoders imported'\n"
        "assert 'aiohelicone._responses_events' not in sys.modules, 'Responses imported'\n"
        "assert 'aiohelicone.webhooks' not in sys.modules, 'webhooks imported'\n"
        "assert threading.active_count() == 1, threading.enumerate()\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr


PURE_MODULES = [
    "_sse",
    "_decoders",
    "_helicone",
    "_header_values",
    "_metadata",
    "_modelstring",
    "_exceptions",
    "webhooks",
    "_webhook_models",
    "_registry_models",
]


@pytest.mark.parametrize("module", PURE_MODULES)
def test_pure_modules_do_no_io_imports(module: str) -> None:
    """Protocol and option modules stay pure: no httpx2, anyio, asyncio or trio import."""
    source = pathlib.Path(aiohelicone.__file__).parent / f"{module}.py"
    imported: set[str] = set()
    for node in ast.walk(ast.parse(source.read_text())):
        if isinstance(node, ast.Import):
            imported.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            imported.add(node.module.split(".")[0])
    assert not imported & {"httpx2", "httpx", "anyio", "asyncio", "trio"}


def test_testing_kit_sets_no_private_attribute_of_another_object() -> None:
    """aiohelicone.testing uses the client's public API (transport=, no_retry_waits)."""
    assert "no_retry_waits" in aiohelicone.testing.__all__
    folder = pathlib.Path(aiohelicone.testing.__file__).parent
    found = []
    for path in sorted(folder.glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            targets: list[ast.expr] = []
            if isinstance(node, ast.Assign):
                targets = node.targets
            elif isinstance(node, ast.AugAssign | ast.AnnAssign):
                targets = [node.target]
            for target in targets:
                if (
                    isinstance(target, ast.Attribute)
                    and target.attr.startswith("_")
                    and not (
                        isinstance(target.value, ast.Name) and target.value.id in {"self", "cls"}
                    )
                ):
                    found.append(f"{path.name}:{node.lineno} {ast.unparse(target)}")
    assert found == []
