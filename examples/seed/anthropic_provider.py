"""Another provider: the async twin of the seed's "Helicone with Anthropic" example.

LiteLLM::

    response = litellm.completion(
        model="helicone/claude-3.5-haiku/anthropic",
        messages=[{"role": "user", "content": "Hello"}],
    )

``model/provider`` pins the provider. The seed says to set an Anthropic key too, but the
AI gateway needs only the Helicone key: it pays the provider from Helicone credits (PTB),
or with a provider key stored in your Helicone settings (BYOK). The answer is in OpenAI's
format whatever the provider; ``.helicone`` says who served it.

Run: ``python examples/seed/anthropic_provider.py`` (the real gateway when HELICONE_API_KEY
is set, else the embedded fake gateway: no key, no network).
"""

from __future__ import annotations

from aiohelicone import AsyncHelicone, ChatCompletion


async def main(client: AsyncHelicone) -> ChatCompletion:
    """Ask Claude 3.5 Haiku, through Anthropic, in OpenAI's format."""
    response = await client.chat.completions.create(
        model="claude-3.5-haiku/anthropic",
        messages=[{"role": "user", "content": "Hello"}],
    )
    print(response.choices[0].message.content)
    if response.helicone is not None:
        meta = response.helicone
        print(f"served by {meta.provider} as {meta.model} ({meta.gateway_mode})")
    return response


if __name__ == "__main__":
    from _run import run  # examples/seed/_run.py: the real gateway, or else the fake

    run(main)
