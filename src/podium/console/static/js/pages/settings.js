// #/apps/{app}/settings: the app, its members (add, change role, remove), its open
// invitations and its API keys (create: the secret is shown once; revoke).
import { h, table, formFields, formValues, errorBox, timeAgo, pageHeader, section, badge, toast, busy, clear } from "../ui.js";

const ROLES = ["viewer", "member", "admin", "owner"];

export default async function render(root, ctx) {
  const { api, appId } = ctx;
  const base = `/apps/${encodeURIComponent(appId)}`;
  const app = await api.get(base);
  const canAdmin = app.role === "admin" || app.role === "owner" || (ctx.user && ctx.user.is_admin);
  root.appendChild(pageHeader(`${app.name} settings`, { subtitle: app.description || `App ${app.id}` }));

  const membersBox = h("div");
  const invitesBox = h("div");
  const keysBox = h("div");

  async function loadMembers() {
    const members = await api.get(`${base}/members`);
    clear(membersBox).appendChild(
      h(
        "div",
        { class: "table-wrap" },
        table(
          [
            { label: "Username", key: "username" },
            { label: "Email", render: (m) => m.email || "" },
            {
              label: "Role",
              render: (m) =>
                canAdmin
                  ? h(
                      "select",
                      {
                        "aria-label": `Role of ${m.username}`,
                        onchange: async (ev) => {
                          try {
                            await api.patch(`${base}/members/${encodeURIComponent(m.user_id)}`, { role: ev.target.value });
                            toast(`${m.username} is now ${ev.target.value}`, "ok");
                          } catch (err) {
                            toast(err.message, "error");
                            ev.target.value = m.role;
                          }
                        },
                      },
                      ROLES.map((r) => h("option", { value: r, selected: r === m.role }, r)),
                    )
                  : badge(m.role),
            },
            { label: "Since", render: (m) => timeAgo(m.created_at) },
            {
              label: "",
              render: (m) =>
                canAdmin
                  ? h(
                      "button",
                      {
                        type: "button",
                        class: "danger",
                        "aria-label": `Remove ${m.username}`,
                        onclick: (ev) =>
                          busy(ev.currentTarget, async () => {
                            if (!confirm(`Remove ${m.username} from ${app.name}?`)) return;
                            await api.del(`${base}/members/${encodeURIComponent(m.user_id)}`);
                            await loadMembers();
                          }),
                      },
                      "Remove",
                    )
                  : "",
            },
          ],
          members,
          { caption: "Members" },
        ),
      ),
    );
  }

  async function loadInvitations() {
    if (!canAdmin) return;
    const invitations = await api.get(`${base}/invitations`);
    clear(invitesBox).appendChild(
      invitations.length
        ? h(
            "div",
            { class: "table-wrap" },
            table(
              [
                { label: "Invitee", key: "invitee" },
                { label: "Role", render: (i) => badge(i.role) },
                { label: "Sent", render: (i) => timeAgo(i.created_at) },
                {
                  label: "",
                  render: (i) =>
                    h(
                      "button",
                      {
                        type: "button",
                        class: "danger",
                        "aria-label": `Withdraw the invitation of ${i.invitee}`,
                        onclick: (ev) =>
                          busy(ev.currentTarget, async () => {
                            await api.del(`${base}/invitations/${encodeURIComponent(i.id)}`);
                            await loadInvitations();
                          }),
                      },
                      "Withdraw",
                    ),
                },
              ],
              invitations,
              { caption: "Open invitations" },
            ),
          )
        : h("p", { class: "muted" }, "No open invitations."),
    );
  }

  async function loadKeys() {
    if (!canAdmin) return;
    const keys = await api.get(`${base}/api-keys`);
    clear(keysBox).appendChild(
      h(
        "div",
        { class: "table-wrap" },
        table(
          [
            { label: "Name", key: "name" },
            { label: "Prefix", key: "prefix", class: "mono" },
            { label: "Role", render: (k) => badge(k.role) },
            { label: "Created", render: (k) => timeAgo(k.created_at) },
            { label: "Last used", render: (k) => (k.last_used_at ? timeAgo(k.last_used_at) : "never") },
            {
              label: "",
              render: (k) =>
                k.revoked_at
                  ? h("span", { class: "muted" }, "revoked")
                  : h(
                      "button",
                      {
                        type: "button",
                        class: "danger",
                        "aria-label": `Revoke the key ${k.name}`,
                        onclick: (ev) =>
                          busy(ev.currentTarget, async () => {
                            if (!confirm(`Revoke the key ${k.name}? It stops working at once.`)) return;
                            await api.del(`${base}/api-keys/${encodeURIComponent(k.id)}`);
                            toast(`Revoked ${k.name}`, "ok");
                            await loadKeys();
                          }),
                      },
                      "Revoke",
                    ),
            },
          ],
          keys,
          { caption: "API keys", empty: "No API keys." },
        ),
      ),
    );
  }

  root.appendChild(section("Members", membersBox, canAdmin ? addMemberForm() : null));
  if (canAdmin) {
    root.appendChild(section("Invitations", invitesBox));
    root.appendChild(section("API keys", keysBox, createKeyForm()));
  }
  await Promise.all([loadMembers(), loadInvitations(), loadKeys()]);

  function addMemberForm() {
    const problem = h("div", { "aria-live": "polite" });
    const form = h(
      "form",
      { novalidate: true },
      h("h3", {}, "Add a member"),
      h(
        "div",
        { class: "row" },
        ...formFields([
          { name: "user", label: "Email, username or user id", required: true },
          { name: "role", label: "Role", type: "select", options: ROLES, value: "member" },
        ]),
        h("button", { class: "primary", type: "submit" }, "Add"),
      ),
      problem,
    );
    form.addEventListener("submit", async (ev) => {
      ev.preventDefault();
      problem.textContent = "";
      const { user, role } = formValues(form);
      if (!user.trim()) {
        problem.appendChild(errorBox({ message: "Name the user: an email, a username or an id." }));
        return;
      }
      try {
        const answer = await api.post(`${base}/members`, { user: user.trim(), role });
        if (answer && answer.invitee) toast(`Invited ${answer.invitee}: they accept it from their account.`, "ok");
        else toast(`Added ${answer.username} as ${answer.role}`, "ok");
        form.reset();
        await Promise.all([loadMembers(), loadInvitations()]);
      } catch (err) {
        problem.appendChild(errorBox(err));
      }
    });
    return form;
  }

  function createKeyForm() {
    const problem = h("div", { "aria-live": "polite" });
    const secretBox = h("div", { "aria-live": "polite" });
    const form = h(
      "form",
      { novalidate: true },
      h("h3", {}, "Create an API key"),
      h(
        "div",
        { class: "row" },
        ...formFields([
          { name: "name", label: "Key name", required: true, placeholder: "backend" },
          { name: "role", label: "Key role", type: "select", options: ["viewer", "member", "admin"], value: "member" },
        ]),
        h("button", { class: "primary", type: "submit" }, "Create key"),
      ),
      problem,
      secretBox,
    );
    form.addEventListener("submit", async (ev) => {
      ev.preventDefault();
      problem.textContent = "";
      clear(secretBox);
      const { name, role } = formValues(form);
      if (!name.trim()) {
        problem.appendChild(errorBox({ message: "A key needs a name." }));
        return;
      }
      try {
        const created = await api.post(`${base}/api-keys`, { name: name.trim(), role });
        const copy = h("button", { type: "button" }, "Copy");
        copy.addEventListener("click", async () => {
          try {
            await navigator.clipboard.writeText(created.key);
            toast("Copied", "ok");
          } catch {
            toast("Select the key and copy it", "error");
          }
        });
        secretBox.appendChild(
          h(
            "div",
            { class: "card" },
            h("p", {}, h("strong", {}, `The key ${created.name}: `), "copy it now, it is not shown again. Send it as the X-API-Key header."),
            h("div", { class: "row" }, h("code", { class: "secret", "data-testid": "api-key-secret" }, created.key), copy),
          ),
        );
        form.reset();
        await loadKeys();
      } catch (err) {
        problem.appendChild(errorBox(err));
      }
    });
    return form;
  }
}
