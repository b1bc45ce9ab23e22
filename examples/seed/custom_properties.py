"""Custom properties: the async twin of the seed's "With Metadata" example.

LiteLLM::

    completion(
        model="helicone/gpt-4o-mini",
        messages=[{"role": "user", "content": "What's the weather like?"}],
        metadata={
            "Helicone-Property-Environment": "production",
            "Helicone-Property-User-Id": "user_123",
            "Helicone-Property-Session-Id": "session_abc",
        },
    )

The same ``metadata`` works here. Keys that name a Helicone header become that header,
checked first (a value with a newline, say, is refused before anything is sent). Other keys
stay in the body's ``metadata``, OpenAI's own field. Whether LiteLLM forwards ``metadata``
as headers at all is unclear (LiteLLM issue #12997); here it always does.

Run: ``python examples/seed/custom_properties.py`` (the real gateway when HELICONE_API_KEY
is set, else the embedded fake gateway: no key, no network).
"""

from __future__ import annotations

from aiohelicone import AsyncHelicone, ChatCompletion

METADATA = {
    "Helicone-Property-Environment": "production",
    "Helicone-Property-User-Id": "user_123",
    "Helicone-Property-Session-Id": "session_abc",
}


async def main(client: AsyncHelicone) -> ChatCompletion:
    """Send a chat completion tagged with three custom properties."""
    response = await client.chat.completions.create(
        model="gpt-4o-mini",
        messages=[{"role": "user", "content": "What's the weather like?"}],
        metadata=METADATA,
        # The typed equivalent, which client defaults can use too:
        # helicone=HeliconeOptions(properties={"Environment": "production", ...})
    )
    print(response.choices[0].message.content)
    return response


if __name__ == "__main__":
    from _run import run  # examples/seed/_run.py: the real gateway, or else the fake

    run(main)
