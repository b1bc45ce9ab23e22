"""Layer 7 (public face): aiohelicone, an async client for the Helicone AI Gateway (re-exports).

Async-first, on asyncio and trio.
Re-exports only. ``import aiohelicone`` is cheap: httpx2 and cattrs are imported when the
first client is built, the optional subsystems (batch, REST API, analytics) when first used
(see ``_LAZY``), and nothing here reads files or starts threads.
"""

import importlib as _importlib
import typing as _typing

from ._arguments import ReasoningOptions as ReasoningOptions
from ._chat_parse import ParsedChatCompletionStream as ParsedChatCompletionStream
from ._client import DEFAULT_BASE_URL as DEFAULT_BASE_URL
from ._client import AsyncHelicone as AsyncHelicone
from ._exceptions import APIConnectionError as APIConnectionError
from ._exceptions import APIError as APIError
from ._exceptions import APIResponseValidationError as APIResponseValidationError
from ._exceptions import APIStatusError as APIStatusError
from ._exceptions import APITimeoutError as APITimeoutError
from ._exceptions import AuthenticationError as AuthenticationError
from ._exceptions import BadRequestError as BadRequestError
from ._exceptions import ConflictError as ConflictError
from ._exceptions import ContentDecodingError as ContentDecodingError
from ._exceptions import ContentFilterFinishReasonError as ContentFilterFinishReasonError
from ._exceptions import ErrorDetail as ErrorDetail
from ._exceptions import FallbackExhaustedError as FallbackExhaustedError
from ._exceptions import HeliconeError as HeliconeError
from ._exceptions import InternalServerError as InternalServerError
from ._exceptions import InvalidInputError as InvalidInputError
from ._exceptions import LengthFinishReasonError as LengthFinishReasonError
from ._exceptions import NotFoundError as NotFoundError
from ._exceptions import PermissionDeniedError as PermissionDeniedError
from ._exceptions import RateLimitError as RateLimitError
from ._exceptions import StreamDeadlineError as StreamDeadlineError
from ._exceptions import StreamFirstEventTimeoutError as StreamFirstEventTimeoutError
from ._exceptions import StreamIdleTimeoutError as StreamIdleTimeoutError
from ._exceptions import StreamInterruptedError as StreamInterruptedError
from ._exceptions import StreamTruncatedError as StreamTruncatedError
from ._exceptions import StructuredOutputError as StructuredOutputError
from ._exceptions import UnprocessableEntityError as UnprocessableEntityError
from ._header_values import RateLimitPolicy as RateLimitPolicy
from ._helicone import HeliconeOptions as HeliconeOptions
from ._metadata import CacheInfo as CacheInfo
from ._metadata import HeliconeMetadata as HeliconeMetadata
from ._metadata import RateLimitInfo as RateLimitInfo
from ._models import ChatCompletion as ChatCompletion
from ._models import ChatCompletionChunk as ChatCompletionChunk
from ._models import ChatCompletionMessage as ChatCompletionMessage
from ._models import ChatCompletionMessageToolCall as ChatCompletionMessageToolCall
from ._models import Choice as Choice
from ._models import ChoiceDelta as ChoiceDelta
from ._models import ChoiceDeltaToolCall as ChoiceDeltaToolCall
from ._models import ChunkChoice as ChunkChoice
from ._models import Completion as Completion
from ._models import CompletionChoice as CompletionChoice
from ._models import CreateEmbeddingResponse as CreateEmbeddingResponse
from ._models import Embedding as Embedding
from ._models import EmbeddingUsage as EmbeddingUsage
from ._models import ImageURL as ImageURL
from ._models import MessageImage as MessageImage
from ._models import Model as Model
from ._models import ModelList as ModelList
from ._models import ReasoningDetail as ReasoningDetail
from ._models import Usage as Usage
from ._modelstring import ModelChain as ModelChain
from ._modelstring import ModelTarget as ModelTarget
from ._modelstring import UnknownProviderWarning as UnknownProviderWarning
from ._modelstring import parse_model as parse_model
from ._parse import ParsedChatCompletion as ParsedChatCompletion
from ._parse import ParsedChatCompletionMessage as ParsedChatCompletionMessage
from ._parse import ParsedChoice as ParsedChoice
from ._parse import ParsedFunction as ParsedFunction
from ._parse import ParsedToolCall as ParsedToolCall
from ._parse import parse_chat_completion as parse_chat_completion
from ._retry import RetryPolicy as RetryPolicy
from ._schema import SchemaError as SchemaError
from ._schema import function_tool_for as function_tool_for
from ._schema import response_format_for as response_format_for
from ._stream_base import AsyncStream as AsyncStream
from ._streaming import ChatCompletionStream as ChatCompletionStream
from ._streaming import CompletionStream as CompletionStream
from ._timeouts import StreamTimeouts as StreamTimeouts
from ._version import __version__ as __version__

if _typing.TYPE_CHECKING:
    from ._analytics import GroupStats as GroupStats
    from ._analytics import LatencyStats as LatencyStats
    from ._analytics import Report as Report
    from ._analytics import VolumeBucket as VolumeBucket
    from ._analytics import analyze as analyze
    from ._analytics import summarize as summarize
    from ._batch import BatchRun as BatchRun
    from ._batch import collect_batch as collect_batch
    from ._batch import run_batch as run_batch
    from ._batch_items import BatchRequest as BatchRequest
    from ._batch_items import BatchResult as BatchResult
    from ._fallback_policy import Attempt as Attempt
    from ._fallback_policy import CoolDown as CoolDown
    from ._fallback_policy import FallbackPolicy as FallbackPolicy
    from ._fallback_policy import should_fall_back as should_fall_back
    from ._registry_models import ModelRegistry as ModelRegistry
    from ._registry_models import RegistryEndpoint as RegistryEndpoint
    from ._registry_models import RegistryModel as RegistryModel
    from ._registry_models import RegistryPricing as RegistryPricing
    from ._responses_events import ResponseCompletedEvent as ResponseCompletedEvent
    from ._responses_events import ResponseContentPartAddedEvent as ResponseContentPartAddedEvent
    from ._responses_events import ResponseContentPartDoneEvent as ResponseContentPartDoneEvent
    from ._responses_events import ResponseCreatedEvent as ResponseCreatedEvent
    from ._responses_events import ResponseErrorEvent as ResponseErrorEvent
    from ._responses_events import ResponseFailedEvent as ResponseFailedEvent
    from ._responses_events import (
        ResponseFunctionCallArgumentsDeltaEvent as ResponseFunctionCallArgumentsDeltaEvent,
    )
    from ._responses_events import (
        ResponseFunctionCallArgumentsDoneEvent as ResponseFunctionCallArgumentsDoneEvent,
    )
    from ._responses_events import ResponseIncompleteEvent as ResponseIncompleteEvent
    from ._responses_events import ResponseInProgressEvent as ResponseInProgressEvent
    from ._responses_events import ResponseOutputItemAddedEvent as ResponseOutputItemAddedEvent
    from ._responses_events import ResponseOutputItemDoneEvent as ResponseOutputItemDoneEvent
    from ._responses_events import (
        ResponseReasoningSummaryPartAddedEvent as ResponseReasoningSummaryPartAddedEvent,
    )
    from ._responses_events import (
        ResponseReasoningSummaryPartDoneEvent as ResponseReasoningSummaryPartDoneEvent,
    )
    from ._responses_events import (
        ResponseReasoningSummaryTextDeltaEvent as ResponseReasoningSummaryTextDeltaEvent,
    )
    from ._responses_events import (
        ResponseReasoningSummaryTextDoneEvent as ResponseReasoningSummaryTextDoneEvent,
    )
    from ._responses_events import ResponseRefusalDeltaEvent as ResponseRefusalDeltaEvent
    from ._responses_events import ResponseRefusalDoneEvent as ResponseRefusalDoneEvent
    from ._responses_events import ResponseStreamEvent as ResponseStreamEvent
    from ._responses_events import ResponseTextDeltaEvent as ResponseTextDeltaEvent
    from ._responses_events import ResponseTextDoneEvent as ResponseTextDoneEvent
    from ._responses_events import UnknownResponseEvent as UnknownResponseEvent
    from ._responses_models import IncompleteDetails as IncompleteDetails
    from ._responses_models import ReasoningSummaryPart as ReasoningSummaryPart
    from ._responses_models import Response as Response
    from ._responses_models import ResponseError as ResponseError
    from ._responses_models import ResponseFunctionToolCall as ResponseFunctionToolCall
    from ._responses_models import ResponseOutputMessage as ResponseOutputMessage
    from ._responses_models import ResponseOutputRefusal as ResponseOutputRefusal
    from ._responses_models import ResponseOutputText as ResponseOutputText
    from ._responses_models import ResponseReasoningItem as ResponseReasoningItem
    from ._responses_models import ResponseUsage as ResponseUsage
    from ._responses_models import UnknownContentPart as UnknownContentPart
    from ._responses_models import UnknownOutputItem as UnknownOutputItem
    from ._responses_parse import ParsedResponse as ParsedResponse
    from ._responses_parse import ParsedResponseFunctionToolCall as ParsedResponseFunctionToolCall
    from ._responses_parse import ParsedResponseOutputMessage as ParsedResponseOutputMessage
    from ._responses_parse import ParsedResponseOutputText as ParsedResponseOutputText
    from ._responses_parse import ParsedResponseStream as ParsedResponseStream
    from ._responses_parse import parse_response as parse_response
    from ._responses_parse import responses_function_tool_for as responses_function_tool_for
    from ._responses_parse import text_format_for as text_format_for
    from ._responses_stream import ResponseStream as ResponseStream
    from ._rest_connection import HeliconeAPIError as HeliconeAPIError
    from ._rest_errors import InvalidTokenError as InvalidTokenError
    from ._rest_errors import RestAuthenticationError as RestAuthenticationError
    from ._rest_errors import RestRateLimitError as RestRateLimitError
    from ._rest_filters import RequestFilter as RequestFilter
    from ._rest_records import AsyncPager as AsyncPager
    from ._rest_records import LoggedRequest as LoggedRequest
    from ._rest_records import SessionSummary as SessionSummary
    from ._rest_records import UserMetrics as UserMetrics
    from ._session_names import HistogramBin as HistogramBin
    from ._session_names import SessionMetrics as SessionMetrics
    from ._session_names import SessionName as SessionName
    from .webhooks import WebhookError as WebhookError
    from .webhooks import WebhookPayloadError as WebhookPayloadError
    from .webhooks import WebhookSignatureError as WebhookSignatureError

# The one list of the lazily loaded names (name -> module): __getattr__ loads from it, and
# __all__ and __dir__ are built from it; the TYPE_CHECKING imports above repeat it for type
# checkers, and tests/test_public_api.py checks that the two agree.
_LAZY: dict[str, str] = {
    "AsyncPager": "_rest_records",
    "Attempt": "_fallback_policy",
    "BatchRequest": "_batch_items",
    "BatchResult": "_batch_items",
    "BatchRun": "_batch",
    "CoolDown": "_fallback_policy",
    "FallbackPolicy": "_fallback_policy",
    "GroupStats": "_analytics",
    "HeliconeAPIError": "_rest_connection",
    "HistogramBin": "_session_names",
    "IncompleteDetails": "_responses_models",
    "InvalidTokenError": "_rest_errors",
    "LatencyStats": "_analytics",
    "LoggedRequest": "_rest_records",
    "ModelRegistry": "_registry_models",
    "ParsedResponse": "_responses_parse",
    "ParsedResponseFunctionToolCall": "_responses_parse",
    "ParsedResponseOutputMessage": "_responses_parse",
    "ParsedResponseOutputText": "_responses_parse",
    "ParsedResponseStream": "_responses_parse",
    "ReasoningSummaryPart": "_responses_models",
    "RegistryEndpoint": "_registry_models",
    "RegistryModel": "_registry_models",
    "RegistryPricing": "_registry_models",
    "Report": "_analytics",
    "RequestFilter": "_rest_filters",
    "RestAuthenticationError": "_rest_errors",
    "RestRateLimitError": "_rest_errors",
    "Response": "_responses_models",
    "ResponseCompletedEvent": "_responses_events",
    "ResponseContentPartAddedEvent": "_responses_events",
    "ResponseContentPartDoneEvent": "_responses_events",
    "ResponseCreatedEvent": "_responses_events",
    "ResponseError": "_responses_models",
    "ResponseErrorEvent": "_responses_events",
    "ResponseFailedEvent": "_responses_events",
    "ResponseFunctionCallArgumentsDeltaEvent": "_responses_events",
    "ResponseFunctionCallArgumentsDoneEvent": "_responses_events",
    "ResponseFunctionToolCall": "_responses_models",
    "ResponseInProgressEvent": "_responses_events",
    "ResponseIncompleteEvent": "_responses_events",
    "ResponseOutputItemAddedEvent": "_responses_events",
    "ResponseOutputItemDoneEvent": "_responses_events",
    "ResponseOutputMessage": "_responses_models",
    "ResponseOutputRefusal": "_responses_models",
    "ResponseOutputText": "_responses_models",
    "ResponseReasoningItem": "_responses_models",
    "ResponseReasoningSummaryPartAddedEvent": "_responses_events",
    "ResponseReasoningSummaryPartDoneEvent": "_responses_events",
    "ResponseReasoningSummaryTextDeltaEvent": "_responses_events",
    "ResponseReasoningSummaryTextDoneEvent": "_responses_events",
    "ResponseRefusalDeltaEvent": "_responses_events",
    "ResponseRefusalDoneEvent": "_responses_events",
    "ResponseStream": "_responses_stream",
    "ResponseStreamEvent": "_responses_events",
    "ResponseTextDeltaEvent": "_responses_events",
    "ResponseTextDoneEvent": "_responses_events",
    "ResponseUsage": "_responses_models",
    "SessionMetrics": "_session_names",
    "SessionName": "_session_names",
    "SessionSummary": "_rest_records",
    "UnknownContentPart": "_responses_models",
    "UnknownOutputItem": "_responses_models",
    "UnknownResponseEvent": "_responses_events",
    "UserMetrics": "_rest_records",
    "VolumeBucket": "_analytics",
    "WebhookError": "webhooks",
    "WebhookPayloadError": "webhooks",
    "WebhookSignatureError": "webhooks",
    "analyze": "_analytics",
    "collect_batch": "_batch",
    "parse_response": "_responses_parse",
    "responses_function_tool_for": "_responses_parse",
    "run_batch": "_batch",
    "should_fall_back": "_fallback_policy",
    "summarize": "_analytics",
    "text_format_for": "_responses_parse",
}

# The names imported above, eagerly.
_EAGER = [
    "APIConnectionError",
    "APIError",
    "APIResponseValidationError",
    "APIStatusError",
    "APITimeoutError",
    "AsyncHelicone",
    "AsyncStream",
    "AuthenticationError",
    "BadRequestError",
    "CacheInfo",
    "ChatCompletion",
    "ChatCompletionChunk",
    "ChatCompletionMessage",
    "ChatCompletionMessageToolCall",
    "ChatCompletionStream",
    "Choice",
    "ChoiceDelta",
    "ChoiceDeltaToolCall",
    "ChunkChoice",
    "Completion",
    "CompletionChoice",
    "CompletionStream",
    "ConflictError",
    "ContentDecodingError",
    "ContentFilterFinishReasonError",
    "CreateEmbeddingResponse",
    "DEFAULT_BASE_URL",
    "Embedding",
    "EmbeddingUsage",
    "ErrorDetail",
    "FallbackExhaustedError",
    "HeliconeError",
    "HeliconeMetadata",
    "HeliconeOptions",
    "ImageURL",
    "InternalServerError",
    "InvalidInputError",
    "LengthFinishReasonError",
    "MessageImage",
    "Model",
    "ModelChain",
    "ModelList",
    "ModelTarget",
    "NotFoundError",
    "ParsedChatCompletion",
    "ParsedChatCompletionMessage",
    "ParsedChatCompletionStream",
    "ParsedChoice",
    "ParsedFunction",
    "ParsedToolCall",
    "PermissionDeniedError",
    "RateLimitError",
    "RateLimitInfo",
    "RateLimitPolicy",
    "RetryPolicy",
    "ReasoningDetail",
    "ReasoningOptions",
    "SchemaError",
    "StreamDeadlineError",
    "StreamFirstEventTimeoutError",
    "StreamIdleTimeoutError",
    "StreamInterruptedError",
    "StreamTimeouts",
    "StreamTruncatedError",
    "StructuredOutputError",
    "UnknownProviderWarning",
    "UnprocessableEntityError",
    "Usage",
    "__version__",
    "parse_model",
    "function_tool_for",
    "parse_chat_completion",
    "response_format_for",
]

__all__ = sorted([*_EAGER, *_LAZY])


def __getattr__(name: str) -> _typing.Any:
    # Optional subsystems (batch jobs, the REST API, analytics, fallback policy objects, the
    # Responses models and events) load
    # on first use, so that `import aiohelicone` stays cheap for code that only chats.
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(_importlib.import_module(f"{__name__}.{module}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))
