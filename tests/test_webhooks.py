"""aiohelicone.webhooks: signatures over the exact raw body, and the typed payload."""

from __future__ import annotations

import hashlib
import hmac
import json
import subprocess
import sys

import pytest

from aiohelicone import HeliconeError, InvalidInputError, webhooks
from aiohelicone._converter import unstructure

SECRET = "whsec_test-0123456789"
PAYLOAD = {
    "request_id": "550e8400-e29b-41d4-a716-446655440000",
    "user_id": "user-123",
    "request_body": '{"model":"gpt-4o-mini","messages":[{"role":"user","content":"hi"}]}',
    "response_body": '{"choices":[{"message":{"content":"hello"}}]}',
    "request_response_url": "https://s3.example/signed?x=1",
    "model": "gpt-4o-mini",
    "provider": "openai",
    "metadata": {
        "cost": 0.0015,
        "promptTokens": 10,
        "completionTokens": 15,
        "totalTokens": 25,
        "latencyMs": 1200,
    },
}
# Compact, as a JS JSON.stringify sends it: what Helicone signs.
RAW = json.dumps(PAYLOAD, separators=(",", ":")).encode()


def _hmac_hex(body: bytes, secret: str) -> str:
    """The signature computed independently of the module under test."""
    return hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def test_known_vector() -> None:
    """sign() matches RFC 4231 test case 2 and an independent HMAC of the payload."""
    assert (
        webhooks.sign(b"what do ya want for nothing?", "Jefe")
        == "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
    )
    assert webhooks.sign(RAW, SECRET) == _hmac_hex(RAW, SECRET)


def test_verify_accepts_the_exact_body_and_any_letter_case() -> None:
    """A genuine signature passes, upper-case hex and surrounding space included."""
    signature = _hmac_hex(RAW, SECRET)
    webhooks.verify(RAW, signature, SECRET)
    webhooks.verify(RAW, f"  {signature.upper()} ", SECRET)
    webhooks.verify(bytearray(RAW), signature, SECRET.encode())


def test_tampered_body_is_refused() -> None:
    """One changed byte of the body fails with reason 'mismatch'."""
    signature = _hmac_hex(RAW, SECRET)
    tampered = RAW.replace(b"0.0015", b"0.0016")
    with pytest.raises(webhooks.WebhookSignatureError) as caught:
        webhooks.verify(tampered, signature, SECRET)
    assert caught.value.reason == "mismatch"


def test_re_serialised_body_fails() -> None:
    """json.dumps(json.loads(raw)) differs in spacing from what was signed: refused."""
    signature = _hmac_hex(RAW, SECRET)
    reserialised = json.dumps(json.loads(RAW)).encode()
    assert reserialised != RAW
    with pytest.raises(webhooks.WebhookSignatureError, match="re-serialised"):
        webhooks.verify(reserialised, signature, SECRET)


def test_a_parsed_body_is_refused_as_input() -> None:
    """Passing the decoded dict or text instead of bytes is an InvalidInputError."""
    signature = _hmac_hex(RAW, SECRET)
    for wrong in (PAYLOAD, RAW.decode()):
        with pytest.raises(InvalidInputError, match="raw_body"):
            webhooks.verify(wrong, signature, SECRET)  # type: ignore[arg-type]


def test_wrong_secret_is_refused_and_never_shown() -> None:
    """Another secret fails; neither secret nor the expected signature is in the error."""
    signature = _hmac_hex(RAW, "another-secret")
    with pytest.raises(webhooks.WebhookSignatureError) as caught:
        webhooks.verify(RAW, signature, SECRET)
    text = f"{caught.value!s} {caught.value!r}"
    assert SECRET not in text
    assert _hmac_hex(RAW, SECRET) not in text
    assert isinstance(caught.value, HeliconeError)


@pytest.mark.parametrize(
    "signature",
    ["abc", "z" * 64, "sha256=" + "0" * 64, "0" * 63, "0" * 65, "ä" * 64],
    ids=["short", "not-hex", "prefixed", "63", "65", "non-ascii"],
)
def test_malformed_signature(signature: str) -> None:
    """A signature that is not 64 hex digits is 'malformed' and not echoed."""
    with pytest.raises(webhooks.WebhookSignatureError) as caught:
        webhooks.verify(RAW, signature, SECRET)
    assert caught.value.reason == "malformed"
    assert signature not in str(caught.value)


@pytest.mark.parametrize("signature", [None, "", "   "])
def test_missing_signature(signature: str | None) -> None:
    """No header at all is reason 'missing'."""
    with pytest.raises(webhooks.WebhookSignatureError) as caught:
        webhooks.verify(RAW, signature, SECRET)
    assert caught.value.reason == "missing"


def test_empty_secret_fails_closed() -> None:
    """An unset secret is a configuration error, never a pass."""
    with pytest.raises(InvalidInputError, match="secret"):
        webhooks.verify(RAW, _hmac_hex(RAW, "x"), "")


def test_parse_is_typed_and_keeps_unknown_fields() -> None:
    """Known fields are typed, new ones kept, and the JSON round-trips."""
    body = {**PAYLOAD, "properties": {"env": "prod"}}
    body["metadata"] = {**PAYLOAD["metadata"], "cacheHit": False}  # type: ignore[dict-item]
    raw = json.dumps(body).encode()
    event = webhooks.verify_and_parse(raw, _hmac_hex(raw, SECRET), SECRET)
    assert event.request_id == PAYLOAD["request_id"]
    assert event.user_id == "user-123"
    assert event.model == "gpt-4o-mini" and event.provider == "openai"
    assert event.metadata is not None
    assert event.metadata.cost == 0.0015
    assert (event.metadata.prompt_tokens, event.metadata.completion_tokens) == (10, 15)
    assert event.metadata.total_tokens == 25 and event.metadata.latency_ms == 1200
    assert event.extra == {"properties": {"env": "prod"}}
    assert event.metadata.extra == {"cacheHit": False}
    assert unstructure(event) == body


def test_minimal_payload() -> None:
    """The standard payload (no include-data) parses with the rest None."""
    event = webhooks.parse(b'{"request_id": "r1", "request_body": "{}", "response_body": "{}"}')
    assert event.request_id == "r1" and event.metadata is None and event.user_id is None


@pytest.mark.parametrize(
    ("raw", "path"),
    [
        (b"not json", ""),
        (b"[1, 2]", ""),
        (b'{"user_id": "u"}', "request_id"),
        (b'{"request_id": 5}', "request_id"),
        (b'{"request_id": "r", "metadata": {"cost": "cheap"}}', "metadata.cost"),
    ],
)
def test_bad_payloads(raw: bytes, path: str) -> None:
    """A body that is not a payload is a WebhookPayloadError naming where."""
    with pytest.raises(webhooks.WebhookPayloadError) as caught:
        webhooks.parse(raw)
    assert caught.value.path == path
    assert isinstance(caught.value, ValueError)


def test_verify_and_parse_does_not_parse_an_unverified_body() -> None:
    """A bad signature is reported before a bad body."""
    with pytest.raises(webhooks.WebhookSignatureError):
        webhooks.verify_and_parse(b"not json", "0" * 64, SECRET)


def test_import_aiohelicone_does_not_import_webhooks() -> None:
    """The webhooks module loads only when asked for."""
    code = "import sys, aiohelicone\nassert 'aiohelicone.webhooks' not in sys.modules\n"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
