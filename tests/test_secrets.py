"""Keys never leak: the mask and its registry (``_secrets``), and every error stage end to end.

The end-to-end tests run against the fake gateway over loopback, scripted to echo the
request's headers back (in a JSON error, a plain-text page, a stream's error event, a 200
that is not JSON), and look for the keys in everything a user or a log can see: ``str``,
``repr`` and ``args`` of the error and its causes, ``exc.body`` and ``exc.headers``, a batch
output line, the command line's output. The property test draws the key shapes.
"""

from __future__ import annotations

import contextlib
import gc
import io
import json
import os
import socket
from collections.abc import Iterator
from typing import Any
from unittest import mock

import anyio
import anyio.from_thread
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from aiohelicone import (
    APIConnectionError,
    APIError,
    APIResponseValidationError,
    APIStatusError,
    AsyncHelicone,
    AuthenticationError,
    HeliconeOptions,
    InternalServerError,
    InvalidInputError,
    cli,
)
from aiohelicone._batch_output import result_line
from aiohelicone._secrets import is_registered, mask, register, scrub, scrub_text
from aiohelicone.testing import (
    FakeGateway,
    InStreamError,
    LoopbackServer,
    RawResponse,
    RequestRecord,
    Respond,
    serve,
)

MODEL = "gpt-4o-mini/openai"
MESSAGES = [{"role": "user", "content": "hi"}]
KEY = "sk-helicone-abcdefg-hijklmn-opqrstu-vwxyz12"
PROVIDER_KEY = "sk-proj-0123456789abcdefghijklmnop"
POSTHOG_KEY = "phc_0123456789abcdefghijklmnopqrstu"


class Owner:
    """Something to own registered secrets in the unit tests."""


# -- the mask and the registry -------------------------------------------------------------


def test_mask_shows_at_most_six_characters() -> None:
    """A long secret shows its first 6 characters; a short one nothing."""
    assert mask(KEY) == "sk-hel...***"
    assert mask("0123456789abc") == "***"


def test_registered_secret_is_masked_everywhere_in_a_value() -> None:
    """Strings, mapping keys, lists and tuples inside a value are scrubbed; others kept."""
    owner = Owner()
    register(owner, [KEY])
    body = {"error": f"bad key Bearer {KEY}", KEY: [KEY, (KEY, 5)], "n": 1}
    assert scrub(body) == {
        "error": "bad key Bearer sk-hel...***",
        "sk-hel...***": ["sk-hel...***", ("sk-hel...***", 5)],
        "n": 1,
    }
    assert scrub(f"{KEY}".encode()) == b"sk-hel...***"
    assert scrub_text("nothing here") == "nothing here"


def test_a_cut_off_start_of_a_key_is_masked() -> None:
    """A run of 12+ leading characters of a key is masked as far as it matches."""
    owner = Owner()
    key = "zq-unit-cut-0123456789abcdefghijkl"  # a start no other live test key shares
    register(owner, [key])
    assert scrub_text(f"...{key[:20]}") == "...zq-uni...***"
    assert scrub_text(f"'{key[:12]}'") == "'zq-uni...***'"
    assert scrub_text(key[:11]) == key[:11]  # 11 characters of a shared prefix are no key


def test_keys_with_a_common_start_leave_no_tail() -> None:
    """Two keys sharing their first 12 characters: each is masked whole, in one pass."""
    owner = Owner()
    other = "sk-helicone-zzzzzzz-yyyyyyy-xxxxxxx-wwwwwww"
    register(owner, [KEY, other])
    text = scrub_text(f"a={KEY} b={other}")
    assert text == "a=sk-hel...*** b=sk-hel...***"


def test_short_values_are_not_treated_as_secrets() -> None:
    """A value under 8 characters is not registered (it would mask ordinary words)."""
    owner = Owner()
    register(owner, ["k", "sk-test"])
    assert not is_registered("k")
    assert scrub_text("k sk-test") == "k sk-test"


def test_a_secret_is_forgotten_with_its_owner() -> None:
    """A client's keys stop being masked once the client is garbage collected."""
    key = "sk-helicone-forgotten-0123456789abcdef"
    client = AsyncHelicone(api_key=key, base_url="http://127.0.0.1:9/v1")
    assert is_registered(key)
    del client
    gc.collect()
    assert scrub_text(key) == key
    assert not is_registered(key)


def test_helicone_options_repr_masks_posthog_key() -> None:
    """repr(HeliconeOptions(posthog_key=...)) shows the mask, not the key."""
    text = repr(HeliconeOptions(posthog_key=POSTHOG_KEY, user_id="u1"))
    assert POSTHOG_KEY not in text
    assert "posthog_key='phc_01...***'" in text
    assert "user_id='u1'" in text
    assert "posthog_key=None" in repr(HeliconeOptions())


# -- what a user can see of an error ---------------------------------------------------


def visible(exc: BaseException) -> str:
    """Everything a user or a log sees of an error and its chain, as one text."""
    seen: list[str] = []
    current: BaseException | None = exc
    while current is not None and len(seen) < 20:
        seen += [str(current), repr(current), repr(current.args)]
        for name in ("message", "body", "headers", "details", "code", "param", "type"):
            value = getattr(current, name, None)
            if value is not None:
                seen.append(repr(value))
                with contextlib.suppress(TypeError, ValueError):
                    seen.append(json.dumps(value))
        helicone = getattr(current, "helicone", None)
        if helicone is not None:
            seen.append(repr(helicone))
        current = current.__cause__ or current.__context__
    return "\n".join(seen)


def assert_hidden(text: str, *secrets: str) -> None:
    """No secret in ``text``: not whole, not its first 12 characters, not quoted in JSON or
    a repr (a backslash or quote in it escaped)."""
    for secret in secrets:
        for form in {secret, json.dumps(secret)[1:-1], repr(secret)[1:-1]}:
            assert form not in text
            assert form[:12] not in text, "a cut-off start of a key is visible"


# -- a gateway that echoes what it was sent --------------------------------------------


def _header_lines(record: RequestRecord) -> str:
    return "\n".join(f"{name}: {value}" for name, value in record.headers.items())


def echo(record: RequestRecord) -> Any:
    """Answer with the request's headers inside an error; ``x-echo`` picks the shape."""
    mode = record.headers.get("x-echo", "json401")
    pad = int(record.headers.get("x-pad", "0"))
    headers = dict(record.headers)
    if mode == "json401":
        body = {
            "error": {
                "message": f"Invalid key {headers.get('authorization')}",
                "type": "invalid_request_error",
                "code": headers.get("authorization"),
                "details": [{"message": _header_lines(record), "source": "x"}],
            },
            "received": headers,
        }
        return RawResponse(
            401, json.dumps(body), content_type="application/json", headers={"x-seen": str(headers)}
        )
    if mode == "text500":
        # The keys straddle the message's 500-character excerpt for some paddings.
        return RawResponse(500, "x" * pad + _header_lines(record), content_type="text/plain")
    if mode == "text200":
        return RawResponse(200, "y" * pad + _header_lines(record), content_type="text/html")
    if mode == "stream":
        error = {"error": {"message": "y" * pad + _header_lines(record), "type": "server_error"}}
        return InStreamError(after_chunks=1, error_json=error)
    raise AssertionError(mode)


@pytest.fixture
def echo_gateway() -> FakeGateway:
    gateway = FakeGateway()
    gateway.script("*", [Respond(echo)], repeat=True)
    return gateway


def client_for(
    server: LoopbackServer,
    key: str = KEY,
    provider_key: str | None = PROVIDER_KEY,
    posthog: str | None = POSTHOG_KEY,
) -> AsyncHelicone:
    return AsyncHelicone(
        api_key=key,
        base_url=f"{server.url}/v1",
        provider_api_key=provider_key,
        helicone=HeliconeOptions(posthog_key=posthog) if posthog else None,
        max_retries=0,
    )


async def chat_error(client: AsyncHelicone, mode: str, pad: int = 0, **kwargs: Any) -> APIError:
    headers = {"X-Echo": mode, "X-Pad": str(pad)}
    with pytest.raises(APIError) as info:
        if mode == "stream":
            stream = await client.chat.completions.create(
                model=MODEL, messages=MESSAGES, stream=True, extra_headers=headers, **kwargs
            )
            async with stream:
                async for _ in stream:
                    pass
        else:
            await client.chat.completions.create(
                model=MODEL, messages=MESSAGES, extra_headers=headers, **kwargs
            )
    return info.value


# -- regression tests, one per stage ------------------------------------------------------


@pytest.mark.anyio
async def test_keys_echoed_in_a_401_body_are_masked(echo_gateway: FakeGateway) -> None:
    """A 401 echoing the headers: no key in str, body, headers, details; the mask is there."""
    async with serve(echo_gateway) as server, client_for(server) as client:
        error = await chat_error(client, "json401")
    assert isinstance(error, AuthenticationError)
    assert echo_gateway.last_request.headers["helicone-auth"] == f"Bearer {KEY}"  # it was sent
    assert_hidden(visible(error), KEY, PROVIDER_KEY, POSTHOG_KEY)
    assert "Bearer sk-pro...***" in str(error)
    assert isinstance(error.body, dict)
    assert error.body["received"]["helicone-auth"] == "Bearer sk-hel...***"
    assert error.body["received"]["helicone-posthog-key"] == "phc_01...***"


@pytest.mark.anyio
@pytest.mark.parametrize("pad", [0, 480, 490, 495])
async def test_keys_in_a_plain_text_500_are_masked(echo_gateway: FakeGateway, pad: int) -> None:
    """A plain-text 500 echoing the headers, with the keys where the excerpt is cut."""
    async with serve(echo_gateway) as server, client_for(server) as client:
        error = await chat_error(client, "text500", pad)
    assert isinstance(error, InternalServerError)
    assert_hidden(visible(error), KEY, PROVIDER_KEY, POSTHOG_KEY)


@pytest.mark.anyio
async def test_keys_in_an_in_stream_error_event_are_masked(echo_gateway: FakeGateway) -> None:
    """An error event inside a 200 stream that echoes the headers."""
    async with serve(echo_gateway) as server, client_for(server) as client:
        error = await chat_error(client, "stream")
    assert isinstance(error, APIStatusError) and error.in_stream
    assert_hidden(visible(error), KEY, PROVIDER_KEY, POSTHOG_KEY)


@pytest.mark.anyio
async def test_keys_in_a_200_that_is_not_json_are_masked(echo_gateway: FakeGateway) -> None:
    """A 200 HTML page echoing the headers: the validation error quotes it without keys."""
    async with serve(echo_gateway) as server, client_for(server) as client:
        error = await chat_error(client, "text200", 150)
    assert isinstance(error, APIResponseValidationError)
    assert_hidden(visible(error), KEY, PROVIDER_KEY, POSTHOG_KEY)


@pytest.mark.anyio
async def test_per_call_posthog_key_is_masked(echo_gateway: FakeGateway) -> None:
    """A posthog_key given to one call (not the client) is masked in that call's error."""
    call_key = "phc_percall-0123456789abcdefghijkl"
    async with serve(echo_gateway) as server, client_for(server, posthog=None) as client:
        error = await chat_error(client, "json401", helicone=HeliconeOptions(posthog_key=call_key))
        from_metadata = await chat_error(
            client, "json401", metadata={"Helicone-Posthog-Key": call_key + "-meta"}
        )
        stream = await client.chat.completions.create(
            model=MODEL,
            messages=MESSAGES,
            stream=True,
            helicone=HeliconeOptions(posthog_key=call_key + "-stream"),
            extra_headers={"X-Echo": "stream"},
        )
        gc.collect()  # the prepared call is gone; the error event is still to come
        with pytest.raises(APIStatusError) as in_stream:
            async with stream:
                async for _ in stream:
                    pass
    assert echo_gateway.requests[0].headers["helicone-posthog-key"] == call_key
    assert_hidden(visible(error), call_key)
    assert_hidden(visible(from_metadata), call_key + "-meta")
    assert_hidden(visible(in_stream.value), call_key + "-stream")


@pytest.mark.anyio
async def test_batch_output_line_has_no_key(echo_gateway: FakeGateway) -> None:
    """A batch output line for an echoed 401 holds the masks, never the keys."""
    from aiohelicone import run_batch

    line = {
        "custom_id": "r1",
        "method": "POST",
        "url": "/v1/chat/completions",
        "body": {"model": MODEL, "messages": MESSAGES},
    }
    async with (
        serve(echo_gateway) as server,
        client_for(server) as client,
        run_batch(client, [line]) as results,
    ):
        (result,) = [r async for r in results]
    output = json.dumps(result_line(result))
    assert result.error is not None
    assert "sk-hel...***" in output
    assert_hidden(output, KEY, PROVIDER_KEY, POSTHOG_KEY)


def run_cli(argv: list[str], env: dict[str, str]) -> tuple[int, str]:
    """``aiohelicone ...`` in this process; the exit status and everything it printed."""
    out, err = io.StringIO(), io.StringIO()
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("HELICONE_", "AIOHELICONE_"))}
    with (
        mock.patch.dict(os.environ, {**clean, **env}, clear=True),
        contextlib.redirect_stdout(out),
        contextlib.redirect_stderr(err),
    ):
        status = cli.main(argv)
    return status, out.getvalue() + err.getvalue()


@contextlib.contextmanager
def served_in_thread(gateway: FakeGateway) -> Iterator[LoopbackServer]:
    """The gateway on loopback from a thread, for code that runs its own event loop."""
    with (
        anyio.from_thread.start_blocking_portal() as portal,
        portal.wrap_async_context_manager(serve(gateway)) as server,
    ):
        yield server


@pytest.mark.parametrize("backend", ["asyncio", "trio"])
def test_cli_chat_error_has_no_key(echo_gateway: FakeGateway, backend: str) -> None:
    """aiohelicone chat against a gateway echoing the key: one masked line, exit 1."""
    with served_in_thread(echo_gateway) as server:
        argv = ["--backend", backend, "chat", "--base-url", f"{server.url}/v1", "-m", MODEL, "hi"]
        status, output = run_cli(argv, {"HELICONE_API_KEY": KEY})
    assert status == 1
    assert echo_gateway.last_request.headers["authorization"] == f"Bearer {KEY}"
    assert output.startswith("aiohelicone: error: AuthenticationError: ")
    assert "sk-hel...***" in output
    assert_hidden(output, KEY)


@pytest.mark.anyio
async def test_legacy_pool_headers_do_not_show_the_helicone_key(
    server: LoopbackServer, gateway: FakeGateway
) -> None:
    """With provider_api_key, the pool's headers hold no key; each request still sends both."""
    async with client_for(server, posthog=None) as client:
        assert KEY not in repr(client.http_client.headers)
        assert "helicone-auth" not in client.http_client.headers
        await client.chat.completions.create(model=MODEL, messages=MESSAGES)
        await client.chat.completions.create(model=MODEL, messages=MESSAGES, extra_query={"a": 1})
    for record in gateway.requests:  # the direct path, then httpx2's build_request path
        assert record.headers["helicone-auth"] == f"Bearer {KEY}"
        assert record.headers["authorization"] == f"Bearer {PROVIDER_KEY}"


# -- the promise, as a property ----------------------------------------------------------

_PRINTABLE = st.characters(min_codepoint=0x20, max_codepoint=0x7E)
_KEY_SHAPES = st.builds(
    str.__add__,
    st.sampled_from(["sk-helicone-", "sk-helicone-eu-", "pk-helicone-", "sk-proj-", "sk-", ""]),
    st.text(_PRINTABLE, min_size=20, max_size=60),
).filter(lambda key: key == key.strip())
_STAGES = ["construction", "refused", "json401", "text500", "text200", "stream", "batch", "cli"]


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def _stage_error(
    stage: str, server: LoopbackServer, keys: tuple[str, str, str], pad: int
) -> str:
    """Run one stage with these keys; what the user gets to see of the failure."""
    key, provider_key, posthog = keys
    if stage == "construction":
        bad = key + (" ", "\t", "\x7f", "\x1b")[pad % 4]
        with pytest.raises(InvalidInputError) as refused:
            AsyncHelicone(api_key=bad, base_url=f"{server.url}/v1")
        with pytest.raises(InvalidInputError) as refused_provider:
            AsyncHelicone(api_key=key, provider_api_key=bad, base_url=f"{server.url}/v1")
        return visible(refused.value) + visible(refused_provider.value)
    if stage == "refused":
        client = AsyncHelicone(
            api_key=key,
            provider_api_key=provider_key,
            base_url=f"http://127.0.0.1:{_closed_port()}/v1",
            max_retries=0,
        )
        async with client:
            with pytest.raises(APIConnectionError) as broken:
                await client.chat.completions.create(model=MODEL, messages=MESSAGES)
        return visible(broken.value)
    async with client_for(server, key, provider_key, posthog) as client:
        if stage == "batch":
            from aiohelicone import run_batch

            line = {"url": "/v1/chat/completions", "body": {"model": MODEL, "messages": MESSAGES}}
            async with run_batch(client, [line]) as results:
                (result,) = [r async for r in results]
            assert result.error is not None
            return json.dumps(result_line(result)) + visible(result.error)
        return visible(await chat_error(client, stage, pad))


@pytest.fixture(scope="module")
def threaded_echo() -> Iterator[tuple[FakeGateway, LoopbackServer]]:
    gateway = FakeGateway()
    gateway.script("*", [Respond(echo)], repeat=True)
    with served_in_thread(gateway) as server:
        yield gateway, server


@pytest.mark.parametrize("backend", ["asyncio", "trio"])
@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    # Three different keys (a Helicone key, a provider key, a posthog key); they may share
    # their first characters, as two sk-helicone- keys do.
    keys=st.tuples(_KEY_SHAPES, _KEY_SHAPES, _KEY_SHAPES).filter(lambda ks: len(set(ks)) == 3),
    stage=st.sampled_from(_STAGES),
    pad=st.integers(0, 520),
)
def test_no_key_in_anything_a_user_sees(
    threaded_echo: tuple[FakeGateway, LoopbackServer],
    backend: str,
    keys: tuple[str, str, str],
    stage: str,
    pad: int,
) -> None:
    """Whatever the stage and the key shape, no key (nor its first 12 characters) shows."""
    _gateway, server = threaded_echo
    if stage == "cli":
        argv = ["--backend", backend, "chat", "--base-url", f"{server.url}/v1", "-m", MODEL, "hi"]
        status, seen = run_cli(argv, {"HELICONE_API_KEY": keys[0]})
        assert status == 1
        assert_hidden(seen, keys[0])
        return

    async def run() -> str:
        return await _stage_error(stage, server, keys, pad)

    seen = anyio.run(run, backend=backend)
    assert_hidden(seen, *keys)
