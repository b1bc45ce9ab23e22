"""Layer 0 (core): verifying and reading Helicone webhook deliveries (pure, no I/O).

Helicone signs each webhook delivery with the webhook's HMAC key: the ``Helicone-Signature``
header is the lowercase hex HMAC-SHA256 of the **exact bytes of the body** (Jawn's webhook
sender hashes the string it then posts). Verify those bytes, as they arrived::

    raw = await request.body()          # Starlette; Django: request.body; Flask: get_data()
    event = webhooks.verify_and_parse(raw, request.headers["helicone-signature"], secret)

Never verify a re-serialisation of the parsed JSON (``json.dumps(await request.json())``, as
Helicone's docs example does with ``JSON.stringify(req.body)``): key order, spacing and number
or unicode escapes may differ from what was signed, and a genuine delivery is then refused.

The comparison is constant-time (:func:`hmac.compare_digest`). Errors never contain the
secret, nor the signature that was expected.

This module is not imported by ``import aiohelicone``; import it as
``from aiohelicone import webhooks``.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import string
from typing import Any

from ._exceptions import HeliconeError, InvalidInputError
from ._webhook_models import WebhookMetadata as WebhookMetadata
from ._webhook_models import WebhookPayload as WebhookPayload

__all__ = [
    "SIGNATURE_HEADER",
    "WebhookError",
    "WebhookMetadata",
    "WebhookPayload",
    "WebhookPayloadError",
    "WebhookSignatureError",
    "parse",
    "sign",
    "verify",
    "verify_and_parse",
]

#: The header that carries the signature (HTTP header names are case-insensitive).
SIGNATURE_HEADER = "Helicone-Signature"

_HEX_DIGITS = frozenset(string.hexdigits)
_SIGNATURE_LENGTH = hashlib.sha256().digest_size * 2


class WebhookError(HeliconeError):
    """A webhook delivery was refused."""


class WebhookSignatureError(WebhookError):
    """The delivery's signature is missing, malformed, or does not match its body.

    Attributes:
        reason: ``"missing"``, ``"malformed"`` or ``"mismatch"``.
    """

    def __init__(self, reason: str, message: str) -> None:
        self.reason = reason
        super().__init__(message)


class WebhookPayloadError(WebhookError, ValueError):
    """A (verified) body is not a webhook payload: not JSON, or a field of the wrong type.

    Attributes:
        path: where the problem is (``metadata.cost``; empty for the whole body).
        problem: what was wrong.
    """

    def __init__(self, path: str, problem: str) -> None:
        self.path = path
        self.problem = problem
        super().__init__(f"webhook payload{' ' + path if path else ''}: {problem}")


def _key(secret: object) -> bytes:
    if isinstance(secret, bytes):
        key = secret
    elif isinstance(secret, str):
        key = secret.encode("utf-8")
    else:
        raise InvalidInputError("secret", f"must be a str or bytes, got {type(secret).__name__}")
    if not key:
        # An unset environment variable must not make every signature "valid" for b"".
        raise InvalidInputError("secret", "must not be empty (is the webhook secret configured?)")
    return key


def _body(raw_body: object) -> bytes:
    if isinstance(raw_body, (bytes, bytearray, memoryview)):
        return bytes(raw_body)
    raise InvalidInputError(
        "raw_body",
        f"must be the raw bytes of the request body, got {type(raw_body).__name__} "
        "(a parsed or re-serialised body cannot be verified)",
    )


def sign(raw_body: bytes, secret: str | bytes) -> str:
    """The signature Helicone sends for ``raw_body``: lowercase hex HMAC-SHA256.

    Useful to test a webhook handler (sign a body, then post it).

    Args:
        raw_body: the exact body bytes.
        secret: the webhook's HMAC key (a str is UTF-8 encoded).

    Returns:
        64 hex digits.

    Raises:
        InvalidInputError: ``raw_body`` is not bytes, or ``secret`` is empty or not str/bytes.
    """
    return hmac.new(_key(secret), _body(raw_body), hashlib.sha256).hexdigest()


def verify(raw_body: bytes, signature: str | None, secret: str | bytes) -> None:
    """Check that ``signature`` is Helicone's signature of ``raw_body`` (constant time).

    Args:
        raw_body: the body exactly as received (``await request.body()``), not re-serialised.
        signature: the ``Helicone-Signature`` header (hex; surrounding whitespace and the
            letter case are ignored); None or empty when the header was absent.
        secret: the webhook's HMAC key, from Helicone's webhooks page.

    Raises:
        WebhookSignatureError: the signature is missing, is not 64 hex digits, or does not
            match (``reason`` says which).
        InvalidInputError: ``raw_body`` is not bytes, or ``secret`` is empty or not str/bytes.
    """
    key = _key(secret)
    body = _body(raw_body)
    if signature is None or not str(signature).strip():
        raise WebhookSignatureError("missing", f"no {SIGNATURE_HEADER} signature")
    if not isinstance(signature, str):
        raise WebhookSignatureError("malformed", f"{SIGNATURE_HEADER} must be a str")
    given = signature.strip().lower()
    if len(given) != _SIGNATURE_LENGTH or not _HEX_DIGITS.issuperset(given):
        # The signature is not shown: it is attacker-controlled and may be large.
        raise WebhookSignatureError(
            "malformed",
            f"{SIGNATURE_HEADER} is not a hex HMAC-SHA256 ({_SIGNATURE_LENGTH} hex digits, "
            f"got {len(given)} characters)",
        )
    expected = hmac.new(key, body, hashlib.sha256).hexdigest()
    if not hmac.compare_digest(expected.encode("ascii"), given.encode("ascii")):
        raise WebhookSignatureError(
            "mismatch",
            f"{SIGNATURE_HEADER} does not match the body: a wrong secret, a body changed "
            "on the way, or a body that was re-serialised instead of read raw",
        )


def parse(raw_body: bytes | str) -> WebhookPayload:
    """Read a webhook body into a :class:`WebhookPayload` (does not verify it).

    Args:
        raw_body: the body (bytes or text).

    Returns:
        The payload; keys this version does not know are kept in ``extra``.

    Raises:
        WebhookPayloadError: not JSON, not an object, no ``request_id``, or a known field
            of the wrong type.
    """
    from ._converter import ShapeError, structure

    try:
        data: Any = json.loads(raw_body)
    except (ValueError, TypeError) as exc:
        raise WebhookPayloadError("", f"is not JSON ({exc})") from None
    if not isinstance(data, dict):
        raise WebhookPayloadError("", f"must be a JSON object, got {type(data).__name__}")
    try:
        return structure(data, WebhookPayload)
    except ShapeError as exc:
        raise WebhookPayloadError(exc.path, exc.problem) from None


def verify_and_parse(raw_body: bytes, signature: str | None, secret: str | bytes) -> WebhookPayload:
    """:func:`verify`, then :func:`parse`: the one call a webhook handler needs.

    Args:
        raw_body, signature, secret: as for :func:`verify`.

    Returns:
        The verified payload.

    Raises:
        WebhookSignatureError, InvalidInputError: as for :func:`verify` (nothing is parsed).
        WebhookPayloadError: as for :func:`parse`.
    """
    verify(raw_body, signature, secret)
    return parse(raw_body)
