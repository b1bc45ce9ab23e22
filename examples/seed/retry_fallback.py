"""Retries and fallbacks: the async twin of the seed's "Retry and Fallback" example.

LiteLLM::

    litellm.api_base = "https://ai-gateway.helicone.ai/"
    litellm.metadata = {
        "Helicone-Retry-Enabled": "true",
        "helicone-retry-num": "3",
        "helicone-retry-factor": "2",
    }
    litellm.completion(
        model="helicone/gpt-4o-mini/openai,claude-3-5-sonnet-20241022/anthropic",
        messages=[{"role": "user", "content": "Hello"}],
    )

- The base URL is the client's default (``https://ai-gateway.helicone.ai/v1``).
- The ``Helicone-Retry-*`` keys become headers (names are case-insensitive): the gateway
  retries a failing provider 3 times, waits growing by a factor of 2. LiteLLM sets them
  globally; a client's defaults are the async form:
  ``AsyncHelicone(helicone=HeliconeOptions(retry_enabled=True, retry_num=3, retry_factor=2))``.
- The model string is copied as it is: LiteLLM's ``helicone/`` prefix is stripped.
- The chain is walked by aiohelicone, one request per target in order, and every attempt
  is recorded in ``response.helicone.attempts``. ``AsyncHelicone(fallback="gateway")`` sends
  the whole string in one request instead, as LiteLLM does, and the gateway walks it.

Run: ``python examples/seed/retry_fallback.py`` (the real gateway when HELICONE_API_KEY is
set, else the embedded fake gateway, where OpenAI is made to fail so that Anthropic answers).
"""

from __future__ import annotations

from aiohelicone import AsyncHelicone, ChatCompletion

RETRIES = {
    "Helicone-Retry-Enabled": "true",
    "helicone-retry-num": "3",
    "helicone-retry-factor": "2",
}
CHAIN = "helicone/gpt-4o-mini/openai,claude-3-5-sonnet-20241022/anthropic"


async def main(client: AsyncHelicone) -> ChatCompletion:
    """Ask with gateway retries and an OpenAI -> Anthropic fallback chain."""
    response = await client.chat.completions.create(
        model=CHAIN, messages=[{"role": "user", "content": "Hello"}], metadata=RETRIES
    )
    print(response.choices[0].message.content)
    if response.helicone is not None:
        print(f"served by {response.helicone.provider}")
        for attempt in response.helicone.attempts:
            print(f"  attempt {attempt.target}: {attempt.outcome}")
    return response


if __name__ == "__main__":
    from _run import run  # examples/seed/_run.py: the real gateway, or else the fake

    from aiohelicone.testing import Fail, FakeGateway

    gateway = FakeGateway()
    gateway.script("openai", [Fail(503)], repeat=True)  # OpenAI is down: fall back
    run(main, gateway=gateway, max_retries=0)
