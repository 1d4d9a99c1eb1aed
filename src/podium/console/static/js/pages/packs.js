// The installed packs and whether this app enabled each (app admins enable and disable).
import { h, errorBox, toast } from "../ui.js";

// A cell whose words are not broken (the shell's tables wrap anywhere).
const whole = (td) => {
  td.style.overflowWrap = "normal";
  return td;
};

export default async function render(root, ctx) {
  const app = ctx.appId ?? ctx.params.app;
  const appPath = `/apps/${encodeURIComponent(app)}`;
  const appHash = `#/apps/${encodeURIComponent(app)}`;
  const body = h("tbody");
  const status = h("p", { class: "muted", role: "status", "aria-live": "polite" });
  root.replaceChildren(
    h("h1", {}, "Packs"),
    h("p", {}, "Packs ship flows, agents, event handlers and routes. Enabling one registers them in this app."),
    h("div", { class: "table-wrap", tabindex: "0", role: "region", "aria-label": "Packs (scrolls)" }, h("table", { class: "data", id: "packs", "aria-label": "Packs" },
      h("thead", {}, h("tr", {}, ...["Pack", "Description", "Flows", "Agents", "Enabled", "Action"]
        .map((c) => h("th", { scope: "col" }, c)))),
      body)),
    status,
  );

  function row(pack) {
    const enabledCell = whole(h("td", {}, h("span", { class: `badge ${pack.enabled ? "s-succeeded" : ""}` },
      pack.enabled ? "enabled" : "disabled")));
    const button = h("button", {
      type: "button",
      "aria-label": `${pack.enabled ? "Disable" : "Enable"} ${pack.name}`,
      onclick: async () => {
        button.disabled = true;
        const name = encodeURIComponent(pack.name);
        try {
          if (pack.enabled) {
            await ctx.api.del(`${appPath}/packs/${name}`);
            pack = { ...pack, enabled: false };
          } else {
            pack = await ctx.api.put(`${appPath}/packs/${name}`, {});
          }
          tr.replaceWith(row(pack));
          status.textContent = `${pack.name} ${pack.enabled ? "enabled" : "disabled"}`;
          toast(status.textContent, "ok");
        } catch (err) {
          toast(err.message ?? String(err), "error");
          button.disabled = false;
        }
      },
    }, pack.enabled ? "Disable" : "Enable");
    if (!pack.enabled) button.classList.add("primary");
    const tr = h("tr", { "data-pack": pack.name },
      whole(h("td", {}, h("a", { href: `${appHash}/packs/${encodeURIComponent(pack.name)}` }, pack.name))),
      h("td", {}, pack.description),
      h("td", {}, pack.flows.join(", ") || "—"),
      h("td", {}, pack.agents.join(", ") || "—"),
      enabledCell,
      whole(h("td", {}, button)));
    return tr;
  }

  try {
    const packs = await ctx.api.get(`${appPath}/packs`);
    body.replaceChildren(...packs.map(row));
    status.textContent = packs.length ? `${packs.length} pack(s) installed` : "No packs installed.";
  } catch (err) {
    status.replaceChildren(errorBox(err));
  }
}
