// #/apps/{app}/events?type=&session=&run=: the app's event log, following live (SSE), filtered by
// type (a prefix such as `run.` or a whole type), session and run.
import { h, clear, pageHeader, fmtTime, jsonView, errorBox } from "../ui.js";

const MAX_ROWS = 2000;

export default async function render(root, ctx) {
  const { api, appId, query, navigate, signal } = ctx;
  const here = `#/apps/${encodeURIComponent(appId)}/events`;
  root.appendChild(pageHeader("Events", { subtitle: "Everything that happened in the app, in order, as it happens." }));
  const fields = [
    ["type", "Type", "run. or node.completed"],
    ["session", "Session id", "ses_…"],
    ["run", "Run id", "run_…"],
  ];
  const inputs = {};
  const form = h(
    "form",
    { class: "row card", role: "search", "aria-label": "Filter events" },
    fields.map(([name, label, placeholder]) => {
      inputs[name] = h("input", { id: `ev-${name}`, name, value: query[name] || "", placeholder });
      return h("div", { class: "field" }, h("label", { for: `ev-${name}` }, label), inputs[name]);
    }),
    h("button", { class: "primary", type: "submit" }, "Filter"),
    h("button", { type: "button", onclick: () => navigate(here) }, "Clear"),
  );
  form.addEventListener("submit", (ev) => {
    ev.preventDefault();
    const next = new URLSearchParams();
    for (const [name] of fields) if (inputs[name].value.trim()) next.set(name, inputs[name].value.trim());
    const qs = next.toString();
    navigate(qs ? `${here}?${qs}` : here);
  });
  root.appendChild(form);
  const live = h("span", { class: "live" }, "connecting");
  const count = h("span", { class: "muted" });
  root.appendChild(h("div", { class: "status-line" }, live, count));
  const list = h("div", { class: "events-list card", role: "log", "aria-label": "Events", "aria-live": "off", tabindex: "0" });
  const detail = h("div");
  root.appendChild(list);
  root.appendChild(detail);
  list.appendChild(h("div", { class: "ev muted" }, h("span", {}, "seq"), h("span", {}, "time"), h("span", {}, "type"), h("span", {}, "data")));

  const wantType = (query.type || "").trim();
  const matches = (e) =>
    !wantType || e.type === wantType || (wantType.endsWith(".") ? e.type.startsWith(wantType) : e.type.startsWith(`${wantType}.`));
  let shown = 0;
  let pending = [];
  let scheduled = false;
  const flush = () => {
    scheduled = false;
    const fragment = document.createDocumentFragment();
    for (const e of pending) fragment.appendChild(row(e));
    pending = [];
    const atBottom = list.scrollTop + list.clientHeight >= list.scrollHeight - 30;
    list.appendChild(fragment);
    while (list.childNodes.length > MAX_ROWS + 1) list.removeChild(list.childNodes[1]);
    if (atBottom) list.scrollTop = list.scrollHeight;
    count.textContent = `${shown} event${shown === 1 ? "" : "s"}${wantType ? ` of type ${wantType}` : ""}`;
  };
  const row = (e) =>
    h(
      "div",
      { class: "ev", "data-type": e.type, "data-seq": e.seq ?? "" },
      h("span", {}, e.seq ?? "live"),
      h("span", {}, fmtTime(e.ts)),
      h("button", { type: "button", class: "link", onclick: () => show(e) }, e.type),
      h("span", { class: "data" }, JSON.stringify(e.data)),
    );
  const show = (e) => {
    clear(detail).appendChild(h("section", { class: "card" }, h("h2", {}, `Event ${e.seq ?? ""} ${e.type}`), jsonView(e)));
  };
  const onEvent = (e) => {
    if (!e || !e.type || !matches(e)) return;
    shown += 1;
    pending.push(e);
    if (!scheduled) {
      scheduled = true;
      requestAnimationFrame(flush);
    }
  };
  // The whole log replays from the start, then follows (SSE with Last-Event-ID on a drop).
  api.stream(
    `/apps/${encodeURIComponent(appId)}/events`,
    { session_id: query.session, run_id: query.run },
    onEvent,
    {
      signal,
      onOpen: () => {
        live.textContent = "live";
        live.classList.add("on");
      },
      onError: (err) => {
        live.textContent = "stopped";
        live.classList.remove("on");
        root.appendChild(errorBox(err));
      },
    },
  );
  count.textContent = "0 events";
}
