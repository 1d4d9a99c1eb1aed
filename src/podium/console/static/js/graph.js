// A flow's graph as SVG, laid out here (no library): cycles are broken by a depth-first
// search (the edges it finds going back, and edges marked `loop`, are drawn as back edges),
// layers are the longest path from a start node, and the order inside each layer comes
// from a few barycenter sweeps. Left to right; one box per node, coloured by status.

import { h, clear } from "./ui.js";

const W = 168;
const H = 52;
const GAP_X = 72;
const GAP_Y = 22;
const PAD = 20;
let drawings = 0;
export const STATUSES = ["pending", "running", "waiting", "succeeded", "failed", "skipped", "cancelled"];

export function layout(nodes, edges) {
  const ids = nodes.map((n) => n.id);
  const known = new Set(ids);
  const usable = edges.filter((e) => known.has(e.source) && known.has(e.target));
  const out = new Map(ids.map((id) => [id, []]));
  const incoming = new Map(ids.map((id) => [id, 0]));
  for (const e of usable) {
    if (e.loop) continue;
    out.get(e.source).push(e);
    incoming.set(e.target, incoming.get(e.target) + 1);
  }
  // Back edges: found by a DFS from the start nodes (no incoming edge), then from the rest.
  const back = new Set();
  const state = new Map(); // 1 on the stack, 2 done
  const visit = (root) => {
    const stack = [[root, 0]];
    state.set(root, 1);
    while (stack.length) {
      const top = stack[stack.length - 1];
      const [id, i] = top;
      const list = out.get(id);
      if (i >= list.length) {
        state.set(id, 2);
        stack.pop();
        continue;
      }
      top[1] += 1;
      const e = list[i];
      const s = state.get(e.target);
      if (s === 1) back.add(e);
      else if (!s) {
        state.set(e.target, 1);
        stack.push([e.target, 0]);
      }
    }
  };
  for (const id of ids) if (!incoming.get(id) && !state.get(id)) visit(id);
  for (const id of ids) if (!state.get(id)) visit(id);
  const forward = usable.filter((e) => !e.loop && !back.has(e));
  // Longest-path layers (Kahn's order over the forward edges).
  const layer = new Map(ids.map((id) => [id, 0]));
  const indeg = new Map(ids.map((id) => [id, 0]));
  for (const e of forward) indeg.set(e.target, indeg.get(e.target) + 1);
  const queue = ids.filter((id) => !indeg.get(id));
  while (queue.length) {
    const id = queue.shift();
    for (const e of forward) {
      if (e.source !== id) continue;
      layer.set(e.target, Math.max(layer.get(e.target), layer.get(id) + 1));
      indeg.set(e.target, indeg.get(e.target) - 1);
      if (!indeg.get(e.target)) queue.push(e.target);
    }
  }
  const count = Math.max(0, ...layer.values()) + 1;
  const layers = Array.from({ length: count }, () => []);
  for (const id of ids) layers[layer.get(id)].push(id);
  // Barycenter ordering: down then up, a few times.
  const pos = new Map();
  const index = () => layers.forEach((l) => l.forEach((id, i) => pos.set(id, i)));
  index();
  const preds = new Map(ids.map((id) => [id, []]));
  const succs = new Map(ids.map((id) => [id, []]));
  for (const e of forward) {
    preds.get(e.target).push(e.source);
    succs.get(e.source).push(e.target);
  }
  const sweep = (l, neighbours) => {
    const bary = (id) => {
      const ns = neighbours.get(id);
      return ns.length ? ns.reduce((sum, n) => sum + pos.get(n), 0) / ns.length : pos.get(id);
    };
    const keyed = l.map((id) => [bary(id), pos.get(id), id]);
    keyed.sort((a, b) => a[0] - b[0] || a[1] - b[1]);
    l.splice(0, l.length, ...keyed.map((k) => k[2]));
    l.forEach((id, i) => pos.set(id, i));
  };
  for (let round = 0; round < 4; round++) {
    for (let i = 1; i < layers.length; i++) sweep(layers[i], preds);
    for (let i = layers.length - 2; i >= 0; i--) sweep(layers[i], succs);
  }
  // Coordinates: each layer a column, centred vertically on the tallest.
  const tallest = Math.max(1, ...layers.map((l) => l.length));
  const height = tallest * H + (tallest - 1) * GAP_Y;
  const at = new Map();
  layers.forEach((l, li) => {
    const colHeight = l.length * H + (l.length - 1) * GAP_Y;
    const top = PAD + 18 + (height - colHeight) / 2;
    l.forEach((id, i) => at.set(id, { x: PAD + li * (W + GAP_X), y: top + i * (H + GAP_Y) }));
  });
  const backEdges = usable.filter((e) => e.loop || back.has(e));
  return {
    at,
    forward,
    back: backEdges,
    width: PAD * 2 + count * W + (count - 1) * GAP_X,
    height: PAD * 2 + 36 + height + (backEdges.length ? 30 : 0),
  };
}

// Draw {nodes, edges} into `container`; statuses: {node_id: status}. Returns a handle with
// updateStatuses(statuses), update(drawing) (nodes/edges with statuses, as the API's
// visualization) and svg. options.onNodeClick(id) makes nodes clickable.
export function renderGraph(container, graph, statuses = {}, options = {}) {
  const nodes = (graph.nodes || []).filter((n) => n && n.id);
  const edges = graph.edges || [];
  const { at, forward, back, width, height } = layout(nodes, edges);
  const arrow = `arrow-${++drawings}`;
  const svg = h("svg", {
    width,
    height,
    viewBox: `0 0 ${width} ${height}`,
    role: "group",
    "aria-label": options.label || `Flow graph: ${nodes.length} nodes`,
  });
  svg.appendChild(
    h(
      "defs",
      {},
      h(
        "marker",
        { id: arrow, viewBox: "0 0 10 10", refX: "9", refY: "5", markerWidth: "7", markerHeight: "7", orient: "auto-start-reverse" },
        h("path", { d: "M 0 0 L 10 5 L 0 10 z" }),
      ),
    ),
  );
  const edgeEls = [];
  const edgeLayer = h("g", { class: "edges" });
  svg.appendChild(edgeLayer);
  for (const e of forward) {
    const a = at.get(e.source);
    const b = at.get(e.target);
    const x1 = a.x + W;
    const y1 = a.y + H / 2;
    const x2 = b.x - 2;
    const y2 = b.y + H / 2;
    const mid = (x1 + x2) / 2;
    const path = h("path", { class: "edge", d: `M ${x1} ${y1} C ${mid} ${y1}, ${mid} ${y2}, ${x2} ${y2}`, "marker-end": `url(#${arrow})` });
    edgeEls.push([e, path]);
    edgeLayer.appendChild(path);
  }
  const bottom = Math.max(0, ...[...at.values()].map((p) => p.y + H));
  back.forEach((e, i) => {
    const a = at.get(e.source);
    const b = at.get(e.target);
    const drop = bottom + 16 + i * 6;
    const x1 = a.x + W / 2;
    const x2 = b.x + W / 2;
    const path = h("path", {
      class: "edge back",
      d: `M ${x1} ${a.y + H} C ${x1} ${drop + 10}, ${x2} ${drop + 10}, ${x2 + 0.01} ${b.y + H + 2}`,
      "marker-end": `url(#${arrow})`,
    });
    edgeEls.push([e, path]);
    edgeLayer.appendChild(path);
  });
  const nodeEls = new Map();
  for (const n of nodes) {
    const p = at.get(n.id);
    const label = n.label || n.id;
    const type = n.type || "";
    const g = h(
      "g",
      {
        class: ["node", options.onNodeClick ? "clickable" : null],
        transform: `translate(${p.x} ${p.y})`,
        "data-node-id": n.id,
        tabindex: options.onNodeClick ? "0" : null,
        role: options.onNodeClick ? "button" : null,
      },
      h("title", {}, `${label} (${type})`),
      h("rect", { width: W, height: H, rx: "8", ry: "8" }),
      h("text", { x: 12, y: 20 }, clip(label, 20)),
      h("text", { x: 12, y: 38, class: "type" }, clip(type, 14)),
      h("text", { x: W - 10, y: 38, class: "state", "text-anchor": "end" }, ""),
    );
    if (options.onNodeClick) {
      const pick = () => options.onNodeClick(n.id);
      g.addEventListener("click", pick);
      g.addEventListener("keydown", (ev) => {
        if (ev.key === "Enter" || ev.key === " ") {
          ev.preventDefault();
          pick();
        }
      });
    }
    nodeEls.set(n.id, g);
    svg.appendChild(g);
  }
  clear(container).appendChild(svg);
  const handle = {
    svg,
    nodeIds: nodes.map((n) => n.id),
    updateStatuses(next) {
      for (const [id, g] of nodeEls) {
        const status = (next || {})[id];
        for (const s of STATUSES) g.classList.remove(`st-${s}`);
        if (status) {
          g.classList.add(`st-${status}`);
          g.setAttribute("data-status", status);
        } else {
          g.removeAttribute("data-status");
        }
        const label = nodes.find((n) => n.id === id);
        g.querySelector("text.state").textContent = status && status !== "pending" ? status : "";
        g.querySelector("title").textContent = `${(label && label.label) || id}: ${status || "not run"}`;
      }
    },
    updateEdges(list) {
      for (const [e, path] of edgeEls) {
        const found = (list || []).find((x) => x.source === e.source && x.target === e.target);
        path.classList.remove("fired", "dead");
        if (found && (found.status === "fired" || found.status === "dead")) path.classList.add(found.status);
      }
    },
    // A drawing as the API's visualization gives it: nodes and edges with their statuses.
    update(drawing) {
      const map = {};
      for (const n of drawing.nodes || []) map[n.id] = n.status;
      handle.updateStatuses(map);
      handle.updateEdges(drawing.edges);
    },
    select(id) {
      for (const [nid, g] of nodeEls) g.classList.toggle("selected", nid === id);
    },
  };
  handle.updateStatuses(statuses);
  container.graph = handle;
  return handle;
}

// updateStatuses(container, statuses) for a container renderGraph drew into.
export function updateStatuses(container, statuses) {
  if (container && container.graph) container.graph.updateStatuses(statuses);
}

// A flow definition's nodes and edges, in the shape renderGraph draws.
export function flowGraph(definition) {
  const nodes = (definition.nodes || []).map((n) => ({ id: n.id, type: n.type, label: n.label || (n.config && n.config.label) || n.id }));
  const edges = (definition.edges || []).map((e) => ({ source: e.source, target: e.target, loop: Boolean(e.loop) }));
  return { nodes, edges };
}

export function legend() {
  return h(
    "div",
    { class: "legend", "aria-hidden": "true" },
    ["pending", "running", "waiting", "succeeded", "failed", "skipped"].map((s) => h("span", { class: ["badge", `s-${s}`] }, s)),
  );
}

function clip(text, n) {
  const s = String(text);
  return s.length > n ? `${s.slice(0, n - 1)}…` : s;
}
