"""Layer 8 (test kit): test your code against a faithful offline Helicone AI gateway.

``FakeGateway`` is a plain ASGI app that behaves like the Helicone AI gateway (auth, model
strings with fallbacks and exclusions, the error envelope and its status rules, chat
completions with SSE streams, completions, embeddings, cache, rate limits), records every
request, and can be scripted per target to fail, stall, reset or truncate::

    gateway = FakeGateway()
    gateway.script("gpt-4o-mini/openai", [Fail(503), Fail(503)])
    async with gateway.serve() as server:  # or httpx2.ASGITransport(app=gateway)
        ...  # point a client at server.url + "/v1"
    assert gateway.last_request.provider == "azure"

It also serves Helicone's REST API from what it recorded (``gateway.rest``: logged requests
with costs from :data:`PRICES`, feedback, scores, sessions, user metrics; see
``_rest_api.py``) and expands stored prompts (``gateway.prompts``): point a client's
``rest_base_url`` at the same URL. :func:`no_retry_waits` makes retries happen at once.
"""

from ._client import FAKE_API_KEY as FAKE_API_KEY
from ._client import ServedFake as ServedFake
from ._client import fake_client as fake_client
from ._client import serve_client as serve_client
from ._emit import ABORT_EXTENSION as ABORT_EXTENSION
from ._emit import SimulatedReset as SimulatedReset
from ._gateway import FakeGateway as FakeGateway
from ._gateway import echo as echo
from ._outcomes import Compressed as Compressed
from ._outcomes import Delay as Delay
from ._outcomes import Fail as Fail
from ._outcomes import InStreamError as InStreamError
from ._outcomes import InsufficientCredits as InsufficientCredits
from ._outcomes import Outcome as Outcome
from ._outcomes import RawResponse as RawResponse
from ._outcomes import Reply as Reply
from ._outcomes import Reset as Reset
from ._outcomes import Respond as Respond
from ._outcomes import SlowDrip as SlowDrip
from ._outcomes import Stall as Stall
from ._outcomes import ToolCall as ToolCall
from ._outcomes import TruncatedStream as TruncatedStream
from ._prompts import PromptStore as PromptStore
from ._prompts import PromptVersion as PromptVersion
from ._records import AttemptRecord as AttemptRecord
from ._records import RequestRecord as RequestRecord
from ._registry import DEFAULT_MODELS as DEFAULT_MODELS
from ._registry import MODEL_ALIASES as MODEL_ALIASES
from ._registry import PROVIDERS as PROVIDERS
from ._registry import ModelInfo as ModelInfo
from ._rest_api import DEFAULT_PRICE as DEFAULT_PRICE
from ._rest_api import PRICES as PRICES
from ._rest_api import RestAPI as RestAPI
from ._rest_api import cost_usd as cost_usd
from ._server import LoopbackServer as LoopbackServer
from ._server import serve as serve
from ._waits import no_retry_waits as no_retry_waits

__all__ = [
    "ABORT_EXTENSION",
    "AttemptRecord",
    "Compressed",
    "DEFAULT_MODELS",
    "DEFAULT_PRICE",
    "Delay",
    "FAKE_API_KEY",
    "Fail",
    "FakeGateway",
    "InStreamError",
    "InsufficientCredits",
    "LoopbackServer",
    "MODEL_ALIASES",
    "ModelInfo",
    "Outcome",
    "PRICES",
    "PROVIDERS",
    "PromptStore",
    "PromptVersion",
    "RawResponse",
    "Reply",
    "RequestRecord",
    "Reset",
    "Respond",
    "RestAPI",
    "ServedFake",
    "SimulatedReset",
    "SlowDrip",
    "Stall",
    "ToolCall",
    "TruncatedStream",
    "cost_usd",
    "echo",
    "fake_client",
    "no_retry_waits",
    "serve",
    "serve_client",
]
