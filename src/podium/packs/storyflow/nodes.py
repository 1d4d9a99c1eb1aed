"""The nine creative node types of seed 004 (consistentCharacter, sceneBuilder,
initialPrompt, promptEnhancer, translator, storyTeller, grammarFix, compressor, textOutput).

**Ports.** An edge into a storyflow node carries the port it arrives at: `target_port`
(`targetHandle`, as a React Flow editor saves it, is read too), `"text"` or `"adapter"`.
Without one, an edge from a data source (consistentCharacter, sceneBuilder) is an adapter
edge and any other a text edge. Text inputs are joined in the order of the edges (a blank
line between them); adapter inputs bring characters (persona injection) and scene blocks.
The flow check refuses a port the target does not have, an adapter into a text port (and
the reverse), and a text node with no text input.

**Outputs.** Each node writes its output under its own id in the state
(`{"<node id>": {"text": ...}}`), which is what the nodes downstream read by their edges,
what `node.completed` carries and what `cached_outputs` gives back on a re-run.

**Models.** A node that calls a model resolves it through the chain: the node's `model`, its
`agent`'s model, the flow's `default_model`, the app's `default_model`, then
`PODIUM_DEFAULT_MODEL` (`offline/echo` unless configured: deterministic, no network). The
call is recorded (`ctx.step`), so it is not made twice after a crash. Prompts come from the
pack's prompt library (`prompts/<node type>/<version>.txt`, `prompt_version` in the config).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from podium.agents.services import AgentServices
from podium.engine.node_types import NodeResult, NodeType
from podium.engine.nodes.template import TemplateBudget
from podium.errors import InvalidInput
from podium.llm.base import Message, ModelRequest, ModelResponse, traced_complete
from podium.packs.storyflow import characters as chars
from podium.packs.storyflow import prompts
from podium.storage.agents import app_default_model

if TYPE_CHECKING:
    from podium.engine.context import Context
    from podium.engine.flow import Edge, Flow, Node

TEXT = "text"
ADAPTER = "adapter"
PORT_KEYS = ("target_port", "targetHandle")
MAX_PROMPT = 20_000
MAX_CHARACTERS = 20
CALL_SLACK_SECONDS = 5.0
LANGUAGE_NAMES = {
    "ar": "Arabic",
    "de": "German",
    "en": "English",
    "es": "Spanish",
    "fr": "French",
    "hi": "Hindi",
    "it": "Italian",
    "ja": "Japanese",
    "ko": "Korean",
    "nl": "Dutch",
    "pl": "Polish",
    "pt": "Portuguese",
    "ru": "Russian",
    "sv": "Swedish",
    "tr": "Turkish",
    "uk": "Ukrainian",
    "zh": "Chinese",
}
STORY_WORDS = {"short": 300, "medium": 800, "long": 1500}
DEFAULT_COMPRESS_THRESHOLD = 2500


# --- configs -------------------------------------------------------------------------------


class Base(BaseModel):
    model_config = ConfigDict(extra="forbid")

    label: str | None = Field(default=None, max_length=200, description="the editor's label")


class ModelConfig(Base):
    model: str | None = Field(
        default=None, max_length=200, description='e.g. "openai/gpt-4o-mini"; else the chain'
    )
    agent: str | None = Field(
        default=None, max_length=128, description="an agent whose model to use"
    )
    prompt_version: str = Field(default="v1", pattern=prompts.VERSION_PATTERN)
    temperature: float | None = Field(default=None, ge=0, le=2)
    max_tokens: int | None = Field(default=None, ge=1, le=32_768)


class CharacterChoice(BaseModel):
    character_ids: list[str] = Field(default_factory=list, max_length=MAX_CHARACTERS)
    character_names: list[str] = Field(default_factory=list, max_length=MAX_CHARACTERS)

    @field_validator("character_ids", "character_names")
    @classmethod
    def short_names(cls, values: list[str]) -> list[str]:
        for value in values:
            if not value.strip() or len(value) > chars.MAX_NAME:
                raise ValueError(
                    f"each entry is a character's id or name of 1 to {chars.MAX_NAME} characters"
                )
        return values


class CharacterConfig(Base, CharacterChoice):
    @model_validator(mode="after")
    def names_some(self) -> CharacterConfig:
        if not self.character_ids and not self.character_names:
            raise ValueError(
                "name at least one character: character_ids or character_names "
                "(GET /packs/storyflow/characters lists them)"
            )
        return self


class SceneConfig(Base, CharacterChoice):
    location: str | None = Field(default=None, max_length=500)
    details: str | None = Field(default=None, max_length=2000)
    genre: str | None = None
    mood: str | None = None
    time_of_day: str | None = None
    weather: str | None = None

    @model_validator(mode="after")
    def known_blocks(self) -> SceneConfig:
        for kind, blocks in prompts.scene_blocks().items():
            chosen = getattr(self, kind)
            if chosen is not None and chosen not in blocks:
                raise ValueError(
                    f"{kind} {chosen!r} is not a scene block; use one of {sorted(blocks)}"
                )
        return self


class InitialPromptConfig(ModelConfig):
    text: str | None = Field(default=None, max_length=MAX_PROMPT, description="the prompt")
    input_key: str = Field(
        default="prompt", max_length=128, description="the run input's key when text is unset"
    )


class EnhancerConfig(ModelConfig):
    notes: str | None = Field(default=None, max_length=2000)


class TranslatorConfig(ModelConfig):
    language: str = Field(description="the target language's code, e.g. fr")

    @field_validator("language")
    @classmethod
    def known_language(cls, value: str) -> str:
        if value not in LANGUAGE_NAMES:
            raise ValueError(
                f"unknown language {value[:20]!r}; use one of {sorted(LANGUAGE_NAMES)}"
            )
        return value


class StoryConfig(ModelConfig):
    length: Literal["short", "medium", "long"] = "medium"
    genre: str | None = Field(default=None, max_length=100)
    temperature: float | None = Field(default=0.95, ge=0, le=2)


class GrammarConfig(ModelConfig):
    style: str | None = Field(default=None, max_length=500)


class CompressorConfig(ModelConfig):
    threshold_chars: int = Field(
        default=DEFAULT_COMPRESS_THRESHOLD,
        ge=1,
        le=10_000_000,
        description="compress only a text longer than this; pass a shorter one through",
    )
    target_chars: int | None = Field(default=None, ge=1, le=10_000_000)


class OutputConfig(Base):
    pass


# --- ports and inputs ----------------------------------------------------------------------


def edge_port(edge: Edge, flow: Flow) -> str:
    """The port an edge arrives at: its `target_port` (or `targetHandle`), else `adapter`
    from a data source and `text` from anything else."""
    extra = edge.model_extra or {}
    for key in PORT_KEYS:
        port = extra.get(key)
        if isinstance(port, str) and port:
            return port
    try:
        source_type = flow.node(edge.source).type
    except KeyError:
        return TEXT
    return ADAPTER if source_type in DATA_SOURCES else TEXT


def _incoming(flow: Flow, node_id: str) -> list[Edge]:
    return [edge for edge in flow.edges if edge.target == node_id and not edge.loop]


class Inputs:
    """What arrived at a node's ports: texts in edge order, characters and scene blocks."""

    def __init__(self) -> None:
        self.texts: list[str] = []
        self.characters: list[dict[str, Any]] = []
        self.scenes: list[str] = []

    @property
    def text(self) -> str:
        return "\n\n".join(self.texts)

    @property
    def adapters(self) -> bool:
        return bool(self.characters or self.scenes)

    def add_characters(self, found: list[dict[str, Any]]) -> None:
        known = {c.get("id") for c in self.characters}
        self.characters += [c for c in found if c.get("id") not in known]


def read_inputs(ctx: Context) -> Inputs:
    inputs = Inputs()
    for edge in _incoming(ctx.flow, ctx.node_id):
        value = ctx.state.get(edge.source)
        if not isinstance(value, dict):
            continue  # the source did not run (skipped) or is not a storyflow node
        if edge_port(edge, ctx.flow) == ADAPTER:
            inputs.add_characters([c for c in value.get("characters") or [] if isinstance(c, dict)])
            if isinstance(value.get("prompt"), str) and value["prompt"]:
                inputs.scenes.append(value["prompt"])
        elif isinstance(value.get("text"), str) and value["text"]:
            inputs.texts.append(value["text"])
    return inputs


# --- models --------------------------------------------------------------------------------


async def resolve_model(ctx: Context, config: ModelConfig) -> str:
    """Node → agent → flow default_model → app default_model → PODIUM_DEFAULT_MODEL."""
    if config.model:
        return config.model
    services: AgentServices = ctx.runtime_service("agents")
    if config.agent:
        agent = await services.definition(ctx.app_id, config.agent)
        if agent.model:
            return str(agent.model)
    if ctx.flow_default_model:
        return ctx.flow_default_model
    app_model = await ctx.store.run_read(lambda: app_default_model(ctx.app_id))
    return str(app_model or ctx.settings.default_model)


async def call_model(ctx: Context, name: str, config: ModelConfig, prompt: str) -> tuple[str, str]:
    """(the model's answer, the model reference used), as a recorded call."""
    ref = await resolve_model(ctx, config)
    services: AgentServices = ctx.runtime_service("agents")
    provider, provider_config, model_name = await services.provider(ctx.app_id, ref)
    request = ModelRequest(
        model=model_name,
        messages=[Message("user", prompt)],
        temperature=config.temperature,
        max_tokens=config.max_tokens,
    )

    async def complete() -> dict[str, Any]:
        answer = await traced_complete(provider, request, run_id=ctx.run_id)
        return answer.to_json()

    timeout = (
        provider_config.timeout_seconds * (provider_config.max_retries + 1) + CALL_SLACK_SECONDS
    )
    recorded = await ctx.step(f"{name}.llm", complete, timeout=timeout)
    return ModelResponse.from_json(recorded).text.strip(), ref


# --- the node types ------------------------------------------------------------------------


class StoryNode(NodeType):
    """What the storyflow node types share: port checks and the output under the node's id."""

    category: ClassVar[str]
    needs_text: ClassVar[bool] = True
    prompt_name: ClassVar[str | None] = None
    inputs: ClassVar[tuple[str, ...]] = (TEXT, ADAPTER)
    outputs: ClassVar[tuple[str, ...]] = (TEXT,)
    output_schema: ClassVar[dict[str, Any]] = {
        "type": "object",
        "description": "{<node id>: {text, model, prompt}}",
        "properties": {
            "text": {"type": "string"},
            "model": {"type": ["string", "null"]},
            "prompt": {"type": ["string", "null"]},
        },
    }

    def check(self, node: Node, flow: Flow, base_path: Path | None) -> list[str]:
        problems: list[str] = []
        has_text = False
        for edge in _incoming(flow, node.id):
            port = edge_port(edge, flow)
            where = f"edge {edge.label}"
            if port not in self.inputs:
                accepted = ", ".join(self.inputs) or "none"
                problems.append(
                    f"{where}: {self.name} has no input port {port!r} (its inputs: {accepted})"
                )
                continue
            try:
                source_type = flow.node(edge.source).type
            except KeyError:
                continue  # the engine names the dangling edge
            made = SOURCE_PORTS.get(source_type)
            if made is not None and port not in made:
                sent = f"sends {made[0]!r}" if made else "has no output port"
                problems.append(
                    f"{where}: {source_type} {sent}, which cannot go into the {port!r} port "
                    f"of {self.name}"
                )
            has_text = has_text or port == TEXT
        if self.needs_text and not has_text:
            problems.append(
                f"node {node.id!r} ({self.name}) needs a text input: an edge into it from a "
                'node that makes text (target_port "text")'
            )
        if self.prompt_name is not None:
            version = str(node.config.get("prompt_version", "v1"))
            problem = prompts.version_problem(self.prompt_name, version)
            if problem is not None:
                problems.append(f"node {node.id!r} config.prompt_version: {problem}")
        return problems

    def done(self, ctx: Context, output: dict[str, Any]) -> NodeResult:
        return NodeResult(output={ctx.node_id: output})

    def no_text(self, ctx: Context) -> InvalidInput:
        return InvalidInput(
            f"node {ctx.node_id!r} ({self.name}) received no text: the nodes on its text "
            "edges made none or did not run"
        )

    async def prompted(
        self, ctx: Context, config: ModelConfig, values: dict[str, Any], inputs: Inputs
    ) -> dict[str, Any]:
        """Render this type's prompt (with the persona and scene blocks) and call the model."""
        assert self.prompt_name is not None
        budget = TemplateBudget.from_settings(ctx.settings)
        persona = await prompts.persona_block(inputs.characters, budget)
        scene = "\n".join(inputs.scenes)
        prompt = await prompts.render(
            self.prompt_name,
            config.prompt_version,
            {"persona": persona, "scene": scene, **values},
            budget,
        )
        text, ref = await call_model(ctx, self.name, config, prompt)
        return {"text": text, "model": ref, "prompt": f"{self.prompt_name}/{config.prompt_version}"}


async def _load_characters(ctx: Context, config: CharacterChoice) -> list[dict[str, Any]]:
    if not config.character_ids and not config.character_names:
        return []
    ids, names = list(config.character_ids), list(config.character_names)

    async def read() -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = await ctx.store.run_read(
            lambda: chars.find(ctx.app_id, ids, names)
        )
        return [{key: c[key] for key in ("id", *prompts.CHARACTER_FIELDS)} for c in found]

    loaded: list[dict[str, Any]] = await ctx.step("storyflow.characters", read)
    return loaded


class ConsistentCharacter(StoryNode):
    name = "consistentCharacter"
    description = "Data source: stored characters (by id or name), for persona injection."
    category = "data_source"
    config_model = CharacterConfig
    needs_text = False
    inputs = ()
    outputs = (ADAPTER,)
    output_schema = {
        "type": "object",
        "description": "{<node id>: {kind: characters, characters: [...]}}",
        "properties": {"kind": {"const": "characters"}, "characters": {"type": "array"}},
    }

    async def run(self, ctx: Context, config: Any) -> NodeResult:
        found = await _load_characters(ctx, config)
        return self.done(ctx, {"kind": "characters", "characters": found})


class SceneBuilder(StoryNode):
    name = "sceneBuilder"
    description = "Data source: a scene (location, genre, mood, time, weather) as a prompt block."
    category = "data_source"
    config_model = SceneConfig
    needs_text = False
    inputs = (ADAPTER,)
    outputs = (ADAPTER,)
    output_schema = {
        "type": "object",
        "description": "{<node id>: {kind: scene, scene, prompt, characters}}",
        "properties": {
            "kind": {"const": "scene"},
            "scene": {"type": "object"},
            "prompt": {"type": "string"},
            "characters": {"type": "array"},
        },
    }

    async def run(self, ctx: Context, config: Any) -> NodeResult:
        inputs = read_inputs(ctx)
        inputs.add_characters(await _load_characters(ctx, config))
        scene = {
            key: getattr(config, key)
            for key in ("location", "details", "genre", "mood", "time_of_day", "weather")
            if getattr(config, key)
        }
        scene["cast"] = [c["name"] for c in inputs.characters]
        block = await prompts.scene_block(scene, TemplateBudget.from_settings(ctx.settings))
        return self.done(
            ctx,
            {"kind": "scene", "scene": scene, "prompt": block, "characters": inputs.characters},
        )


class InitialPrompt(StoryNode):
    name = "initialPrompt"
    description = (
        "The prompt (config text, else the run input's `prompt`); with adapters, a model "
        "weaves the characters and scene into it."
    )
    category = "text_processing"
    config_model = InitialPromptConfig
    needs_text = False
    prompt_name = "initialPrompt"
    inputs = (ADAPTER,)

    async def run(self, ctx: Context, config: Any) -> NodeResult:
        text = config.text
        if text is None:
            value = ctx.state.get(config.input_key)
            if not isinstance(value, str) or not value.strip():
                raise InvalidInput(
                    f"node {ctx.node_id!r} (initialPrompt) has no prompt: set config.text or "
                    f'start the run with the input {{"{config.input_key}": "..."}}'
                )
            text = value
        inputs = read_inputs(ctx)
        if not inputs.adapters:
            return self.done(ctx, {"text": text, "model": None, "prompt": None})
        return self.done(ctx, await self.prompted(ctx, config, {"text": text}, inputs))


class PromptEnhancer(StoryNode):
    name = "promptEnhancer"
    description = "Makes a prompt vivid and specific (optional notes), with persona injection."
    category = "text_processing"
    config_model = EnhancerConfig
    prompt_name = "promptEnhancer"

    async def run(self, ctx: Context, config: Any) -> NodeResult:
        inputs = read_inputs(ctx)
        if not inputs.text:
            raise self.no_text(ctx)
        values = {"text": inputs.text, "notes": config.notes or ""}
        return self.done(ctx, await self.prompted(ctx, config, values, inputs))


class Translator(StoryNode):
    name = "translator"
    description = "Translates the text into a language (config.language, e.g. fr)."
    category = "text_processing"
    config_model = TranslatorConfig
    prompt_name = "translator"
    inputs = (TEXT,)

    async def run(self, ctx: Context, config: Any) -> NodeResult:
        inputs = read_inputs(ctx)
        if not inputs.text:
            raise self.no_text(ctx)
        values = {
            "text": inputs.text,
            "language": config.language,
            "language_name": LANGUAGE_NAMES[config.language],
        }
        return self.done(ctx, await self.prompted(ctx, config, values, inputs))


class StoryTeller(StoryNode):
    name = "storyTeller"
    description = "Writes a story from the prompt (length, genre), keeping characters and scene."
    category = "text_processing"
    config_model = StoryConfig
    prompt_name = "storyTeller"

    async def run(self, ctx: Context, config: Any) -> NodeResult:
        inputs = read_inputs(ctx)
        if not inputs.text:
            raise self.no_text(ctx)
        values = {
            "text": inputs.text,
            "length": config.length,
            "words": STORY_WORDS[config.length],
            "genre": config.genre or "",
        }
        return self.done(ctx, await self.prompted(ctx, config, values, inputs))


class GrammarFix(StoryNode):
    name = "grammarFix"
    description = "Corrects grammar, spelling and punctuation (optional style)."
    category = "text_processing"
    config_model = GrammarConfig
    prompt_name = "grammarFix"
    inputs = (TEXT,)

    async def run(self, ctx: Context, config: Any) -> NodeResult:
        inputs = read_inputs(ctx)
        if not inputs.text:
            raise self.no_text(ctx)
        values = {"text": inputs.text, "style": config.style or ""}
        return self.done(ctx, await self.prompted(ctx, config, values, inputs))


class Compressor(StoryNode):
    name = "compressor"
    description = (
        "Compresses a text longer than threshold_chars (2,500 by default) with a model; a "
        "shorter one passes through unchanged, with no model call."
    )
    category = "text_processing"
    config_model = CompressorConfig
    prompt_name = "compressor"
    inputs = (TEXT,)
    output_schema = {
        "type": "object",
        "description": "{<node id>: {text, compressed, input_chars, threshold_chars, model}}",
        "properties": {
            "text": {"type": "string"},
            "compressed": {"type": "boolean"},
            "input_chars": {"type": "integer"},
            "threshold_chars": {"type": "integer"},
        },
    }

    async def run(self, ctx: Context, config: Any) -> NodeResult:
        inputs = read_inputs(ctx)
        text = inputs.text
        if not text:
            raise self.no_text(ctx)
        sizes = {"input_chars": len(text), "threshold_chars": config.threshold_chars}
        if len(text) <= config.threshold_chars:
            output = {"text": text, "compressed": False, "model": None, "prompt": None}
            return self.done(ctx, {**output, **sizes})
        target = config.target_chars or max(len(text) // 2, 1)
        values = {"text": text, "target_chars": target}
        made = await self.prompted(ctx, config, values, inputs)
        return self.done(ctx, {**made, "compressed": True, **sizes})


class TextOutput(StoryNode):
    name = "textOutput"
    description = "The flow's result: the text on its input, as the run's output under its id."
    category = "output"
    config_model = OutputConfig
    inputs = (TEXT,)
    outputs = ()
    output_schema = {
        "type": "object",
        "description": "{<node id>: {text}}",
        "properties": {"text": {"type": "string"}},
    }

    async def run(self, ctx: Context, config: Any) -> NodeResult:
        text = read_inputs(ctx).text
        return NodeResult(
            output={ctx.node_id: {"text": text}}, run_output={ctx.node_id: {"text": text}}
        )


NODE_TYPES: tuple[type[StoryNode], ...] = (
    ConsistentCharacter,
    SceneBuilder,
    InitialPrompt,
    PromptEnhancer,
    Translator,
    StoryTeller,
    GrammarFix,
    Compressor,
    TextOutput,
)
DATA_SOURCES = frozenset(t.name for t in NODE_TYPES if t.outputs == (ADAPTER,))
# The ports each storyflow type's output goes out of (what an edge from it carries).
SOURCE_PORTS: dict[str, tuple[str, ...]] = {t.name: t.outputs for t in NODE_TYPES}
