// One artifact: its state, live (it follows the artifact's events over the WebSocket), its
// version history with what each version changed, and its actions as buttons.
import { h, errorBox, jsonView, timeAgo, toast } from "../ui.js";

const isObject = (v) => v !== null && typeof v === "object" && !Array.isArray(v);

/** RFC 7396: apply a JSON Merge Patch to a value (version 1's patch is the initial state). */
export function mergePatch(target, patch) {
  if (!isObject(patch)) return patch;
  const out = isObject(target) ? { ...target } : {};
  for (const [key, value] of Object.entries(patch)) {
    if (value === null) delete out[key];
    else out[key] = mergePatch(out[key], value);
  }
  return out;
}

function pathOf(parent, key) {
  if (typeof key === "number") return `${parent}[${key}]`;
  return /^[A-Za-z_$][\w$]*$/.test(key) ? (parent ? `${parent}.${key}` : key)
    : `${parent}[${JSON.stringify(key)}]`;
}

/** What changed from `before` to `after`: `[{op: added|removed|changed, path, before?, after?}]`,
 * objects and arrays compared member by member, paths like `a.b[0]`. */
export function jsonDiff(before, after, path = "") {
  const both = (test) => test(before) && test(after);
  if (both(isObject) || both(Array.isArray)) {
    const changes = [];
    const keys = Array.isArray(before)
      ? [...Array(Math.max(before.length, after.length)).keys()]
      : [...new Set([...Object.keys(before), ...Object.keys(after)])];
    for (const key of keys) {
      const here = pathOf(path, key);
      const inBefore = Array.isArray(before) ? key < before.length : Object.hasOwn(before, key);
      const inAfter = Array.isArray(after) ? key < after.length : Object.hasOwn(after, key);
      if (!inBefore) changes.push({ op: "added", path: here, after: after[key] });
      else if (!inAfter) changes.push({ op: "removed", path: here, before: before[key] });
      else changes.push(...jsonDiff(before[key], after[key], here));
    }
    return changes;
  }
  if (JSON.stringify(before) === JSON.stringify(after)) return [];
  return [{ op: "changed", path: path || "(root)", before, after }];
}

const brief = (value) => {
  const text = JSON.stringify(value);
  return text.length > 120 ? `${text.slice(0, 117)}…` : text;
};

function diffList(changes) {
  if (!changes.length) return h("p", { class: "muted" }, "no change");
  return h(
    "ul",
    { class: "diff" },
    ...changes.map((c) => {
      if (c.op === "added") return h("li", { class: "diff-added" }, `+ ${c.path}: ${brief(c.after)}`);
      if (c.op === "removed") return h("li", { class: "diff-removed" }, `− ${c.path} (was ${brief(c.before)})`);
      return h("li", { class: "diff-changed" }, `~ ${c.path}: ${brief(c.before)} → ${brief(c.after)}`);
    }),
  );
}

async function allVersions(api, path) {
  const items = [];
  let cursor = null;
  for (let pages = 0; pages < 20; pages += 1) {
    const page = await api.get(path, cursor ? { limit: 1000, cursor } : { limit: 1000 });
    items.push(...page.items);
    cursor = page.next_cursor;
    if (!cursor) break;
  }
  return items;
}

export default async function render(root, ctx) {
  const app = ctx.appId ?? ctx.params.app;
  const id = ctx.params.id;
  const appPath = `/apps/${encodeURIComponent(app)}`;
  const path = `${appPath}/artifacts/${encodeURIComponent(id)}`;

  const heading = h("h1", {}, `Artifact ${id}`);
  const meta = h("p", { class: "muted" });
  const version = h("span", { id: "artifact-version" });
  const live = h("p", { class: "live", role: "status", "aria-live": "polite" });
  const stateBox = h("div", { id: "artifact-state", class: "json-box" });
  const actionsBox = h("div", { id: "artifact-actions" });
  const historyBox = h("ol", { id: "artifact-history", class: "history", reversed: "" });
  root.replaceChildren(
    heading,
    meta,
    live,
    h("div", { class: "grid2" },
      h("div", {},
        h("section", { class: "card", "aria-labelledby": "artifact-state-h" },
          h("h2", { id: "artifact-state-h" }, "State (version ", version, ")"), stateBox),
        h("section", { class: "card", "aria-labelledby": "artifact-actions-h" },
          h("h2", { id: "artifact-actions-h" }, "Actions"), actionsBox)),
      h("section", { class: "card", "aria-labelledby": "artifact-history-h" },
        h("h2", { id: "artifact-history-h" }, "History"), historyBox)),
  );

  let shown = 0;
  async function refresh() {
    let artifact, versions;
    try {
      [artifact, versions] = await Promise.all([
        ctx.api.get(path),
        allVersions(ctx.api, `${path}/history`),
      ]);
    } catch (err) {
      live.replaceChildren(errorBox(err));
      return null;
    }
    if (artifact.version < shown) return artifact; // an older answer overtaken by a newer one
    if (shown && artifact.version !== shown) live.textContent = `Updated to version ${artifact.version}`;
    shown = artifact.version;
    version.textContent = String(artifact.version);
    heading.textContent = `Artifact ${artifact.type} · ${artifact.id}`;
    meta.replaceChildren(
      `type ${artifact.type}` + (artifact.flow ? ` · flow ${artifact.flow}` : ""),
      " · created ", timeAgo(artifact.created_at), " · updated ", timeAgo(artifact.updated_at),
      ...(artifact.session_ids.length ? [" · sessions "] : []),
      ...artifact.session_ids.flatMap((s, i) => [i ? ", " : "",
        h("a", { href: `#/apps/${encodeURIComponent(app)}/sessions/${encodeURIComponent(s)}` }, s)]),
    );
    stateBox.replaceChildren(jsonView(artifact.state));
    renderHistory(versions);
    return artifact;
  }

  function renderHistory(versions) {
    let state = {};
    const rows = [];
    for (const v of versions) {
      const next = v.version === 1 ? mergePatch({}, v.patch) : mergePatch(state, v.patch);
      rows.push(
        h(
          "li",
          { class: "history-version", "data-version": String(v.version) },
          h("h3", {}, `Version ${v.version}`),
          h("p", { class: "muted" }, `by ${v.actor ?? "unknown"} · `, timeAgo(v.created_at)),
          diffList(jsonDiff(state, next)),
        ),
      );
      state = next;
    }
    historyBox.replaceChildren(...rows.reverse());
  }

  async function act(action, payload) {
    try {
      const body = payload === undefined ? { action } : { action, payload };
      const done = await ctx.api.post(`${path}/actions`, body);
      const where = done.session_id ? ` (session ${done.session_id})` : done.runs?.length
        ? ` (${done.runs.length} waiting run(s) answered)` : " (no run was waiting for it)";
      toast(`${action} sent${where}`, "ok");
      await renderActions(await ctx.api.get(path));
    } catch (err) {
      toast(err.message ?? String(err), "error");
    }
  }

  // Any action by name (and launch_workflow {flow, input}), made once: a reload of the
  // artifact must not wipe what is being typed.
  const actionInput = h("input", { id: "artifact-action-name", placeholder: "action name" });
  const payloadInput = h("input", { id: "artifact-action-payload", placeholder: '{"flow": "ask"}' });
  const other = h(
    "form",
    {
      class: "row",
      onsubmit: (event) => {
        event.preventDefault();
        const name = actionInput.value.trim();
        if (!name) return toast("name the action to send", "error");
        let payload;
        if (payloadInput.value.trim()) {
          try {
            payload = JSON.parse(payloadInput.value);
          } catch (err) {
            return toast(`the payload is not JSON: ${err.message}`, "error");
          }
        }
        act(name, payload);
      },
    },
    h("div", { class: "field" }, h("label", { for: "artifact-action-name" }, "Action"), actionInput),
    h("div", { class: "field" },
      h("label", { for: "artifact-action-payload" }, "Payload (JSON, optional)"), payloadInput),
    h("button", { type: "submit" }, "Send action"),
  );
  const waiting = h("div", {});
  actionsBox.replaceChildren(waiting, other);

  // The buttons: those the artifact's state offers (`buttons: [{label, action, payload?}]`,
  // the packs' convention) and the actions its sessions' runs wait for.
  async function renderActions(artifact) {
    const offered = new Map(); // action → {label, payload}
    for (const b of Array.isArray(artifact?.state?.buttons) ? artifact.state.buttons : []) {
      if (b && typeof b.action === "string") {
        offered.set(b.action, { label: typeof b.label === "string" ? b.label : b.action, payload: b.payload });
      }
    }
    const sessions = await Promise.all(
      (artifact?.session_ids ?? []).map((s) =>
        ctx.api.get(`${appPath}/sessions/${encodeURIComponent(s)}`).catch(() => null)),
    );
    const awaited = new Set();
    const notes = [];
    for (const session of sessions) {
      const q = session?.pending_question;
      if (!q || q.kind !== "action" || q.artifact_id !== id) continue;
      for (const name of q.choices ?? []) {
        awaited.add(name);
        if (!offered.has(name)) offered.set(name, { label: name });
      }
      if (!q.choices?.length) notes.push(h("p", { class: "muted" }, q.question));
    }
    const buttons = [...offered].map(([action, { label, payload }]) => h("button", {
      type: "button",
      class: awaited.has(action) ? "primary" : null,
      "data-action": action,
      onclick: () => act(action, payload),
    }, label));
    waiting.replaceChildren(
      buttons.length ? h("div", { class: "choices" }, ...buttons) : "",
      ...notes,
      h("p", { class: "muted" }, awaited.size
        ? `A run waits for: ${[...awaited].join(", ")}.`
        : "No run is waiting for an action on this artifact."),
    );
  }

  const first = await refresh();
  if (!first) return;
  await renderActions(first);

  // Follow the artifact: any of its events (state updates, actions) reloads it.
  let timer = null;
  const reload = () => {
    clearTimeout(timer);
    timer = setTimeout(async () => {
      const artifact = await refresh();
      if (artifact) renderActions(artifact);
    }, 50);
  };
  const onEvent = () => reload();
  let stop = () => {};
  if (ctx.socket) {
    stop = ctx.socket.subscribe({ app_id: app, artifact_id: id }, onEvent);
  } else {
    const controller = new AbortController();
    ctx.signal?.addEventListener("abort", () => controller.abort());
    ctx.api.stream(`${appPath}/events`, { artifact_id: id }, onEvent, { signal: controller.signal });
    stop = () => controller.abort();
  }
  ctx.signal?.addEventListener("abort", () => {
    clearTimeout(timer);
    stop();
  });
  return () => {
    clearTimeout(timer);
    stop();
  };
}
