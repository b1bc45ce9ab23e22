"""Non-streaming chat completion: the async twin of the seed's "Non-streaming" example.

LiteLLM::

    response = completion(model="helicone/gpt-4", messages=messages)

The same request goes to the gateway: ``POST /v1/chat/completions`` with
``Authorization: Bearer $HELICONE_API_KEY``. ``helicone/`` is LiteLLM's route prefix, so it
is not needed here (it is accepted and stripped if you keep it).

Run: ``python examples/seed/non_streaming.py`` (the real gateway when HELICONE_API_KEY is
set, else the embedded fake gateway: no key, no network).
"""

from __future__ import annotations

from aiohelicone import AsyncHelicone, ChatCompletion

MESSAGES = [{"content": "What is the capital of France?", "role": "user"}]


async def main(client: AsyncHelicone) -> ChatCompletion:
    """Send one chat completion and print the answer."""
    response = await client.chat.completions.create(model="gpt-4", messages=MESSAGES)
    print(response.choices[0].message.content)
    # Not in LiteLLM: Helicone's view of the call, read from the response headers.
    if response.helicone is not None:
        meta = response.helicone
        print(f"Helicone-Id {meta.request_id}, served by {meta.provider} ({meta.model})")
    return response


if __name__ == "__main__":
    from _run import run  # examples/seed/_run.py: the real gateway, or else the fake

    run(main)
