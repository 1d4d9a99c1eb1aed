"""`Client`: the whole public HTTP API of a Podium server, for synchronous code.

Generated from `podium/client/aio.py` (`AsyncClient`) by `scripts/generate_sync_client.py`:
do not edit; edit aio.py and run the script.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from typing import Any

import httpx

from podium.client import endpoints as ep
from podium.client import models as m
from podium.client._common import (
    RETRYABLE_STATUS,
    RUN_ENDED,
    SERVER_PING_SECONDS,
    WAIT_STATUSES,
    ChatEvent,
    api_base,
    body_json,
    clean_params,
    error_of,
    parse,
    stream_error,
)
from podium.client.errors import APIError, StreamLost, WaitTimeout
from podium.client.sse import SSEDecoder, SSEMessage

# Refresh an access token up to this many seconds before it expires, rather than after a 401.
REFRESH_MARGIN_SECONDS = 10.0
MAX_WAIT_SECONDS = 300.0  # the server's cap on one GET /runs/{id}/wait


class Client:
    """A client of one Podium server.

    Args:
        server: the server's URL, e.g. `http://127.0.0.1:8000` (the `/api/v1` prefix is
            added when it is left out).
        api_key: an app's API key (`pk_…`), sent as `X-API-Key`; or log in with `login`.
        access_token, refresh_token: a login kept from before (e.g. in a config file).
        on_tokens: called with every new token pair (after `login` and each refresh), so
            that the caller can keep the rotated refresh token.
        reconnect_seconds: how long an event stream keeps trying to reconnect.
    """

    def __init__(
        self,
        server: str,
        *,
        api_key: str | None = None,
        access_token: str | None = None,
        refresh_token: str | None = None,
        timeout: float = 30.0,
        reconnect_seconds: float = 30.0,
        on_tokens: Callable[[m.TokenResponse], None] | None = None,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.base_url = api_base(server)
        self.api_key = api_key
        self.access_token = access_token
        self.refresh_token = refresh_token
        self.timeout = timeout
        self.reconnect_seconds = reconnect_seconds
        self.on_tokens = on_tokens
        self._refresh_at: float | None = None
        self._lock = threading.Lock()
        self._http = httpx.Client(base_url=self.base_url, timeout=timeout, transport=transport)

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._http.close()

    # --- plumbing ---------------------------------------------------------------------

    def _auth_headers(self) -> dict[str, str]:
        if self.api_key:
            return {"X-API-Key": self.api_key}
        if self.access_token:
            return {"Authorization": f"Bearer {self.access_token}"}
        return {}

    def _keep(self, tokens: m.TokenResponse) -> None:
        self.access_token = tokens.access_token
        self.refresh_token = tokens.refresh_token
        # Refresh a little before the expiry (a quarter of a short token's life at most).
        margin = min(REFRESH_MARGIN_SECONDS, tokens.expires_in / 4)
        self._refresh_at = time.monotonic() + tokens.expires_in - margin
        if self.on_tokens is not None:
            self.on_tokens(tokens)

    def _fresh_token(self) -> str | None:
        """The access token to send, refreshed first when it is about to expire."""
        due = self._refresh_at
        if not self.api_key and self.refresh_token and due is not None and time.monotonic() > due:
            self._refresh(self.access_token)
        return None if self.api_key else self.access_token

    def _refresh(self, stale: str | None) -> None:
        """Spend the refresh token for a new pair, once however many callers ask at once
        (a refresh token is spent by one use: a second would revoke the whole login)."""
        with self._lock:
            if self.access_token != stale or not self.refresh_token:
                return  # another caller refreshed meanwhile (or there is nothing to refresh)
            body = body_json(m.RefreshRequest(refresh_token=self.refresh_token))
            response = self._http.post(ep.REFRESH.path, json=body)
            if response.status_code >= 400:
                raise error_of(response)
            self._keep(parse(ep.REFRESH, response))

    def _send(
        self,
        method: str,
        url: str,
        *,
        json: Any = None,
        content: bytes | None = None,
        params: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
        timeout: float | None = None,
    ) -> httpx.Response:
        """One request with the credential; a 401 of an expired access token refreshes it
        and sends the request again, once."""
        for attempt in (1, 2):
            token = self._fresh_token()
            response = self._http.request(
                method,
                url,
                json=json,
                content=content,
                params=clean_params(params),
                headers={**self._auth_headers(), **(headers or {})},
                timeout=self.timeout if timeout is None else timeout,
            )
            if response.status_code == 401 and attempt == 1 and token and self.refresh_token:
                self._refresh(token)
                continue
            if response.status_code >= 400:
                raise error_of(response)
            return response
        raise AssertionError("unreachable: the second attempt returns or raises")

    def _call(
        self,
        endpoint: ep.Endpoint,
        path: dict[str, str] | None = None,
        *,
        body: Any = None,
        params: dict[str, Any] | None = None,
        timeout: float | None = None,
    ) -> Any:
        if endpoint.body is not None and body is not None:
            body = body_json(endpoint.body.model_validate(body))
        response = self._send(
            endpoint.method,
            endpoint.url(**(path or {})),
            json=body,
            params=params,
            timeout=timeout,
        )
        return parse(endpoint, response)

    def _sse(
        self,
        method: str,
        url: str,
        *,
        json: Any = None,
        params: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
    ) -> Iterator[SSEMessage]:
        """The messages of one Server-Sent Events answer, as they come."""
        # No read may take longer than three of the server's keep-alive pings.
        timeout = httpx.Timeout(self.timeout, read=max(self.timeout, 3 * SERVER_PING_SECONDS))
        for attempt in (1, 2):
            token = self._fresh_token()
            request = self._http.build_request(
                method,
                url,
                json=json,
                params=clean_params(params),
                headers={
                    **self._auth_headers(),
                    "Accept": "text/event-stream",
                    **(headers or {}),
                },
                timeout=timeout,
            )
            response = self._http.send(request, stream=True)
            try:
                if response.status_code == 401 and attempt == 1 and token and self.refresh_token:
                    response.read()
                    self._refresh(token)
                    continue
                if response.status_code >= 400:
                    response.read()
                    raise error_of(response)
                decoder = SSEDecoder()
                for line in response.iter_lines():
                    message = decoder.feed(line)
                    if message is not None:
                        yield message
                return
            finally:
                response.close()

    def _pages(
        self, endpoint: ep.Endpoint, path: dict[str, str], params: dict[str, Any]
    ) -> Iterator[Any]:
        """Every item of a paged list (`{items, next_cursor}`), a page at a time."""
        cursor: str | None = None
        while True:
            page = self._call(endpoint, path, params={**params, "cursor": cursor})
            yield from page.items
            cursor = page.next_cursor
            if cursor is None:
                return

    # --- auth ---------------------------------------------------------------------------

    def login(self, identifier: str, password: str) -> m.TokenResponse:
        """Log in with an email or username; later calls use (and refresh) the tokens."""
        tokens: m.TokenResponse = self._call(
            ep.LOGIN, body={"identifier": identifier, "password": password}
        )
        self._keep(tokens)
        return tokens

    def refresh(self) -> None:
        """Rotate the tokens now (the client does it by itself when they expire)."""
        self._refresh(self.access_token)

    def logout(self) -> None:
        """Revoke this login (its refresh and access tokens) and forget it."""
        if self.refresh_token:
            self._call(ep.LOGOUT, body={"refresh_token": self.refresh_token})
        self.access_token = self.refresh_token = self._refresh_at = None

    def me(self) -> m.UserPublic:
        return self._call(ep.ME)  # type: ignore[no-any-return]

    # --- apps, API keys, members --------------------------------------------------------

    def create_app(self, name: str, description: str | None = None) -> m.AppPublic:
        body: dict[str, Any] = {"name": name}
        if description is not None:
            body["description"] = description
        return self._call(ep.CREATE_APP, body=body)  # type: ignore[no-any-return]

    def list_apps(self, *, limit: int = 50, cursor: str | None = None) -> m.AppPage:
        params = {"limit": limit, "cursor": cursor}
        return self._call(ep.LIST_APPS, params=params)  # type: ignore[no-any-return]

    def iter_apps(self, *, page_size: int = 50) -> Iterator[m.AppPublic]:
        """Every app the caller is a member of, page after page."""
        return self._pages(ep.LIST_APPS, {}, {"limit": page_size})

    def get_app(self, app_id: str) -> m.AppPublic:
        return self._call(ep.GET_APP, {"app_id": app_id})  # type: ignore[no-any-return]

    def update_app(self, app_id: str, **changes: Any) -> m.AppPublic:
        """Change `name`, `description`, `default_model` or `embedding_model`."""
        path = {"app_id": app_id}
        return self._call(ep.UPDATE_APP, path, body=changes)  # type: ignore[no-any-return]

    def delete_app(self, app_id: str) -> None:
        self._call(ep.DELETE_APP, {"app_id": app_id})

    def list_members(self, app_id: str) -> list[m.MemberView]:
        return self._call(ep.LIST_MEMBERS, {"app_id": app_id})  # type: ignore[no-any-return]

    def create_api_key(self, app_id: str, name: str, role: str = "member") -> m.ApiKeyCreated:
        """A new key of the app; its secret (`key`) is in this answer only."""
        body = {"name": name, "role": role}
        return self._call(ep.CREATE_API_KEY, {"app_id": app_id}, body=body)  # type: ignore[no-any-return]

    def list_api_keys(self, app_id: str) -> list[m.ApiKeyPublic]:
        return self._call(ep.LIST_API_KEYS, {"app_id": app_id})  # type: ignore[no-any-return]

    def revoke_api_key(self, app_id: str, key_id: str) -> None:
        self._call(ep.REVOKE_API_KEY, {"app_id": app_id, "key_id": key_id})

    # --- flows --------------------------------------------------------------------------

    def register_flow(self, app_id: str, flow: dict[str, Any] | str) -> m.FlowPublic:
        """Store a flow (a dict, or the text of a YAML file); a changed one is a new version."""
        url = ep.REGISTER_FLOW.url(app_id=app_id)
        if isinstance(flow, str):
            headers = {"Content-Type": "application/yaml"}
            response = self._send("POST", url, content=flow.encode(), headers=headers)
        else:
            response = self._send("POST", url, json=flow)
        return parse(ep.REGISTER_FLOW, response)  # type: ignore[no-any-return]

    def list_flows(self, app_id: str) -> list[m.FlowPublic]:
        return self._call(ep.LIST_FLOWS, {"app_id": app_id})  # type: ignore[no-any-return]

    def get_flow(self, app_id: str, name: str) -> m.FlowDetail:
        return self._call(ep.GET_FLOW, {"app_id": app_id, "name": name})  # type: ignore[no-any-return]

    # --- sessions -----------------------------------------------------------------------

    def start_session(
        self,
        app_id: str,
        flow: str | dict[str, Any],
        input: dict[str, Any] | None = None,
        *,
        wait: float = 0.0,
        **options: Any,
    ) -> m.SessionPublic:
        """A session of a flow (its name, or a definition) with its first run queued;
        `options`: `metadata`, `user_id` (API keys), `include_outputs`, `pending_statuses`.

        `wait` (seconds, at most 300): the session once that run has ended, waits for an
        answer or is paused (`run_status` says which), in one request."""
        body = {"flow": flow, "input": input or {}, **options}
        params = {"wait": wait} if wait else None
        return self._call(  # type: ignore[no-any-return]
            ep.START_SESSION,
            {"app_id": app_id},
            body=body,
            params=params,
            timeout=self.timeout + wait,
        )

    def list_sessions(
        self,
        app_id: str,
        *,
        flow: str | None = None,
        status: str | None = None,
        user_id: str | None = None,
        limit: int = 50,
        cursor: str | None = None,
    ) -> m.SessionPage:
        params = {"flow": flow, "status": status, "user_id": user_id, "limit": limit}
        params["cursor"] = cursor
        return self._call(ep.LIST_SESSIONS, {"app_id": app_id}, params=params)  # type: ignore[no-any-return]

    def iter_sessions(
        self,
        app_id: str,
        *,
        flow: str | None = None,
        status: str | None = None,
        user_id: str | None = None,
        page_size: int = 50,
    ) -> Iterator[m.SessionPublic]:
        """Every session (newest first), page after page."""
        params = {"flow": flow, "status": status, "user_id": user_id, "limit": page_size}
        return self._pages(ep.LIST_SESSIONS, {"app_id": app_id}, params)

    def get_session(self, app_id: str, session_id: str) -> m.SessionPublic:
        path = {"app_id": app_id, "session_id": session_id}
        return self._call(ep.GET_SESSION, path)  # type: ignore[no-any-return]

    def session_messages(
        self, app_id: str, session_id: str, *, limit: int = 200
    ) -> list[m.EventPublic]:
        path = {"app_id": app_id, "session_id": session_id}
        return self._call(ep.SESSION_MESSAGES, path, params={"limit": limit})  # type: ignore[no-any-return]

    def session_history(self, app_id: str, session_id: str) -> list[m.StepPublic]:
        path = {"app_id": app_id, "session_id": session_id}
        return self._call(ep.SESSION_HISTORY, path)  # type: ignore[no-any-return]

    def start_run(
        self, app_id: str, session_id: str, input: dict[str, Any] | None = None, **options: Any
    ) -> m.RunQueued:
        """Another run of the session; `options`: `multitask_strategy`, `trigger_node_id`,
        `cached_outputs`, `from_run_id`, `include_outputs`, `pending_statuses`."""
        path = {"app_id": app_id, "session_id": session_id}
        body = {"input": input or {}, **options}
        return self._call(ep.START_RUN, path, body=body)  # type: ignore[no-any-return]

    def answer(self, app_id: str, session_id: str, interrupt_id: str, answer: Any) -> m.RunQueued:
        """Answer the session's pending question (once: a second answer is 409 conflict)."""
        path = {"app_id": app_id, "session_id": session_id}
        body = {"interrupt_id": interrupt_id, "answer": answer}
        return self._call(ep.ANSWER, path, body=body)  # type: ignore[no-any-return]

    def cancel_session(self, app_id: str, session_id: str) -> m.SessionPublic:
        path = {"app_id": app_id, "session_id": session_id}
        return self._call(ep.CANCEL_SESSION, path)  # type: ignore[no-any-return]

    def complete_session(self, app_id: str, session_id: str) -> m.SessionPublic:
        path = {"app_id": app_id, "session_id": session_id}
        return self._call(ep.COMPLETE_SESSION, path)  # type: ignore[no-any-return]

    # --- runs ---------------------------------------------------------------------------

    def get_run(
        self, app_id: str, run_id: str, *, limit: int = 100, cursor: str | None = None
    ) -> m.RunPublic:
        """The run with a page of its steps (`steps_next_cursor` reads the next)."""
        path = {"app_id": app_id, "run_id": run_id}
        params = {"limit": limit, "cursor": cursor}
        return self._call(ep.GET_RUN, path, params=params)  # type: ignore[no-any-return]

    def iter_steps(
        self, app_id: str, run_id: str, *, page_size: int = 100
    ) -> Iterator[m.StepPublic]:
        """Every step of the run, in order, page after page."""
        cursor: str | None = None
        while True:
            run = self.get_run(app_id, run_id, limit=page_size, cursor=cursor)
            yield from run.steps or []
            cursor = run.steps_next_cursor
            if cursor is None:
                return

    def get_step(self, app_id: str, run_id: str, number: int) -> m.StepPublic:
        path = {"app_id": app_id, "run_id": run_id, "number": str(number)}
        return self._call(ep.GET_STEP, path)  # type: ignore[no-any-return]

    def wait_run(self, app_id: str, run_id: str, *, timeout: float = 30.0) -> m.RunPublic:
        """One `GET /runs/{id}/wait`: the run once it ends or waits for input, or as it is
        after `timeout` seconds (at most 300)."""
        path = {"app_id": app_id, "run_id": run_id}
        return self._call(  # type: ignore[no-any-return]
            ep.WAIT_RUN, path, params={"timeout": timeout}, timeout=self.timeout + timeout
        )

    def wait_for(
        self,
        app_id: str,
        run_id: str,
        *,
        until: Iterable[str] = WAIT_STATUSES,
        timeout: float = 60.0,
    ) -> m.RunPublic:
        """The run once its status is one of `until` (default: it ended, or it waits for an
        answer); `WaitTimeout` after `timeout` seconds."""
        wanted = frozenset(until)
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            run = self.wait_run(app_id, run_id, timeout=max(0.0, min(left, MAX_WAIT_SECONDS)))
            if run.status in wanted:
                return run
            if time.monotonic() >= deadline:
                raise WaitTimeout(
                    f"run {run_id} is {run.status} after {timeout} s, not {sorted(wanted)}", run
                )
            if run.status in ("interrupted", "paused"):  # the server answers these at once
                time.sleep(min(0.25, max(0.0, left)))

    def cancel_run(self, app_id: str, run_id: str) -> m.RunPublic:
        return self._call(ep.CANCEL_RUN, {"app_id": app_id, "run_id": run_id})  # type: ignore[no-any-return]

    def pause_run(self, app_id: str, run_id: str) -> m.RunPublic:
        return self._call(ep.PAUSE_RUN, {"app_id": app_id, "run_id": run_id})  # type: ignore[no-any-return]

    def resume_run(self, app_id: str, run_id: str) -> m.RunPublic:
        return self._call(ep.RESUME_RUN, {"app_id": app_id, "run_id": run_id})  # type: ignore[no-any-return]

    def fork_run(
        self,
        app_id: str,
        run_id: str,
        step_id: str,
        state_patch: dict[str, Any] | None = None,
    ) -> m.RunQueued:
        path = {"app_id": app_id, "run_id": run_id}
        body = {"step_id": step_id, "state_patch": state_patch}
        return self._call(ep.FORK_RUN, path, body=body)  # type: ignore[no-any-return]

    # --- events -------------------------------------------------------------------------

    def events(
        self,
        app_id: str,
        *,
        since: int = 0,
        session_id: str | None = None,
        run_id: str | None = None,
        artifact_id: str | None = None,
        limit: int = 500,
    ) -> m.EventPage:
        """A page of the app's event log after `since` (`next_since` reads the next)."""
        params = {"since": since, "session_id": session_id, "run_id": run_id}
        params |= {"artifact_id": artifact_id, "limit": limit}
        return self._call(ep.EVENTS, {"app_id": app_id}, params=params)  # type: ignore[no-any-return]

    def stream_events(
        self,
        app_id: str,
        *,
        since: int = 0,
        session_id: str | None = None,
        run_id: str | None = None,
        artifact_id: str | None = None,
    ) -> Iterator[m.EventPublic]:
        """The app's events after `since`, then live ones, as long as the caller reads.

        A dropped connection (a restart of the server, a proxy's timeout) is reconnected
        with `Last-Event-ID` set to the last `seq` read: every logged event comes once, in
        order. Live-only events (`message.delta`, `node.started`) are not replayed.
        Raises `StreamLost` when no reconnection succeeds within `reconnect_seconds`."""
        url = ep.EVENTS.url(app_id=app_id)
        last = since
        lost_at: float | None = None
        pause = 0.1
        while True:
            params = {"since": last, "session_id": session_id, "run_id": run_id}
            params["artifact_id"] = artifact_id
            headers = {"Last-Event-ID": str(last)} if last else {}
            try:
                for message in self._sse("GET", url, params=params, headers=headers):
                    lost_at, pause = None, 0.1
                    if message.event == "error":
                        raise stream_error(message.data)
                    event = m.EventPublic.model_validate_json(message.data)
                    if event.seq is not None:
                        if event.seq <= last:
                            continue  # already read before a reconnection
                        last = event.seq
                    yield event
            except httpx.TransportError:
                pass  # reconnect below
            except APIError as error:
                if error.status not in RETRYABLE_STATUS:
                    raise
            now = time.monotonic()
            lost_at = now if lost_at is None else lost_at
            if now - lost_at > self.reconnect_seconds:
                raise StreamLost(
                    f"the event stream of {self.base_url} could not be reconnected in "
                    f"{self.reconnect_seconds} s (last seq {last})"
                )
            time.sleep(pause)
            pause = min(pause * 2, 2.0)

    def stream_run(self, app_id: str, run_id: str, *, since: int = 0) -> Iterator[m.EventPublic]:
        """The run's events (resumed like `stream_events`) until it succeeds, fails or is
        cancelled; it goes on through questions (answer them meanwhile)."""
        for event in self.stream_events(app_id, since=since, run_id=run_id):
            yield event
            if event.type in RUN_ENDED:
                return

    # --- artifacts ----------------------------------------------------------------------

    def create_artifact(
        self,
        app_id: str,
        type: str,
        initial_state: dict[str, Any] | None = None,
        *,
        session_id: str | None = None,
        flow: str | None = None,
    ) -> m.ArtifactPublic:
        body: dict[str, Any] = {"type": type, "initial_state": initial_state or {}}
        if session_id is not None:
            body["session_id"] = session_id
        if flow is not None:
            body["flow"] = flow
        return self._call(ep.CREATE_ARTIFACT, {"app_id": app_id}, body=body)  # type: ignore[no-any-return]

    def list_artifacts(
        self,
        app_id: str,
        *,
        session_id: str | None = None,
        type: str | None = None,
        limit: int = 50,
        cursor: str | None = None,
    ) -> m.ArtifactPage:
        params = {"session_id": session_id, "type": type, "limit": limit, "cursor": cursor}
        return self._call(ep.LIST_ARTIFACTS, {"app_id": app_id}, params=params)  # type: ignore[no-any-return]

    def iter_artifacts(
        self,
        app_id: str,
        *,
        session_id: str | None = None,
        type: str | None = None,
        page_size: int = 50,
    ) -> Iterator[m.ArtifactPublic]:
        params = {"session_id": session_id, "type": type, "limit": page_size}
        return self._pages(ep.LIST_ARTIFACTS, {"app_id": app_id}, params)

    def get_artifact(self, app_id: str, artifact_id: str) -> m.ArtifactPublic:
        path = {"app_id": app_id, "artifact_id": artifact_id}
        return self._call(ep.GET_ARTIFACT, path)  # type: ignore[no-any-return]

    def patch_artifact(
        self,
        app_id: str,
        artifact_id: str,
        patch: dict[str, Any],
        *,
        if_version: int | None = None,
    ) -> m.ArtifactPublic:
        """Apply a JSON Merge Patch; with `if_version`, only if the artifact is still at
        that version (else `APIError` 412 `precondition_failed`)."""
        url = ep.PATCH_ARTIFACT.url(app_id=app_id, artifact_id=artifact_id)
        headers = {"Content-Type": "application/merge-patch+json"}
        if if_version is not None:
            headers["If-Match"] = f'"{if_version}"'
        response = self._send("PATCH", url, json=patch, headers=headers)
        return parse(ep.PATCH_ARTIFACT, response)  # type: ignore[no-any-return]

    def artifact_history(
        self, app_id: str, artifact_id: str, *, limit: int = 100, cursor: str | None = None
    ) -> m.ArtifactHistory:
        path = {"app_id": app_id, "artifact_id": artifact_id}
        params = {"limit": limit, "cursor": cursor}
        return self._call(ep.ARTIFACT_HISTORY, path, params=params)  # type: ignore[no-any-return]

    def artifact_action(
        self, app_id: str, artifact_id: str, action: str, payload: Any = None
    ) -> m.ActionAccepted:
        path = {"app_id": app_id, "artifact_id": artifact_id}
        body = {"action": action, "payload": payload}
        return self._call(ep.ARTIFACT_ACTION, path, body=body)  # type: ignore[no-any-return]

    def watch_artifact(
        self, app_id: str, artifact_id: str, *, since: int = 0
    ) -> Iterator[m.EventPublic]:
        """The artifact's events (`artifact.updated` with its patch and version, …), live
        and resumed like `stream_events`."""
        return self.stream_events(app_id, since=since, artifact_id=artifact_id)

    # --- agents and chat ----------------------------------------------------------------

    def list_agents(self, app_id: str) -> list[m.AgentPublic]:
        return self._call(ep.LIST_AGENTS, {"app_id": app_id})  # type: ignore[no-any-return]

    def get_agent(self, app_id: str, name: str) -> m.AgentPublic:
        return self._call(ep.GET_AGENT, {"app_id": app_id, "name": name})  # type: ignore[no-any-return]

    def invoke_agent(
        self, app_id: str, name: str, task: str, *, model: str | None = None
    ) -> m.ChatTurnPublic:
        """One task for the agent, in a new session; the answer."""
        path = {"app_id": app_id, "name": name}
        body = {"task": task, "model": model}
        return self._call(ep.INVOKE_AGENT, path, body=body)  # type: ignore[no-any-return]

    def list_tool_calls(
        self, app_id: str, *, limit: int = 50, cursor: str | None = None, **filters: Any
    ) -> m.ToolCallPage:
        params = {"limit": limit, "cursor": cursor, **filters}
        return self._call(ep.LIST_TOOL_CALLS, {"app_id": app_id}, params=params)  # type: ignore[no-any-return]

    def chat(
        self,
        app_id: str,
        message: str,
        *,
        agent: str = "chat",
        session_id: str | None = None,
        model: str | None = None,
    ) -> m.ChatTurnPublic:
        """Send a message (a new chat without `session_id`) and get the answer."""
        body = {"message": message, "agent": agent, "session_id": session_id, "model": model}
        return self._call(ep.CHAT, {"app_id": app_id}, body=body)  # type: ignore[no-any-return]

    def stream_chat(
        self,
        app_id: str,
        message: str,
        *,
        agent: str = "chat",
        session_id: str | None = None,
        model: str | None = None,
    ) -> Iterator[ChatEvent]:
        """Send a message; the turn as it happens: `chat.started`, the tokens
        (`message.delta`), tool calls, the answer (`message.created`), the run's end, `done`."""
        body = body_json(
            m.ChatMessageCreate(message=message, agent=agent, session_id=session_id, model=model)
        )
        url = ep.CHAT_STREAM.url(app_id=app_id)
        for message_ in self._sse("POST", url, json=body):
            if message_.event == "error":
                raise stream_error(message_.data)
            yield ChatEvent.of(message_.event, message_.data)

    def chat_tokens(
        self, app_id: str, message: str, *, agent: str = "chat", session_id: str | None = None
    ) -> Iterator[str]:
        """Only the tokens of the answer, as they come."""
        for chunk in self.stream_chat(app_id, message, agent=agent, session_id=session_id):
            if chunk.type == "message.delta":
                yield str(chunk.data.get("delta", ""))

    def chat_history(self, app_id: str, session_id: str) -> list[m.EventPublic]:
        path = {"app_id": app_id, "session_id": session_id}
        return self._call(ep.CHAT_HISTORY, path)  # type: ignore[no-any-return]

    # --- workflows ----------------------------------------------------------------------

    def execute_workflow(
        self, app_id: str, workflow_type: str, input_data: dict[str, Any], **options: Any
    ) -> m.WorkflowPublic:
        """Run a workflow pattern (`sequential`, `conditional`, `collaborative`, …);
        `options`: `participating_agents`, `workflow_config`, `conversation_id`."""
        body = {"workflow_type": workflow_type, "input_data": input_data, **options}
        return self._call(ep.EXECUTE_WORKFLOW, {"app_id": app_id}, body=body)  # type: ignore[no-any-return]

    def get_workflow(self, app_id: str, run_id: str) -> m.WorkflowPublic:
        return self._call(ep.GET_WORKFLOW, {"app_id": app_id, "run_id": run_id})  # type: ignore[no-any-return]

    def set_workflow_state(self, app_id: str, run_id: str, action: str) -> m.WorkflowPublic:
        """`pause`, `resume` or `cancel` the workflow."""
        path = {"app_id": app_id, "run_id": run_id}
        return self._call(ep.SET_WORKFLOW_STATE, path, body={"action": action})  # type: ignore[no-any-return]

    def workflow_visualization(self, app_id: str, run_id: str) -> m.WorkflowVisualization:
        path = {"app_id": app_id, "run_id": run_id}
        return self._call(ep.WORKFLOW_VISUALIZATION, path)  # type: ignore[no-any-return]

    # --- memory -------------------------------------------------------------------------

    def put_memory(
        self,
        app_id: str,
        scope: str,
        scope_id: str,
        key: str,
        value: Any,
        *,
        ttl_seconds: float | None = None,
    ) -> m.MemoryEntryPublic:
        path = {"app_id": app_id, "scope": scope, "scope_id": scope_id, "key": key}
        body: dict[str, Any] = {"value": value}
        if ttl_seconds is not None:
            body["ttl_seconds"] = ttl_seconds
        return self._call(ep.PUT_MEMORY, path, body=body)  # type: ignore[no-any-return]

    def get_memory(self, app_id: str, scope: str, scope_id: str, key: str) -> m.MemoryEntryPublic:
        path = {"app_id": app_id, "scope": scope, "scope_id": scope_id, "key": key}
        return self._call(ep.GET_MEMORY, path)  # type: ignore[no-any-return]

    def delete_memory(self, app_id: str, scope: str, scope_id: str, key: str) -> None:
        path = {"app_id": app_id, "scope": scope, "scope_id": scope_id, "key": key}
        self._call(ep.DELETE_MEMORY, path)

    def list_memory(
        self,
        app_id: str,
        scope: str,
        scope_id: str,
        *,
        prefix: str = "",
        limit: int = 50,
        cursor: str | None = None,
    ) -> m.MemoryPage:
        path = {"app_id": app_id, "scope": scope, "scope_id": scope_id}
        params = {"prefix": prefix or None, "limit": limit, "cursor": cursor}
        return self._call(ep.LIST_MEMORY, path, params=params)  # type: ignore[no-any-return]

    def iter_memory(
        self, app_id: str, scope: str, scope_id: str, *, prefix: str = "", page_size: int = 50
    ) -> Iterator[m.MemoryEntryPublic]:
        path = {"app_id": app_id, "scope": scope, "scope_id": scope_id}
        return self._pages(ep.LIST_MEMORY, path, {"prefix": prefix or None, "limit": page_size})

    def search_memory(
        self, app_id: str, scope: str, scope_id: str, q: str, *, limit: int = 10
    ) -> m.MemorySearchResult:
        path = {"app_id": app_id, "scope": scope, "scope_id": scope_id}
        return self._call(ep.SEARCH_MEMORY, path, params={"q": q, "limit": limit})  # type: ignore[no-any-return]

    # --- knowledge ----------------------------------------------------------------------

    def list_namespaces(self, app_id: str) -> list[m.NamespacePublic]:
        return self._call(ep.LIST_NAMESPACES, {"app_id": app_id})  # type: ignore[no-any-return]

    def put_documents(
        self, app_id: str, namespace: str, documents: list[dict[str, Any]], **options: Any
    ) -> m.DocumentsWritten:
        """Create or replace documents (`{key, text, metadata?}`) by key; `options`:
        `chunk_chars`, `overlap_chars`."""
        path = {"app_id": app_id, "namespace": namespace}
        body = {"documents": documents, **options}
        return self._call(ep.PUT_DOCUMENTS, path, body=body)  # type: ignore[no-any-return]

    def list_documents(
        self, app_id: str, namespace: str, *, limit: int = 100, cursor: str | None = None
    ) -> m.DocumentPage:
        path = {"app_id": app_id, "namespace": namespace}
        params = {"limit": limit, "cursor": cursor}
        return self._call(ep.LIST_DOCUMENTS, path, params=params)  # type: ignore[no-any-return]

    def iter_documents(
        self, app_id: str, namespace: str, *, page_size: int = 100
    ) -> Iterator[m.DocumentSummary]:
        path = {"app_id": app_id, "namespace": namespace}
        return self._pages(ep.LIST_DOCUMENTS, path, {"limit": page_size})

    def get_document(self, app_id: str, namespace: str, key: str) -> m.DocumentPublic:
        path = {"app_id": app_id, "namespace": namespace, "key": key}
        return self._call(ep.GET_DOCUMENT, path)  # type: ignore[no-any-return]

    def delete_document(self, app_id: str, namespace: str, key: str) -> None:
        self._call(ep.DELETE_DOCUMENT, {"app_id": app_id, "namespace": namespace, "key": key})

    def search_knowledge(
        self,
        app_id: str,
        namespace: str,
        q: str,
        *,
        k: int = 5,
        filter: dict[str, Any] | None = None,
    ) -> m.SearchResult:
        path = {"app_id": app_id, "namespace": namespace}
        params = {"q": q, "k": k, "filter": None if filter is None else json.dumps(filter)}
        return self._call(ep.SEARCH_KNOWLEDGE, path, params=params)  # type: ignore[no-any-return]

    # --- packs --------------------------------------------------------------------------

    def list_packs(self, app_id: str) -> list[m.PackPublic]:
        return self._call(ep.LIST_PACKS, {"app_id": app_id})  # type: ignore[no-any-return]

    def enable_pack(self, app_id: str, name: str) -> m.PackPublic:
        return self._call(ep.ENABLE_PACK, {"app_id": app_id, "name": name})  # type: ignore[no-any-return]

    def disable_pack(self, app_id: str, name: str) -> None:
        self._call(ep.DISABLE_PACK, {"app_id": app_id, "name": name})
