"""An MCP server's connection settings, as an app stores them: `stdio` (a command Podium
starts) or `http` (a streamable HTTP URL), validated with messages that say what to fix."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal
from urllib.parse import urlsplit

from podium.errors import InvalidInput, PodiumError

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
