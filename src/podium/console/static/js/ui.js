// Small DOM helpers. Text always goes in through textContent (never innerHTML): whatever a
// flow, an agent or a user wrote is shown, never run.

const SVG_NS = "http://www.w3.org/2000/svg";
const SVG_TAGS = new Set(["svg", "g", "path", "rect", "text", "title", "defs", "marker", "circle", "line", "tspan"]);

// h("button", {class: "primary", onclick: fn, "aria-label": "Save"}, "Save", ...)
export function h(tag, attrs, ...children) {
  const el = SVG_TAGS.has(tag) ? document.createElementNS(SVG_NS, tag) : document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (key.startsWith("on") && typeof value === "function") {
      el.addEventListener(key.slice(2).toLowerCase(), value);
    } else if (key === "class") {
      el.setAttribute("class", Array.isArray(value) ? value.filter(Boolean).join(" ") : value);
    } else if (key === "dataset") {
      for (const [name, v] of Object.entries(value)) el.dataset[name] = v;
    } else if (key === "value" && "value" in el && !SVG_TAGS.has(tag)) {
      el.value = value;
    } else if (key === "checked" || key === "selected" || key === "disabled") {
      el[key] = Boolean(value);
      if (value) el.setAttribute(key, "");
    } else {
      el.setAttribute(key, value === true ? "" : String(value));
    }
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const child of children) {
    if (child === undefined || child === null || child === false) continue;
    if (Array.isArray(child)) append(el, child);
    else if (child instanceof Node) el.appendChild(child);
    else el.appendChild(document.createTextNode(String(child)));
  }
}

export function clear(el) {
  while (el.firstChild) el.removeChild(el.firstChild);
  return el;
}

// table([{label, render(row) | key, class?}], rows, {caption, empty}) → <table>
export function table(columns, rows, options = {}) {
  const body = h("tbody");
  const tableEl = h(
    "table",
    { class: ["data", options.class] },
    options.caption ? h("caption", { class: options.captionVisible ? "" : "sr-only" }, options.caption) : null,
    h("thead", {}, h("tr", {}, columns.map((c) => h("th", { scope: "col" }, c.label)))),
    body,
  );
  const addRows = (more) => {
    const fragment = document.createDocumentFragment();
    for (const row of more) fragment.appendChild(rowEl(columns, row));
    body.appendChild(fragment);
  };
  if (!rows.length && options.empty) {
    body.appendChild(h("tr", {}, h("td", { colspan: columns.length, class: "empty" }, options.empty)));
  }
  addRows(rows);
  tableEl.addRows = (more) => {
    const empty = body.querySelector("td.empty");
    if (empty && more.length) empty.parentNode.remove();
    addRows(more);
  };
  tableEl.prependRow = (row) => {
    const empty = body.querySelector("td.empty");
    if (empty) empty.parentNode.remove();
    body.insertBefore(rowEl(columns, row), body.firstChild);
  };
  return tableEl;
}

function rowEl(columns, row) {
  return h(
    "tr",
    {},
    columns.map((c) => {
      const value = c.render ? c.render(row) : row[c.key];
      return h("td", { class: c.class }, value === undefined || value === null ? "" : value);
    }),
  );
}

let fieldCounter = 0;

// formFields([{name, label, type?, value?, required?, options?, placeholder?, help?}]) → elements
// (a <label> for each control). type: text, password, email, textarea, select, checkbox, number.
export function formFields(fields) {
  return fields.map((f) => {
    const id = `f${++fieldCounter}-${f.name}`;
    let control;
    const common = {
      id,
      name: f.name,
      required: f.required,
      placeholder: f.placeholder,
      autocomplete: f.autocomplete,
      "aria-describedby": f.help ? `${id}-help` : null,
    };
    if (f.type === "textarea") {
      control = h("textarea", { ...common, rows: f.rows || 4, class: f.mono ? "mono" : null });
      control.value = f.value === undefined ? "" : f.value;
    } else if (f.type === "select") {
      control = h(
        "select",
        common,
        (f.options || []).map((o) => {
          const [value, label] = Array.isArray(o) ? o : [o, o];
          return h("option", { value, selected: String(value) === String(f.value ?? "") }, label);
        }),
      );
    } else if (f.type === "checkbox") {
      control = h("input", { ...common, type: "checkbox", checked: f.value });
      return h("div", { class: "field check" }, control, h("label", { for: id }, f.label));
    } else {
      control = h("input", { ...common, type: f.type || "text", value: f.value ?? "" });
    }
    return h(
      "div",
      { class: "field" },
      h("label", { for: id }, f.label),
      control,
      f.help ? h("p", { class: "help", id: `${id}-help` }, f.help) : null,
    );
  });
}

// The named values of a <form> (checkboxes as booleans).
export function formValues(form) {
  const values = {};
  for (const el of form.elements) {
    if (!el.name) continue;
    values[el.name] = el.type === "checkbox" ? el.checked : el.value;
  }
  return values;
}

let toastRegion = null;

// Drop the toasts of the page being left.
export function clearToasts() {
  if (toastRegion) clear(toastRegion);
}

export function toast(message, kind = "info") {
  if (!toastRegion) {
    toastRegion = h("div", { class: "toasts", role: "status", "aria-live": "polite" });
    document.body.appendChild(toastRegion);
  }
  const item = h("div", { class: ["toast", kind] }, message);
  toastRegion.appendChild(item);
  setTimeout(() => item.remove(), kind === "error" ? 8000 : 4000);
}

// A JSON value, pretty-printed as text.
export function jsonView(value, options = {}) {
  let text;
  try {
    text = JSON.stringify(value, null, 2);
  } catch {
    text = String(value);
  }
  return h("pre", { class: ["json", options.class], tabindex: options.focusable === false ? null : "0" }, text ?? "null");
}

export function timeAgo(ts) {
  if (!ts) return "";
  const seconds = Math.max(0, Date.now() / 1000 - ts);
  const span = (n, unit) => `${Math.floor(n)} ${unit}${Math.floor(n) === 1 ? "" : "s"} ago`;
  let text;
  if (seconds < 5) text = "just now";
  else if (seconds < 60) text = span(seconds, "second");
  else if (seconds < 3600) text = span(seconds / 60, "minute");
  else if (seconds < 86400) text = span(seconds / 3600, "hour");
  else text = span(seconds / 86400, "day");
  return h("time", { datetime: new Date(ts * 1000).toISOString(), title: new Date(ts * 1000).toLocaleString() }, text);
}

export function fmtTime(ts) {
  if (!ts) return "";
  return new Date(ts * 1000).toLocaleTimeString([], { hour12: false });
}

export function errorBox(err) {
  const message = err && err.message ? err.message : String(err);
  const problems = err && err.details && Array.isArray(err.details.problems) ? err.details.problems : [];
  return h(
    "div",
    { class: "error-box", role: "alert" },
    h("strong", {}, err && err.code && err.code !== "error" ? `${err.code}: ` : "Error: "),
    message,
    problems.length
      ? h("ul", {}, problems.map((p) => h("li", {}, typeof p === "string" ? p : JSON.stringify(p))))
      : null,
  );
}

export function badge(status) {
  return h("span", { class: ["badge", `s-${status}`] }, status || "—");
}

export function link(href, ...children) {
  return h("a", { href }, ...children);
}

// A page heading block: <h1> with optional subtitle and actions.
export function pageHeader(title, { subtitle, actions } = {}) {
  return h(
    "header",
    { class: "page-header" },
    h("div", {}, h("h1", {}, title), subtitle ? h("p", { class: "subtitle" }, subtitle) : null),
    actions ? h("div", { class: "actions" }, actions) : null,
  );
}

export function section(title, ...children) {
  return h("section", { class: "card" }, h("h2", {}, title), ...children);
}

// Run `action` from a button: disables it meanwhile, shows a toast on error.
export async function busy(button, action) {
  button.disabled = true;
  try {
    return await action();
  } catch (err) {
    toast(err.message || String(err), "error");
    return undefined;
  } finally {
    button.disabled = false;
  }
}

export function shortId(id) {
  return id ? (id.length > 14 ? `${id.slice(0, 12)}…` : id) : "";
}
