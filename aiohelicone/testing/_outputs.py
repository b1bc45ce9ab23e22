"""Layer 8 (test kit): the fake provider's reasoning and image outputs, in wire shapes (pure).

When the fake answers with them (``Provider`` asks :func:`outputs_for`):

- reasoning: the body sets ``reasoning_effort`` or ``reasoning_options``, or the model is a
  reasoning model (:data:`REASONING_MODELS`, e.g. ``deepseek-reasoner``);
- images: the body's ``modalities`` includes ``"image"``, or the model has image output
  (:data:`IMAGE_MODELS`, e.g. ``gemini-3-pro-image-preview``).

Shapes (Helicone docs gateway/concepts/reasoning and image-generation):

- ``message.reasoning`` holds the reasoning text; a stream sends it as ``delta.reasoning``
  fragments before the content.
- ``message.reasoning_details``: for Anthropic-served models (anthropic, bedrock, vertex),
  Helicone's mapping sends ``{"thinking", "signature"}`` blocks, whole, in the finishing
  chunk's delta. Other providers get the OpenRouter-style typed blocks: a
  ``reasoning.text`` block streamed as fragments with ``index`` 0 (the signature on the
  last one) and a ``reasoning.encrypted`` block (``index`` 1) in one piece.
- ``message.images``: ``[{"type": "image_url", "image_url": {"url": "data:image/png;..."}}]``;
  a stream sends each image whole in a ``delta.images`` chunk after the content.

Everything is deterministic: the same request gives the same reasoning, signature and image.
"""

from __future__ import annotations

import base64
import hashlib
import struct
import zlib
from collections.abc import Mapping
from typing import Any

import attrs

from ._deltas import pieces

__all__ = ["IMAGE_MODELS", "REASONING_MODELS", "ExtraOutput", "outputs_for", "png_data_url"]

#: Models that reason without being asked (by registry name or provider model id).
REASONING_MODELS: frozenset[str] = frozenset(
    {"deepseek-reasoner", "deepseek-r1", "o3-mini", "o4-mini"}
)
#: Models whose answers carry images.
IMAGE_MODELS: frozenset[str] = frozenset({"gemini-3-pro-image-preview"})
_SIGNED_BLOCK_PROVIDERS = frozenset({"anthropic", "bedrock", "vertex"})


@attrs.frozen
class ExtraOutput:
    """What a choice carries besides content and tool calls.

    Attributes:
        reasoning: the reasoning text (None: the model did not reason).
        signed_blocks: lay ``reasoning_details`` out as Helicone maps Anthropic thinking
            (whole ``thinking``/``signature`` blocks) rather than as typed fragments.
        images: data URLs of the images produced.
    """

    reasoning: str | None = None
    signed_blocks: bool = False
    images: tuple[str, ...] = ()

    @property
    def signature(self) -> str:
        """A deterministic stand-in for the provider's signature of the reasoning."""
        digest = hashlib.sha256((self.reasoning or "").encode()).digest()
        return base64.b64encode(digest).decode()

    def details(self) -> list[dict[str, Any]]:
        """The whole ``reasoning_details`` of the message."""
        if self.reasoning is None:
            return []
        if self.signed_blocks:
            return [{"thinking": self.reasoning, "signature": self.signature}]
        return [
            {
                "type": "reasoning.text",
                "text": self.reasoning,
                "signature": self.signature,
                "format": "unknown",
                "index": 0,
            },
            {
                "type": "reasoning.encrypted",
                "data": self.signature[::-1],
                "format": "unknown",
                "index": 1,
            },
        ]

    def message_fields(self) -> dict[str, Any]:
        """The keys this output adds to a non-streamed ``message``."""
        out: dict[str, Any] = {}
        if self.reasoning is not None:
            out["reasoning"] = self.reasoning
            out["reasoning_details"] = self.details()
        if self.images:
            out["images"] = [_image(url) for url in self.images]
        return out

    def reasoning_deltas(self) -> list[dict[str, Any]]:
        """Delta bodies that stream the reasoning (sent before the content)."""
        if self.reasoning is None:
            return []
        parts = pieces(self.reasoning) or [""]
        if self.signed_blocks:
            return [{"reasoning": part} for part in parts]
        deltas = []
        for position, part in enumerate(parts):
            block: dict[str, Any] = {
                "type": "reasoning.text",
                "text": part,
                "format": "unknown",
                "index": 0,
            }
            if position == len(parts) - 1:
                block["signature"] = self.signature
            deltas.append({"reasoning": part, "reasoning_details": [block]})
        encrypted = self.details()[1]
        deltas.append({"reasoning_details": [encrypted]})
        return deltas

    def image_deltas(self) -> list[dict[str, Any]]:
        """Delta bodies carrying the images, one whole image each (sent after the content)."""
        return [{"images": [_image(url)]} for url in self.images]

    def finish_delta(self) -> dict[str, Any]:
        """What the finishing chunk's delta carries (Helicone's signed blocks)."""
        if self.reasoning is not None and self.signed_blocks:
            return {"reasoning_details": self.details()}
        return {}


def outputs_for(
    data: Mapping[str, Any], model: str, provider_model: str, provider: str, prompt: str
) -> ExtraOutput | None:
    """The reasoning and images the fake adds to an answer of ``data`` (None: neither).

    Args:
        data: the request body.
        model: the registry model name; provider_model: the provider's id for it.
        provider: the provider serving the attempt.
        prompt: the last user message (the reasoning and image depend on it).
    """
    effort = data.get("reasoning_effort")
    asked = (effort is not None and effort != "none") or isinstance(
        data.get("reasoning_options"), Mapping
    )
    reasons = asked or model in REASONING_MODELS or provider_model in REASONING_MODELS
    modalities = data.get("modalities")
    wants_image = isinstance(modalities, list) and "image" in modalities
    draws = wants_image or model in IMAGE_MODELS or provider_model in IMAGE_MODELS
    if not reasons and not draws:
        return None
    reasoning = None
    if reasons:
        level = effort if isinstance(effort, str) else "medium"
        words = len(prompt.split())
        reasoning = f"The user wrote {words} words. Thinking with {level} effort: answer plainly."
    return ExtraOutput(
        reasoning=reasoning,
        signed_blocks=provider in _SIGNED_BLOCK_PROVIDERS,
        images=(png_data_url(prompt),) if draws else (),
    )


def _image(url: str) -> dict[str, Any]:
    return {"type": "image_url", "image_url": {"url": url}}


def png_data_url(seed: str) -> str:
    """A valid 2x2 PNG whose colour is derived from ``seed``, as a ``data:`` URL."""
    red, green, blue = hashlib.sha256(seed.encode()).digest()[:3]
    row = b"\x00" + bytes((red, green, blue)) * 2
    raw = row * 2

    def chunk(kind: bytes, body: bytes) -> bytes:
        crc = zlib.crc32(kind + body) & 0xFFFFFFFF
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", crc)

    header = struct.pack(">IIBBBBB", 2, 2, 8, 2, 0, 0, 0)
    png = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(raw))
    png += chunk(b"IEND", b"")
    return "data:image/png;base64," + base64.b64encode(png).decode()
