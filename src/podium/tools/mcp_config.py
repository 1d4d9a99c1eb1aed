"""An MCP server's connection settings: `http` (a streamable HTTP URL, what an app registers)
or `stdio` (a command Podium starts: only the operator's, from `PODIUM_MCP_STDIO_SERVERS_FILE`,
enabled for an app by a platform admin), validated with messages that say what to fix.

An app stores an http server's whole configuration, and for a stdio server only the name of
the operator's server it uses (`{"name": "files", "transport": "stdio", "operator_server":
"files"}`): the command, its arguments and environment stay in the operator's file.
"""

from __future__ import annotations

import dataclasses
import json
import os
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

import httpx2

from podium.egress import refusal_in, status_line
from podium.errors import InvalidInput, NotAllowed, PodiumError

Transport = Literal["stdio", "http"]
SERVER_NAME_PATTERN = re.compile(r"^[a-z][a-z0-9_-]{0,31}$")
TOOLS_TTL_SECONDS = 30.0
CONNECT_TIMEOUT_SECONDS = 30.0  # starting a server (e.g. `npx -y …` fetching it) can be slow
_HEADER_NAME = re.compile(r"^[!#$%&'*+.^_`|~0-9A-Za-z-]+$")


class MCPServerUnavailable(PodiumError):
    """The MCP server could not be started or reached, or its connection broke."""

    code = "mcp_unavailable"


class MCPToolError(Exception):
    """An MCP tool answered with `isError`: the message is the server's error text."""


# --- what an error may say ------------------------------------------------------------------


def leaves(exc: BaseException) -> list[BaseException]:
    """The exceptions inside (nested) exception groups."""
    if isinstance(exc, BaseExceptionGroup):
        found: list[BaseException] = []
        for inner in exc.exceptions:
            found += leaves(inner)
        return found
    return [exc]


def describe_error(exc: BaseException) -> str:
    """The whole reason of a failure, for the server's log only (it may hold paths, a
    remote body, a process's words)."""
    parts = []
    for leaf in leaves(exc):
        if isinstance(leaf, FileNotFoundError) and leaf.filename is None:
            text = leaf.strerror or "No such file or directory"
        elif isinstance(leaf, OSError) and leaf.strerror:
            text = leaf.strerror
        else:
            text = str(leaf) or type(leaf).__name__
        if text not in parts:
            parts.append(text)
    return "; ".join(parts) or type(exc).__name__


def public_reason(exc: BaseException | None) -> str:
    """What an answer may say of a failure: the egress policy's refusal, an HTTP status line,
    a timeout; never a remote body or a local error's text."""
    refused = refusal_in(exc)
    if refused is not None:
        return refused.message
    for leaf in leaves(exc) if exc is not None else []:
        if isinstance(leaf, httpx2.HTTPStatusError):
            return f"it answered {status_line(leaf.response.status_code)}"
        if isinstance(leaf, TimeoutError | httpx2.TimeoutException):
            return "it did not answer in time"
    return "no MCP session could be held with it (the server's log says why)"


# --- configuration ----------------------------------------------------------------------


def _pairs(value: Any, what: str, server: str) -> tuple[tuple[str, str], ...]:
    """A mapping (or pairs) of strings as sorted, hashable pairs."""
    if value is None:
        return ()
    items: Iterable[Any]
    if isinstance(value, Mapping):
        items = value.items()
    elif isinstance(value, list | tuple):
        items = value
    else:
        raise InvalidInput(
            f"MCP server {server!r}: {what} must be an object of strings, not "
            f"{type(value).__name__}"
        )
    pairs: dict[str, str] = {}
    for item in items:
        if not (isinstance(item, list | tuple) and len(item) == 2):
            raise InvalidInput(f"MCP server {server!r}: {what} must be an object of strings")
        key, val = item
        if not isinstance(key, str) or not isinstance(val, str):
            raise InvalidInput(
                f"MCP server {server!r}: every {what} name and value must be a string "
                f"(got {key!r}: {val!r})"
            )
        pairs[key] = val
    return tuple(sorted(pairs.items()))


@dataclass(frozen=True)
class MCPServerConfig:
    """How to reach one MCP server: a command to run (stdio) or a URL (streamable HTTP).

    Hashable, so it keys its connection; `env` and `headers` (which often hold secrets) are
    left out of its repr. Constructing one validates it (`InvalidInput` says what is wrong).
    """

    name: str
    transport: Transport = "stdio"
    command: str | None = None
    args: tuple[str, ...] = ()
    env: tuple[tuple[str, str], ...] = field(default=(), repr=False)
    cwd: str | None = None
    url: str | None = None
    headers: tuple[tuple[str, str], ...] = field(default=(), repr=False)
    timeout_seconds: float = 30.0
    # Whose session this is: an operator's stdio server enabled in two apps runs once per app
    # (its process may keep state that one tenant must not see of another).
    owner: str = field(default="", repr=False)

    def __post_init__(self) -> None:
        # Lists and dicts from callers become the hashable forms.
        label = self.name if isinstance(self.name, str) else repr(self.name)
        if isinstance(self.args, list):
            object.__setattr__(self, "args", tuple(self.args))
        if not isinstance(self.env, tuple) or any(not isinstance(p, tuple) for p in self.env):
            object.__setattr__(self, "env", _pairs(self.env, "env", label))
        if not isinstance(self.headers, tuple) or any(
            not isinstance(p, tuple) for p in self.headers
        ):
            object.__setattr__(self, "headers", _pairs(self.headers, "headers", label))
        self.validate()

    def validate(self) -> MCPServerConfig:
        """Raise `InvalidInput` naming the first problem; return the config when it is sound."""
        name = self.name
        if not isinstance(name, str) or not SERVER_NAME_PATTERN.match(name):
            raise InvalidInput(
                f"MCP server name {name!r} is not valid: use 1-32 lowercase letters, digits, "
                "'_' or '-', starting with a letter (e.g. 'github')"
            )
        where = f"MCP server {name!r}"
        if self.transport not in ("stdio", "http"):
            raise InvalidInput(
                f"{where}: transport must be 'stdio' or 'http', not {self.transport!r}"
            )
        timeout = self.timeout_seconds
        if (
            isinstance(timeout, bool)
            or not isinstance(timeout, int | float)
            or not 0 < timeout <= 3600
        ):
            raise InvalidInput(
                f"{where}: timeout_seconds must be a number of seconds above 0 and at most "
                f"3600, not {timeout!r}"
            )
        if self.transport == "stdio":
            self._validate_stdio(where)
        else:
            self._validate_http(where)
        return self

    def _validate_stdio(self, where: str) -> None:
        if not isinstance(self.command, str) or not self.command.strip():
            raise InvalidInput(
                f"{where} uses the stdio transport and needs a command: the program that "
                "starts the server (e.g. 'npx' or 'python')"
            )
        if "\0" in self.command:
            raise InvalidInput(f"{where}: the command contains a NUL character")
        if not isinstance(self.args, tuple) or not all(isinstance(a, str) for a in self.args):
            raise InvalidInput(f"{where}: args must be a list of strings")
        if any("\0" in a for a in self.args):
            raise InvalidInput(f"{where}: an argument contains a NUL character")
        for key, value in self.env:
            if not key or "=" in key or "\0" in key or "\0" in value:
                raise InvalidInput(
                    f"{where}: {key!r} is not a valid environment variable (a name without "
                    "'=' and a value, neither with NUL characters)"
                )
        if self.cwd is not None and (not isinstance(self.cwd, str) or not self.cwd):
            raise InvalidInput(f"{where}: cwd must be a directory path or null")
        if self.url is not None or self.headers:
            raise InvalidInput(
                f"{where} uses the stdio transport: url and headers apply to the http "
                "transport only"
            )

    def _validate_http(self, where: str) -> None:
        url = self.url
        parts = urlsplit(url) if isinstance(url, str) else None
        if parts is None or parts.scheme not in ("http", "https") or not parts.hostname:
            raise InvalidInput(
                f"{where} uses the http transport and needs an http:// or https:// URL of the "
                f"server's MCP endpoint (e.g. 'https://example.com/mcp'), not {url!r}"
            )
        for key, value in self.headers:
            if not _HEADER_NAME.match(key) or "\r" in value or "\n" in value:
                raise InvalidInput(
                    f"{where}: {key!r} is not a valid HTTP header (a token name and a value "
                    "without line breaks)"
                )
        if self.command is not None or self.args or self.env or self.cwd is not None:
            raise InvalidInput(
                f"{where} uses the http transport: command, args, env and cwd apply to the "
                "stdio transport only"
            )

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> MCPServerConfig:
        """A config from its JSON form (what `to_json` gives); `InvalidInput` when it is bad."""
        if not isinstance(data, Mapping):
            raise InvalidInput(
                f"an MCP server configuration must be a JSON object, not {type(data).__name__}"
            )
        allowed = {
            "name",
            "transport",
            "command",
            "args",
            "env",
            "cwd",
            "url",
            "headers",
            "timeout_seconds",
        }
        name = data.get("name")
        unknown = sorted(str(key) for key in data if key not in allowed)
        if unknown:
            raise InvalidInput(
                f"MCP server {name!r}: unknown field(s) {', '.join(unknown)}; the fields are "
                f"{', '.join(sorted(allowed))}"
            )
        if "name" not in data:
            raise InvalidInput("an MCP server configuration needs a name (e.g. 'github')")
        args = data.get("args") or ()
        if isinstance(args, str) or not isinstance(args, list | tuple):
            raise InvalidInput(f"MCP server {name!r}: args must be a list of strings")
        label = name if isinstance(name, str) else repr(name)
        timeout = data.get("timeout_seconds", 30.0)
        return cls(
            name=data["name"],
            transport=data.get("transport", "stdio"),
            command=data.get("command"),
            args=tuple(args),
            env=_pairs(data.get("env"), "env", label),
            cwd=data.get("cwd"),
            url=data.get("url"),
            headers=_pairs(data.get("headers"), "headers", label),
            timeout_seconds=timeout,
        )

    def to_json(self) -> dict[str, Any]:
        """The JSON form: only the fields of its transport, `env`/`headers` as objects."""
        data: dict[str, Any] = {"name": self.name, "transport": self.transport}
        if self.transport == "stdio":
            data.update(
                command=self.command, args=list(self.args), env=dict(self.env), cwd=self.cwd
            )
        else:
            data.update(url=self.url, headers=dict(self.headers))
        data["timeout_seconds"] = self.timeout_seconds
        return data

    @property
    def source(self) -> str:
        """The `source` of this server's tools: `mcp:<name>`."""
        return f"mcp:{self.name}"

    def describe(self) -> str:
        """Where the server is, for messages (never the env or headers)."""
        if self.transport == "http":
            return str(self.url)
        return " ".join([str(self.command), *self.args])


# --- what tenants may register, and the operator's stdio servers ---------------------------

OPERATOR_KEY = "operator_server"
STDIO_FILE_SETTING = "PODIUM_MCP_STDIO_SERVERS_FILE"


def tenant_config(data: Mapping[str, Any]) -> MCPServerConfig:
    """An MCP server an app registers itself: streamable HTTP only (`NotAllowed` for stdio,
    `InvalidInput` for anything else wrong)."""
    if isinstance(data, Mapping) and data.get("transport", "stdio") == "stdio":
        raise NotAllowed(
            f"MCP server {data.get('name')!r}: an app may register only streamable HTTP MCP "
            "servers (transport 'http' with a url); stdio servers come from the operator: the "
            f"ones listed in {STDIO_FILE_SETTING}, which a platform admin enables for an app",
            details={"setting": STDIO_FILE_SETTING},
        )
    return MCPServerConfig.from_json(data)


def operator_reference(name: str, server: str, timeout_seconds: float | None) -> dict[str, Any]:
    """What an app stores for the operator's stdio server `server`, used under `name`."""
    data: dict[str, Any] = {"name": name, "transport": "stdio", OPERATOR_KEY: server}
    if timeout_seconds is not None:
        data["timeout_seconds"] = timeout_seconds
    return data


def stored_config(
    data: Mapping[str, Any], offered: Mapping[str, MCPServerConfig], owner: str
) -> MCPServerConfig:
    """The configuration an app's stored MCP server stands for: its own http server, or the
    operator's stdio server it references (as offered now). `MCPServerUnavailable` for a
    stdio server the operator does not offer, or one an app registered itself before stdio
    became the operator's (Podium does not start those)."""
    if data.get("transport") == "http":
        return MCPServerConfig.from_json(data)
    name = data.get("name")
    server = data.get(OPERATOR_KEY)
    if not isinstance(server, str):
        raise MCPServerUnavailable(
            f"MCP server {name!r} is a stdio server registered by an app, which Podium does "
            "not start: stdio servers come from the operator; a platform admin can enable one "
            f"for this app (PUT /apps/{{app_id}}/mcp-servers/{name}/stdio)"
        )
    config = offered.get(server)
    if config is None:
        raise MCPServerUnavailable(
            f"MCP server {name!r} uses the operator's stdio server {server!r}, which is no "
            f"longer offered ({STDIO_FILE_SETTING})"
        )
    timeout = data.get("timeout_seconds", config.timeout_seconds)
    return dataclasses.replace(config, name=str(name), timeout_seconds=timeout, owner=owner)


_LOADED: dict[str, tuple[float, dict[str, MCPServerConfig]]] = {}


def operator_servers(path: str | None) -> dict[str, MCPServerConfig]:
    """The operator's stdio servers, from a JSON or YAML file of `name → {command, args, env,
    cwd, timeout_seconds}` (read again when it changes). None: no servers."""
    if not path:
        return {}
    try:
        mtime = os.stat(path).st_mtime
    except OSError as exc:
        raise InvalidInput(
            f"{STDIO_FILE_SETTING}={path} cannot be read: {exc.strerror}",
            details={"setting": STDIO_FILE_SETTING},
        ) from None
    cached = _LOADED.get(path)
    if cached is not None and cached[0] == mtime:
        return cached[1]
    servers = _parse_operator_file(path)
    _LOADED[path] = (mtime, servers)
    return servers


def _parse_operator_file(path: str) -> dict[str, MCPServerConfig]:
    text = Path(path).read_text(encoding="utf-8")
    where = f"{STDIO_FILE_SETTING}={path}"
    import yaml

    try:
        data = json.loads(text) if path.endswith(".json") else yaml.safe_load(text)
    except (ValueError, yaml.YAMLError) as exc:
        raise InvalidInput(f"{where} is not valid JSON or YAML: {exc}") from None
    if data is None:
        return {}
    if not isinstance(data, Mapping):
        raise InvalidInput(f"{where} must map server names to {{command, args, env, cwd}}")
    servers = {}
    for name, spec in data.items():
        if not isinstance(spec, Mapping):
            raise InvalidInput(f"{where}: server {name!r} must be an object with a command")
        unknown = sorted(set(spec) - {"command", "args", "env", "cwd", "timeout_seconds"})
        if unknown:
            raise InvalidInput(f"{where}: server {name!r} has unknown field(s) {unknown}")
        try:
            servers[name] = MCPServerConfig.from_json({**spec, "name": name, "transport": "stdio"})
        except InvalidInput as exc:
            raise InvalidInput(f"{where}: {exc.message}") from None
    return servers
