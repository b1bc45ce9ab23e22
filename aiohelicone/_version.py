"""Layer 0 (core): the package version, from the installed distribution's metadata if any."""

from __future__ import annotations

__all__ = ["__version__"]

# Kept literal (not importlib.metadata) so that `import aiohelicone` reads no files:
# a test checks it against the installed metadata.
__version__ = "0.1.0"
