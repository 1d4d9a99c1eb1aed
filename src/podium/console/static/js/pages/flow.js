// #/apps/{app}/flows/{name}: the flow's graph (laid out by graph.js), its versions, its
// definition, and a form that starts a session of it.
import { h, table, formFields, formValues, errorBox, timeAgo, pageHeader, section, jsonView, clear } from "../ui.js";
import { renderGraph, flowGraph } from "../graph.js";

export default async function render(root, ctx) {
  const { api, appId, params, navigate } = ctx;
  const base = `/apps/${encodeURIComponent(appId)}`;
  const flow = await api.get(`${base}/flows/${encodeURIComponent(params.name)}`);
  const versions = flow.versions || [];
  const wanted = flow.version;
  const definition = flow.definition; // the latest version's (the API serves no older one)
  root.appendChild(
    pageHeader(`Flow ${flow.name}`, {
      subtitle: `${flow.description || "No description."} Version ${wanted}${flow.shipped ? " · shipped with Podium" : ""}.`,
      actions: [h("a", { href: `#/apps/${encodeURIComponent(appId)}/sessions?flow=${encodeURIComponent(flow.name)}` }, "Sessions of this flow")],
    }),
  );
  const graphBox = h("div", { class: "graph", "data-testid": "flow-graph" });
  root.appendChild(section("Graph", graphBox));
  renderGraph(graphBox, flowGraph(definition), {}, { label: `The graph of the flow ${flow.name}` });

  const grid = h("div", { class: "grid2" });
  root.appendChild(grid);
  grid.appendChild(startForm());
  grid.appendChild(
    section(
      "Versions",
      versions.length
        ? h(
            "div",
            { class: "table-wrap" },
            table(
              [
                { label: "Version", render: (v) => (v.version === wanted ? h("strong", {}, `v${v.version} · latest`) : `v${v.version}`) },
                { label: "Id", key: "id", class: "mono" },
                { label: "Registered", render: (v) => timeAgo(v.created_at) },
              ],
              [...versions].sort((a, b) => b.version - a.version),
              { caption: "Versions" },
            ),
          )
        : h("p", { class: "muted" }, "One version."),
    ),
  );
  root.appendChild(section("Definition", jsonView(definition, { focusable: true })));

  function startForm() {
    const problem = h("div", { "aria-live": "polite" });
    const form = h(
      "form",
      { novalidate: true },
      ...formFields([{ name: "input", label: "Input (JSON object)", type: "textarea", rows: 4, mono: true, value: "{}" }]),
      problem,
      h("button", { class: "primary", type: "submit" }, "Start a session"),
    );
    form.addEventListener("submit", async (ev) => {
      ev.preventDefault();
      clear(problem);
      let input;
      try {
        input = JSON.parse(formValues(form).input || "{}");
      } catch (err) {
        problem.appendChild(errorBox({ code: "invalid_json", message: `The input is not JSON: ${err.message}` }));
        return;
      }
      if (!input || typeof input !== "object" || Array.isArray(input)) {
        problem.appendChild(errorBox({ code: "invalid_input", message: "The input is a JSON object, e.g. {\"topic\": \"owls\"}." }));
        return;
      }
      try {
        const session = await api.post(`${base}/sessions`, { flow: flow.name, input });
        navigate(`#/apps/${encodeURIComponent(appId)}/sessions/${encodeURIComponent(session.id)}`);
      } catch (err) {
        problem.appendChild(errorBox(err));
      }
    });
    return section("Start a session", form);
  }
}
