// The log of every tool call, oldest first, filtered by agent, tool, status and session.
import { h, errorBox, shortId, timeAgo } from "../ui.js";

const PAGE = 100;
// A cell whose words are not broken (the shell's tables wrap anywhere).
const whole = (td) => {
  td.style.overflowWrap = "normal";
  return td;
};

const FILTERS = [
  ["agent", "Agent"],
  ["tool", "Tool"],
  ["session_id", "Session"],
  ["run_id", "Run"],
];

const brief = (value) => {
  if (value === null || value === undefined) return "";
  const text = typeof value === "string" ? value : JSON.stringify(value);
  return text.length > 160 ? `${text.slice(0, 157)}…` : text;
};

export default async function render(root, ctx) {
  const app = ctx.appId ?? ctx.params.app;
  const appPath = `/apps/${encodeURIComponent(app)}`;
  const base = `#/apps/${encodeURIComponent(app)}/tool-calls`;
  const q = ctx.query ?? {};
  const inputs = Object.fromEntries(FILTERS.map(([key]) =>
    [key, h("input", { id: `tc-${key}`, name: key, value: q[key] ?? "" })]));
  const statusSelect = h("select", { id: "tc-status", name: "status" },
    ...["", "ok", "error", "skipped"].map((s) => {
      const option = h("option", { value: s }, s || "any");
      if ((q.status ?? "") === s) option.selected = true;
      return option;
    }));
  const form = h(
    "form",
    {
      class: "row card",
      onsubmit: (event) => {
        event.preventDefault();
        const query = new URLSearchParams();
        for (const [key] of FILTERS) if (inputs[key].value.trim()) query.set(key, inputs[key].value.trim());
        if (statusSelect.value) query.set("status", statusSelect.value);
        const tail = query.toString();
        ctx.navigate(tail ? `${base}?${tail}` : base);
      },
    },
    ...FILTERS.map(([key, label]) =>
      h("div", { class: "field" }, h("label", { for: `tc-${key}` }, label), inputs[key])),
    h("div", { class: "field" }, h("label", { for: "tc-status" }, "Status"), statusSelect),
    h("button", { type: "submit" }, "Filter"),
  );
  const body = h("tbody");
  const status = h("p", { class: "muted", role: "status" });
  const more = h("button", { type: "button" }, "Load more");
  more.hidden = true;
  root.replaceChildren(
    h("h1", {}, "Tool calls"),
    form,
    h("div", { class: "table-wrap", tabindex: "0", role: "region", "aria-label": "Tool calls (scrolls)" }, h("table", { class: "data", id: "tool-calls", "aria-label": "Tool calls" },
      h("thead", {}, h("tr", {}, ...["When", "Agent", "Tool", "Status", "Arguments", "Result or error", "Duration", "Session"]
        .map((c) => h("th", { scope: "col" }, c)))),
      body)),
    status,
    more,
  );

  // The API filters by run, agent, tool and status; the session is filtered here.
  let cursor = null;
  let seen = 0;
  async function load() {
    const params = { limit: PAGE };
    for (const key of ["agent", "tool", "status", "run_id"]) if (q[key]) params[key] = q[key];
    if (cursor) params.cursor = cursor;
    let page;
    try {
      page = await ctx.api.get(`${appPath}/tool-calls`, params);
    } catch (err) {
      status.replaceChildren(errorBox(err));
      return;
    }
    seen += page.items.length;
    for (const call of page.items) {
      if (q.session_id && call.session_id !== q.session_id) continue;
      body.append(h("tr", { class: `tool-call tool-${call.status}`, "data-tool": call.tool },
        whole(h("td", {}, timeAgo(call.created_at))),
        whole(h("td", {}, call.agent ?? "")),
        whole(h("td", {}, call.tool)),
        whole(h("td", {}, h("span", { class: `badge s-${{ ok: "succeeded", error: "failed", skipped: "cancelled" }[call.status]}` }, call.status))),
        h("td", {}, h("code", {}, brief(call.arguments))),
        h("td", {}, h("code", {}, call.error ?? brief(call.result))),
        whole(h("td", {}, `${Math.round(call.duration_ms)} ms`)),
        h("td", {}, call.session_id
          ? h("a", { href: `#/apps/${encodeURIComponent(app)}/sessions/${encodeURIComponent(call.session_id)}`, title: call.session_id }, shortId(call.session_id))
          : "")));
    }
    cursor = page.next_cursor;
    more.hidden = !cursor;
    status.textContent = body.children.length
      ? `${body.children.length} tool call(s)${q.session_id ? ` in session ${q.session_id} (of ${seen} read)` : ""}`
      : "No tool calls match.";
  }
  more.addEventListener("click", load);
  await load();
}
