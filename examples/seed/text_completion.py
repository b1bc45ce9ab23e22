"""Text completion: the async twin of the seed's "Text Completion" example.

LiteLLM::

    litellm.completion(model="helicone/gpt-4o-mini", prompt="Once upon a time")

Two differences, both facts rather than choices:

- ``/completions`` (the legacy text API) is not served by the cloud AI gateway, which runs
  chat completions only. Helicone's legacy OpenAI proxy (``https://oai.helicone.ai/v1``)
  serves it, with your OpenAI key as ``provider_api_key``; ``__main__`` below does that.
- ``gpt-4o-mini`` is a chat model, which OpenAI refuses on ``/v1/completions``; an
  ``-instruct`` model is the text completion model.

Run: ``python examples/seed/text_completion.py`` (with HELICONE_API_KEY and OPENAI_API_KEY
set: the legacy proxy; else the embedded fake gateway: no key, no network).
"""

from __future__ import annotations

from aiohelicone import AsyncHelicone, Completion


async def main(client: AsyncHelicone) -> Completion:
    """Continue a prompt with the text Completions API."""
    response = await client.completions.create(
        model="gpt-3.5-turbo-instruct", prompt="Once upon a time"
    )
    print(response.choices[0].text)
    return response


if __name__ == "__main__":
    import os

    from _run import run  # examples/seed/_run.py: the real gateway, or else the fake

    def legacy_proxy() -> AsyncHelicone:
        """The legacy proxy: the Helicone key as Helicone-Auth, and your OpenAI key."""
        return AsyncHelicone(
            base_url="https://oai.helicone.ai/v1", provider_api_key=os.environ["OPENAI_API_KEY"]
        )

    run(main, real=legacy_proxy)
