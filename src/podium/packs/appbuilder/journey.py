"""The AppBuilder journey's pure parts: which features an idea asks for, how far a build is,
what a revenue dashboard and a challenge show. No I/O, so every rule is tested directly.

The limits below are the server's caps on what a tenant's input may ask for (DESIGN §8):
a flow's input is the tenant's, and an artifact is read by a browser on every update.
"""

from __future__ import annotations

import re
from typing import Any

from podium.errors import InvalidInput

STAGES = ("design", "code", "test", "deploy")
MAX_FEATURES = 12
MAX_APPS = 50
MAX_CHALLENGE_STEPS = 20
MAX_NAME_CHARS = 120
MAX_CHANNELS = 6
DEFAULT_FEATURES = ("Sign-up and login", "Dashboard", "Billing")
DEFAULT_CHALLENGE = ("Pick an idea", "Build the first version", "Get a first user", "Launch")
DEFAULT_CHANNELS = ("email", "social", "seo")
_SEPARATORS = re.compile(r",|;|\band\b|\bwith\b", re.IGNORECASE)


def text_field(inputs: dict[str, Any], key: str, default: str) -> str:
    """A short text of the input: a string of at most MAX_NAME_CHARS, or the default."""
    value = inputs.get(key)
    if value is None or value == "":
        return default
    if not isinstance(value, str):
        raise InvalidInput(f"input {key!r} must be a string, not {type(value).__name__}")
    value = " ".join(value.split())
    if len(value) > MAX_NAME_CHARS:
        raise InvalidInput(
            f"input {key!r} is {len(value)} characters; send at most {MAX_NAME_CHARS}"
        )
    return value


def text_list(inputs: dict[str, Any], key: str, cap: int) -> list[str] | None:
    """A list of short texts of the input (None when absent), each trimmed, at most `cap`."""
    value = inputs.get(key)
    if value is None:
        return None
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise InvalidInput(f"input {key!r} must be a list of strings")
    items = [" ".join(item.split()) for item in value if item.strip()]
    if len(items) > cap:
        raise InvalidInput(f"input {key!r} has {len(items)} items; send at most {cap}")
    for item in items:
        if len(item) > MAX_NAME_CHARS:
            raise InvalidInput(
                f"input {key!r} has an item of {len(item)} characters; send at most "
                f"{MAX_NAME_CHARS}"
            )
    return items


def features_of(idea: str, given: list[str] | None = None) -> list[str]:
    """The features to build: those given, else the parts of the idea ("a shop with
    payments, reviews and search" → Payments, Reviews, Search), else the defaults."""
    if given:
        return given[:MAX_FEATURES]
    parts = [part.strip(" .") for part in _SEPARATORS.split(idea)]
    # The first part names the app itself ("a shop"), unless the idea is only a list.
    candidates = parts[1:] if len(parts) > 1 else []
    features = [part[:1].upper() + part[1:] for part in candidates if part]
    return features[:MAX_FEATURES] or list(DEFAULT_FEATURES)


def stage_update(stage_index: int, features: list[str]) -> dict[str, Any]:
    """The artifact patch once stage `stage_index` (of STAGES) is done (Pattern 5)."""
    done = list(STAGES[: stage_index + 1])
    following = STAGES[stage_index + 1] if stage_index + 1 < len(STAGES) else None
    # Features appear as the code is written: a share per stage from "code" on.
    shown = 0 if stage_index < 1 else round(len(features) * stage_index / (len(STAGES) - 1))
    return {
        "current_stage": following or "done",
        "completed_stages": done,
        "build_progress": round(len(done) / len(STAGES) * 100),
        "features": features[:shown],
    }


def appbuilder_state(app_name: str, idea: str) -> dict[str, Any]:
    """The AppBuilder artifact's first state (Pattern 1), with its buttons."""
    return {
        "app_name": app_name,
        "idea": idea,
        "architecture": None,
        "features": [],
        "current_stage": STAGES[0],
        "completed_stages": [],
        "build_progress": 0,
        "deployment_status": "not_started",
        "revenue_to_date": 0.0,
        "buttons": [
            {"label": "View Revenue", "action": "launch_workflow", "workflow": "RevenueDashboard"},
            {
                "label": "Start Marketing",
                "action": "launch_workflow",
                "workflow": "MarketingAutomation",
            },
        ],
    }


def revenue_apps(
    inputs: dict[str, Any], launched_from: dict[str, Any] | None
) -> list[dict[str, Any]]:
    """The apps a dashboard shows: `apps` of the input ([{name, revenue}]), else the app of
    the AppBuilder artifact whose button launched it, else none."""
    given = inputs.get("apps")
    if given is None:
        if launched_from is None:
            return []
        return [
            {
                "name": str(launched_from.get("app_name") or "app"),
                "revenue": _amount(launched_from.get("revenue_to_date", 0.0), "revenue_to_date"),
            }
        ]
    if not isinstance(given, list):
        raise InvalidInput("input 'apps' must be a list of {name, revenue} objects")
    if len(given) > MAX_APPS:
        raise InvalidInput(f"input 'apps' has {len(given)} items; send at most {MAX_APPS}")
    apps = []
    for index, app in enumerate(given):
        if not isinstance(app, dict) or not isinstance(app.get("name"), str):
            raise InvalidInput(f"input apps[{index}] must be an object with a string 'name'")
        name = text_field(app, "name", "")
        revenue = _amount(app.get("revenue", 0), f"apps[{index}].revenue")
        apps.append({"name": name, "revenue": revenue})
    return apps


def _amount(value: Any, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
        raise InvalidInput(f"input {where} must be a number of at least 0, not {value!r}")
    return round(float(value), 2)


def chart_data(apps: list[dict[str, Any]]) -> dict[str, Any]:
    """A bar chart of revenue by app, and each app's share of the total (percent)."""
    total = sum(app["revenue"] for app in apps)
    return {
        "type": "bar",
        "labels": [app["name"] for app in apps],
        "series": [{"name": "revenue", "data": [app["revenue"] for app in apps]}],
        "share_percent": [round(app["revenue"] / total * 100, 1) if total else 0.0 for app in apps],
    }


def challenge_update(steps: list[str], completed: int) -> dict[str, Any]:
    """The ChallengeTracker patch after `completed` of the steps (Example 3)."""
    total = len(steps)
    update: dict[str, Any] = {
        "completed_steps": completed,
        "total_steps": total,
        "progress": round(completed / total * 100, 1),
        "current_step": steps[completed] if completed < total else None,
        "stages": [{"name": name, "done": index < completed} for index, name in enumerate(steps)],
    }
    if completed >= total:
        update["status"] = "completed"
        update["buttons"] = []
    return update


def campaigns_for(app_name: str, channels: list[str], budget: float) -> list[dict[str, Any]]:
    """One campaign per channel, the budget split evenly (cents rounding to the first)."""
    if not channels:
        return []
    share = round(budget / len(channels), 2)
    first = round(budget - share * (len(channels) - 1), 2)
    return [
        {
            "channel": channel,
            "name": f"{app_name} on {channel}",
            "budget": first if index == 0 else share,
            "status": "draft",
        }
        for index, channel in enumerate(channels)
    ]


def budget_of(inputs: dict[str, Any]) -> float:
    value = inputs.get("budget", 0)
    return _amount(value, "budget") if value is not None else 0.0
