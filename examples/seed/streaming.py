"""Streaming chat completion: the async twin of the seed's "Streaming" example.

LiteLLM::

    response = completion(model="helicone/gpt-4", messages=messages, stream=True)
    for chunk in response:
        print(chunk)

Here the stream is an async iterator of typed chunks. ``async with`` closes the connection
even when the loop stops early (LiteLLM leaves that to the garbage collector). The gateway
always ends a stream with a chunk that has no ``choices`` and carries the token ``usage``.

Run: ``python examples/seed/streaming.py`` (the real gateway when HELICONE_API_KEY is set,
else the embedded fake gateway: no key, no network).
"""

from __future__ import annotations

from aiohelicone import AsyncHelicone, ChatCompletion

MESSAGES = [{"content": "Write a short poem about AI", "role": "user"}]


async def main(client: AsyncHelicone) -> ChatCompletion:
    """Stream a poem to stdout; return the completion accumulated from the chunks."""
    stream = await client.chat.completions.create(model="gpt-4", messages=MESSAGES, stream=True)
    async with stream:
        async for chunk in stream:
            if chunk.choices:
                print(chunk.choices[0].delta.content or "", end="", flush=True)
            elif chunk.usage is not None:  # the gateway's last chunk
                print(f"\n[{chunk.usage.total_tokens} tokens]")
    return stream.accumulated


if __name__ == "__main__":
    from _run import run  # examples/seed/_run.py: the real gateway, or else the fake

    run(main)
