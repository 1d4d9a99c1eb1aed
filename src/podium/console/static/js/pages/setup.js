// #/setup?token=TOKEN: the first run. Creates the server's administrator with the setup
// token `podium serve` prints (GET/POST /api/v1/setup), then logs in as them.
import { auth } from "../api.js";
import { h, formFields, formValues, errorBox } from "../ui.js";

export default async function render(root, ctx) {
  const { api, query, navigate } = ctx;
  const status = await api.get("/setup");
  const box = h("div", { class: "narrow" });
  root.appendChild(box);
  box.appendChild(h("h1", {}, "Set up Podium"));
  if (!status.needs_admin) {
    box.appendChild(h("p", {}, "This server already has an administrator. ", h("a", { href: "#/login" }, "Log in"), "."));
    return;
  }
  box.appendChild(
    h("p", { class: "muted" }, "Create the administrator of this server. The setup token is in the link `podium serve` printed when it started."),
  );
  const problem = h("div", { "aria-live": "polite" });
  const form = h(
    "form",
    { class: "card", novalidate: true },
    ...formFields([
      { name: "setup_token", label: "Setup token", required: true, value: query.token || "", autocomplete: "off", help: query.token ? "Filled in from the link." : "Printed by podium serve." },
      { name: "email", label: "Email", type: "email", required: true, autocomplete: "email" },
      { name: "username", label: "Username", required: true, autocomplete: "username" },
      { name: "password", label: "Password", type: "password", required: true, autocomplete: "new-password", help: "A long passphrase; weak passwords are refused." },
    ]),
    problem,
    h("button", { class: "primary", type: "submit" }, "Create administrator"),
  );
  if (query.token) history.replaceState(null, "", `${location.pathname}${location.search}#/setup`);
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    problem.textContent = "";
    const values = formValues(form);
    const missing = ["setup_token", "email", "username", "password"].filter((k) => !values[k].trim());
    if (missing.length) {
      problem.appendChild(errorBox({ message: `Fill in: ${missing.join(", ").replace("setup_token", "setup token")}.` }));
      return;
    }
    const button = form.querySelector("button[type=submit]");
    button.disabled = true;
    try {
      const tokens = await api.post("/setup", values);
      auth.set(tokens);
      navigate("#/apps");
    } catch (err) {
      if (err.status === 403) problem.appendChild(errorBox({ code: err.code, message: "The setup token is wrong. Copy it again from the server's output." }));
      else if (err.status === 409) problem.appendChild(errorBox({ code: err.code, message: "An administrator exists already: log in instead." }));
      else problem.appendChild(errorBox(err));
    } finally {
      button.disabled = false;
    }
  });
  box.appendChild(form);
  form.querySelector(query.token ? "input[name=email]" : "input").focus();
}
