// The app's pending approvals: a tool that `requires_approval` makes the agent's run ask
// "approve" or "deny" (a question on its session) and wait. Answered here, the run goes on
// and the tool call runs (or is skipped when denied). Other pending questions are listed
// with a link to their session.
import { h, errorBox, timeAgo, toast } from "../ui.js";

const POLL_MS = 2000;
const MAX_SESSIONS = 100;

export const isApproval = (q) =>
  q?.kind === "question" && Array.isArray(q.choices) &&
  q.choices.includes("approve") && q.choices.includes("deny");

export default async function render(root, ctx) {
  const app = ctx.appId ?? ctx.params.app;
  const appPath = `/apps/${encodeURIComponent(app)}`;
  const appHash = `#/apps/${encodeURIComponent(app)}`;
  const list = h("div", { id: "approvals" });
  const others = h("ul", { id: "other-questions" });
  const status = h("p", { class: "muted", role: "status", "aria-live": "polite" });
  root.replaceChildren(
    h("h1", {}, "Approvals"),
    h("p", {}, "Tool calls waiting for a person. Approve to run the tool, deny to skip it. ",
      h("a", { href: `${appHash}/tool-calls` }, "Tool-call log")),
    h("h2", {}, "Waiting for approval"),
    status,
    list,
    h("h2", {}, "Other questions waiting"),
    others,
  );

  // The list of waiting sessions does not carry their questions: each is read once, and
  // again only when the session changed (`updated_at`), so polling costs one request.
  const read = new Map(); // session id → the session as last read
  async function waitingSessions() {
    const page = await ctx.api.get(`${appPath}/sessions`, { status: "waiting", limit: MAX_SESSIONS });
    const sessions = await Promise.all(page.items.map((s) => {
      const known = read.get(s.id);
      if (known && known.updated_at === s.updated_at) return known;
      return ctx.api.get(`${appPath}/sessions/${encodeURIComponent(s.id)}`).catch(() => null);
    }));
    read.clear();
    for (const s of sessions) if (s) read.set(s.id, s);
    return sessions.filter((s) => s?.pending_question);
  }

  async function answer(session, q, choice, card) {
    for (const b of card.querySelectorAll("button")) b.disabled = true;
    try {
      await ctx.api.post(`${appPath}/sessions/${encodeURIComponent(session.id)}/input`,
        { interrupt_id: q.interrupt_id, answer: choice });
      toast(choice === "approve" ? "Approved: the tool call runs" : "Denied: the call is skipped", "ok");
      card.remove();
      shown.delete(q.interrupt_id);
      status.textContent = choice === "approve" ? "Approved." : "Denied.";
    } catch (err) {
      toast(err.message ?? String(err), "error");
      for (const b of card.querySelectorAll("button")) b.disabled = false;
    }
  }

  function approvalCard(session, q) {
    const card = h("section", { class: "question approval", "data-interrupt": q.interrupt_id });
    card.append(
      h("h3", {}, typeof session.state?.agent === "string" ? `Agent ${session.state.agent} · ` : "",
        session.flow ? `${session.flow} · ` : "",
        h("a", { href: `${appHash}/sessions/${encodeURIComponent(session.id)}` }, session.id)),
      h("p", { class: "prompt" }, q.question),
      typeof session.state?.agent === "string" && session.flow === "chat"
        ? h("p", {}, h("a", {
          href: `${appHash}/agents/${encodeURIComponent(session.state.agent)}?session=${encodeURIComponent(session.id)}`,
        }, "Open the chat"))
        : null,
      h("p", { class: "muted" }, `node ${q.node_id} · run ${q.run_id} · waiting since `, timeAgo(session.updated_at)),
      h("div", { class: "choices" },
        h("button", { type: "button", class: "primary", onclick: () => answer(session, q, "approve", card) }, "Approve"),
        h("button", { type: "button", class: "danger", onclick: () => answer(session, q, "deny", card) }, "Deny")),
    );
    return card;
  }

  const shown = new Set();
  async function refresh() {
    let sessions;
    try {
      sessions = await waitingSessions();
    } catch (err) {
      status.replaceChildren(errorBox(err));
      return;
    }
    const ids = new Set(sessions.map((s) => s.pending_question.interrupt_id));
    const same = ids.size === shown.size && [...ids].every((id) => shown.has(id));
    if (same && (list.children.length || others.children.length || !ids.size)) {
      if (!ids.size) status.textContent = "Nothing is waiting for approval.";
      return;
    }
    shown.clear();
    for (const id of ids) shown.add(id);
    const approvals = sessions.filter((s) => isApproval(s.pending_question));
    const rest = sessions.filter((s) => !isApproval(s.pending_question));
    list.replaceChildren(...approvals.map((s) => approvalCard(s, s.pending_question)));
    others.replaceChildren(...rest.map((s) => h("li", {},
      h("a", { href: `${appHash}/sessions/${encodeURIComponent(s.id)}` }, s.flow ?? s.id),
      ` — ${s.pending_question.question}`)));
    if (!rest.length) others.append(h("li", { class: "muted" }, "none"));
    status.textContent = approvals.length
      ? `${approvals.length} approval(s) waiting`
      : "Nothing is waiting for approval.";
  }

  await refresh();
  const timer = setInterval(refresh, POLL_MS);
  const stop = () => clearInterval(timer);
  ctx.signal?.addEventListener("abort", stop);
  return stop;
}
