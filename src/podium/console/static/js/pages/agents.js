// The app's agents (built-in and its own): busy or idle, live over the WebSocket
// (`agent.status`), enabled or disabled, with buttons to enable and disable them.
import { h, errorBox, toast } from "../ui.js";

const POLL_MS = 2000;
// A cell whose words are not broken (the shell's tables wrap anywhere).
const whole = (td) => {
  td.style.overflowWrap = "normal";
  return td;
};


export default async function render(root, ctx) {
  const app = ctx.appId ?? ctx.params.app;
  const appPath = `/apps/${encodeURIComponent(app)}`;
  const body = h("tbody");
  const status = h("p", { class: "muted", role: "status", "aria-live": "polite" });
  root.replaceChildren(
    h("h1", {}, "Agents"),
    h("p", {}, h("a", { href: `#/apps/${encodeURIComponent(app)}/tool-calls` }, "Tool-call log"),
      " · ", h("a", { href: `#/apps/${encodeURIComponent(app)}/approvals` }, "Approvals")),
    h("div", { class: "table-wrap", tabindex: "0", role: "region", "aria-label": "Agents (scrolls)" }, h(
      "table",
      { class: "data", "aria-label": "Agents" },
      h("thead", {}, h("tr", {}, ...["Agent", "Description", "Model", "Source", "Status", "Enabled", "Action"]
        .map((c) => h("th", { scope: "col" }, c)))),
      body,
    )),
    status,
  );

  const rows = new Map(); // name → {statusCell, enabledCell, button, agent}

  function setStatus(name, busy, enabled) {
    const row = rows.get(name);
    if (!row) return;
    row.statusCell.replaceChildren(h("span", {
      class: `badge agent-${busy} ${busy === "busy" ? "s-running" : busy === "waiting" ? "s-waiting" : ""}`,
    }, busy));
    if (enabled !== undefined) {
      row.agent.enabled = enabled;
      row.enabledCell.replaceChildren(h("span", { class: `badge ${enabled ? "s-succeeded" : "s-cancelled"}` },
        enabled ? "enabled" : "disabled"));
      row.button.textContent = enabled ? "Disable" : "Enable";
      row.button.setAttribute("aria-label", `${enabled ? "Disable" : "Enable"} ${name}`);
    }
  }

  async function toggle(name) {
    const row = rows.get(name);
    const verb = row.agent.enabled ? "disable" : "enable";
    row.button.disabled = true;
    try {
      const agent = await ctx.api.post(`${appPath}/agents/${encodeURIComponent(name)}/${verb}`, {});
      setStatus(name, agent.status, agent.enabled);
      toast(`${name} ${agent.enabled ? "enabled" : "disabled"}`, "ok");
    } catch (err) {
      toast(err.message ?? String(err), "error");
    } finally {
      row.button.disabled = false;
    }
  }

  let agents;
  try {
    agents = await ctx.api.get(`${appPath}/agents`);
  } catch (err) {
    root.append(errorBox(err));
    return;
  }
  for (const agent of agents) {
    const statusCell = whole(h("td", {}));
    const enabledCell = whole(h("td", {}));
    const button = h("button", { type: "button", onclick: () => toggle(agent.name) });
    rows.set(agent.name, { statusCell, enabledCell, button, agent });
    body.append(
      h(
        "tr",
        { "data-agent": agent.name },
        whole(h("td", {}, h("a", { href: `#/apps/${encodeURIComponent(app)}/agents/${encodeURIComponent(agent.name)}` }, agent.name))),
        h("td", {}, agent.description ?? ""),
        whole(h("td", {}, agent.definition?.model ?? "(default)")),
        h("td", {}, agent.source),
        statusCell,
        enabledCell,
        whole(h("td", {}, button)),
      ),
    );
    setStatus(agent.name, agent.status, agent.enabled);
  }
  status.textContent = `${agents.length} agent(s)`;

  // Busy/idle live: `agent.status` events of the app as they happen, and the socket's
  // `agent.status` request (every agent's status) now and then to catch up.
  if (!ctx.socket) return;
  const offEvent = ctx.socket.on("agent.statuses", (data) => {
    if (data?.app_id !== app) return;
    for (const a of data.agents ?? []) setStatus(a.name, a.status, a.enabled);
  });
  const ask = () => ctx.socket.request("agent.status", { app_id: app })
    .then((data) => { for (const a of data?.agents ?? []) setStatus(a.name, a.status, a.enabled); })
    .catch(() => {});
  await ask();
  const timer = setInterval(ask, POLL_MS);
  const stop = () => {
    clearInterval(timer);
    if (typeof offEvent === "function") offEvent();
  };
  ctx.signal?.addEventListener("abort", stop);
  return stop;
}
