// The app's artifacts, a page at a time, filtered by type or session.
import { h, errorBox, timeAgo } from "../ui.js";

const PAGE = 50;

export default async function render(root, ctx) {
  const app = ctx.appId ?? ctx.params.app;
  const base = `#/apps/${encodeURIComponent(app)}/artifacts`;
  const typeInput = h("input", { id: "artifacts-type", name: "type", value: ctx.query.type ?? "" });
  const sessionInput = h("input", {
    id: "artifacts-session",
    name: "session_id",
    value: ctx.query.session_id ?? "",
  });
  const filters = h(
    "form",
    {
      class: "row card",
      onsubmit: (event) => {
        event.preventDefault();
        const query = new URLSearchParams();
        if (typeInput.value.trim()) query.set("type", typeInput.value.trim());
        if (sessionInput.value.trim()) query.set("session_id", sessionInput.value.trim());
        const tail = query.toString();
        ctx.navigate(tail ? `${base}?${tail}` : base);
      },
    },
    h("div", { class: "field" }, h("label", { for: "artifacts-type" }, "Type"), typeInput),
    h("div", { class: "field" }, h("label", { for: "artifacts-session" }, "Session"), sessionInput),
    h("button", { type: "submit" }, "Filter"),
  );
  const body = h("tbody");
  const status = h("p", { class: "muted", "aria-live": "polite" });
  const more = h("button", { type: "button" }, "Load more");
  more.hidden = true;
  root.replaceChildren(
    h("h1", {}, "Artifacts"),
    filters,
    h("div", { class: "table-wrap", tabindex: "0", role: "region", "aria-label": "Artifacts (scrolls)" }, h(
      "table",
      { class: "data", "aria-label": "Artifacts" },
      h(
        "thead",
        {},
        h("tr", {}, ...["Artifact", "Type", "Version", "Flow", "Sessions", "Updated"].map((c) =>
          h("th", { scope: "col" }, c))),
      ),
      body,
    )),
    status,
    more,
  );

  let cursor = null;
  async function load() {
    const params = { limit: PAGE };
    if (ctx.query.type) params.type = ctx.query.type;
    if (ctx.query.session_id) params.session_id = ctx.query.session_id;
    if (cursor) params.cursor = cursor;
    let page;
    try {
      page = await ctx.api.get(`/apps/${encodeURIComponent(app)}/artifacts`, params);
    } catch (err) {
      status.replaceChildren(errorBox(err));
      return;
    }
    for (const item of page.items) {
      body.append(
        h(
          "tr",
          {},
          h("td", {}, h("a", { href: `${base}/${encodeURIComponent(item.id)}` }, item.id)),
          h("td", {}, item.type),
          h("td", {}, String(item.version)),
          h("td", {}, item.flow ?? "—"),
          h("td", {}, String(item.session_ids.length)),
          h("td", {}, timeAgo(item.updated_at)),
        ),
      );
    }
    cursor = page.next_cursor;
    more.hidden = !cursor;
    status.textContent = body.children.length
      ? `${body.children.length} artifact(s)`
      : "No artifacts yet. A flow creates them (ctx.artifacts.create) or POST /artifacts.";
  }
  more.addEventListener("click", load);
  await load();
}
