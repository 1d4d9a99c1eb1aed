// #/apps/{app}/flows: the app's flows (latest versions, shipped ones too) and a form to
// register one from its JSON.
import { h, table, formFields, formValues, errorBox, timeAgo, pageHeader, section } from "../ui.js";

export default async function render(root, ctx) {
  const { api, appId, navigate } = ctx;
  const base = `/apps/${encodeURIComponent(appId)}`;
  const flows = await api.get(`${base}/flows`);
  root.appendChild(pageHeader("Flows", { subtitle: "Graphs of nodes the engine runs as sessions. Open one to see its graph and start it." }));
  flows.sort((a, b) => Number(a.shipped) - Number(b.shipped) || a.name.localeCompare(b.name));
  root.appendChild(
    h(
      "div",
      { class: "table-wrap" },
      table(
        [
          { label: "Name", render: (f) => h("a", { href: `#/apps/${encodeURIComponent(appId)}/flows/${encodeURIComponent(f.name)}` }, f.name) },
          { label: "Version", render: (f) => `v${f.version}` },
          { label: "Nodes", render: (f) => String((f.definition.nodes || []).length) },
          { label: "Description", render: (f) => f.description || "" },
          { label: "Origin", render: (f) => (f.shipped ? "shipped" : "this app") },
          { label: "Updated", render: (f) => timeAgo(f.created_at) },
        ],
        flows,
        { caption: "Flows", empty: "No flows yet." },
      ),
    ),
  );
  const problem = h("div", { "aria-live": "polite" });
  const form = h(
    "form",
    { novalidate: true },
    ...formFields([
      {
        name: "definition",
        label: "Flow JSON",
        type: "textarea",
        rows: 8,
        mono: true,
        placeholder: '{"name": "hello", "nodes": [...], "edges": [...]}',
        help: "A new version is stored when the flow changed (examples/flows/*.json).",
      },
    ]),
    problem,
    h("button", { class: "primary", type: "submit" }, "Register flow"),
  );
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    problem.textContent = "";
    let definition;
    try {
      definition = JSON.parse(formValues(form).definition);
    } catch (err) {
      problem.appendChild(errorBox({ code: "invalid_json", message: `The flow is not JSON: ${err.message}` }));
      return;
    }
    try {
      const flow = await api.post(`${base}/flows`, definition);
      navigate(`#/apps/${encodeURIComponent(appId)}/flows/${encodeURIComponent(flow.name)}`);
    } catch (err) {
      problem.appendChild(errorBox(err));
    }
  });
  root.appendChild(h("div", { class: "spacer" }));
  root.appendChild(section("Register a flow", form));
}
