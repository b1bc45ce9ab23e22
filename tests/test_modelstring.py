"""Tests for aiohelicone._modelstring: the gateway's model string grammar."""

from __future__ import annotations

import warnings

import pytest
from hypothesis import given
from hypothesis import strategies as st

from aiohelicone._exceptions import InvalidInputError
from aiohelicone._modelstring import (
    KNOWN_PROVIDERS,
    ModelChain,
    ModelTarget,
    UnknownProviderWarning,
    parse_model,
)

T = ModelTarget

# value, expected targets, expected exclusions, expected normalised wire form
VALID = [
    ("gpt-4o-mini", [T("gpt-4o-mini")], [], "gpt-4o-mini"),
    ("gpt-4o-mini/openai", [T("gpt-4o-mini", "openai")], [], "gpt-4o-mini/openai"),
    (
        "gpt-4o/azure/clx1abc2d0000xyz",
        [T("gpt-4o", "azure", "clx1abc2d0000xyz")],
        [],
        "gpt-4o/azure/clx1abc2d0000xyz",
    ),
    (
        "claude-3-5-sonnet-20241022:online",
        [T("claude-3-5-sonnet-20241022", online=True)],
        [],
        "claude-3-5-sonnet-20241022:online",
    ),
    (
        "claude-3-5-sonnet-20241022:online/anthropic",
        [T("claude-3-5-sonnet-20241022", "anthropic", online=True)],
        [],
        "claude-3-5-sonnet-20241022:online/anthropic",
    ),
    (
        "claude-3-5-sonnet-20241022:online/anthropic/custom123",
        [T("claude-3-5-sonnet-20241022", "anthropic", "custom123", online=True)],
        [],
        "claude-3-5-sonnet-20241022:online/anthropic/custom123",
    ),
    # ":online" only counts at the very end of the model segment, like the gateway.
    (
        "model:online-test/openai",
        [T("model:online-test", "openai")],
        [],
        "model:online-test/openai",
    ),
    (
        "gpt-4o-mini/openai,claude-3-5-sonnet-20241022/anthropic",
        [T("gpt-4o-mini", "openai"), T("claude-3-5-sonnet-20241022", "anthropic")],
        [],
        "gpt-4o-mini/openai,claude-3-5-sonnet-20241022/anthropic",
    ),
    ("!openai,gpt-4o-mini", [T("gpt-4o-mini")], ["openai"], "!openai,gpt-4o-mini"),
    # Exclusions may appear anywhere; the wire form puts them first, without duplicates.
    (
        "gpt-4o, !openai , claude-3.5-haiku ,!azure,!openai",
        [T("gpt-4o"), T("claude-3.5-haiku")],
        ["openai", "azure"],
        "!openai,!azure,gpt-4o,claude-3.5-haiku",
    ),
    ("  gpt-4o-mini  ", [T("gpt-4o-mini")], [], "gpt-4o-mini"),
    # LiteLLM's route prefix is stripped once.
    ("helicone/gpt-4o-mini", [T("gpt-4o-mini")], [], "gpt-4o-mini"),
    (
        "helicone/gpt-4o-mini/openai,claude-3-5-sonnet-20241022/anthropic",
        [T("gpt-4o-mini", "openai"), T("claude-3-5-sonnet-20241022", "anthropic")],
        [],
        "gpt-4o-mini/openai,claude-3-5-sonnet-20241022/anthropic",
    ),
    ("helicone/gpt-4o/helicone", [T("gpt-4o", "helicone")], [], "gpt-4o/helicone"),
    # Model ids with ':' and '@' and '.' (Bedrock, Vertex) are kept as they are.
    (
        "anthropic.claude-3-5-sonnet-20240620-v1:0/bedrock",
        [T("anthropic.claude-3-5-sonnet-20240620-v1:0", "bedrock")],
        [],
        "anthropic.claude-3-5-sonnet-20240620-v1:0/bedrock",
    ),
    (
        "claude-3-5-sonnet@20240620/vertex",
        [T("claude-3-5-sonnet@20240620", "vertex")],
        [],
        "claude-3-5-sonnet@20240620/vertex",
    ),
]


@pytest.mark.parametrize(("value", "targets", "exclusions", "wire"), VALID)
def test_parse_valid_forms(
    value: str, targets: list[ModelTarget], exclusions: list[str], wire: str
) -> None:
    """Every documented form parses into the expected targets, exclusions and wire form."""
    chain = parse_model(value)
    assert chain.targets == tuple(targets)
    assert chain.exclusions == tuple(exclusions)
    assert str(chain) == wire


@pytest.mark.parametrize(("value", "targets", "exclusions", "wire"), VALID)
def test_wire_form_round_trips(
    value: str, targets: list[ModelTarget], exclusions: list[str], wire: str
) -> None:
    """parse(str(parse(s))) gives the same chain and the same string."""
    chain = parse_model(value)
    again = parse_model(str(chain))
    assert again == chain
    assert str(again) == wire


def test_target_str_is_wire_form() -> None:
    """ModelTarget renders model[:online][/provider[/deployment]]."""
    assert str(T("gpt-4o")) == "gpt-4o"
    assert str(T("gpt-4o", online=True)) == "gpt-4o:online"
    assert str(T("claude", "anthropic", "dep1", online=True)) == "claude:online/anthropic/dep1"


def test_for_target_sends_one_target_with_exclusions() -> None:
    """for_target(i) keeps the exclusions and only the i-th target."""
    chain = parse_model("!azure,!bedrock,gpt-4o/openai,claude-3.5-haiku:online/anthropic")
    assert chain.for_target(0) == "!azure,!bedrock,gpt-4o/openai"
    assert chain.for_target(1) == "!azure,!bedrock,claude-3.5-haiku:online/anthropic"
    assert chain.for_target(-1) == chain.for_target(1)
    assert parse_model("gpt-4o").for_target(0) == "gpt-4o"
    with pytest.raises(IndexError):
        chain.for_target(2)


# value, a fragment the message must contain
MALFORMED = [
    ("", "empty model string"),
    ("   ", "empty model string"),
    ("helicone/", "empty model string"),
    ("a,,b", "empty entry"),
    ("gpt-4o,", "empty entry"),
    (",gpt-4o", "empty entry"),
    ("gpt-4o, ,claude", "empty entry"),
    ("/openai", "starts with '/'"),
    ("gpt-4o/", "ends with '/'"),
    ("gpt-4o/openai/", "ends with '/'"),
    ("gpt-4o//dep", "empty provider"),
    ("a/openai/dep/extra", "too many '/'"),
    ("gpt 4o", "whitespace"),
    ("gpt-4o/open ai", "whitespace"),
    ("gpt-4o/openai/dep\tx", "whitespace"),
    ("gpt-4o\x00", "control"),
    ("gpt-4o/openai:online", "':online' goes on the model"),
    (":online", "no model name"),
    (":online/openai", "no model name"),
    ("gpt-4o:online:online", "ends with ':online'"),
    ("!", "needs a provider name"),
    ("!,gpt-4o", "needs a provider name"),
    ("!notaprovider,gpt-4o", "unknown provider 'notaprovider'"),
    ("!OpenAI,gpt-4o", "unknown provider 'OpenAI'"),
    ("! openai,gpt-4o", "whitespace"),
    ("!openai", "only exclusions"),
    ("!openai,!azure", "only exclusions"),
]


@pytest.mark.parametrize(("value", "fragment"), MALFORMED)
def test_malformed_strings_are_refused(value: str, fragment: str) -> None:
    """Malformed model strings raise InvalidInputError on field 'model' naming the problem."""
    with pytest.raises(InvalidInputError) as info:
        parse_model(value)
    assert info.value.field == "model"
    assert fragment in str(info.value)
    assert isinstance(info.value, ValueError)


@pytest.mark.parametrize("value", [None, 5, b"gpt-4o", ["gpt-4o"], {"model": "x"}])
def test_non_string_is_refused(value: object) -> None:
    """A model that is not a str is refused, as the gateway answers 400 for it."""
    with pytest.raises(InvalidInputError, match="must be a string") as info:
        parse_model(value)  # type: ignore[arg-type]
    assert info.value.field == "model"


def test_unknown_provider_warns_and_passes_through() -> None:
    """An unknown provider in a spec warns but is kept (the provider list grows)."""
    with pytest.warns(UnknownProviderWarning, match="'brandnewai'") as record:
        chain = parse_model("some-model/brandnewai")
    assert chain.targets == (T("some-model", "brandnewai"),)
    assert str(chain) == "some-model/brandnewai"
    # The warning points at the caller, not at the library.
    assert record[0].filename == __file__


def test_wrong_case_provider_warns_with_hint() -> None:
    """The gateway matches providers case-sensitively; the warning suggests the right case."""
    with pytest.warns(UnknownProviderWarning, match="did you mean 'openai'"):
        chain = parse_model("gpt-4o/OpenAI")
    assert chain.targets[0].provider == "OpenAI"


def test_unknown_provider_warns_on_every_call_despite_cache() -> None:
    """The parse cache does not swallow the warning of a repeated string."""
    for _ in range(2):
        with pytest.warns(UnknownProviderWarning):
            parse_model("m/unknown-prov-repeat")


def test_unknown_provider_warns_once_per_provider() -> None:
    """Two distinct unknown providers give two warnings, a repeated one gives one."""
    with pytest.warns(UnknownProviderWarning) as record:
        parse_model("a/zzz-one,b/zzz-two,c/zzz-one")
    assert sorted(str(w.message).split("'")[1] for w in record) == ["zzz-one", "zzz-two"]


def test_known_providers_do_not_warn() -> None:
    """Every provider of the documented list parses without a warning."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for provider in sorted(KNOWN_PROVIDERS):
            assert parse_model(f"m/{provider}").targets[0].provider == provider


def test_known_providers_match_the_gateway_list() -> None:
    """KNOWN_PROVIDERS is the list from helicone-api.md §2."""
    expected = {
        "anthropic", "azure", "baseten", "bedrock", "canopywave", "cerebras", "chutes",
        "deepinfra", "deepseek", "fireworks", "google-ai-studio", "groq", "helicone",
        "mistral", "nebius", "novita", "openai", "openrouter", "perplexity", "vertex", "xai",
    }  # fmt: skip
    assert expected == KNOWN_PROVIDERS


def test_stacklevel_is_passed_through() -> None:
    """A wrapper can point the warning further up the stack."""

    def wrapper(value: str) -> ModelChain:
        return parse_model(value, stacklevel=3)

    with pytest.warns(UnknownProviderWarning) as record:
        wrapper("m/stack-prov")
    assert record[0].filename == __file__


def test_plain_model_is_cached() -> None:
    """Repeated parses of the same string return the same immutable object (fast path)."""
    assert parse_model("gpt-4o-mini") is parse_model("gpt-4o-mini")


@pytest.mark.parametrize(
    ("kwargs", "fragment"),
    [
        ({"model": ""}, "empty model name"),
        ({"model": "a/b"}, "must not contain '/'"),
        ({"model": "a,b"}, "must not contain '/'"),
        ({"model": "a b"}, "whitespace"),
        ({"model": "gpt:online"}, "set online=True"),
        ({"model": 5}, "must be a string"),
        ({"model": "m", "provider": ""}, "empty provider"),
        ({"model": "m", "provider": "open/ai"}, "must not contain"),
        ({"model": "m", "deployment": "d"}, "needs a provider"),
        ({"model": "m", "provider": "openai", "deployment": ""}, "empty deployment"),
    ],
)
def test_target_construction_is_validated(kwargs: dict[str, object], fragment: str) -> None:
    """ModelTarget built directly refuses what parse_model refuses."""
    with pytest.raises(InvalidInputError) as info:
        ModelTarget(**kwargs)  # type: ignore[arg-type]
    assert info.value.field == "model"
    assert fragment in str(info.value)


def test_target_online_must_be_bool() -> None:
    """online is a real bool."""
    with pytest.raises(TypeError):
        ModelTarget("m", online="yes")  # type: ignore[arg-type]


def test_chain_construction_is_validated() -> None:
    """ModelChain built directly needs a target and known exclusions."""
    with pytest.raises(InvalidInputError, match="only exclusions"):
        ModelChain(())
    with pytest.raises(InvalidInputError, match="unknown provider"):
        ModelChain((T("m"),), ("nope",))
    with pytest.raises(InvalidInputError, match="needs a provider name"):
        ModelChain((T("m"),), ("",))
    with pytest.raises(InvalidInputError, match="ModelTarget"):
        ModelChain(("gpt-4o",))  # type: ignore[arg-type]
    chain = ModelChain([T("m", "openai")], "azure")
    assert str(chain) == "!azure,m/openai"
    assert chain == parse_model("!azure,m/openai")


def test_models_are_frozen() -> None:
    """Parsed results are immutable, so caching them is safe."""
    chain = parse_model("gpt-4o/openai")
    with pytest.raises(AttributeError):
        chain.targets = ()  # type: ignore[misc]
    with pytest.raises(AttributeError):
        chain.targets[0].model = "x"  # type: ignore[misc]
    assert hash(chain) == hash(parse_model("gpt-4o/openai"))


_SEGMENT = st.from_regex(r"[A-Za-z0-9][A-Za-z0-9._@:-]{0,15}", fullmatch=True).filter(
    lambda s: not s.endswith(":online")
)
_TARGETS = st.builds(
    lambda model, provider, deployment, online: ModelTarget(
        model, provider, deployment if provider else None, online
    ),
    _SEGMENT,
    st.none() | st.sampled_from(sorted(KNOWN_PROVIDERS)),
    st.none() | _SEGMENT,
    st.booleans(),
)


@given(
    targets=st.lists(_TARGETS, min_size=1, max_size=4),
    exclusions=st.lists(st.sampled_from(sorted(KNOWN_PROVIDERS)), max_size=3, unique=True),
    prefix=st.booleans(),
)
def test_generated_chains_round_trip(
    targets: list[ModelTarget], exclusions: list[str], prefix: bool
) -> None:
    """Any chain built from valid parts survives str() and parse_model() unchanged."""
    chain = ModelChain(tuple(targets), tuple(exclusions))
    wire = str(chain)
    parsed = parse_model(("helicone/" if prefix else "") + wire)
    assert parsed == chain
    assert str(parsed) == wire
