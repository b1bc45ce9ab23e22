"""Layer 9 (command line): the ``aiohelicone`` command line (also ``python -m aiohelicone``).

Commands:
    demo         run the seed's scenarios against the embedded fake gateway (no key, no network)
    chat         send one chat completion (or, with --responses, a Responses API call)
                 and stream the answer to stdout
    serve-fake   serve the fake gateway on loopback for other programs
    batch        run an OpenAI Batch API input file concurrently, resumably (``_cli_batch``)
    report       cost, volume, latency and error report from Helicone's REST API (``_cli_report``)

Errors print one line (``--debug`` shows the traceback) and exit 1; Ctrl-C exits 130.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, TextIO

if TYPE_CHECKING:
    from ._client import AsyncHelicone
    from ._helicone import HeliconeOptions

__all__ = ["main"]

_DEMO_MODEL = "gpt-4o-mini/openai"


def _out(text: str = "", *, file: TextIO | None = None) -> None:
    print(text, file=file or sys.stdout, flush=True)


# -- demo ------------------------------------------------------------------------------


async def _demo(args: argparse.Namespace) -> int:
    from . import AsyncHelicone, HeliconeOptions, RateLimitError, RateLimitPolicy
    from .testing import FakeGateway, serve

    gateway = FakeGateway()
    async with serve(gateway) as server:
        _out(f"Fake Helicone gateway listening on {server.url} (loopback, no key, no network)")
        async with AsyncHelicone(
            api_key="sk-helicone-demo", base_url=f"{server.url}/v1", rest_base_url=server.url
        ) as client:
            _out("\n1. Chat completion")
            completion = await client.chat.completions.create(
                model=_DEMO_MODEL,
                messages=[{"role": "user", "content": "What is the capital of France?"}],
            )
            meta = completion.helicone
            _out(f"   answer:     {completion.choices[0].message.content}")
            if completion.usage is not None:
                u = completion.usage
                _out(
                    f"   usage:      {u.prompt_tokens} prompt + {u.completion_tokens} completion"
                    f" = {u.total_tokens} tokens"
                )
            if meta is not None:
                _out(f"   request id: {meta.request_id}")
                _out(f"   served by:  {meta.provider} / {meta.model}")

            _out("\n2. Streaming")
            stream = await client.chat.completions.create(
                model=_DEMO_MODEL,
                messages=[{"role": "user", "content": "Write a short poem about AI"}],
                stream=True,
            )
            sys.stdout.write("   ")
            async with stream:
                async for text in stream.text_deltas():
                    sys.stdout.write(text)
                    sys.stdout.flush()
            final = stream.accumulated
            _out(f"\n   ({final.usage.total_tokens if final.usage else '?'} tokens)")

            _out("\n3. Custom properties (LiteLLM-style metadata)")
            await client.chat.completions.create(
                model=_DEMO_MODEL,
                messages=[{"role": "user", "content": "What's the weather like?"}],
                metadata={
                    "Helicone-Property-Environment": "production",
                    "Helicone-Property-User-Id": "user_123",
                    "Helicone-Session-Id": "session_abc",
                },
            )
            recorded = gateway.requests[-1]
            _out(f"   gateway recorded properties: {dict(recorded.properties)}")

            _out("\n4. Caching")
            cached = HeliconeOptions(cache_enabled=True)
            for attempt in ("first", "second"):
                result = await client.chat.completions.create(
                    model=_DEMO_MODEL,
                    messages=[{"role": "user", "content": "What is 2+2?"}],
                    helicone=cached,
                )
                hit = result.helicone.cache.hit if result.helicone else None
                _out(f"   {attempt} call: cache {'HIT' if hit else 'MISS'}")

            await _demo_fallback(client, gateway)

            _out("\n6. Rate limit policy (2 requests per minute per user)")
            limited = HeliconeOptions(
                user_id="demo-user",
                rate_limit_policy=RateLimitPolicy(quota=2, window=60, segment="user"),
            )
            for i in range(3):
                try:
                    result = await client.chat.completions.create(
                        model=_DEMO_MODEL,
                        messages=[{"role": "user", "content": f"ping {i}"}],
                        helicone=limited,
                        max_retries=0,
                    )
                except RateLimitError as exc:
                    _out(f"   call {i + 1}: 429 {exc.message} (reason: {exc.reason})")
                else:
                    rl = result.helicone.rate_limit if result.helicone else None
                    left = f"{rl.remaining:g}" if rl and rl.remaining is not None else "?"
                    _out(f"   call {i + 1}: ok, {left} left")

            await _demo_monitoring(client, completion)
            await _demo_responses(client, gateway)
    _out("\nDone.")
    return 0


async def _demo_fallback(client: AsyncHelicone, gateway: Any) -> None:
    from .testing import Fail, Reply

    _out("\n5. Fallback chain (client-side): OpenAI is down, Anthropic answers")
    gateway.script("gpt-4o-mini/openai", [Fail(503)])
    gateway.script(
        "claude-3-5-sonnet-20241022/anthropic", [Reply(text="Paris, from the fallback.")]
    )
    result = await client.chat.completions.create(
        model="gpt-4o-mini/openai,claude-3-5-sonnet-20241022/anthropic",
        messages=[{"role": "user", "content": "What is the capital of France?"}],
        max_retries=0,
    )
    _out(f"   answer: {result.choices[0].message.content}")
    for attempt in result.helicone.attempts if result.helicone else ():
        _out(
            f"   attempt {attempt.target:<40} {attempt.outcome:<4} {attempt.elapsed * 1000:6.1f} ms"
        )


async def _demo_responses(client: AsyncHelicone, gateway: Any) -> None:
    from . import StreamTruncatedError
    from .testing import TruncatedStream

    _out("\n8. Responses API (POST /v1/responses): a stream, then a cut one")
    stream = await client.responses.create(
        model=_DEMO_MODEL, input="Name three gateways", stream=True
    )
    sys.stdout.write("   ")
    async with stream:
        async for text in stream.text_deltas():
            sys.stdout.write(text)
            sys.stdout.flush()
    final = await stream.get_final_response()
    tokens = final.usage.total_tokens if final.usage else "?"
    _out(f"\n   ({final.status}, {len(final.output)} output item(s), {tokens} tokens)")
    gateway.script(_DEMO_MODEL, [TruncatedStream(after_chunks=6)])
    cut = await client.responses.create(model=_DEMO_MODEL, input="a b c d", stream=True)
    try:
        await cut.get_final_response()
    except StreamTruncatedError as exc:
        partial = getattr(exc.partial, "output_text", "")
        _out(f"   cut after {exc.chunks} events: StreamTruncatedError, partial {partial!r}")


async def _demo_monitoring(client: AsyncHelicone, first: Any) -> None:
    from ._analytics import analyze
    from ._cli_report import render_report

    _out("\n7. Feedback and a cost report (Helicone's REST API, emulated by the fake)")
    await client.requests.feedback(first, True)
    logged = await client.requests.get(first)
    _out(f"   feedback on the first call: {'thumbs up' if logged.feedback else '?'}")
    report = await analyze(client.requests.query(), by="model")
    table = render_report(report).split("\n\n")[1]  # the title, [the table], the volume
    for line in table.splitlines():
        _out(f"   {line}")


# -- chat ------------------------------------------------------------------------------


def _options(args: argparse.Namespace) -> HeliconeOptions:
    from ._exceptions import InvalidInputError
    from ._helicone import HeliconeOptions

    properties: dict[str, str] = {}
    for item in args.property or []:
        name, sep, value = item.partition("=")
        if not sep or not name:
            raise InvalidInputError("--property", f"expected key=value, got {item!r}")
        properties[name] = value
    return HeliconeOptions(
        properties=properties,
        user_id=args.user,
        session_id=args.session,
        cache_enabled=True if args.cache else None,
    )


async def _chat(args: argparse.Namespace) -> int:
    from . import AsyncHelicone

    # `echo hi | aiohelicone chat` sends "hi", as `aiohelicone chat hi` does (same cache key).
    prompt = " ".join(args.prompt) if args.prompt else sys.stdin.read().rstrip("\r\n")
    if not prompt.strip():
        raise SystemExit("aiohelicone chat: error: no prompt given (as arguments or on stdin)")
    messages = [{"role": "user", "content": prompt}]
    params: dict[str, Any] = {}
    if args.temperature is not None:
        params["temperature"] = args.temperature
    if args.max_tokens is not None:
        params["max_tokens"] = args.max_tokens
    options = _options(args)
    if args.fake:
        from .testing import FakeGateway, serve

        async with (
            serve(FakeGateway()) as server,
            AsyncHelicone(api_key="sk-helicone-fake", base_url=f"{server.url}/v1") as fake,
        ):
            return await _run_chat(fake, args, messages, params, options)
    async with AsyncHelicone(base_url=args.base_url) as client:
        return await _run_chat(client, args, messages, params, options)


async def _run_chat(
    client: AsyncHelicone,
    args: argparse.Namespace,
    messages: list[dict[str, str]],
    params: dict[str, Any],
    options: HeliconeOptions,
) -> int:
    from ._converter import unstructure

    stream: Any
    if args.responses:
        # The Responses API: the prompt is its input, max_tokens its max_output_tokens.
        if "max_tokens" in params:
            params["max_output_tokens"] = params.pop("max_tokens")
        stream = await client.responses.create(
            model=args.model,
            input=messages[0]["content"],
            stream=True,
            helicone=options,
            **params,
        )
    else:
        stream = await client.chat.completions.create(
            model=args.model, messages=messages, stream=True, helicone=options, **params
        )
    async with stream:
        if args.json:
            completion = await stream.get_final_completion()
            data = unstructure(completion)
            data["helicone"] = {
                "request_id": stream.helicone.request_id,
                "provider": stream.helicone.provider,
                "model": stream.helicone.model,
            }
            _out(json.dumps(data, indent=2))
            return 0
        async for text in stream.text_deltas():
            sys.stdout.write(text)
            sys.stdout.flush()
    _out()
    return 0


# -- serve-fake ------------------------------------------------------------------------


async def _serve_fake(args: argparse.Namespace) -> int:
    import anyio

    from .testing import FakeGateway, serve

    async with serve(FakeGateway(), host=args.host, port=args.port) as server:
        _out(
            f"Fake Helicone gateway on {server.url}  (base_url={server.url}/v1, "
            f"rest_base_url={server.url}; Ctrl-C stops)"
        )
        await anyio.sleep_forever()
    return 0


# -- entry point ---------------------------------------------------------------------


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="aiohelicone", description="Async client for the Helicone AI Gateway."
    )
    parser.add_argument("--debug", action="store_true", help="show tracebacks on errors")
    parser.add_argument(
        "--backend", choices=("asyncio", "trio"), default="asyncio", help="event loop to run on"
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    demo = sub.add_parser(
        "demo", help="run the seed scenarios on the embedded fake gateway (no key, no network)"
    )
    demo.set_defaults(func=_demo)

    chat = sub.add_parser("chat", help="send a chat completion and stream the answer")
    chat.add_argument("prompt", nargs="*", help="the prompt (read from stdin when omitted)")
    chat.add_argument("-m", "--model", default="gpt-4o-mini", help="model string or chain")
    chat.add_argument(
        "-p",
        "--property",
        action="append",
        metavar="KEY=VALUE",
        help="Helicone custom property (repeatable)",
    )
    chat.add_argument("--user", help="Helicone-User-Id")
    chat.add_argument("--session", help="Helicone-Session-Id")
    chat.add_argument("--cache", action="store_true", help="enable Helicone caching")
    chat.add_argument("-t", "--temperature", type=float)
    chat.add_argument("--max-tokens", type=int)
    chat.add_argument("--json", action="store_true", help="print the final completion as JSON")
    chat.add_argument(
        "--responses",
        action="store_true",
        help="use the Responses API (POST /v1/responses) instead of chat completions",
    )
    chat.add_argument(
        "--base-url",
        default=None,
        help="gateway URL (default: HELICONE_BASE_URL or the Helicone AI gateway)",
    )
    chat.add_argument("--fake", action="store_true", help="use the embedded fake gateway")
    chat.set_defaults(func=_chat)

    serve = sub.add_parser("serve-fake", help="serve the fake gateway on loopback")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8787)
    serve.set_defaults(func=_serve_fake)

    from ._cli_batch import add_batch_parser

    add_batch_parser(sub)

    from ._cli_report import add_report_parser

    add_report_parser(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line.

    Args:
        argv: the arguments (default: ``sys.argv[1:]``).

    Returns:
        The exit status: 0 on success, 1 on an error, 130 on Ctrl-C.
    """
    args = _parser().parse_args(argv)
    import anyio

    from ._exceptions import HeliconeError

    try:
        return int(anyio.run(args.func, args, backend=args.backend))
    except KeyboardInterrupt:
        _out("interrupted", file=sys.stderr)
        return 130
    except BaseExceptionGroup as group:
        # trio delivers Ctrl-C inside a nursery (the fake's server), wrapped in a group.
        if group.subgroup(KeyboardInterrupt) is None:
            raise
        _out("interrupted", file=sys.stderr)
        return 130
    except (HeliconeError, OSError) as exc:
        if args.debug or os.environ.get("AIOHELICONE_DEBUG"):
            raise
        _out(f"aiohelicone: error: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1
