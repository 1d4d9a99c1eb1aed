// #/apps/{app}/sessions/{id}: one session, live. The run's graph with node statuses
// (`workflow.subscribe` over the WebSocket), the transcript with streamed tokens, the pending
// question answered as a form, pause/resume/cancel, fork from a step, re-run from a node, and
// the session's events as they come (`subscribe` over the WebSocket; SSE if it cannot open).
import { h, clear, table, errorBox, pageHeader, section, badge, toast, busy, jsonView, fmtTime, shortId, formFields, formValues } from "../ui.js";
import { renderGraph, flowGraph, legend } from "../graph.js";

const ACTIVE = new Set(["queued", "running", "interrupted", "pausing"]);

export default async function render(root, ctx) {
  const { api, socket, appId, params, signal } = ctx;
  const base = `/apps/${encodeURIComponent(appId)}`;
  const sid = params.id;
  const sbase = `${base}/sessions/${encodeURIComponent(sid)}`;
  let session = await api.get(sbase);
  const flow = session.flow ? await api.get(`${base}/flows/${encodeURIComponent(session.flow)}`).catch(() => null) : null;
  const cleanups = [];

  // --- the frame -------------------------------------------------------------------------
  const headerBox = h("div");
  const questionBox = h("div", { "aria-live": "polite" });
  const graphBox = h("div", { class: "graph", "data-testid": "run-graph" });
  const nodePanel = h("div", { class: "node-panel" });
  const runLine = h("p", { class: "muted", "aria-live": "polite" });
  const transcript = h("div", { class: "transcript", role: "log", "aria-live": "polite", "aria-label": "Transcript", tabindex: "0" });
  const eventsList = h("div", { class: "events-list", role: "log", "aria-live": "off", "aria-label": "Session events", tabindex: "0" });
  const live = h("span", { class: "live" }, "connecting");
  const historyBox = h("div");
  const forkBox = h("div");
  const stateBox = h("div");
  root.appendChild(headerBox);
  root.appendChild(questionBox);
  const grid = h("div", { class: "grid2" });
  root.appendChild(grid);
  const left = h("div");
  const right = h("div");
  grid.appendChild(left);
  grid.appendChild(right);
  left.appendChild(section("Run graph", runLine, graphBox, legend(), nodePanel));
  left.appendChild(section("Steps", historyBox, forkBox));
  right.appendChild(section("Transcript", transcript));
  right.appendChild(h("section", { class: "card" }, h("div", { class: "row" }, h("h2", {}, "Events"), live), eventsList));
  right.appendChild(section("State", stateBox));

  // --- the graph ---------------------------------------------------------------------------
  const definition = flow ? flow.definition : { nodes: [], edges: [] };
  let selected = null;
  const graphOptions = {
    label: `The graph of this session's run (${session.flow || "flow"})`,
    onNodeClick: (id) => {
      selected = id;
      graph.select(id);
      drawNodePanel();
    },
  };
  let graph = renderGraph(graphBox, flowGraph(definition), {}, graphOptions);
  // Without the flow's definition (not readable here), the run's drawing gives the graph.
  const drawFrom = (drawing) => {
    if (!graph.nodeIds.length && drawing.nodes && drawing.nodes.length) {
      graph = renderGraph(graphBox, { nodes: drawing.nodes, edges: drawing.edges || [] }, {}, graphOptions);
    }
    graph.update(drawing);
  };
  let drawnRun = null;
  let stopGraph = null;
  let lastDrawing = null;
  function followGraph() {
    if (!session.run_id || session.run_id === drawnRun) return;
    drawnRun = session.run_id;
    if (stopGraph) stopGraph();
    stopGraph = socket.follow(
      "workflow.subscribe",
      { app_id: appId, run_id: session.run_id },
      (message) => {
        if (message.type !== "workflow.visualization") return;
        lastDrawing = message.data;
        drawFrom(message.data);
        runLine.textContent = `Run ${message.data.run_id}: ${message.data.status}`;
        drawNodePanel();
      },
      { onError: () => pollGraph() },
    );
  }
  cleanups.push(() => stopGraph && stopGraph());
  // Without the WebSocket: the statuses from the run's steps, again after each event.
  let polling = false;
  async function pollGraph() {
    polling = true;
    if (!session.run_id) return;
    try {
      const drawing = await api.get(`${base}/workflows/${encodeURIComponent(session.run_id)}/visualization`);
      lastDrawing = drawing;
      drawFrom(drawing);
      runLine.textContent = `Run ${drawing.run_id}: ${drawing.status}`;
    } catch {
      /* the next event tries again */
    }
  }

  function drawNodePanel() {
    clear(nodePanel);
    if (!selected) {
      nodePanel.appendChild(h("p", { class: "muted" }, "Select a node to see it, or to run the flow again from it."));
      return;
    }
    const node = (lastDrawing && lastDrawing.nodes.find((n) => n.id === selected)) || { id: selected };
    const rerun = h("button", { type: "button" }, `Re-run from ${selected}`);
    rerun.addEventListener("click", () =>
      busy(rerun, async () => {
        const body = { input: {}, trigger_node_id: selected, multitask_strategy: "reject" };
        if (session.run_id) body.from_run_id = session.run_id;
        const queued = await api.post(`${sbase}/runs`, body);
        toast(`Run ${shortId(queued.run_id)} re-runs from ${selected}`, "ok");
        await reload();
      }),
    );
    nodePanel.appendChild(
      h(
        "div",
        { class: "row" },
        h("span", {}, h("strong", {}, selected), " ", node.status ? badge(node.status) : "", node.steps ? ` · ${node.steps} step(s)` : ""),
        rerun,
      ),
    );
    if (node.error) nodePanel.appendChild(errorBox({ message: node.error }));
  }
  drawNodePanel();

  // --- header, controls, question -------------------------------------------------------------
  function drawHeader() {
    const runActive = ACTIVE.has(session.run_status);
    const control = (label, path, enabled, cls) => {
      const button = h("button", { type: "button", class: cls, disabled: !enabled }, label);
      button.addEventListener("click", () =>
        busy(button, async () => {
          await api.post(`${base}/runs/${encodeURIComponent(session.run_id)}/${path}`, {});
          toast(`${label}: done`, "ok");
          await reload();
        }),
      );
      return button;
    };
    clear(headerBox).appendChild(
      pageHeader(`Session ${shortId(session.id)}`, {
        subtitle: [
          session.flow ? h("a", { href: `#/apps/${encodeURIComponent(appId)}/flows/${encodeURIComponent(session.flow)}` }, `${session.flow} v${session.flow_version}`) : "no flow",
          " · session ",
          badge(session.status),
          session.run_status ? [" · run ", badge(session.run_status)] : "",
        ],
        actions: session.run_id
          ? [
              control("Pause", "pause", runActive && session.run_status !== "pausing"),
              control("Resume", "resume", session.run_status === "paused" || session.run_status === "pausing"),
              control("Cancel", "cancel", runActive || session.run_status === "paused", "danger"),
            ]
          : [],
      }),
    );
    headerBox.querySelector("h1").setAttribute("title", session.id);
  }

  let drawnQuestion = null;
  function drawQuestion() {
    const q = session.pending_question;
    if (q && drawnQuestion === q.interrupt_id) return;
    drawnQuestion = q ? q.interrupt_id : null;
    clear(questionBox);
    if (!q) return;
    const box = h("section", { class: "question", "aria-labelledby": "question-title" });
    box.appendChild(h("h2", { id: "question-title" }, `Waiting for an answer (${q.node_id})`));
    box.appendChild(h("p", { class: "prompt" }, q.question));
    const problem = h("div", { "aria-live": "polite" });
    const send = async (answer, button) => {
      clear(problem);
      button.disabled = true;
      try {
        await api.post(`${sbase}/input`, { interrupt_id: q.interrupt_id, answer });
        toast("Answer sent", "ok");
        await reload();
      } catch (err) {
        problem.appendChild(errorBox(err));
        button.disabled = false;
      }
    };
    if (q.kind === "action") {
      box.appendChild(
        h("p", {}, "It waits for an action on ", h("a", { href: `#/apps/${encodeURIComponent(appId)}/artifacts/${encodeURIComponent(q.artifact_id)}` }, `artifact ${q.artifact_id}`), "."),
      );
    } else if (q.choices && q.choices.length) {
      box.appendChild(
        h(
          "div",
          { class: "choices", role: "group", "aria-label": "Choices" },
          q.choices.map((choice) => {
            const button = h("button", { type: "button", class: "primary" }, String(choice));
            button.addEventListener("click", () => send(choice, button));
            return button;
          }),
        ),
      );
    } else {
      box.appendChild(answerForm(q, send));
    }
    box.appendChild(problem);
    questionBox.appendChild(box);
    const first = box.querySelector("input, textarea, select, button");
    if (first) first.focus({ preventScroll: true });
  }

  // A question with a JSON schema: a field per property (strings, numbers, booleans, enums);
  // any other schema, or none: one text box (parsed as JSON when the schema wants non-text).
  function answerForm(q, send) {
    const schema = q.schema || null;
    const props = schema && schema.type === "object" && schema.properties ? schema.properties : null;
    const required = new Set((schema && schema.required) || []);
    const form = h("form", { novalidate: true });
    if (props) {
      const fields = Object.entries(props).map(([name, p]) => {
        const label = `${p.title || name}${required.has(name) ? "" : " (optional)"}`;
        if (Array.isArray(p.enum)) return { name, label, type: "select", options: ["", ...p.enum], help: p.description };
        if (p.type === "boolean") return { name, label, type: "checkbox", help: p.description };
        if (p.type === "number" || p.type === "integer") return { name, label, type: "number", help: p.description };
        return { name, label, help: p.description };
      });
      formFields(fields).forEach((f) => form.appendChild(f));
    } else {
      const wantsJson = schema && schema.type && schema.type !== "string";
      formFields([
        { name: "answer", label: wantsJson ? "Answer (JSON)" : "Your answer", type: wantsJson ? "textarea" : "text", mono: wantsJson, help: schema ? `Schema: ${JSON.stringify(schema)}` : null },
      ]).forEach((f) => form.appendChild(f));
    }
    const submit = h("button", { type: "submit", class: "primary" }, "Send answer");
    form.appendChild(submit);
    form.addEventListener("submit", (ev) => {
      ev.preventDefault();
      const values = formValues(form);
      let answer;
      if (props) {
        answer = {};
        for (const [name, p] of Object.entries(props)) {
          const raw = values[name];
          if (p.type === "boolean") answer[name] = Boolean(raw);
          else if (raw === "" || raw === undefined) continue;
          else if (p.type === "number") answer[name] = Number(raw);
          else if (p.type === "integer") answer[name] = parseInt(raw, 10);
          else answer[name] = raw;
        }
        const missing = [...required].filter((name) => !(name in answer));
        if (missing.length) {
          toast(`Fill in: ${missing.join(", ")}`, "error");
          return;
        }
      } else if (schema && schema.type && schema.type !== "string") {
        try {
          answer = JSON.parse(values.answer);
        } catch (err) {
          toast(`The answer is not JSON: ${err.message}`, "error");
          return;
        }
      } else {
        answer = values.answer;
        if (!answer.trim()) {
          toast("Write an answer first", "error");
          return;
        }
      }
      send(answer, submit);
    });
    return form;
  }

  // --- steps (fork from one) and state -----------------------------------------------------------
  async function drawHistory() {
    const steps = await api.get(`${sbase}/history`);
    const forkButton = (step) => {
      const button = h("button", { type: "button", "aria-label": `Fork from step ${step.number} (${step.node_id})` }, "Fork");
      button.addEventListener("click", () => forkForm(step));
      return button;
    };
    clear(historyBox).appendChild(
      h(
        "div",
        { class: "table-wrap" },
        table(
          [
            { label: "#", key: "number" },
            { label: "Node", key: "node_id" },
            { label: "Status", render: (s) => badge(s.status) },
            { label: "Run", render: (s) => h("span", { class: "id", title: s.run_id }, shortId(s.run_id)) },
            { label: "Output", render: (s) => (s.error ? s.error : s.output ? JSON.stringify(s.output).slice(0, 80) : "") },
            { label: "", render: forkButton },
          ],
          steps,
          { caption: "Steps of every run", empty: "No steps yet." },
        ),
      ),
    );
    if (session.state) clear(stateBox).appendChild(jsonView(session.state));
  }

  function forkForm(step) {
    clear(forkBox);
    const problem = h("div", { "aria-live": "polite" });
    const form = h(
      "form",
      { class: "fork card", novalidate: true },
      h("h3", {}, `Fork from step ${step.number} (${step.node_id})`),
      h("p", { class: "muted" }, "A new run of this session starts from the state as of this step, patched (JSON merge patch)."),
      ...formFields([{ name: "patch", label: "State patch (JSON object)", type: "textarea", rows: 3, mono: true, value: "{}" }]),
      problem,
      h("div", { class: "row" }, h("button", { type: "submit", class: "primary" }, "Fork"), h("button", { type: "button", onclick: () => form.remove() }, "Close")),
    );
    form.addEventListener("submit", async (ev) => {
      ev.preventDefault();
      clear(problem);
      let patch;
      try {
        patch = JSON.parse(formValues(form).patch || "{}");
      } catch (err) {
        problem.appendChild(errorBox({ code: "invalid_json", message: `The patch is not JSON: ${err.message}` }));
        return;
      }
      try {
        const queued = await api.post(`${base}/runs/${encodeURIComponent(step.run_id)}/fork`, { step_id: step.id, state_patch: patch });
        toast(`Forked: run ${shortId(queued.run_id || "")}`, "ok");
        form.remove();
        await reload();
      } catch (err) {
        problem.appendChild(errorBox(err));
      }
    });
    forkBox.appendChild(form);
    form.querySelector("textarea").focus();
  }

  // --- transcript and events ---------------------------------------------------------------------
  const asked = new Set(); // nodes that asked a question: their completion is the answer
  const streaming = new Map(); // agent/node → the bubble being streamed
  let lastOutput = null;
  let lastMessage = null;
  const finished = new Map(); // agent/node → the text of its last message, until its tokens came
  const lateBuffer = new Map();
  const bubble = (who, text, cls) => h("div", { class: ["msg", cls] }, h("span", { class: "who" }, who), text);
  function addToTranscript(e) {
    const d = e.data || {};
    let item = null;
    if (e.type === "message.delta") {
      transcript.dataset.deltas = String(Number(transcript.dataset.deltas || 0) + 1);
      const key = `${d.agent || ""}/${d.node_id || ""}`;
      let open = streaming.get(key);
      // Live tokens may also come after the logged message they make up (the log's batch is
      // sent first): tokens that spell the start of the last finished message are late, not new.
      const late = finished.get(key);
      if (!open && late !== undefined) {
        const spelled = (lateBuffer.get(key) || "") + (d.delta || "");
        if (late.startsWith(spelled)) {
          if (spelled.length >= late.length) finished.delete(key);
          lateBuffer.set(key, spelled.length >= late.length ? "" : spelled);
          return;
        }
        finished.delete(key);
        lateBuffer.delete(key);
        d.delta = spelled;
      }
      if (!open) {
        open = bubble(d.agent || "assistant", "", "streaming");
        streaming.set(key, open);
        transcript.appendChild(open);
      }
      open.appendChild(document.createTextNode(d.delta || ""));
    } else if (e.type === "message.created") {
      // The agent's tokens may come before the logged user message of the same step: the
      // user's message goes before them, the agent's replaces them.
      const key = `${d.agent || ""}/${d.node_id || ""}`;
      const open = d.role === "user" ? null : streaming.get(key);
      if (open) streaming.delete(key);
      const before = d.role === "user" ? streaming.get(key) : null;
      lastMessage = typeof d.content === "string" ? d.content : JSON.stringify(d.content);
      item = bubble(d.role === "user" ? "user" : d.agent || d.role || "assistant", lastMessage, d.role === "user" ? "msg-user" : "");
      if (open) open.replaceWith(item);
      else if (before) transcript.insertBefore(item, before);
      else transcript.appendChild(item);
      if (d.role !== "user") {
        if (open) finished.delete(key);
        else finished.set(key, lastMessage);
        lateBuffer.delete(key);
      }
      item = null;
    } else if (e.type === "node.interrupted") {
      asked.add(d.node_id);
      item = bubble(`question · ${d.node_id}`, d.question || "");
    } else if (e.type === "node.completed") {
      lastOutput = d.output;
      if (asked.has(d.node_id)) {
        asked.delete(d.node_id);
        const values = d.output && typeof d.output === "object" ? Object.values(d.output) : [d.output];
        item = bubble("answer", values.map((v) => (typeof v === "string" ? v : JSON.stringify(v))).join(", "), "msg-user");
      }
    } else if (e.type === "run.succeeded") {
      const out = d.output ?? lastOutput;
      const text = out && typeof out === "object" ? Object.values(out).map((v) => (typeof v === "string" ? v : JSON.stringify(v))).join("\n") : out ?? "";
      // A chat's answer is its last message already: not repeated.
      item = bubble("run succeeded", text === lastMessage ? "" : text, "result");
    } else if (e.type === "run.failed") {
      item = bubble("run failed", d.error || "");
    } else if (e.type === "run.cancelled") {
      item = bubble("run cancelled", "");
    }
    if (item) transcript.appendChild(item);
    transcript.scrollTop = transcript.scrollHeight;
  }

  const seen = new Set();
  let pendingRows = [];
  let scheduled = false;
  function addEvent(e) {
    if (e.seq !== null && e.seq !== undefined) {
      if (seen.has(e.seq)) return;
      seen.add(e.seq);
    }
    addToTranscript(e);
    if (e.type !== "message.delta") {
      pendingRows.push(e);
      if (!scheduled) {
        scheduled = true;
        requestAnimationFrame(() => {
          scheduled = false;
          const fragment = document.createDocumentFragment();
          for (const x of pendingRows) {
            fragment.appendChild(
              h("div", { class: "ev", "data-type": x.type }, h("span", {}, x.seq ?? "live"), h("span", {}, fmtTime(x.ts)), h("span", {}, x.type), h("span", { class: "data" }, JSON.stringify(x.data))),
            );
          }
          pendingRows = [];
          eventsList.appendChild(fragment);
          eventsList.scrollTop = eventsList.scrollHeight;
        });
      }
    }
    if (/^(run|session)\.|^node\.(interrupted|failed|completed)$/.test(e.type)) scheduleReload();
    if (polling && /^(run|node)\./.test(e.type)) pollGraph();
  }

  let reloadTimer = null;
  function scheduleReload() {
    clearTimeout(reloadTimer);
    reloadTimer = setTimeout(() => reload().catch(() => {}), 150);
  }
  cleanups.push(() => clearTimeout(reloadTimer));

  async function reload() {
    if (signal.aborted) return;
    session = await api.get(sbase, undefined, { signal });
    drawHeader();
    drawQuestion();
    followGraph();
    if (polling) pollGraph();
    await drawHistory();
  }

  // Past events first (a page of the log), then live from after the last one.
  drawHeader();
  drawQuestion();
  let since = 0;
  try {
    for (let i = 0; i < 20; i++) {
      const page = await api.get(`${base}/events`, { session_id: sid, since, limit: 1000 }, { signal });
      page.items.forEach(addEvent);
      if (page.next_since === since || page.items.length < 1000) {
        since = page.next_since;
        break;
      }
      since = page.next_since;
    }
  } catch (err) {
    if (!signal.aborted) eventsList.appendChild(errorBox(err));
  }
  const setLive = (on, text) => {
    live.textContent = text;
    live.classList.toggle("on", on);
  };
  const stopEvents = socket.subscribe({ app_id: appId, session_id: sid, since }, addEvent, {
    onReply: () => setLive(true, "live"),
    onError: () => {
      // No WebSocket: the same events over Server-Sent Events, and the graph by polling.
      setLive(true, "live (SSE)");
      pollGraph();
      api.stream(`${base}/events`, { session_id: sid, since }, addEvent, { signal });
    },
  });
  cleanups.push(stopEvents);
  cleanups.push(socket.on("socket.status", ({ status }) => setLive(status === "open", status === "open" ? "live" : "reconnecting")));
  followGraph();
  await drawHistory();
  return () => cleanups.forEach((fn) => fn());
}
