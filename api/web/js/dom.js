// Small helpers to build the page from data without innerHTML, so nothing
// the server sends is ever parsed as markup.

/** h("a", {href: "#/x", class: "c"}, "text", child...) */
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith("on") && typeof v === "function") el.addEventListener(k.slice(2), v);
    else if (k === "dataset") {
      for (const [dk, dv] of Object.entries(v)) if (dv !== undefined && dv !== null) el.dataset[dk] = dv;
    }
    else if (v === true) el.setAttribute(k, "");
    else el.setAttribute(k, String(v));
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const c of children) {
    if (c === undefined || c === null || c === false) continue;
    if (Array.isArray(c)) append(el, c);
    else el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
}

/** Replaces the main view's content and returns it. */
export function mount(...children) {
  const view = document.getElementById("view");
  view.replaceChildren();
  append(view, children);
  return view;
}

/** The API's message, shown as it came. */
export function errorBox(err) {
  const code = err && err.code ? `${err.code}: ` : "";
  return h("div", { class: "error", role: "alert", dataset: { code: err && err.code, status: err && err.status } },
    h("strong", {}, err && err.status ? `${err.status} ` : ""), code, err ? err.message : "error");
}

export function num(v, digits = 3) {
  return v === null || v === undefined || Number.isNaN(v) ? "–" : Number(v).toFixed(digits);
}

/** log10 LR as written in reports: sign and two decimals. */
export function lr(v) {
  if (v === null || v === undefined) return "–";
  return `${v >= 0 ? "+" : ""}${Number(v).toFixed(2)}`;
}

export function date(v) {
  if (!v) return "–";
  return String(v).replace("T", " ").replace(/\.\d+/, "").replace("Z", " UTC");
}

export function casingHref(agency, id) {
  return `#/casing/${encodeURIComponent(agency)}/${encodeURIComponent(id)}`;
}

export function compareHref(a, b, lead) {
  const base = `#/compare/${encodeURIComponent(a.agency)}/${encodeURIComponent(a.casing_id)}` +
    `/${encodeURIComponent(b.agency)}/${encodeURIComponent(b.casing_id)}`;
  return lead ? `${base}?lead=${lead}` : base;
}

/** A titled panel. */
export function panel(title, ...children) {
  return h("section", { class: "panel" }, title ? h("h2", {}, title) : null, ...children);
}

export function loading(what) {
  return h("p", { class: "muted loading" }, `Loading ${what}…`);
}
