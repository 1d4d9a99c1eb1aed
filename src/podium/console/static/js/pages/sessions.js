// #/apps/{app}/sessions?status=&flow=: the app's sessions, newest first, filtered by status and
// flow. Pages of 100 come in as asked (the first paint stays quick with thousands).
import { h, table, errorBox, timeAgo, pageHeader, badge, clear, shortId } from "../ui.js";

const STATUSES = ["", "active", "waiting", "completed", "failed", "cancelled"];
const PAGE = 100;

function preview(state) {
  if (!state || typeof state !== "object") return "";
  const text = Object.entries(state)
    .slice(0, 3)
    .map(([k, v]) => `${k}: ${typeof v === "string" ? v : JSON.stringify(v)}`)
    .join(" · ");
  return text.length > 70 ? `${text.slice(0, 69)}…` : text;
}

export default async function render(root, ctx) {
  const { api, appId, query, navigate, signal } = ctx;
  const base = `/apps/${encodeURIComponent(appId)}`;
  const here = `#/apps/${encodeURIComponent(appId)}/sessions`;
  root.appendChild(
    pageHeader("Sessions", { subtitle: "Each session is one conversation or job: a flow's runs and their state." }),
  );
  const flowSelect = h("select", { id: "filter-flow", name: "flow" }, h("option", { value: "" }, "Any flow"));
  const statusSelect = h(
    "select",
    { id: "filter-status", name: "status" },
    STATUSES.map((s) => h("option", { value: s, selected: (query.status || "") === s }, s || "Any status")),
  );
  const apply = () => {
    const next = new URLSearchParams();
    if (statusSelect.value) next.set("status", statusSelect.value);
    if (flowSelect.value) next.set("flow", flowSelect.value);
    const qs = next.toString();
    navigate(qs ? `${here}?${qs}` : here);
  };
  statusSelect.addEventListener("change", apply);
  flowSelect.addEventListener("change", apply);
  const counter = h("span", { class: "muted", "aria-live": "polite" });
  root.appendChild(
    h(
      "form",
      { class: "row card", role: "search", "aria-label": "Filter sessions", onsubmit: (ev) => ev.preventDefault() },
      h("div", { class: "field" }, h("label", { for: "filter-status" }, "Status"), statusSelect),
      h("div", { class: "field" }, h("label", { for: "filter-flow" }, "Flow"), flowSelect),
      counter,
    ),
  );
  const columns = [
    { label: "Session", render: (s) => h("a", { href: `${here}/${encodeURIComponent(s.id)}`, class: "id" }, shortId(s.id)) },
    { label: "Flow", render: (s) => (s.flow ? `${s.flow} v${s.flow_version}` : "") },
    { label: "Status", render: (s) => badge(s.status) },
    { label: "State", render: (s) => h("span", { class: "data-preview" }, preview(s.state)) },
    { label: "Created", render: (s) => timeAgo(s.created_at) },
    { label: "Updated", render: (s) => timeAgo(s.updated_at) },
  ];
  const list = table(columns, [], { caption: "Sessions", empty: "No sessions match." });
  root.appendChild(h("div", { class: "table-wrap" }, list));
  const more = h("button", { type: "button", hidden: true }, "Load more");
  root.appendChild(h("div", { class: "pager" }, more));

  // The flow filter's choices load beside the first page.
  api
    .get(`${base}/flows`)
    .then((flows) => {
      const names = [...new Set(flows.map((f) => f.name))].sort();
      if (query.flow && !names.includes(query.flow)) names.push(query.flow);
      for (const name of names) flowSelect.appendChild(h("option", { value: name, selected: name === query.flow }, name));
    })
    .catch(() => {});

  let cursor = null;
  let loaded = 0;
  async function page() {
    more.disabled = true;
    try {
      const params = { limit: PAGE, cursor, status: query.status, flow: query.flow };
      const answer = await api.get(`${base}/sessions`, params, { signal });
      list.addRows(answer.items);
      loaded += answer.items.length;
      cursor = answer.next_cursor;
      more.hidden = !cursor;
      counter.textContent = `${loaded} session${loaded === 1 ? "" : "s"}${cursor ? " shown; more below" : ""}`;
    } catch (err) {
      if (!signal.aborted) root.appendChild(errorBox(err));
    } finally {
      more.disabled = false;
    }
  }
  more.addEventListener("click", page);
  await page();
}
