// Chat with one agent: the answer streams in token by token (`chat.send` over the WebSocket:
// `message.delta`, `tool.called`, `message.created`, the run's end), tool calls show inline,
// and a tool call waiting for approval is answered here.
import { h, errorBox, timeAgo, toast } from "../ui.js";

const TURN_EVENTS = [
  "message.delta", "message.created", "tool.called", "agent.status", "node.interrupted",
  "run.succeeded", "run.failed", "run.cancelled", "run.interrupted",
];
const RUN_ENDS = new Set(["run.succeeded", "run.failed", "run.cancelled", "run.interrupted"]);

export default async function render(root, ctx) {
  const app = ctx.appId ?? ctx.params.app;
  const name = ctx.params.name;
  const appPath = `/apps/${encodeURIComponent(app)}`;
  const appHash = `#/apps/${encodeURIComponent(app)}`;
  let sessionId = ctx.query.session ?? null;

  const info = h("span", {});
  const busy = h("span", { id: "agent-busy", class: "badge" });
  const setBusy = (status) => {
    busy.textContent = status;
    busy.className = `badge s-${status === "busy" ? "running" : status === "waiting" ? "waiting" : "idle"}`;
  };
  const transcript = h("div", {
    id: "transcript", class: "transcript", role: "log", "aria-live": "polite", "aria-label": "Conversation",
    tabindex: "0", // it scrolls: keyboard users reach it
  });
  const input = h("textarea", { id: "chat-message", name: "message", rows: "3", required: "" });
  const modelInput = h("input", { id: "chat-model", name: "model", placeholder: "agent's model" });
  const send = h("button", { type: "submit", class: "primary" }, "Send");
  const sessionLink = h("p", { class: "muted", id: "chat-session" });
  const recent = h("ul", { id: "recent-chats" });
  transcript.style.maxHeight = "60vh"; // a longer view of the chat than the shell's default
  // Keep the newest line in view unless the reader scrolled up to read.
  let pinned = true;
  transcript.addEventListener("scroll", () => {
    pinned = transcript.scrollHeight - transcript.scrollTop - transcript.clientHeight < 40;
  });
  const scrollToEnd = () => {
    if (pinned) transcript.scrollTop = transcript.scrollHeight;
  };
  const form = h(
    "form",
    { class: "chat-form", onsubmit: (event) => { event.preventDefault(); sendMessage(); } },
    h("div", { class: "field" }, h("label", { for: "chat-message" }, "Message"), input),
    h("div", { class: "field" }, h("label", { for: "chat-model" }, "Model (optional)"), modelInput),
    h("div", { class: "actions" }, send,
      h("button", { type: "button", onclick: newChat }, "New chat")),
  );
  input.addEventListener("keydown", (event) => {
    if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) form.requestSubmit();
  });
  root.replaceChildren(
    h("header", { class: "page-header" },
      h("div", {}, h("h1", {}, `Agent ${name}`), h("p", { class: "subtitle" }, info)),
      h("div", { class: "actions" }, busy,
        h("a", { href: `${appHash}/tool-calls?agent=${encodeURIComponent(name)}` }, "Tool calls"),
        h("a", { href: `${appHash}/agents` }, "All agents"))),
    h("section", { class: "card", "aria-label": "Chat" }, transcript, sessionLink, form),
    h("section", { class: "card", "aria-labelledby": "recent-chats-h" },
      h("h2", { id: "recent-chats-h" }, "Recent chats"), recent),
  );

  try {
    const agent = await ctx.api.get(`${appPath}/agents/${encodeURIComponent(name)}`);
    const d = agent.definition ?? {};
    info.textContent = [
      agent.description, `model ${d.model ?? "(the app's default)"}`,
      `tools: ${(d.tools ?? []).join(", ") || "none"}`, agent.enabled ? null : "disabled",
    ].filter(Boolean).join(" · ");
    setBusy(agent.status);
  } catch (err) {
    root.replaceChildren(h("h1", {}, `Agent ${name}`), errorBox(err));
    return;
  }

  function showSession() {
    sessionLink.replaceChildren(...(sessionId
      ? ["Session ", h("a", { href: `${appHash}/sessions/${encodeURIComponent(sessionId)}` }, sessionId)]
      : []));
  }
  showSession();

  function message(role, text) {
    const body = h("div", { class: "msg-text" }, text);
    const item = h("div", { class: `msg msg-${role}` },
      h("span", { class: "who" }, role === "user" ? "You" : name), body);
    // (not the class `user`: the header's `.user` rule would restyle it)
    if (role === "user") item.style.background = "#e6eefc";
    transcript.append(item);
    scrollToEnd();
    return body;
  }

  // A chat opened again (?session=): its messages, and the approval it may be waiting for.
  if (sessionId) {
    try {
      const chatPath = `${appPath}/chat/${encodeURIComponent(sessionId)}/history`;
      const history = await ctx.api.get(chatPath, { limit: 200 });
      for (const event of history) {
        const data = event.data ?? {};
        if (data.role === "user" || data.role === "assistant") message(data.role, data.content ?? "");
      }
      const session = await ctx.api.get(`${appPath}/sessions/${encodeURIComponent(sessionId)}`);
      if (session.pending_question?.kind === "question") {
        // Follow on from the session's last event, so the answered run's events are new.
        let since = history.at(-1)?.seq ?? 0;
        for (let pages = 0; pages < 20; pages += 1) {
          const page = await ctx.api.get(`${appPath}/events`, { session_id: sessionId, since, limit: 1000 });
          if (!page.items?.length) break;
          since = page.next_since ?? page.items.at(-1).seq;
        }
        const answerEl = message("assistant", "");
        showQuestion(answerEl, { session_id: sessionId, seq: since });
      }
    } catch (err) {
      transcript.append(errorBox(err));
    }
  }
  loadRecent();

  // The latest chats with this agent (chat sessions whose state names it).
  async function loadRecent() {
    try {
      const page = await ctx.api.get(`${appPath}/sessions`, { flow: "chat", limit: 100 });
      const mine = page.items.filter((s) => s.state?.agent === name).slice(0, 10);
      recent.replaceChildren(...mine.map((s) => h("li", {},
        h("a", { href: `${appHash}/agents/${encodeURIComponent(name)}?session=${encodeURIComponent(s.id)}` },
          typeof s.state?.message === "string" ? s.state.message.slice(0, 80) : s.id),
        " · ", h("span", { class: `badge s-${s.status}` }, s.status), " · ", timeAgo(s.updated_at))));
      if (!mine.length) recent.append(h("li", { class: "muted" }, "none yet"));
    } catch (err) {
      recent.replaceChildren(h("li", {}, errorBox(err)));
    }
  }

  function newChat() {
    sessionId = null;
    transcript.replaceChildren();
    showSession();
    input.focus();
  }

  // One turn's events, in the order they arrive: tokens into the answer, tool calls inline.
  function follower(answerEl) {
    let deltas = 0;
    let text = "";
    return (event) => {
      handleEvent(event);
      scrollToEnd();
    };
    function handleEvent(event) {
      const data = event.data ?? {};
      switch (event.type) {
        case "message.delta":
          deltas += 1;
          text += data.delta ?? "";
          answerEl.textContent = text;
          answerEl.dataset.deltas = String(deltas);
          break;
        case "message.created":
          if (data.role === "assistant") {
            answerEl.textContent = data.content ?? text;
            answerEl.dataset.done = "true";
          }
          break;
        case "tool.called": {
          const detail = `${data.status}${data.error ? `: ${data.error}` : ""} · ${Math.round(data.duration_ms ?? 0)} ms`;
          const line = h("div", { class: "msg msg-tool", "data-tool": data.tool },
            h("span", { class: "who" }, "Tool call"), `${data.tool} — ${detail}`);
          answerEl.parentElement.before(line);
          showCallDetail(line, event.run_id, data.tool);
          break;
        }
        case "agent.status":
          if (data.agent === name) setBusy(data.status);
          break;
        case "node.interrupted":
          showQuestion(answerEl, event);
          break;
        default:
          if (RUN_ENDS.has(event.type) && event.type !== "run.interrupted") {
            setBusy("idle");
            if (!answerEl.textContent) answerEl.textContent = `(the run ${event.type.slice(4)})`;
          }
      }
    }
  }

  // The call's arguments and result, from the tool-call log (the event has neither).
  const detailed = new Set(); // tool-call ids shown
  async function showCallDetail(line, runId, tool) {
    if (!runId) return;
    try {
      const page = await ctx.api.get(`${appPath}/tool-calls`, { run_id: runId, tool, limit: 100 });
      const call = page.items.find((c) => !detailed.has(c.id));
      if (!call) return;
      detailed.add(call.id);
      const text = (v) => (typeof v === "string" ? v : JSON.stringify(v));
      line.append(h("div", { class: "muted" }, `arguments ${text(call.arguments)}`),
        call.result != null ? h("div", { class: "muted" }, `result ${text(call.result)}`) : "");
      scrollToEnd();
    } catch {
      // the line without its detail: the log may be out of reach (it is not the chat)
    }
  }

  // A tool call that needs approval: the run waits; answer it here (or on the approvals page).
  async function showQuestion(answerEl, event) {
    let session;
    try {
      session = await ctx.api.get(`${appPath}/sessions/${encodeURIComponent(event.session_id)}`);
    } catch (err) {
      return;
    }
    const q = session.pending_question;
    if (!q || q.kind !== "question") return;
    const box = h("div", { class: "question msg-question" }, h("span", { class: "who" }, "Approval"),
      h("p", { class: "prompt" }, q.question));
    const answer = async (choice) => {
      for (const b of box.querySelectorAll("button")) b.disabled = true;
      try {
        await ctx.api.post(`${appPath}/sessions/${encodeURIComponent(session.id)}/input`,
          { interrupt_id: q.interrupt_id, answer: choice });
        box.querySelector(".choices")?.replaceWith(h("p", { class: "muted" }, `answered: ${choice}`));
        follow(session.id, event.seq, answerEl);
      } catch (err) {
        toast(err.message ?? String(err), "error");
      }
    };
    box.append(h("div", { class: "choices" }, ...(q.choices ?? []).map((c) =>
      h("button", { type: "button", class: c === "approve" ? "primary" : c === "deny" ? "danger" : null,
        onclick: () => answer(c) }, c))));
    answerEl.parentElement.before(box);
    scrollToEnd();
  }

  // After an answer the run goes on: follow the session's events from where we were.
  function follow(session, afterSeq, answerEl) {
    const handle = follower(answerEl);
    let stop = null;
    const onEvent = (event) => {
      if (event.seq != null && afterSeq != null && event.seq <= afterSeq) return;
      // The run's interruption that came with the question just answered is old news.
      if (!TURN_EVENTS.includes(event.type) || event.type === "run.interrupted") return;
      handle(event);
      // Another question starts its own follow once answered; an end ends this one.
      if ((RUN_ENDS.has(event.type) || event.type === "node.interrupted") && stop) {
        stop();
        loadRecent();
      }
    };
    const spec = { app_id: app, session_id: session };
    if (afterSeq != null) spec.since = afterSeq;
    stop = ctx.socket.subscribe(spec, onEvent);
    ctx.signal?.addEventListener("abort", () => stop());
  }

  async function sendMessage() {
    const text = input.value.trim();
    if (!text) {
      toast("write a message first", "error");
      return;
    }
    input.value = "";
    send.disabled = true;
    message("user", text);
    const answerEl = message("assistant", "");
    answerEl.dataset.streaming = "true";
    answerEl.parentElement.classList.add("streaming");
    const handle = follower(answerEl);
    let stop = null;
    let offClose = null;
    let finished = false;
    let runId = null;
    let lastSeq = null;
    const done = () => {
      if (finished) return;
      finished = true;
      if (typeof stop === "function") stop();
      if (typeof offClose === "function") offClose();
      stop = null;
      send.disabled = false;
      loadRecent();
      delete answerEl.dataset.streaming;
      answerEl.parentElement.classList.remove("streaming");
    };
    const deliver = (event) => {
      if (typeof event.seq === "number") lastSeq = event.seq;
      handle(event);
      if (RUN_ENDS.has(event.type)) done();
    };
    const request = { app_id: app, agent: name, message: text };
    if (sessionId) request.session_id = sessionId;
    if (modelInput.value.trim()) request.model = modelInput.value.trim();
    // Connected first: a socket that cannot connect is said so here, in the answer's place.
    try {
      await ctx.socket.connect();
    } catch (err) {
      done();
      answerEl.append(errorBox(err));
      return;
    }
    // `chat.send` answers `chat.accepted` {session_id, run_id, subscription_id}; the turn's
    // events follow on that subscription, each as its own message type.
    stop = ctx.socket.follow("chat.send", request, (message) => {
      deliver({ ...(message.data ?? {}), type: message.type });
    }, {
      onReply: (accepted) => {
        sessionId = accepted.session_id;
        runId = accepted.run_id;
        showSession();
      },
      onError: (err) => {
        if (finished) return;
        done();
        answerEl.textContent = "";
        answerEl.append(errorBox(err));
      },
    });
    // The socket dropped mid-turn: the reconnect must not send the message again (that
    // would be a second turn); follow the run's events on the session instead, from the
    // last one seen (the tokens streamed meanwhile are lost; the answer is not).
    offClose = ctx.socket.on("socket.status", ({ status }) => {
      if (status !== "closed" || finished || runId === null) return;
      if (typeof stop === "function") stop();
      const spec = { app_id: app, session_id: sessionId };
      if (lastSeq !== null) spec.since = lastSeq;
      stop = ctx.socket.subscribe(spec, (event) => {
        if (event.run_id === runId && TURN_EVENTS.includes(event.type)) deliver(event);
      });
    });
    ctx.signal?.addEventListener("abort", done);
  }

  if (!ctx.socket) {
    form.replaceChildren(h("p", {}, "The chat needs the WebSocket connection."));
  }
}
