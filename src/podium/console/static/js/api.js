// The console's only way to the server: the public API under /api/v1 (HTTP, SSE, WebSocket),
// with the same bearer tokens as any client. No page calls fetch itself.

const BASE = "/api/v1";
const KEY = "podium.auth";

export class ApiError extends Error {
  constructor(status, code, message, details) {
    super(message || code || `HTTP ${status}`);
    this.name = "ApiError";
    this.status = status;
    this.code = code || "error";
    this.details = details || {};
  }
}

// --- tokens ---------------------------------------------------------------------------

export const auth = {
  get() {
    try {
      const value = JSON.parse(localStorage.getItem(KEY) || "null");
      return value && value.access_token ? value : null;
    } catch {
      return null;
    }
  },
  set(tokens) {
    const { access_token, refresh_token, user } = tokens;
    localStorage.setItem(KEY, JSON.stringify({ access_token, refresh_token, user }));
  },
  clear() {
    localStorage.removeItem(KEY);
  },
};

function toLogin() {
  auth.clear();
  if (!location.hash.startsWith("#/login") && !location.hash.startsWith("#/setup")) {
    location.hash = "#/login";
  }
}

async function postRefresh(refreshToken) {
  const response = await fetch(`${BASE}/auth/refresh`, {
    method: "POST",
    headers: { "Content-Type": "application/json", Accept: "application/json" },
    body: JSON.stringify({ refresh_token: refreshToken }),
  });
  if (!response.ok) return null;
  return response.json();
}

async function refreshOnce(failedAccess) {
  // Re-read storage inside the lock: another tab (or request) may have rotated already, and
  // a spent refresh token presented twice revokes the whole login.
  const current = auth.get();
  if (!current) return false;
  if (current.access_token !== failedAccess) return true;
  const tokens = await postRefresh(current.refresh_token);
  if (!tokens) return false;
  auth.set({ ...tokens, user: tokens.user || current.user });
  return true;
}

// Refresh the tokens after `failedAccess` was refused; true when there are fresh ones.
export function refresh(failedAccess) {
  if (navigator.locks && navigator.locks.request) {
    return navigator.locks.request("podium-refresh", () => refreshOnce(failedAccess));
  }
  return refreshOnce(failedAccess);
}

// --- HTTP -----------------------------------------------------------------------------

function url(path, params) {
  const target = new URL(BASE + path, location.origin);
  for (const [key, value] of Object.entries(params || {})) {
    if (value !== undefined && value !== null && value !== "") target.searchParams.set(key, value);
  }
  return target.pathname + target.search;
}

async function errorFrom(response) {
  let body = null;
  try {
    body = await response.json();
  } catch {
    body = null;
  }
  const error = body && body.error ? body.error : {};
  return new ApiError(
    response.status,
    error.code,
    error.message || `${response.status} ${response.statusText}`,
    error.details,
  );
}

async function request(method, path, { params, body, headers, signal } = {}) {
  const send = () => {
    const tokens = auth.get();
    const all = { Accept: "application/json", ...(headers || {}) };
    if (tokens) all.Authorization = `Bearer ${tokens.access_token}`;
    if (body !== undefined) all["Content-Type"] = "application/json";
    const init = { method, headers: all, signal };
    if (body !== undefined) init.body = JSON.stringify(body);
    return [fetch(url(path, params), init), tokens];
  };
  let [pending, tokens] = send();
  let response = await pending;
  if (response.status === 401 && tokens && !path.startsWith("/auth/")) {
    if (await refresh(tokens.access_token)) {
      [pending, tokens] = send();
      response = await pending;
    }
    if (response.status === 401) {
      toLogin();
    }
  }
  if (!response.ok) throw await errorFrom(response);
  if (response.status === 204) return null;
  const text = await response.text();
  return text ? JSON.parse(text) : null;
}

// --- Server-Sent Events ---------------------------------------------------------------

// Read `path` as SSE; onEvent(envelope) per event, resuming after a drop with Last-Event-ID
// until `signal` aborts. options.onError(err) hears a refusal or an `error` event.
async function stream(path, params, onEvent, options = {}) {
  const { signal, onError, onOpen } = options;
  let lastId = null;
  let delay = 500;
  while (!signal || !signal.aborted) {
    const tokens = auth.get();
    const headers = { Accept: "text/event-stream" };
    if (tokens) headers.Authorization = `Bearer ${tokens.access_token}`;
    if (lastId !== null) headers["Last-Event-ID"] = lastId;
    let response;
    try {
      response = await fetch(url(path, params), { headers, signal });
    } catch (err) {
      if (signal && signal.aborted) return;
      await sleep(delay, signal);
      delay = Math.min(delay * 2, 10000);
      continue;
    }
    if (response.status === 401 && tokens) {
      if (await refresh(tokens.access_token)) continue;
      toLogin();
      return;
    }
    if (!response.ok) {
      const err = await errorFrom(response);
      if (onError) onError(err);
      return;
    }
    if (onOpen) onOpen();
    delay = 500;
    const reader = response.body.getReader();
    const decoder = new TextDecoder();
    let buffer = "";
    let event = { id: null, type: "message", data: [] };
    try {
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        buffer += decoder.decode(value, { stream: true });
        let cut;
        while ((cut = buffer.search(/\r?\n/)) >= 0) {
          const line = buffer.slice(0, cut);
          buffer = buffer.slice(cut + (buffer[cut] === "\r" ? 2 : 1));
          if (line === "") {
            if (event.data.length) {
              if (event.id !== null) lastId = event.id;
              const data = event.data.join("\n");
              let parsed;
              try {
                parsed = JSON.parse(data);
              } catch {
                parsed = data;
              }
              if (event.type === "error") {
                const e = (parsed && parsed.error) || {};
                if (onError) onError(new ApiError(403, e.code, e.message, e.details));
                return;
              }
              onEvent(parsed);
            }
            event = { id: null, type: "message", data: [] };
            continue;
          }
          if (line.startsWith(":")) continue;
          const colon = line.indexOf(":");
          const field = colon < 0 ? line : line.slice(0, colon);
          let value = colon < 0 ? "" : line.slice(colon + 1);
          if (value.startsWith(" ")) value = value.slice(1);
          if (field === "id") event.id = value;
          else if (field === "event") event.type = value;
          else if (field === "data") event.data.push(value);
        }
      }
    } catch (err) {
      if (signal && signal.aborted) return;
    }
    await sleep(delay, signal);
  }
}

function sleep(ms, signal) {
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, ms);
    if (signal) signal.addEventListener("abort", () => { clearTimeout(timer); resolve(); }, { once: true });
  });
}

// --- WebSocket ------------------------------------------------------------------------

// One socket per tab. request(type, data) → the reply's data; subscribe(spec, onEvent) and
// follow(type, data, onMessage) keep a subscription across reconnects (`since` resumes it).
class Socket {
  constructor() {
    this.ws = null;
    this.ready = null;
    this.nextId = 1;
    this.pending = new Map(); // request id → {resolve, reject}
    this.subs = new Set(); // {type, data, handler, id, since}
    this.byId = new Map(); // subscription_id → sub
    this.early = new Map(); // subscription_id → messages that came before the reply
    this.handlers = new Map(); // message type → Set(handler)
    this.retry = 500;
    this.status = "closed";
  }

  connect() {
    if (this.ready) return this.ready;
    this.ready = new Promise((resolve, reject) => {
      const scheme = location.protocol === "https:" ? "wss:" : "ws:";
      const ws = new WebSocket(`${scheme}//${location.host}${BASE}/ws`);
      this.ws = ws;
      let opened = false;
      ws.onopen = () => {
        const tokens = auth.get();
        ws.send(JSON.stringify({ type: "auth", data: { token: tokens ? tokens.access_token : "" } }));
      };
      ws.onmessage = (message) => {
        let decoded;
        try {
          decoded = JSON.parse(message.data);
        } catch {
          return;
        }
        if (!opened && decoded.type === "connection.ready") {
          opened = true;
          this.retry = 500;
          this.setStatus("open");
          resolve(this);
          this.resubscribe();
          return;
        }
        this.dispatch(decoded);
      };
      ws.onclose = (closed) => {
        this.ws = null;
        this.ready = null;
        this.setStatus("closed");
        for (const { reject: fail } of this.pending.values()) {
          fail(new ApiError(0, "disconnected", "the connection closed"));
        }
        this.pending.clear();
        this.byId.clear();
        if (!opened) reject(new ApiError(0, "disconnected", closed.reason || "could not connect"));
        this.reconnectLater(closed.code);
      };
    });
    return this.ready;
  }

  setStatus(status) {
    this.status = status;
    this.emit("socket.status", { status });
  }

  async reconnectLater(code) {
    if (!this.subs.size) return; // nothing to follow: connect again on the next use
    if (code === 4003) return; // access withdrawn
    if (code === 4001) {
      const tokens = auth.get();
      if (!tokens || !(await refresh(tokens.access_token))) {
        toLogin();
        return;
      }
    }
    const wait = this.retry;
    this.retry = Math.min(this.retry * 2, 10000);
    setTimeout(() => {
      if (!this.ready && this.subs.size) this.connect().catch(() => {});
    }, wait);
  }

  dispatch(message) {
    if (message.id !== undefined && this.pending.has(message.id)) {
      const { resolve, reject } = this.pending.get(message.id);
      this.pending.delete(message.id);
      if (message.type === "error") {
        const e = message.data || {};
        reject(new ApiError(400, e.code, e.message, e.details));
      } else {
        resolve(message.data);
      }
      return;
    }
    const subId = message.subscription_id;
    if (subId) {
      const sub = this.byId.get(subId);
      if (sub) this.deliver(sub, message);
      else {
        if (!this.early.has(subId)) this.early.set(subId, []);
        this.early.get(subId).push(message);
      }
      return;
    }
    this.emit(message.type, message.data, message);
  }

  deliver(sub, message) {
    const data = message.data || {};
    const seq = message.type === "event" ? data.seq : data.seq;
    if (typeof seq === "number" && seq > (sub.since || 0)) sub.since = seq;
    if (message.type === "event") sub.handler(data, message);
    else sub.handler(message, message);
  }

  emit(type, data, message) {
    for (const handler of this.handlers.get(type) || []) handler(data, message);
  }

  async send(type, data) {
    await this.connect();
    const id = `c${this.nextId++}`;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      this.ws.send(JSON.stringify({ type, id, data }));
    });
  }

  request(type, data) {
    return this.send(type, data);
  }

  async start(sub) {
    const data = { ...sub.data };
    if (sub.resumable && sub.since) data.since = sub.since;
    sub.starting = true;
    let reply;
    try {
      reply = await this.send(sub.type, data);
    } finally {
      sub.starting = false;
    }
    const subId = reply && reply.subscription_id;
    if (!subId) return reply;
    if (!this.subs.has(sub)) {
      this.send("unsubscribe", { subscription_id: subId }).catch(() => {});
      return reply;
    }
    sub.id = subId;
    this.byId.set(subId, sub);
    for (const message of this.early.get(subId) || []) this.deliver(sub, message);
    this.early.delete(subId);
    return reply;
  }

  resubscribe() {
    // Only the subscriptions the server had before the socket closed: one being started now
    // is on its way already (started twice, every event would come twice).
    for (const sub of this.subs) {
      if (sub.started && !sub.starting) this.start(sub).catch((err) => sub.onError && sub.onError(err));
    }
  }

  // A subscription by message type ("subscribe", "execution.subscribe", "workflow.subscribe");
  // the returned function ends it. onMessage(message) gets the whole message (its type, data).
  follow(type, data, onMessage, { onError, onReply } = {}) {
    const sub = {
      type,
      data,
      handler: onMessage,
      onError,
      resumable: type !== "workflow.subscribe",
      since: data.since || 0,
      started: true,
    };
    this.subs.add(sub);
    this.start(sub)
      .then((reply) => onReply && onReply(reply))
      .catch((err) => onError && onError(err));
    return () => {
      this.subs.delete(sub);
      if (sub.id) {
        this.byId.delete(sub.id);
        if (this.ws && this.ws.readyState === WebSocket.OPEN) {
          this.send("unsubscribe", { subscription_id: sub.id }).catch(() => {});
        }
      }
    };
  }

  // The app's events (narrowed by session_id, run_id, artifact_id): onEvent(envelope).
  subscribe(spec, onEvent, options = {}) {
    return this.follow("subscribe", spec, onEvent, options);
  }

  on(type, handler) {
    if (!this.handlers.has(type)) this.handlers.set(type, new Set());
    this.handlers.get(type).add(handler);
    return () => this.handlers.get(type).delete(handler);
  }

  close() {
    this.subs.clear();
    if (this.ws) this.ws.close(1000, "logged out");
  }
}

let shared = null;

export const api = {
  get: (path, params, options) => request("GET", path, { params, ...(options || {}) }),
  post: (path, body, headers) => request("POST", path, { body: body === undefined ? {} : body, headers }),
  put: (path, body, headers) => request("PUT", path, { body: body === undefined ? {} : body, headers }),
  patch: (path, body, headers) => request("PATCH", path, { body, headers }),
  del: (path, headers) => request("DELETE", path, { headers }),
  stream,
  socket() {
    if (!shared) shared = new Socket();
    return shared;
  },
  // Forget this tab's login (and revoke it on the server).
  async logout() {
    const tokens = auth.get();
    if (shared) shared.close();
    shared = null;
    auth.clear();
    if (tokens) {
      try {
        await request("POST", "/auth/logout", { body: { refresh_token: tokens.refresh_token } });
      } catch {
        /* already revoked */
      }
    }
  },
};
