"""Helicone headers: the async twin of the seed's "Example with headers" and its header table.

LiteLLM::

    litellm.completion(
        model="helicone/gpt-4",
        messages=[{"role": "user", "content": "Hello"}],
        metadata={
            "Helicone-Cache-Enabled": "true",
            "Helicone-Property-Environment": "production",
            "Helicone-Property-User-Id": "user_123",
            "Helicone-Session-Id": "session_abc",
            "Helicone-Prompt-Id": "prompt_v1",
        },
    )

Every key names a Helicone header, so every one is sent as that header, after checking
(``"true"``/``"false"`` for switches, no CR/LF anywhere).

The seed's table lists two more headers, used in the second call. ``Helicone-User-Id``
is plain. ``Helicone-Rate-Limit-Policy`` is misspelt there: the gateway reads
``Helicone-RateLimit-Policy`` and would ignore the other, so it is recognised and sent
under the real name. Its value is not a "policy name" but ``quota;w=seconds[;s=user]``,
checked before sending (a malformed policy is silently not enforced by the gateway).

Run: ``python examples/seed/custom_headers.py`` (the real gateway when HELICONE_API_KEY is
set, else the embedded fake gateway: no key, no network).
"""

from __future__ import annotations

from aiohelicone import AsyncHelicone, ChatCompletion

SEED_HEADERS = {
    "Helicone-Cache-Enabled": "true",
    "Helicone-Property-Environment": "production",
    "Helicone-Property-User-Id": "user_123",
    "Helicone-Session-Id": "session_abc",
    "Helicone-Prompt-Id": "prompt_v1",
}
TABLE_HEADERS = {
    "Helicone-User-Id": "user_123",
    "Helicone-Rate-Limit-Policy": "100;w=60;s=user",  # sent as Helicone-RateLimit-Policy
}


async def main(client: AsyncHelicone) -> tuple[ChatCompletion, ChatCompletion]:
    """Send the seed's headers, then the table's user id and rate-limit policy."""
    messages = [{"role": "user", "content": "Hello"}]
    first = await client.chat.completions.create(
        model="gpt-4", messages=messages, metadata=SEED_HEADERS
    )
    second = await client.chat.completions.create(
        model="gpt-4", messages=messages, metadata=TABLE_HEADERS
    )
    print(first.choices[0].message.content)
    if second.helicone is not None and second.helicone.rate_limit is not None:
        print(f"rate limit: {second.helicone.rate_limit.remaining} left in the window")
    return first, second


if __name__ == "__main__":
    from _run import run  # examples/seed/_run.py: the real gateway, or else the fake

    run(main)
