"""The ray extra stays optional: the package never imports it, and its absence is explained."""

from __future__ import annotations

import subprocess
import sys

import pytest


def test_import_aiohelicone_does_not_import_ray() -> None:
    """`import aiohelicone` (and its lazy names) loads neither Ray nor aiohelicone.ray."""
    code = (
        "import sys, aiohelicone; aiohelicone.run_batch; aiohelicone.AsyncHelicone;"
        "print('ray' in sys.modules, 'aiohelicone.ray' in sys.modules)"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.split() == ["False", "False"]


def test_without_ray_the_import_error_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    """Importing aiohelicone.ray without Ray raises ImportError naming `aiohelicone[ray]`."""
    monkeypatch.setitem(sys.modules, "ray", None)  # as if Ray were not installed
    monkeypatch.delitem(sys.modules, "aiohelicone.ray", raising=False)
    with pytest.raises(ImportError, match=r"pip install 'aiohelicone\[ray\]'"):
        import aiohelicone.ray  # noqa: F401
