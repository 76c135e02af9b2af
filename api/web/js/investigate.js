// The investigator's views: serial search (exact, pattern with ? and *,
// fuzzy), a firearm's history as a timeline (events, time-to-crime,
// linked cases and casings), and a case's linked cases.

import { api, query } from "./api.js";
import { h, mount, errorBox, date, casingHref, panel, loading } from "./dom.js";

const KIND_LABEL = {
  manufacture: "Manufacture",
  import: "Import",
  dealer_sale: "Dealer sale",
  multiple_sale: "Multiple sale",
  theft: "Theft",
  loss: "Loss",
  recovery: "Recovery",
  test_fire: "Test fire",
};

export async function showSerials(params) {
  const serial = params.get("serial") || "";
  const mode = params.get("mode") || "";
  const form = h("form", { class: "filters", id: "serial-form" },
    h("input", { name: "serial", value: serial, placeholder: "serial, e.g. RP-0012* or A?3", required: true, "aria-label": "Serial" }),
    h("select", { name: "mode", "aria-label": "Mode" },
      [["", "auto (exact, or pattern with ? *)"], ["exact", "exact"], ["pattern", "pattern"], ["fuzzy", "fuzzy"]]
        .map(([v, l]) => h("option", { value: v, selected: v === mode }, l))),
    h("input", { name: "max_edits", type: "number", min: 0, max: 3, value: params.get("max_edits") || "", placeholder: "edits", "aria-label": "Most edits (fuzzy)" }),
    h("button", { type: "submit" }, "Search"));
  form.addEventListener("submit", (ev) => {
    ev.preventDefault();
    location.hash = `#/serials${query(Object.fromEntries(new FormData(form).entries()))}`;
  });
  const out = h("div");
  mount(h("div", { class: "page" }, h("div", { class: "page-head" }, h("h1", {}, "Serial search"), form), out));
  if (!serial) return;
  out.append(loading("matches"));
  try {
    const r = await api(`/v1/firearms${query({ serial, mode, max_edits: params.get("max_edits") })}`);
    out.replaceChildren(h("p", { class: "muted small" }, `${r.matches.length} match(es), ${r.mode} search for “${r.query}”`),
      r.matches.length ? h("table", { class: "grid", id: "serial-matches" },
        h("thead", {}, h("tr", {}, ["serial", "normalised", "edits", "make", "model", "calibre", "agency", ""].map((t) => h("th", {}, t)))),
        h("tbody", {}, r.matches.map((m) => h("tr", {},
          h("td", {}, h("a", { href: `#/firearm/${m.firearm.id}` }, m.firearm.serial)),
          h("td", { class: "mono" }, m.firearm.serial_normalised),
          h("td", { class: "num" }, String(m.distance)),
          h("td", {}, m.firearm.make || "–"),
          h("td", {}, m.firearm.model || "–"),
          h("td", {}, m.firearm.calibre || "–"),
          h("td", {}, m.firearm.agency),
          h("td", {}, h("a", { class: "button small", href: `#/firearm/${m.firearm.id}` }, "History")))))) : null);
  } catch (e) {
    out.replaceChildren(errorBox(e));
  }
}

export async function showFirearm(id) {
  mount(loading("the firearm's history"));
  let r;
  try {
    r = await api(`/v1/firearms/${encodeURIComponent(id)}/history`);
  } catch (e) {
    mount(errorBox(e));
    return;
  }
  const f = r.firearm;
  const ttc = Object.fromEntries((r.time_to_crime || []).map((t) => [t.recovery_event_id, t.days]));
  const events = [...r.events].sort((a, b) => (a.date < b.date ? -1 : a.date > b.date ? 1 : a.id - b.id));
  mount(h("div", { class: "page firearm" },
    h("div", { class: "page-head" }, h("h1", {}, "Firearm ", h("span", { class: "mono" }, f.serial)),
      h("span", { class: "muted" }, [f.make, f.model, f.type, f.calibre].filter(Boolean).join(" · "))),
    h("div", { class: "firearm-layout" },
      panel("Timeline", timeline(events, ttc), eventList(events, ttc)),
      h("div", {},
        panel("Firearm", h("table", { class: "kv" },
          [["serial", f.serial], ["normalised", f.serial_normalised], ["make", f.make], ["model", f.model], ["type", f.type],
            ["calibre", f.calibre], ["country", f.country], ["importer", f.importer], ["obliterated", f.obliterated ? `yes (restored: ${f.restored_chars || "–"})` : "no"],
            ["agency", f.agency]].map(([k, v]) => h("tr", {}, h("th", {}, k), h("td", {}, v ?? "–"))))),
        panel("Linked cases", links(r.linked_cases, (c) => h("a", { href: `#/case/${encodeURIComponent(c)}` }, c), "linked-cases")),
        panel("Linked casings", links(r.linked_casings, (c) => h("a", { href: casingHref(c.agency, c.casing_id) }, `${c.casing_id} (${c.agency})`), "linked-casings")),
        panel("Hits", links(r.hits, (l) => h("span", {}, `#${l.id} `, h("a", { href: casingHref(l.query.agency, l.query.casing_id) }, l.query.casing_id),
          " ⟷ ", h("a", { href: casingHref(l.candidate.agency, l.candidate.casing_id) }, l.candidate.casing_id)), "hits"))))));
}

function links(list, one, id) {
  if (!list || !list.length) return h("p", { class: "muted small" }, "None.");
  return h("ul", { class: "plain", id }, list.map((x) => h("li", {}, one(x))));
}

/**
 * Events on a time axis, drawn as SVG (built node by node: no markup).
 * Labels go into four lanes, two above the axis and two below, each event
 * taking the lane whose last label is farthest away, so events days apart
 * stay legible.
 */
function timeline(events, ttc) {
  const NS = "http://www.w3.org/2000/svg";
  const svg = (tag, attrs, text) => {
    const el = document.createElementNS(NS, tag);
    for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, String(v));
    if (text !== undefined) el.textContent = text;
    return el;
  };
  const W = 640;
  const H = 170;
  const AXIS = 88;
  const root = svg("svg", { viewBox: `0 0 ${W} ${H}`, class: "timeline", id: "timeline", role: "img", "aria-label": "Event timeline" });
  if (!events.length) return root;
  const t = (e) => Date.parse(`${e.date}T00:00:00Z`);
  const t0 = t(events[0]);
  const t1 = Math.max(t(events[events.length - 1]), t0 + 86400000);
  const x = (ms) => 40 + ((W - 80) * (ms - t0)) / (t1 - t0);
  root.append(svg("line", { x1: 20, y1: AXIS, x2: W - 20, y2: AXIS, class: "axis" }));
  for (const year of yearsBetween(t0, t1)) {
    const xx = x(year.t);
    root.append(svg("line", { x1: xx, y1: AXIS - 4, x2: xx, y2: AXIS + 4, class: "tick" }));
    root.append(svg("text", { x: xx + 3, y: AXIS + 13, class: "year" }, String(year.y)));
  }
  // Lane label heights: above near, below near, above far, below far.
  const lanes = [AXIS - 30, AXIS + 40, AXIS - 62, AXIS + 72];
  const last = lanes.map(() => -Infinity);
  for (const e of events) {
    const cx = x(t(e));
    let lane = 0;
    for (let i = 1; i < lanes.length; i++) if (cx - last[i] > cx - last[lane] + (i > 1 ? 30 : 0)) lane = i;
    const free = lanes.findIndex((_, i) => cx - last[i] > 90);
    if (free >= 0) lane = free;
    last[lane] = cx;
    const ly = lanes[lane];
    const up = ly < AXIS;
    // Labels centred on an event near either end would run off the
    // drawing: there they end (or start) at the event instead.
    const edge = cx > W - 90 ? " at-end" : cx < 90 ? " at-start" : "";
    root.append(svg("line", { x1: cx, y1: AXIS, x2: cx, y2: up ? ly + 4 : ly - 22, class: "stem" }));
    root.append(svg("circle", { cx, cy: AXIS, r: 5, class: `dot ${e.kind}` }));
    root.append(svg("text", { x: cx, y: up ? ly : ly - 10, class: `label${edge}` }, KIND_LABEL[e.kind] || e.kind));
    root.append(svg("text", { x: cx, y: up ? ly - 12 : ly + 2, class: `when${edge}` }, e.date));
    if (ttc[e.id] !== undefined && ttc[e.id] !== null) {
      root.append(svg("text", { x: cx, y: up ? ly - 24 : ly + 14, class: `ttc${edge}` }, `time to crime ${ttc[e.id]} d`));
    }
  }
  return root;
}

function yearsBetween(t0, t1) {
  const out = [];
  const first = new Date(t0).getUTCFullYear() + 1;
  const last = new Date(t1).getUTCFullYear();
  const step = Math.max(1, Math.ceil((last - first + 1) / 10));
  for (let y = first; y <= last; y += step) out.push({ y, t: Date.UTC(y, 0, 1) });
  return out;
}

function eventList(events, ttc) {
  return h("table", { class: "grid", id: "events" },
    h("thead", {}, h("tr", {}, ["date", "event", "place", "licensee / holder", "casing", "time to crime"].map((t) => h("th", {}, t)))),
    h("tbody", {}, events.map((e) => h("tr", { dataset: { kind: e.kind } },
      h("td", { class: "nowrap" }, e.date),
      h("td", {}, h("span", { class: `tag ev ${e.kind}` }, KIND_LABEL[e.kind] || e.kind), e.crime_code ? ` ${e.crime_code}` : ""),
      h("td", {}, e.place || "–", e.acting_agency ? h("span", { class: "muted" }, ` (${e.acting_agency})`) : null),
      h("td", {}, e.licensee_id || e.possessor || "–"),
      h("td", {}, e.casing ? h("a", { href: casingHref(e.casing.agency, e.casing.casing_id) }, e.casing.casing_id) : "–"),
      h("td", { class: "num" }, ttc[e.id] !== undefined && ttc[e.id] !== null ? `${ttc[e.id]} d` : "")))));
}

export async function showCase(number) {
  mount(loading(`case ${number}`));
  let r;
  try {
    r = await api(`/v1/cases/${encodeURIComponent(number)}/history`);
  } catch (e) {
    mount(errorBox(e));
    return;
  }
  mount(h("div", { class: "page case" },
    h("div", { class: "page-head" }, h("h1", {}, "Case ", r.case_number)),
    h("div", { class: "columns" },
      panel("Linked cases", links(r.linked_cases, (c) => h("a", { href: `#/case/${encodeURIComponent(c)}` }, c), "case-linked")),
      panel("Casings", links(r.casings, (c) => h("span", {}, h("a", { href: casingHref(c.agency, c.casing_id) }, c.casing_id),
        h("span", { class: "muted" }, ` ${c.agency} · ${c.calibre || "–"} · ${date(c.submitted_at)}`)), "case-casings")),
      panel("Firearms", links(r.firearms, (f) => h("a", { href: `#/firearm/${f.id}` }, `${f.serial} ${[f.make, f.model].filter(Boolean).join(" ")}`), "case-firearms")),
      panel("Leads", links(r.leads, (l) => h("span", {}, `#${l.id} ${l.status} · `,
        h("a", { href: casingHref(l.query.agency, l.query.casing_id) }, l.query.casing_id), " ⟷ ",
        h("a", { href: casingHref(l.candidate.agency, l.candidate.casing_id) }, l.candidate.casing_id)), "case-leads")))));
}
