// A pack's view: the leads pack shows its leads (and a form to submit one); any other pack a
// summary of what it ships (flows, agents, event handlers, routes).
import { h, errorBox, timeAgo, toast } from "../ui.js";

const SERVICES = ["web_development", "mobile_app", "ecommerce", "digital_marketing", "seo",
  "branding", "consulting", "other"];

function field(id, label, control) {
  control.id = id;
  return [h("div", { class: "field" }, h("label", { for: id }, label), control)];
}

async function leadsView(container, ctx, leadsPath) {
  const q = ctx.query ?? {};
  const statusSelect = h("select", { name: "status" },
    ...["", "new", "analyzing", "analyzed"].map((s) => {
      const o = h("option", { value: s }, s || "any");
      if ((q.status ?? "") === s) o.selected = true;
      return o;
    }));
  const minScore = h("input", { name: "min_score", type: "number", min: "0", max: "100", value: q.min_score ?? "" });
  const body = h("tbody");
  const status = h("p", { class: "muted", role: "status", "aria-live": "polite" });
  const more = h("button", { type: "button" }, "Load more");
  more.hidden = true;
  const base = `#/apps/${encodeURIComponent(ctx.appId ?? ctx.params.app)}/packs/leads`;
  const filters = h("form", {
    class: "row",
    onsubmit: (event) => {
      event.preventDefault();
      const query = new URLSearchParams();
      if (statusSelect.value) query.set("status", statusSelect.value);
      if (minScore.value) query.set("min_score", minScore.value);
      const tail = query.toString();
      ctx.navigate(tail ? `${base}?${tail}` : base);
    },
  }, ...field("leads-status", "Status", statusSelect), ...field("leads-min-score", "Minimum score", minScore),
  h("button", { type: "submit" }, "Filter"));

  const name = h("input", { name: "name", required: "" });
  const email = h("input", { name: "email", type: "email", required: "" });
  const company = h("input", { name: "company" });
  const service = h("select", { name: "service" }, ...SERVICES.map((s) => h("option", { value: s }, s)));
  const budget = h("input", { name: "budget", type: "number", min: "0" });
  const messageBox = h("textarea", { name: "message", rows: "2", required: "" });
  const submit = h("form", {
    class: "narrow-form",
    onsubmit: async (event) => {
      event.preventDefault();
      const lead = { name: name.value, email: email.value, message: messageBox.value, service: service.value };
      if (company.value.trim()) lead.company = company.value;
      if (budget.value) lead.budget = Number(budget.value);
      try {
        const made = await ctx.api.post(`${leadsPath}/leads`, lead);
        toast(`Lead ${made.name} submitted`, "ok");
        event.target.reset();
        await reload();
      } catch (err) {
        toast(err.message ?? String(err), "error");
      }
    },
  }, ...field("lead-name", "Name", name), ...field("lead-email", "E-mail", email),
  ...field("lead-company", "Company", company), ...field("lead-service", "Service", service),
  ...field("lead-budget", "Budget", budget), ...field("lead-message", "Message", messageBox),
  h("button", { type: "submit" }, "Submit lead"));

  container.append(h("div", { class: "grid2" },
    h("section", { class: "card", "aria-labelledby": "leads-h" },
      h("h2", { id: "leads-h" }, "Leads"),
      filters,
      h("div", { class: "table-wrap", tabindex: "0", role: "region", "aria-label": "Leads (scrolls)" }, h("table", { class: "data", id: "leads", "aria-label": "Leads" },
        h("thead", {}, h("tr", {}, ...["Name", "Company", "Service", "Budget", "Status", "Score", "Tier", "Received", "Action"]
          .map((c) => h("th", { scope: "col" }, c)))),
        body)),
      status,
      more),
    h("section", { class: "card", "aria-labelledby": "lead-new-h" },
      h("h2", { id: "lead-new-h" }, "Submit a lead"),
      submit),
  ));

  async function analyze(lead, button) {
    button.disabled = true;
    try {
      const done = await ctx.api.post(`${leadsPath}/leads/${encodeURIComponent(lead.id)}/analyze?wait=10`, {});
      toast(done.lead.status === "analyzed"
        ? `${lead.name}: score ${done.lead.score} (${done.lead.tier})`
        : `${lead.name} is being analyzed`, "ok");
      await reload();
    } catch (err) {
      toast(err.message ?? String(err), "error");
      button.disabled = false;
    }
  }

  async function reload() {
    body.replaceChildren();
    cursor = null;
    await load();
  }

  let cursor = null;
  async function load() {
    const params = { limit: 50 };
    if (q.status) params.status = q.status;
    if (q.min_score) params.min_score = q.min_score;
    if (cursor) params.cursor = cursor;
    let page;
    try {
      page = await ctx.api.get(`${leadsPath}/leads`, params);
    } catch (err) {
      status.replaceChildren(errorBox(err));
      return;
    }
    for (const lead of page.items) {
      const button = h("button", { type: "button", "aria-label": `Analyze ${lead.name}` }, "Analyze");
      button.addEventListener("click", () => analyze(lead, button));
      const tier = { hot: "s-failed", warm: "s-waiting", cold: "s-running" }[lead.tier] ?? "";
      body.append(h("tr", { "data-lead": lead.id },
        h("td", {}, lead.name, h("br"), h("span", { class: "muted" }, lead.email)),
        h("td", {}, lead.company ?? ""),
        h("td", {}, lead.service), h("td", {}, lead.budget == null ? "" : String(lead.budget)),
        h("td", {}, h("span", { class: `badge s-${lead.status === "analyzed" ? "succeeded" : "running"}` }, lead.status)),
        h("td", {}, lead.score == null ? "—" : String(lead.score)),
        h("td", {}, lead.tier ? h("span", { class: `badge ${tier}` }, lead.tier) : "—"),
        h("td", {}, timeAgo(lead.created_at)),
        h("td", {}, lead.status === "new" ? button : "")));
    }
    cursor = page.next_cursor;
    more.hidden = !cursor;
    status.textContent = body.children.length ? `${body.children.length} lead(s)` : "No leads yet.";
  }
  more.addEventListener("click", load);
  await load();
}

// Where each event handler is in the app's log, and what it retries or gave up on (the
// route is for app admins: others see the handlers' names only).
async function handlerState(container, ctx, packPath) {
  let state;
  try {
    state = await ctx.api.get(`${packPath}/handlers`);
  } catch (err) {
    if (err.status === 403) return;
    container.append(errorBox(err));
    return;
  }
  if (!state.handlers.length) return;
  container.append(
    h("h2", {}, "Handlers in this app's event log"),
    h("div", { class: "table-wrap", tabindex: "0", role: "region", "aria-label": "Handler state (scrolls)" }, h("table", { class: "data", "aria-label": "Handler state" },
      h("thead", {}, h("tr", {}, ...["Handler", "Events", "Done up to seq"].map((c) => h("th", { scope: "col" }, c)))),
      h("tbody", {}, ...state.handlers.map((x) => h("tr", {},
        h("td", {}, x.name), h("td", {}, x.event_types.join(", ")),
        h("td", {}, x.last_seq == null ? "—" : String(x.last_seq))))))),
    state.failures.length
      ? h("ul", { "aria-label": "Handler failures" }, ...state.failures.map((f) => h("li", {},
        `${f.handler} on ${f.event_type} (seq ${f.event_seq}): ${f.status} after ${f.attempts} attempt(s) — ${f.error}`)))
      : h("p", { class: "muted" }, "No handler is retrying or failed."),
  );
}

function summary(container, pack, appHash) {
  const list = (items, link) => items.length
    ? h("ul", {}, ...items.map((x) => h("li", {}, link ? h("a", { href: link(x) }, x) : x)))
    : h("p", { class: "muted" }, "none");
  container.append(
    h("h2", {}, "Flows"),
    list(pack.flows, (f) => `${appHash}/flows/${encodeURIComponent(f)}`),
    h("h2", {}, "Agents"),
    list(pack.agents, (a) => `${appHash}/agents/${encodeURIComponent(a)}`),
    h("h2", {}, "Event handlers"),
    list(pack.handlers.map((x) => `${x.name}: ${x.event_types.join(", ")}`)),
    h("h2", {}, "Routes"),
    pack.routes
      ? h("p", {}, "It has routes of its own, listed under “pack: ", pack.name, "” in the ",
        h("a", { href: "/docs" }, "API docs"), ".")
      : h("p", {}, "It ships no routes."),
  );
}

export default async function render(root, ctx) {
  const app = ctx.appId ?? ctx.params.app;
  const name = ctx.params.pack ?? ctx.params.name;
  const appPath = `/apps/${encodeURIComponent(app)}`;
  const appHash = `#/apps/${encodeURIComponent(app)}`;
  root.replaceChildren(h("h1", {}, `Pack ${name}`));
  let pack;
  try {
    pack = (await ctx.api.get(`${appPath}/packs`)).find((p) => p.name === name);
  } catch (err) {
    root.append(errorBox(err));
    return;
  }
  if (!pack) {
    root.append(h("p", {}, `No pack named ${name} is installed. `, h("a", { href: `${appHash}/packs` }, "The installed packs")));
    return;
  }
  root.append(h("p", {}, pack.description),
    h("p", { class: "muted" }, pack.enabled ? "Enabled for this app." : "Not enabled for this app. ",
      pack.enabled ? "" : h("a", { href: `${appHash}/packs` }, "Enable it on the packs page")));
  const container = h("div", { class: "pack-view" });
  root.append(container);
  if (name === "leads" && pack.enabled) await leadsView(container, ctx, `${appPath}/packs/leads`);
  else summary(container, pack, appHash);
  if (pack.enabled) await handlerState(container, ctx, `${appPath}/packs/${encodeURIComponent(name)}`);
}
