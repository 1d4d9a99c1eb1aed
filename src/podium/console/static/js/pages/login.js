// #/login: the login form; #/login?refresh=TOKEN (the link `podium serve --dev` prints)
// exchanges the refresh token for a login and takes the token out of the address.
import { auth } from "../api.js";
import { h, formFields, formValues, errorBox } from "../ui.js";

export default async function render(root, ctx) {
  const { api, query, navigate } = ctx;
  const after = query.next && query.next.startsWith("#/") ? query.next : "#/apps";
  if (query.refresh) {
    history.replaceState(null, "", `${location.pathname}${location.search}#/login`);
    root.appendChild(h("p", { class: "loading" }, "Logging in…"));
    try {
      const tokens = await api.post("/auth/refresh", { refresh_token: query.refresh });
      auth.set(tokens);
      navigate(after);
      return;
    } catch (err) {
      root.textContent = "";
      root.appendChild(errorBox({ ...err, message: `This login link does not work any more (${err.message}). Log in with your password.` }));
    }
  }
  let needsAdmin = false;
  try {
    needsAdmin = (await api.get("/setup")).needs_admin;
  } catch {
    needsAdmin = false;
  }
  const problem = h("div", { "aria-live": "polite" });
  const form = h(
    "form",
    { class: "card", novalidate: true },
    ...formFields([
      { name: "identifier", label: "Email or username", required: true, autocomplete: "username" },
      { name: "password", label: "Password", type: "password", required: true, autocomplete: "current-password" },
    ]),
    problem,
    h("button", { class: "primary", type: "submit" }, "Log in"),
  );
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    problem.textContent = "";
    const { identifier, password } = formValues(form);
    if (!identifier || !password) {
      problem.appendChild(errorBox({ message: "Enter your email or username and your password." }));
      return;
    }
    const button = form.querySelector("button");
    button.disabled = true;
    try {
      const tokens = await api.post("/auth/login", { identifier, password });
      auth.set(tokens);
      navigate(after);
    } catch (err) {
      problem.appendChild(errorBox(err.status === 401 ? { message: "Wrong email, username or password." } : err));
    } finally {
      button.disabled = false;
    }
  });
  root.appendChild(
    h(
      "div",
      { class: "narrow" },
      h("h1", {}, "Log in to Podium"),
      h("p", { class: "muted" }, "Use the account an administrator made for you."),
      form,
      needsAdmin ? h("p", {}, "No administrator yet: ", h("a", { href: "#/setup" }, "set up this server"), ".") : null,
    ),
  );
  form.querySelector("input").focus();
}
