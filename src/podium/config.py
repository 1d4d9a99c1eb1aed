"""Settings from `PODIUM_*` environment variables."""

from typing import Annotated, Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

DEFAULT_DATABASE_URL = "sqlite:///./podium.db"


class ModelPrice(BaseModel):
    """A model's price per million input and per million output tokens."""

    model_config = ConfigDict(extra="forbid")

    input: float = Field(ge=0, allow_inf_nan=False)
    output: float = Field(ge=0, allow_inf_nan=False)


class Settings(BaseSettings):
    """Server and engine settings; every field is `PODIUM_<NAME>` in the environment."""

    model_config = SettingsConfigDict(env_prefix="PODIUM_", extra="ignore")

    database_url: str = DEFAULT_DATABASE_URL
    sqlite_synchronous: Literal["normal", "full", "off"] = "normal"
    # SQLite: how often a process looks for other processes' commits on the same file (their
    # events wake its streams, `/wait`s and idle worker slots); 0 turns the watch off.
    sqlite_watch_seconds: float = Field(default=0.01, ge=0, le=60)
    lease_seconds: float = 30.0
    workers: int = 4
    poll_seconds: float = 0.5
    # PostgreSQL: wake other processes with LISTEN/NOTIFY (commits, queued runs, live events);
    # off, they only poll every `poll_seconds`.
    notify: bool = True
    # PostgreSQL: connections per process. Every write of an app waits on its row (it orders
    # the app's events), so more connections than cores across all processes only queue:
    # 3 was the fastest on 2 cores for 1-4 processes (benchmarks/README.md, W5 and H2).
    pg_pool_size: int = Field(default=3, ge=1, le=100)
    # On SIGTERM a worker claims nothing more and lets the executing steps finish for at most
    # this long; then it hands back (releases) the runs whose steps did not finish.
    drain_seconds: float = 30.0
    max_steps: int = 1000
    # Schedules (docs/schedules.md): how often the workers look for due ones, at most this
    # many per app, no two due times of one closer than this, an input of at most this size.
    schedule_poll_seconds: float = 1.0
    schedule_max_per_app: int = Field(default=50, ge=0)
    schedule_min_interval_seconds: float = Field(default=60.0, ge=0)
    schedule_max_input_bytes: int = Field(default=65_536, ge=2)
    # Webhooks (docs/webhooks.md): at most this many per app; each delivery tried at most
    # this many times, after a back-off of this × 2^(attempt − 1) seconds; a webhook disabled
    # after this many failed attempts in a row; an answer awaited this long; an event's
    # payload over this size sent without its data.
    webhook_poll_seconds: float = 1.0
    webhook_max_per_app: int = Field(default=10, ge=0)
    webhook_max_attempts: int = Field(default=6, ge=1, le=20)
    webhook_backoff_seconds: float = Field(default=10.0, ge=0)
    webhook_disable_after: int = Field(default=20, ge=1)
    webhook_timeout_seconds: float = Field(default=10.0, gt=0, le=60)
    webhook_max_payload_bytes: int = Field(default=65_536, ge=1024)
    run_timeout_seconds: float = 3600.0
    call_timeout_seconds: float = 300.0
    default_model: str = "offline/echo"
    # Server-wide model providers (an app's own configurations under /providers win).
    openai_base_url: str | None = None
    openai_api_key: str | None = None
    anthropic_base_url: str | None = None
    anthropic_api_key: str | None = None
    ollama_base_url: str | None = None
    llm_timeout_seconds: float = 60.0
    llm_max_retries: int = 2
    tool_timeout_seconds: float = 30.0
    # Integrations, server-wide (an app's own settings under /integrations win). The base
    # URLs default to the services' real endpoints.
    hubspot_access_token: str | None = None
    hubspot_base_url: str = "https://api.hubapi.com"
    sendgrid_api_key: str | None = None
    sendgrid_from_email: str | None = None
    sendgrid_base_url: str = "https://api.sendgrid.com"
    google_calendar_access_token: str | None = None
    google_calendar_id: str = "primary"
    google_calendar_base_url: str = "https://www.googleapis.com/calendar/v3"

    # --- the HTTP API ---
    # The key that signs tokens. Unset: one is made at the first start and kept in the
    # database, so tokens survive restarts (set it when several API processes share a database).
    secret_key: str | None = None
    jwt_issuer: str = "podium"
    jwt_audience: str = "podium-api"
    access_token_minutes: float = 15.0
    refresh_token_days: float = 7.0
    allow_signup: bool = False
    # Browser origins allowed to open the WebSocket (comma-separated; `*` allows any).
    allowed_origins: Annotated[list[str], NoDecode] = ["http://localhost", "http://127.0.0.1"]
    # Requests per user or API key (the `limits` library's notation: "600/minute").
    rate_limit: str = "600/minute"
    max_body_bytes: int = 1_048_576
    ws_max_message_bytes: int = 65_536
    ws_rate_limit: str = "120/10seconds"
    # Modules whose functions `python` nodes of flows registered through the API may call
    # (comma-separated module prefixes, e.g. "myapp.nodes,shared"). Empty: none, because a flow
    # sent over HTTP must not choose arbitrary server-side code. Flow files run by the CLI and
    # flows registered from Python are not limited.
    api_python_modules: Annotated[list[str], NoDecode] = []
    # Modules imported when agents first run in a process, so that their `@tool` functions
    # are registered (comma-separated, e.g. "myapp.tools,shared.crm").
    tool_modules: Annotated[list[str], NoDecode] = []
    # Packs to install besides those of the `podium.packs` entry points (comma-separated
    # module names or package directories, e.g. "mypack,/srv/packs/guestbook"); apps enable
    # them one by one (docs/packs.md).
    packs: Annotated[list[str], NoDecode] = []
    # A pack's event handler that raises is tried again after 1, 2, 4… times this many
    # seconds, at most this many times in all; then the failure is kept for
    # GET /apps/{app}/packs/{name}/handlers and the handler goes on with the next event.
    pack_handler_backoff_seconds: float = 1.0
    pack_handler_max_attempts: int = 5
    # --- the agent directory and the orchestrator pack (docs/packs/orchestrator.md) ---
    # At most this many agents one directory search answers (GET /agents/search?k=); at
    # most PODIUM_KNOWLEDGE_MAX_K.
    agent_search_max_k: int = 50
    # At most this many candidate agents the orchestrator keeps per task (`max_results`),
    # and at most this many tasks it makes of one request.
    orchestrator_max_results: int = 20
    orchestrator_max_tasks: int = 10
    # How long POST /orchestrator/chat and /continue wait for the run to finish or ask
    # before answering `running` (the run goes on; GET /orchestrator/status/{thread_id}).
    orchestrator_wait_seconds: float = 60.0
    # The storyflow pack (docs/packs/storyflow.md): the characters, and the components of its
    # own beside the shipped ones, that one app may keep.
    storyflow_max_characters: int = Field(default=1000, ge=1)
    storyflow_max_components: int = Field(default=200, ge=1)

    # --- security (docs/security.md) ---
    # Hosts and networks (CIDR) that outbound requests a tenant can aim (providers,
    # integrations, MCP over HTTP, webhooks) may reach although they are loopback, private,
    # link-local or otherwise internal, e.g. "127.0.0.1,ollama.internal,10.0.0.0/8". Empty:
    # only public addresses.
    egress_allow: Annotated[list[str], NoDecode] = []
    # A JSON (or YAML) file of named stdio MCP servers that the operator offers; platform
    # admins enable them per app. Tenants can register only streamable-HTTP servers.
    mcp_stdio_servers_file: str | None = None
    # Templates (template nodes, agent instructions): a time and an output-size budget.
    template_timeout_seconds: float = 1.0
    template_max_output_chars: int = 262_144
    # Server caps on what a flow, agent or request may ask for (a flow asking for more is
    # refused with 422 naming the cap).
    max_steps_cap: int = 10_000
    run_timeout_cap_seconds: float = 86_400.0
    max_iterations_cap: int = 1_000
    max_turns_cap: int = 100
    # The largest token cap an app, a session, a run or an agent's `limits.max_tokens` may set
    # (docs/budgets.md).
    max_budget_tokens: int = 1_000_000_000
    # Prices per million tokens, for the estimated cost of `GET /apps/{app}/usage`, as JSON:
    # {"openai/gpt-4o-mini": {"input": 0.15, "output": 0.6}} (docs/budgets.md).
    model_prices: dict[str, ModelPrice] = {}
    max_rounds_cap: int = 50
    max_fan_out: int = 64
    # The most passages an agent retrieves from its knowledge at once (`knowledge.k` of a
    # definition, `k` of a `search_knowledge` call).
    agent_knowledge_k_cap: int = 20
    max_state_bytes: int = 4_194_304
    max_event_bytes: int = 262_144
    # The one JSON boundary: every JSON body and every value that enters state, artifacts,
    # memory, messages or events.
    max_json_depth: int = 64
    max_json_string_chars: int = 1_048_576
    max_json_key_chars: int = 1_024
    # Worker fairness: at most this many running runs per app (0: half the worker slots,
    # at least one).
    app_max_concurrent_runs: int = 0
    # Open WebSocket and SSE streams re-check their credentials at least this often.
    stream_recheck_seconds: float = 5.0
    # Logins per identifier and per client address (the `limits` library's notation).
    login_rate_limit: str = "10/minute"
    login_address_rate_limit: str = "60/minute"
    # New passwords need at least this zxcvbn strength score (0-4; 0 turns the check off).
    password_min_score: int = 3
    # How long an invitation to an app stays open.
    invitation_days: float = 7.0
    # A token that lets a scraper read /metrics and /api/v1/status (else platform admins only).
    metrics_token: str | None = None

    # --- retention (docs/retention.md) ---
    # What the server keeps of finished work, per kind (runs, steps, events, tool_calls,
    # artifact_versions): a JSON object such as
    # {"events": {"days": 30}, "runs": {"days": 90, "keep_last": 1000}}. A kind left out is
    # kept whole; an app's own policy (PUT /apps/{app}/retention) wins field by field.
    retention: dict[str, dict[str, float | None]] = {}
    # Caps on an app's own policy: at most this many days, at most this many rows.
    retention_max_days: float = Field(default=3650.0, gt=0)
    retention_max_keep_last: int = Field(default=10_000_000, ge=0)
    # The sweeper prunes this often (0: never; `podium db prune` still does), deleting at
    # most `retention_batch` rows (or runs) per transaction.
    retention_sweep_seconds: float = Field(default=3600.0, ge=0)
    retention_batch: int = Field(default=500, ge=1)

    # --- the knowledge store (docs/knowledge.md) ---
    # Documents are cut into chunks of at most this many characters, each repeating this
    # many of the one before (a batch may ask for others, within the store's bounds).
    knowledge_chunk_chars: int = 1000
    knowledge_chunk_overlap_chars: int = 150
    # Caps: documents per batch, bytes of one document (text and metadata as JSON), bytes
    # of a whole batch request, results per search (`k`), characters of a query.
    knowledge_max_batch_documents: int = 500
    knowledge_max_document_bytes: int = 262_144
    knowledge_max_batch_bytes: int = 4_194_304
    knowledge_max_k: int = 50
    knowledge_max_query_chars: int = 1_000
    # A batch of more documents than this reports `knowledge.ingest.progress` every this
    # many documents.
    knowledge_progress_every: int = 100
    # Hybrid search compares the query's vector with at most this many chunks' vectors
    # (the newest) of the namespaces searched.
    knowledge_max_vector_scan: int = 20_000
    # The embeddings model of apps that set none (`provider/model`, e.g.
    # `openai/text-embedding-3-small`, `ollama/nomic-embed-text`); unset: full text only.
    embedding_model: str | None = None
    # --- provider presets, image generation (docs/providers.md), CORS (docs/security.md) ---
    # OpenAI-compatible presets (`openrouter/<model>`, `mistral/…`, `glm/…`,
    # `huggingface/…`): a key each, and a base URL to override the service's own.
    openrouter_api_key: str | None = None
    openrouter_base_url: str | None = None
    mistral_api_key: str | None = None
    mistral_base_url: str | None = None
    glm_api_key: str | None = None
    glm_base_url: str | None = None
    huggingface_api_key: str | None = None
    huggingface_base_url: str | None = None
    # Image generation (`generate_image`): a Fireworks-style text-to-image API.
    fireworks_api_key: str | None = None
    fireworks_base_url: str | None = None
    image_timeout_seconds: float = 120.0
    image_max_count: int = 4  # images per request at most
    image_max_bytes: int = 8_388_608  # bytes of one generated image at most
    # Browser origins that may call the HTTP API from another origin (CORS), comma-separated
    # or a JSON list. Empty: no CORS headers (only same-origin browsers). `*` allows any
    # origin without credentials.
    cors_origins: Annotated[list[str], NoDecode] = []

    # --- observability (docs/observability.md): operator settings, never a tenant's ---
    # Log lines as `text` (for people) or `json` (one object a line, with the run, session
    # and app ids of the run that wrote it), at this level and above.
    log_format: Literal["text", "json"] = "text"
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"] = "INFO"
    # Traces over OTLP/HTTP (the `otel` extra): the collector's base URL, e.g.
    # "http://collector:4318" (spans go to its /v1/traces). Unset and PODIUM_OTEL_ENABLED off:
    # no tracing at all, whatever OTEL_* variables say.
    otel_endpoint: str | None = None
    # On without PODIUM_OTEL_ENDPOINT: the standard OTEL_EXPORTER_OTLP_* variables say where.
    otel_enabled: bool = False
    otel_service_name: str = "podium"

    @field_validator("cors_origins", mode="before")
    @classmethod
    def _cors_list(cls, value: object) -> object:
        if isinstance(value, str) and value.strip().startswith("["):
            import json

            try:
                value = json.loads(value)
            except ValueError as exc:
                raise ValueError(f"is not a JSON list of origins ({exc})") from None
            if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
                raise ValueError('is a JSON list of origins, e.g. ["https://editor.example"]')
        if isinstance(value, str):
            value = value.split(",")
        if isinstance(value, list):
            return [str(v).strip().rstrip("/") for v in value if str(v).strip()]
        return value

    @field_validator("retention")
    @classmethod
    def _retention_rules(
        cls, value: dict[str, dict[str, float | None]]
    ) -> dict[str, dict[str, float | None]]:
        kinds = ("runs", "steps", "events", "tool_calls", "artifact_versions")
        for kind, rule in value.items():
            if kind not in kinds:
                raise ValueError(f"names kind {kind!r}; the kinds are {', '.join(kinds)}")
            for key, number in rule.items():
                if key not in ("days", "keep_last"):
                    raise ValueError(f"{kind}: {key!r} is not a field (days, keep_last)")
                if number is not None and number < 0:
                    raise ValueError(f"{kind}.{key} is {number}; give a number >= 0 or null")
        return value

    @field_validator("log_format", "log_level", mode="before")
    @classmethod
    def _any_case(cls, value: object, info: ValidationInfo) -> object:
        if isinstance(value, str):
            return value.upper() if info.field_name == "log_level" else value.lower()
        return value

    @field_validator("otel_endpoint")
    @classmethod
    def _collector_url(cls, value: str | None) -> str | None:
        if value is None or not value.strip():
            return None
        value = value.strip()
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(
                "is not an http(s) URL of an OTLP/HTTP collector, e.g. http://collector:4318"
            )
        return value

    @field_validator("secret_key")
    @classmethod
    def _long_enough(cls, value: str | None) -> str | None:
        if value is not None and len(value.encode()) < 32:
            raise ValueError(
                "is shorter than 32 bytes, too short to sign tokens with HS256; use e.g. "
                "python3 -c 'import secrets; print(secrets.token_urlsafe(48))'"
            )
        return value

    @field_validator(
        "allowed_origins",
        "api_python_modules",
        "tool_modules",
        "egress_allow",
        "packs",
        mode="before",
    )
    @classmethod
    def _split_origins(cls, value: object) -> object:
        if isinstance(value, str):
            return [part.strip().rstrip("/") for part in value.split(",") if part.strip()]
        return value


def get_settings() -> Settings:
    """Settings read from the environment now (not cached, so tests can change it)."""
    return Settings()
