"""Every route the client calls: its method, its path under `/api/v1`, the server's schema of
its body and of its answer. One table, so that a test can hold each line against the server's
own route (tests/client/test_models.py) and the two cannot drift apart."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel

from podium.client import models as m


@dataclass(frozen=True)
class Endpoint:
    method: str
    path: str  # under /api/v1, with {placeholders}
    response: Any  # the answer's type (a model, a list of one), or None for 204
    body: type[BaseModel] | None = None  # the request body's schema, if it has one

    def url(self, **params: str) -> str:
        from urllib.parse import quote

        # A path parameter never adds a segment: quote '/' too (a knowledge key may hold
        # one: the route reads it as `{key:path}`, so it is quoted there as well).
        return self.path.format(**{k: quote(v, safe="") for k, v in params.items()})


APP = "/apps/{app_id}"

# auth
LOGIN = Endpoint("POST", "/auth/login", m.TokenResponse, m.LoginRequest)
REFRESH = Endpoint("POST", "/auth/refresh", m.TokenResponse, m.RefreshRequest)
LOGOUT = Endpoint("POST", "/auth/logout", None, m.RefreshRequest)
ME = Endpoint("GET", "/auth/me", m.UserPublic)
# apps, keys, members
CREATE_APP = Endpoint("POST", "/apps", m.AppPublic, m.AppCreate)
LIST_APPS = Endpoint("GET", "/apps", m.AppPage)
GET_APP = Endpoint("GET", APP, m.AppPublic)
UPDATE_APP = Endpoint("PATCH", APP, m.AppPublic, m.AppUpdate)
DELETE_APP = Endpoint("DELETE", APP, None)
LIST_MEMBERS = Endpoint("GET", APP + "/members", list[m.MemberView])
CREATE_API_KEY = Endpoint("POST", APP + "/api-keys", m.ApiKeyCreated, m.ApiKeyCreate)
LIST_API_KEYS = Endpoint("GET", APP + "/api-keys", list[m.ApiKeyPublic])
REVOKE_API_KEY = Endpoint("DELETE", APP + "/api-keys/{key_id}", None)
# flows
REGISTER_FLOW = Endpoint("POST", APP + "/flows", m.FlowPublic)
LIST_FLOWS = Endpoint("GET", APP + "/flows", list[m.FlowPublic])
GET_FLOW = Endpoint("GET", APP + "/flows/{name}", m.FlowDetail)
# sessions
START_SESSION = Endpoint("POST", APP + "/sessions", m.SessionPublic, m.SessionCreate)
LIST_SESSIONS = Endpoint("GET", APP + "/sessions", m.SessionPage)
GET_SESSION = Endpoint("GET", APP + "/sessions/{session_id}", m.SessionPublic)
SESSION_MESSAGES = Endpoint("GET", APP + "/sessions/{session_id}/messages", list[m.EventPublic])
SESSION_HISTORY = Endpoint("GET", APP + "/sessions/{session_id}/history", list[m.StepPublic])
START_RUN = Endpoint("POST", APP + "/sessions/{session_id}/runs", m.RunQueued, m.RunCreate)
ANSWER = Endpoint("POST", APP + "/sessions/{session_id}/input", m.RunQueued, m.AnswerRequest)
CANCEL_SESSION = Endpoint("POST", APP + "/sessions/{session_id}/cancel", m.SessionPublic)
COMPLETE_SESSION = Endpoint("POST", APP + "/sessions/{session_id}/complete", m.SessionPublic)
# runs
GET_RUN = Endpoint("GET", APP + "/runs/{run_id}", m.RunPublic)
GET_STEP = Endpoint("GET", APP + "/runs/{run_id}/steps/{number}", m.StepPublic)
WAIT_RUN = Endpoint("GET", APP + "/runs/{run_id}/wait", m.RunPublic)
CANCEL_RUN = Endpoint("POST", APP + "/runs/{run_id}/cancel", m.RunPublic)
PAUSE_RUN = Endpoint("POST", APP + "/runs/{run_id}/pause", m.RunPublic)
RESUME_RUN = Endpoint("POST", APP + "/runs/{run_id}/resume", m.RunPublic)
FORK_RUN = Endpoint("POST", APP + "/runs/{run_id}/fork", m.RunQueued, m.ForkRequest)
# events
EVENTS = Endpoint("GET", APP + "/events", m.EventPage)
# artifacts
CREATE_ARTIFACT = Endpoint("POST", APP + "/artifacts", m.ArtifactPublic, m.ArtifactCreate)
LIST_ARTIFACTS = Endpoint("GET", APP + "/artifacts", m.ArtifactPage)
GET_ARTIFACT = Endpoint("GET", APP + "/artifacts/{artifact_id}", m.ArtifactPublic)
PATCH_ARTIFACT = Endpoint("PATCH", APP + "/artifacts/{artifact_id}", m.ArtifactPublic)
ARTIFACT_HISTORY = Endpoint("GET", APP + "/artifacts/{artifact_id}/history", m.ArtifactHistory)
ARTIFACT_ACTION = Endpoint(
    "POST", APP + "/artifacts/{artifact_id}/actions", m.ActionAccepted, m.ActionRequest
)
# agents and chat
LIST_AGENTS = Endpoint("GET", APP + "/agents", list[m.AgentPublic])
GET_AGENT = Endpoint("GET", APP + "/agents/{name}", m.AgentPublic)
INVOKE_AGENT = Endpoint("POST", APP + "/agents/{name}/invoke", m.ChatTurnPublic, m.AgentInvoke)
LIST_TOOL_CALLS = Endpoint("GET", APP + "/tool-calls", m.ToolCallPage)
CHAT = Endpoint("POST", APP + "/chat/messages", m.ChatTurnPublic, m.ChatMessageCreate)
CHAT_STREAM = Endpoint("POST", APP + "/chat/stream", None, m.ChatMessageCreate)
CHAT_HISTORY = Endpoint("GET", APP + "/chat/{session_id}/history", list[m.EventPublic])
# workflows
EXECUTE_WORKFLOW = Endpoint("POST", APP + "/workflows/execute", m.WorkflowPublic, m.WorkflowExecute)
GET_WORKFLOW = Endpoint("GET", APP + "/workflows/{run_id}", m.WorkflowPublic)
SET_WORKFLOW_STATE = Endpoint(
    "PATCH", APP + "/workflows/{run_id}/state", m.WorkflowPublic, m.WorkflowState
)
WORKFLOW_VISUALIZATION = Endpoint(
    "GET", APP + "/workflows/{run_id}/visualization", m.WorkflowVisualization
)
# memory
MEMORY = APP + "/memory/{scope}/{scope_id}"
LIST_MEMORY = Endpoint("GET", MEMORY, m.MemoryPage)
SEARCH_MEMORY = Endpoint("GET", MEMORY, m.MemorySearchResult)
GET_MEMORY = Endpoint("GET", MEMORY + "/{key}", m.MemoryEntryPublic)
PUT_MEMORY = Endpoint("PUT", MEMORY + "/{key}", m.MemoryEntryPublic, m.MemoryPut)
DELETE_MEMORY = Endpoint("DELETE", MEMORY + "/{key}", None)
# knowledge
KNOWLEDGE = APP + "/knowledge"
LIST_NAMESPACES = Endpoint("GET", KNOWLEDGE, list[m.NamespacePublic])
PUT_DOCUMENTS = Endpoint(
    "POST", KNOWLEDGE + "/{namespace}/documents", m.DocumentsWritten, m.DocumentsPut
)
LIST_DOCUMENTS = Endpoint("GET", KNOWLEDGE + "/{namespace}/documents", m.DocumentPage)
GET_DOCUMENT = Endpoint("GET", KNOWLEDGE + "/{namespace}/documents/{key}", m.DocumentPublic)
DELETE_DOCUMENT = Endpoint("DELETE", KNOWLEDGE + "/{namespace}/documents/{key}", None)
SEARCH_KNOWLEDGE = Endpoint("GET", KNOWLEDGE + "/{namespace}/search", m.SearchResult)
# packs
LIST_PACKS = Endpoint("GET", APP + "/packs", list[m.PackPublic])
ENABLE_PACK = Endpoint("PUT", APP + "/packs/{name}", m.PackPublic)
DISABLE_PACK = Endpoint("DELETE", APP + "/packs/{name}", None)


def all_endpoints() -> dict[str, Endpoint]:
    """Every endpoint of this module by its name."""
    return {name: value for name, value in globals().items() if isinstance(value, Endpoint)}
