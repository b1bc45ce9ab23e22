"""Caching: the async twin of the seed's "Caching" example.

LiteLLM sends the same request twice with ``metadata={"Helicone-Cache-Enabled": "true"}``;
the second is "served from cache". Here that is visible: ``.helicone.cache.hit`` reads the
``Helicone-Cache: HIT``/``MISS`` response header. The typed form is
``helicone=HeliconeOptions(cache_enabled=True, cache_max_age=3600)``, which also sets the
time to live (``Cache-Control: max-age=3600``; the gateway's default is 7 days).

The two requests must be identical for the second to hit: the cache key is the body, so
the same model, messages and parameters.

Run: ``python examples/seed/caching.py`` (the real gateway when HELICONE_API_KEY is set,
else the embedded fake gateway: no key, no network).
"""

from __future__ import annotations

from aiohelicone import AsyncHelicone, ChatCompletion

MESSAGES = [{"role": "user", "content": "What is 2+2?"}]


async def main(client: AsyncHelicone) -> tuple[ChatCompletion, ChatCompletion]:
    """Ask twice with caching on: a MISS, then a HIT with the same answer."""
    responses = []
    for _ in range(2):
        response = await client.chat.completions.create(
            model="gpt-4", messages=MESSAGES, metadata={"Helicone-Cache-Enabled": "true"}
        )
        hit = response.helicone.cache.hit if response.helicone is not None else None
        print(f"cache {'HIT' if hit else 'MISS'}: {response.choices[0].message.content}")
        responses.append(response)
    return responses[0], responses[1]


if __name__ == "__main__":
    from _run import run  # examples/seed/_run.py: the real gateway, or else the fake

    run(main)
