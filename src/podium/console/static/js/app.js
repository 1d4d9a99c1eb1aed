// The console's shell: a hash router (#/apps/{app}/sessions/{id}?status=waiting), the header's
// app picker and navigation, and the login guard. Each page is a module under pages/ whose
// default export is `async function render(root, ctx)`; it may return a cleanup function.

import { api, auth } from "./api.js";
import { h, clear, errorBox, clearToasts } from "./ui.js";

const ROUTES = [
  [/^\/setup$/, "setup", { public: true }],
  [/^\/login$/, "login", { public: true }],
  [/^\/?$/, "apps"],
  [/^\/apps$/, "apps"],
  [/^\/apps\/([^/]+)$/, "sessions"],
  [/^\/apps\/([^/]+)\/settings$/, "settings"],
  [/^\/apps\/([^/]+)\/flows$/, "flows"],
  [/^\/apps\/([^/]+)\/flows\/([^/]+)$/, "flow", { names: ["name"] }],
  [/^\/apps\/([^/]+)\/sessions$/, "sessions"],
  [/^\/apps\/([^/]+)\/sessions\/([^/]+)$/, "session", { names: ["id"] }],
  [/^\/apps\/([^/]+)\/events$/, "events"],
  [/^\/apps\/([^/]+)\/artifacts$/, "artifacts"],
  [/^\/apps\/([^/]+)\/artifacts\/([^/]+)$/, "artifact", { names: ["id"] }],
  [/^\/apps\/([^/]+)\/agents$/, "agents"],
  [/^\/apps\/([^/]+)\/agents\/([^/]+)$/, "agent", { names: ["name"] }],
  [/^\/apps\/([^/]+)\/approvals$/, "approvals"],
  [/^\/apps\/([^/]+)\/tool-calls$/, "toolcalls"],
  [/^\/apps\/([^/]+)\/packs$/, "packs"],
  [/^\/apps\/([^/]+)\/packs\/([^/]+)$/, "pack", { names: ["pack"] }],
];

// The app's pages in the header, in order: [label, path under #/apps/{app}].
const NAV = [
  ["Sessions", "sessions"],
  ["Flows", "flows"],
  ["Events", "events"],
  ["Agents", "agents"],
  ["Artifacts", "artifacts"],
  ["Approvals", "approvals"],
  ["Tool calls", "tool-calls"],
  ["Packs", "packs"],
  ["Settings", "settings"],
];

const view = document.getElementById("view");
let current = null; // {controller, cleanup}
let apps = null; // the caller's apps, for the picker
let setupChecked = null;

export function parseHash(hash) {
  const raw = (hash || "").replace(/^#/, "") || "/apps";
  const [path, search] = raw.split("?", 2);
  const query = Object.fromEntries(new URLSearchParams(search || ""));
  for (const [pattern, page, options = {}] of ROUTES) {
    const match = path.match(pattern);
    if (!match) continue;
    const params = {};
    let appId = null;
    if (path.startsWith("/apps/") && match[1]) {
      appId = decodeURIComponent(match[1]);
      params.app = appId;
      (options.names || []).forEach((name, i) => {
        params[name] = decodeURIComponent(match[i + 2]);
      });
    }
    return { page, params, query, appId, path, public: Boolean(options.public) };
  }
  return { page: null, params: {}, query, appId: null, path };
}

export function navigate(hash) {
  if (location.hash === hash) route();
  else location.hash = hash;
}

async function needsAdmin() {
  if (setupChecked === null) {
    try {
      setupChecked = Boolean((await api.get("/setup")).needs_admin);
    } catch {
      setupChecked = false;
    }
  }
  return setupChecked;
}

export function forgetSetup() {
  setupChecked = null;
}

export async function loadApps(force = false) {
  if (apps && !force) return apps;
  try {
    apps = (await api.get("/apps", { limit: 200 })).items;
  } catch {
    apps = [];
  }
  return apps;
}

async function renderChrome(match, isCurrent = () => true) {
  const tokens = auth.get();
  const picker = document.getElementById("app-picker");
  const select = document.getElementById("app-select");
  const nav = clear(document.getElementById("nav"));
  const user = clear(document.getElementById("user"));
  if (!tokens || match.public) {
    picker.hidden = true;
    return;
  }
  user.appendChild(h("span", { class: "who" }, tokens.user ? tokens.user.username : ""));
  user.appendChild(
    h(
      "button",
      {
        class: "link",
        type: "button",
        onclick: async () => {
          await api.logout();
          apps = null;
          navigate("#/login");
        },
      },
      "Log out",
    ),
  );
  const list = await loadApps();
  if (!isCurrent()) return; // the user went on meanwhile: that page draws the header
  clear(select);
  select.appendChild(h("option", { value: "" }, "All apps"));
  for (const app of list) {
    select.appendChild(h("option", { value: app.id, selected: app.id === match.appId }, app.name));
  }
  select.onchange = () => navigate(select.value ? `#/apps/${encodeURIComponent(select.value)}/sessions` : "#/apps");
  picker.hidden = false;
  if (match.appId) {
    const here = match.path.split("/")[3] || "sessions";
    for (const [label, path] of NAV) {
      const active = here === path;
      nav.appendChild(
        h(
          "a",
          { href: `#/apps/${encodeURIComponent(match.appId)}/${path}`, class: active ? "active" : null, "aria-current": active ? "page" : null },
          label,
        ),
      );
    }
  }
}

async function route() {
  const match = parseHash(location.hash);
  if (current) {
    current.controller.abort();
    if (typeof current.cleanup === "function") {
      try {
        current.cleanup();
      } catch {
        /* a page's cleanup failing must not block the next page */
      }
    }
    current = null;
  }
  clearToasts();
  const controller = new AbortController();
  const mine = { controller, cleanup: null };
  current = mine;
  if (!match.public && !auth.get()) {
    location.replace((await needsAdmin()) ? "#/setup" : "#/login");
    return;
  }
  await renderChrome(match, () => current === mine);
  if (current !== mine) return;
  clear(view);
  if (!match.page) {
    view.appendChild(h("h1", {}, "Not found"));
    view.appendChild(h("p", {}, "There is no page at this address. ", h("a", { href: "#/apps" }, "Go to the apps.")));
    return;
  }
  let module;
  try {
    module = await import(`./pages/${match.page}.js`);
  } catch (err) {
    if (current !== mine) return;
    view.appendChild(h("h1", {}, "Not available"));
    view.appendChild(h("p", {}, `The ${match.page} page is not available in this console.`));
    return;
  }
  if (current !== mine) return;
  const root = h("div", { class: `page page-${match.page}` });
  view.appendChild(root);
  const ctx = {
    api,
    socket: api.socket(),
    params: match.params,
    query: match.query,
    appId: match.appId,
    user: auth.get() ? auth.get().user : null,
    navigate,
    signal: controller.signal,
    refreshApps: () => loadApps(true).then(() => renderChrome(match, () => current === mine)),
  };
  try {
    const cleanup = await module.default(root, ctx);
    if (current === mine) mine.cleanup = cleanup;
    else if (typeof cleanup === "function") cleanup();
  } catch (err) {
    if (current !== mine || controller.signal.aborted) return;
    if (err && err.status === 404) {
      clear(root).appendChild(h("h1", {}, "Not found"));
    } else {
      clear(root).appendChild(h("h1", {}, "Something went wrong"));
    }
    root.appendChild(errorBox(err));
  }
  if (current === mine && !view.contains(document.activeElement)) view.focus({ preventScroll: true });
}

window.addEventListener("hashchange", route);
// Another tab logged out (or in): follow it.
window.addEventListener("storage", (e) => {
  if (e.key === "podium.auth" && !e.newValue) navigate("#/login");
});
route();
