// #/apps: the caller's apps, and a form to create one.
import { h, table, formFields, formValues, errorBox, timeAgo, pageHeader, section, badge } from "../ui.js";

export default async function render(root, ctx) {
  const { api, navigate } = ctx;
  const apps = (await api.get("/apps", { limit: 200 })).items;
  root.appendChild(pageHeader("Apps", { subtitle: "Each app has its own flows, sessions, agents, members and keys." }));
  const list = apps.length
    ? h(
        "div",
        { class: "table-wrap" },
        table(
          [
            { label: "Name", render: (a) => h("a", { href: `#/apps/${encodeURIComponent(a.id)}/sessions` }, a.name) },
            { label: "Description", render: (a) => a.description || "" },
            { label: "Your role", render: (a) => (a.role ? badge(a.role) : ctx.user && ctx.user.is_admin ? badge("platform admin") : "") },
            { label: "Id", key: "id", class: "mono" },
            { label: "Created", render: (a) => timeAgo(a.created_at) },
          ],
          apps,
          { caption: "Your apps" },
        ),
      )
    : h("p", { class: "empty card" }, "No apps yet. Create the first one below.");
  root.appendChild(list);
  const problem = h("div", { "aria-live": "polite" });
  const form = h(
    "form",
    { novalidate: true },
    h(
      "div",
      { class: "row" },
      ...formFields([
        { name: "name", label: "Name", required: true, placeholder: "support-bot" },
        { name: "description", label: "Description", placeholder: "optional" },
      ]),
      h("button", { class: "primary", type: "submit" }, "Create app"),
    ),
    problem,
  );
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    problem.textContent = "";
    const { name, description } = formValues(form);
    if (!name.trim()) {
      problem.appendChild(errorBox({ message: "An app needs a name." }));
      return;
    }
    const button = form.querySelector("button");
    button.disabled = true;
    try {
      const app = await api.post("/apps", description.trim() ? { name: name.trim(), description: description.trim() } : { name: name.trim() });
      await ctx.refreshApps();
      navigate(`#/apps/${encodeURIComponent(app.id)}/flows`);
    } catch (err) {
      problem.appendChild(errorBox(err));
    } finally {
      button.disabled = false;
    }
  });
  root.appendChild(h("div", { class: "spacer" }));
  root.appendChild(section("Create an app", form));
}
