"""Type aliases shared by every layer; imports nothing of ours."""

from typing import Any, TypeAlias

JSON: TypeAlias = bool | int | float | str | list[Any] | dict[str, Any] | None
JSONObject: TypeAlias = dict[str, Any]
