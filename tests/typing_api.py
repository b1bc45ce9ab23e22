"""Typical public-API usage, checked by `mypy --strict` (never run).

If a change makes the public types less precise, this file stops type-checking.
"""

from __future__ import annotations

from typing import assert_type

import attrs

import aiohelicone
from aiohelicone import (
    AsyncHelicone,
    AsyncStream,
    ChatCompletion,
    ChatCompletionChunk,
    Completion,
    CreateEmbeddingResponse,
    HeliconeMetadata,
    HeliconeOptions,
    RateLimitPolicy,
)


async def usage() -> None:
    async with AsyncHelicone(api_key="sk-helicone-x", helicone=HeliconeOptions(user_id="u")) as c:
        completion = await c.chat.completions.create(
            model="gpt-4o-mini", messages=[{"role": "user", "content": "hi"}]
        )
        assert_type(completion, ChatCompletion)
        assert_type(completion.choices[0].message.content, str | None)
        assert_type(completion.helicone, HeliconeMetadata | None)

        stream = await c.chat.completions.create(
            model="gpt-4o-mini", messages=[{"role": "user", "content": "hi"}], stream=True
        )
        assert_type(stream, aiohelicone.ChatCompletionStream)
        checked: AsyncStream[ChatCompletionChunk] = stream
        assert_type(await checked.__anext__(), ChatCompletionChunk)
        async with stream:
            async for chunk in stream:
                assert_type(chunk, ChatCompletionChunk)
        assert_type(stream.accumulated, ChatCompletion)
        assert_type(await stream.get_final_completion(), ChatCompletion)
        explicit = await c.chat.completions.create(
            model="gpt-4o-mini", messages=[{"role": "user", "content": "hi"}], stream=False
        )
        assert_type(explicit, ChatCompletion)

        text = await c.completions.create(model="gpt-3.5-turbo-instruct", prompt="x")
        assert_type(text, Completion)
        text_stream = await c.completions.create(
            model="gpt-3.5-turbo-instruct", prompt="x", stream=True
        )
        assert_type(text_stream, aiohelicone.CompletionStream)
        assert_type(text_stream.accumulated, Completion)
        assert_type(await text_stream.get_final_completion(), Completion)
        text_explicit = await c.completions.create(
            model="gpt-3.5-turbo-instruct", prompt="x", stream=False
        )
        assert_type(text_explicit, Completion)

        vectors = await c.embeddings.create(model="text-embedding-3-small", input="x")
        assert_type(vectors, CreateEmbeddingResponse)
        assert_type(vectors.data[0].embedding, list[float])

        options = HeliconeOptions(
            properties={"env": "prod"},
            rate_limit_policy=RateLimitPolicy(quota=100, window=3600, segment="user"),
            user_id="u-1",
        )
        await c.chat.completions.create(
            model="gpt-4o-mini",
            messages=[{"role": "user", "content": "hi"}],
            helicone=options,
            metadata={"Helicone-Cache-Enabled": "true"},
        )

    try:
        pass
    except aiohelicone.RateLimitError as exc:
        assert_type(exc.retry_after, float | None)
        assert_type(exc.status_code, int)
        assert_type(exc.in_body, bool)
    except aiohelicone.ContentDecodingError as exc:
        assert_type(exc.encoding, str)
        assert_type(exc.unsupported, bool)
        assert_type(exc.status_code, int)
    capped = AsyncHelicone(api_key="sk-helicone-x", max_response_bytes=64 * 1024 * 1024)
    await capped.aclose()


async def test_kit_usage() -> None:
    import httpx2

    from aiohelicone.testing import FakeGateway, no_retry_waits

    def log_retry(error: aiohelicone.APIError, retry: int, wait: float) -> None:
        print(type(error).__name__, retry, wait)

    client = AsyncHelicone(
        api_key="sk-helicone-x",
        transport=httpx2.ASGITransport(app=FakeGateway()),
        on_retry=log_retry,
    )
    with no_retry_waits():
        await client.models.list()
    await client.aclose()


@attrs.frozen
class _Answer:
    title: str
    score: int | None


@attrs.frozen
class _GetWeather:
    city: str


async def structured_usage() -> None:
    async with AsyncHelicone(api_key="sk-helicone-x") as c:
        completion = await c.chat.completions.create(
            model="gpt-4o-mini",
            messages=[{"role": "user", "content": "hi"}],
            response_format=aiohelicone.response_format_for(_Answer),
            tools=[aiohelicone.function_tool_for(_GetWeather, description="Weather of a city")],
        )
        message = completion.choices[0].message
        assert_type(message.reasoning, str | None)
        assert_type(message.reasoning_details, list[aiohelicone.ReasoningDetail] | None)
        assert_type(message.images, list[aiohelicone.MessageImage] | None)

        parsed = aiohelicone.parse_chat_completion(completion, _Answer, tools=[_GetWeather])
        assert_type(parsed, aiohelicone.ParsedChatCompletion[_Answer])
        assert_type(parsed.choices[0].message.parsed, _Answer | None)
        assert_type(parsed.parsed, _Answer | None)
        answer = parsed.choices[0].message.parsed
        if answer is not None:
            assert_type(answer.title, str)
        for call in parsed.choices[0].message.tool_calls or ():
            if isinstance(call.function.parsed_arguments, _GetWeather):
                assert_type(call.function.parsed_arguments.city, str)

        only_tools = aiohelicone.parse_chat_completion(completion, tools={"w": _GetWeather})
        assert_type(only_tools.choices[0].message.parsed, None)


async def parse_usage() -> None:
    async with AsyncHelicone(api_key="sk-helicone-x") as c:
        messages = [{"role": "user", "content": "hi"}]
        result = await c.chat.completions.parse(
            model="claude-sonnet-4/anthropic",
            messages=messages,
            response_format=_Answer,
            tools=[_GetWeather],
            reasoning_effort="medium",
            reasoning_options={"budget_tokens": 2048},
            verbosity="low",
            max_completion_tokens=400,
        )
        assert_type(result, aiohelicone.ParsedChatCompletion[_Answer])
        assert_type(result.choices[0].message.parsed, _Answer | None)

        tools_only = await c.chat.completions.parse(
            model="gpt-4o-mini", messages=messages, tools=[_GetWeather]
        )
        assert_type(tools_only.choices[0].message.parsed, None)

        async with c.chat.completions.stream_parse(
            model="gpt-4o-mini", messages=messages, response_format=_Answer
        ) as stream:
            assert_type(stream, aiohelicone.ParsedChatCompletionStream[_Answer])
            async for text in stream.text_deltas():
                assert_type(text, str)
            assert_type(await stream.get_final_parsed(), _Answer | None)
            final = await stream.get_final_completion()
            assert_type(final.choices[0].message.parsed, _Answer | None)

        options: aiohelicone.ReasoningOptions = {"budget_tokens": 1024}
        await c.chat.completions.create(
            model="gpt-4o-mini",
            messages=messages,
            reasoning_effort="high",
            reasoning_options=options,
        )
        # Levels outside the documented ones, and stream= on parse, are type errors:
        cc = c.chat.completions
        await cc.create(messages=messages, reasoning_effort="x")  # type: ignore[call-overload]
        await cc.parse(messages=messages, stream=True)  # type: ignore[call-overload]


async def responses_usage() -> None:
    async with AsyncHelicone(api_key="sk-helicone-x") as c:
        response = await c.responses.create(
            model="gpt-5/openai,claude-sonnet-4/anthropic",
            input="hi",
            instructions="Be brief.",
            reasoning={"effort": "low"},
            max_output_tokens=100,
            truncation="auto",
            metadata={"topic": "x"},
            helicone=HeliconeOptions(user_id="u"),
        )
        assert_type(response, aiohelicone.Response)
        assert_type(response.output_text, str)
        assert_type(response.status, str | None)
        assert_type(response.helicone, HeliconeMetadata | None)
        if response.usage is not None:
            assert_type(response.usage.output_tokens, int)
        for item in response.output:
            if isinstance(item, aiohelicone.ResponseFunctionToolCall):
                assert_type(item.arguments, str)
            elif isinstance(item, aiohelicone.ResponseOutputMessage):
                for part in item.content:
                    if isinstance(part, aiohelicone.ResponseOutputText):
                        assert_type(part.text, str)
            elif isinstance(item, aiohelicone.ResponseReasoningItem):
                assert_type(item.summary, list[aiohelicone.ReasoningSummaryPart])

        stream = await c.responses.create(model="gpt-4o-mini", input="hi", stream=True)
        assert_type(stream, aiohelicone.ResponseStream)
        async with stream:
            async for event in stream:
                if isinstance(event, aiohelicone.ResponseTextDeltaEvent):
                    assert_type(event.delta, str)
            async for text in stream.text_deltas():
                assert_type(text, str)
        assert_type(await stream.get_final_response(), aiohelicone.Response)
        assert_type(stream.accumulated, aiohelicone.Response)

        flag: bool = bool(len("x"))
        either = await c.responses.create(model="gpt-4o-mini", input="hi", stream=flag)
        assert_type(either, aiohelicone.Response | aiohelicone.ResponseStream)

        try:
            await c.responses.create(model="gpt-4o-mini", input="hi", stream=True)
        except aiohelicone.StreamTruncatedError as exc:
            partial: object = exc.partial
            assert partial is not None

        request = aiohelicone.BatchRequest("responses", {"model": "gpt-4o-mini", "input": "hi"})
        assert_type(request, aiohelicone.BatchRequest)


async def registry_and_webhooks_usage(raw: bytes, signature: str) -> None:
    from aiohelicone import webhooks

    async with aiohelicone.AsyncHelicone() as c:
        registry = await c.models.registry()
        assert_type(registry, aiohelicone.ModelRegistry)
        model = registry.get("gpt-4o-mini")
        assert_type(model, aiohelicone.RegistryModel | None)
        assert_type(registry.estimate_cost("gpt-4o-mini", 10, 5), float | None)
    event = webhooks.verify_and_parse(raw, signature, "secret")
    assert_type(event, webhooks.WebhookPayload)
    assert_type(event.metadata.cost if event.metadata else None, float | None)
    try:
        webhooks.verify(raw, signature, "secret")
    except aiohelicone.WebhookSignatureError as exc:
        assert_type(exc.reason, str)


async def responses_parse_usage() -> None:
    async with AsyncHelicone(api_key="sk-helicone-x") as c:
        parsed = await c.responses.parse(
            model="gpt-5/openai",
            input="hi",
            text_format=_Answer,
            tools=[_GetWeather, {"type": "web_search"}],
            max_output_tokens=400,
            text={"verbosity": "low"},
        )
        assert_type(parsed, aiohelicone.ParsedResponse[_Answer])
        assert_type(parsed.output_parsed, _Answer | None)
        assert_type(parsed.output_text, str)
        assert_type(parsed.raw, aiohelicone.Response | None)
        if parsed.output_parsed is not None:
            assert_type(parsed.output_parsed.title, str)
        for item in parsed.output:
            if isinstance(item, aiohelicone.ParsedResponseOutputMessage):
                for part in item.content:
                    if isinstance(part, aiohelicone.ParsedResponseOutputText):
                        assert_type(part.parsed, _Answer | None)
            elif isinstance(item, aiohelicone.ParsedResponseFunctionToolCall) and isinstance(
                item.parsed_arguments, _GetWeather
            ):
                assert_type(item.parsed_arguments.city, str)

        tools_only = await c.responses.parse(model="gpt-5", input="hi", tools=[_GetWeather])
        assert_type(tools_only.output_parsed, None)

        async with c.responses.stream_parse(
            model="gpt-5", input="hi", text_format=_Answer
        ) as stream:
            assert_type(stream, aiohelicone.ParsedResponseStream[_Answer])
            async for text in stream.text_deltas():
                assert_type(text, str)
            assert_type(await stream.get_final_parsed(), _Answer | None)
            final = await stream.get_final_response()
            assert_type(final.output_parsed, _Answer | None)

        response = await c.responses.create(
            model="gpt-5",
            input="hi",
            text={"format": aiohelicone.text_format_for(_Answer)},
            tools=[aiohelicone.responses_function_tool_for(_GetWeather)],
        )
        assert_type(aiohelicone.parse_response(response, _Answer).output_parsed, _Answer | None)
        # stream= on parse is a type error:
        await c.responses.parse(model="gpt-5", input="hi", stream=True)  # type: ignore[call-overload]


async def rest_errors_and_sessions_usage() -> None:
    async with aiohelicone.AsyncHelicone() as c:
        try:
            await c.requests.count()
        except aiohelicone.RestAuthenticationError as exc:
            assert_type(exc.write_permission_hint, bool)
            assert_type(exc.trace, str | None)
        except aiohelicone.RestRateLimitError as exc:
            assert_type(exc.retry_after, float | None)
            assert_type(exc.limit, int | None)
        except aiohelicone.InvalidTokenError as exc:
            assert_type(exc.status_code, int)
        names = await c.sessions.names(name="checkout")
        assert_type(names, list[aiohelicone.SessionName])
        metrics = await c.sessions.metrics(percentile="p95")
        assert_type(metrics.requests_per_session, tuple[aiohelicone.HistogramBin, ...])
        assert_type(await c.sessions.tag("s1"), str | None)
        await c.sessions.set_tag("s1", "reviewed")
