// The comparison view, as on a virtual comparison microscope: the query
// casing (a) and the candidate registered into a's frame (b_registered),
// hill-shaded under a light the examiner moves, side by side or split by a
// swipe line, or as their difference; linked zoom and pan; the cells of the
// fine comparison drawn on both, each cell's registration on hover or
// click; the registration readout; and, for a lead, the conclusion form.

import { api, query, decodeHeights } from "./api.js";
import { h, mount, errorBox, num, lr, casingHref, panel, loading } from "./dom.js";
import { normals, sharedGain, shade, greys, difference } from "./shading.js";
import { LinkedView, Pane } from "./surface.js";
import { conclusionPanel } from "./conclusion.js";

/** Two panes side by side fill the column, within sensible bounds. */
function paneSize(column) {
  return Math.max(240, Math.min(520, Math.floor((column.clientWidth - 10) / 2)));
}

export async function showCompare(a, b, leadId, me) {
  const started = performance.now();
  const title = h("div", { class: "page-head" },
    h("h1", {}, "Comparison ",
      h("a", { href: casingHref(a.agency, a.casing_id) }, a.casing_id),
      h("span", { class: "muted" }, " ⟷ "),
      h("a", { href: casingHref(b.agency, b.casing_id) }, b.casing_id),
      h("span", { class: "muted small" }, `  ${a.agency} · ${b.agency}`)),
    h("span", { class: "muted small", id: "compare-ready" }));
  const body = h("div", {}, loading("the registered pair"));
  const side = h("aside", { class: "side" });
  mount(h("div", { class: "page compare" }, title, h("div", { class: "compare-layout" }, body, side)));

  // The conclusion panel stands on its own: a lead can be concluded (or
  // its blind state seen) even when the images are not this key's to see.
  if (leadId) side.append(await conclusionPanel(leadId));
  else if ((me.roles || []).includes("examiner")) side.append(markLeadPanel(a, b));

  let pair;
  try {
    pair = await api(`/v1/casings/${encodeURIComponent(a.casing_id)}/comparison${query({
      agency: a.agency,
      with: b.casing_id,
      with_agency: b.agency,
    })}`);
  } catch (e) {
    body.replaceChildren(errorBox(e));
    return;
  }
  const view = buildView(pair, a, b, body, side);
  const ms = performance.now() - started;
  document.getElementById("compare-ready").textContent = `ready in ${ms.toFixed(0)} ms`;
  document.body.dataset.compareReadyMs = ms.toFixed(1);
  return view;
}

function markLeadPanel(a, b) {
  const status = h("div");
  const button = h("button", { type: "button", class: "primary", id: "mark-lead" }, "Mark as lead");
  button.addEventListener("click", async () => {
    try {
      const lead = await api("/v1/leads", { method: "POST", body: { query: a, candidate: b } });
      location.hash = `${location.hash.split("?")[0]}?lead=${lead.id}`;
    } catch (e) {
      status.replaceChildren(errorBox(e));
    }
  });
  return panel("Lead", h("p", { class: "muted small" },
    "Mark the pair as a lead to record conclusions on it."), button, status);
}

function buildView(pair, a, b, body, side) {
  const A = { ...pair.a, heights: decodeHeights(pair.a) };
  const B = { ...pair.b_registered, heights: decodeHeights(pair.b_registered) };
  const w = A.width;
  const hgt = A.height;
  const um = A.um_per_px;
  const topo = A.kind !== "photograph";
  const gain = topo ? sharedGain(A, B) : 1;
  const nA = topo ? normals(A.heights, w, hgt, um, gain) : null;
  const nB = topo ? normals(B.heights, B.width, B.height, B.um_per_px, gain) : null;
  const diff = difference(A.heights, B.heights, w, hgt);

  const st = { az: 315, el: 45, mode: "side", split: 0.5, show: true, selected: null, hovered: null };
  let picA = null;
  let picB = null;
  function relight() {
    if (topo) {
      picA = shade(nA, st.az, st.el, picA);
      picB = shade(nB, st.az, st.el, picB);
    } else {
      picA = greys(A.heights, w, hgt, picA);
      picB = greys(B.heights, B.width, B.height, picB);
    }
  }
  relight();

  const cells = cellGeometry(pair.cells || [], w, hgt, um);
  const cellState = () => ({ show: st.show, list: cells, selected: st.selected, hovered: st.hovered });

  const PANE_CSS = paneSize(body);
  const view = new LinkedView(w, PANE_CSS);
  const tip = h("div", { class: "tooltip", hidden: true, id: "cell-tip" });
  const detail = h("div", { id: "cell-detail", class: "cell-detail muted small" }, "Hover or click a cell.");
  const hover = (cell, ev) => {
    st.hovered = cell;
    if (cell && ev) {
      tip.replaceChildren(...cellLines(cell));
      tip.hidden = false;
      const r = panes.getBoundingClientRect();
      tip.style.left = `${ev.clientX - r.left + 14}px`;
      tip.style.top = `${ev.clientY - r.top + 14}px`;
    } else {
      tip.hidden = true;
    }
    view.redraw();
  };
  const pick = (cell) => {
    st.selected = cell;
    detail.replaceChildren(...(cell ? cellLines(cell) : ["Hover or click a cell."]));
    detail.classList.toggle("muted", !cell);
    view.redraw();
  };
  const setSplit = (s) => {
    st.split = s;
    splitInput.value = String(Math.round(s * 1000));
    view.redraw();
  };
  const paneOf = (id, label, layers) => {
    const canvas = h("canvas", { id, class: "surface", width: PANE_CSS, height: PANE_CSS, "aria-label": label });
    canvas.style.width = `${PANE_CSS}px`;
    canvas.style.height = `${PANE_CSS}px`;
    new Pane(view, canvas, { layers, cells: cellState, onHover: hover, onPick: pick, onSplit: setSplit });
    return h("figure", { class: "pane", dataset: { pane: id } }, canvas, h("figcaption", {}, label));
  };
  const figA = paneOf("canvas-a", `a · ${a.casing_id}`, () => ({ left: picA }));
  const figB = paneOf("canvas-b", `b · ${b.casing_id}, registered onto a`, () => ({ left: picB }));
  const figSwipe = paneOf("canvas-swipe", "a | b swipe", () => ({ left: picA, right: picB, split: st.split }));
  const figDiff = paneOf("canvas-diff", `a − b · ±${num(diff.scale, 2)} ${topo ? "µm" : "grey"}`, () => ({ left: diff.canvas }));
  const splitInput = h("input", { type: "range", min: 0, max: 1000, value: 500, id: "split", "aria-label": "Swipe position" });
  splitInput.style.width = `${PANE_CSS}px`;
  splitInput.addEventListener("input", () => setSplit(Number(splitInput.value) / 1000));
  const swipeBox = h("div", { class: "swipe-box" }, figSwipe, splitInput);
  const panes = h("div", { class: "panes" }, figA, figB, swipeBox, figDiff, tip);

  const showMode = () => {
    figA.hidden = st.mode !== "side" && st.mode !== "diff";
    figB.hidden = st.mode !== "side";
    swipeBox.hidden = st.mode !== "swipe";
    // The difference sits beside the swipe too: the space is there.
    figDiff.hidden = st.mode === "side";
    for (const t of tabs.querySelectorAll("button")) t.classList.toggle("on", t.dataset.mode === st.mode);
    view.redraw();
  };
  const tabs = h("div", { class: "tabs", role: "tablist" },
    [["side", "Side by side"], ["swipe", "Swipe"], ["diff", "Difference"]].map(([m, l]) => {
      const btn = h("button", { type: "button", dataset: { mode: m } }, l);
      btn.addEventListener("click", () => {
        st.mode = m;
        showMode();
      });
      return btn;
    }));
  const slider = (id, label, min, max, value, onInput) => {
    const out = h("output", { for: id }, `${value}°`);
    const input = h("input", { type: "range", id, min, max, value, "aria-label": label, disabled: !topo });
    input.addEventListener("input", () => {
      out.textContent = `${input.value}°`;
      onInput(Number(input.value));
      relight();
      view.redraw();
    });
    return h("label", { class: "slider" }, label, input, out);
  };
  const cellsToggle = h("input", { type: "checkbox", id: "show-cells", checked: true });
  cellsToggle.addEventListener("change", () => {
    st.show = cellsToggle.checked;
    view.redraw();
  });
  const reset = h("button", { type: "button", id: "reset-view" }, "Reset view");
  reset.addEventListener("click", () => view.reset());
  const toolbar = h("div", { class: "toolbar" }, tabs,
    slider("azimuth", "Light azimuth", 0, 359, st.az, (v) => (st.az = v)),
    slider("elevation", "elevation", 5, 85, st.el, (v) => (st.el = v)),
    h("label", { class: "check" }, cellsToggle, " cells"),
    h("span", { class: "legend" },
      h("i", { class: "sw congruent" }), "congruent ", h("i", { class: "sw other" }), "other"),
    reset);
  body.replaceChildren(toolbar, panes,
    h("p", { class: "muted small hint" }, "Wheel to zoom, drag to pan (both panes follow), double-click to fit. ",
      topo ? "Relief exaggerated ×" + num(gain, 0) + " for shading." : "Photographs are shown as grey levels; the light does not apply."));
  showMode();

  side.prepend(readout(pair), panel("Cell", detail));
  document.body.dataset.cellsDrawn = String(cells.length);
  return view;
}

/** Cells in surface pixels. Sizes come from the API; older answers without
 * them get the grid's own pitch (cells tile the canvas). */
function cellGeometry(cells, w, hgt, um) {
  const rows = Math.max(1, ...cells.map((c) => c.row + 1));
  const cols = Math.max(1, ...cells.map((c) => c.col + 1));
  return cells.map((c) => ({
    ...c,
    x: c.x_um / um,
    y: c.y_um / um,
    w: (c.width_um ?? (w * um) / cols) / um,
    h: (c.height_um ?? (hgt * um) / rows) / um,
  }));
}

function cellLines(c) {
  return [
    h("div", { class: "strong" }, `cell ${c.row},${c.col} · ${c.congruent ? "congruent" : "not congruent"}`),
    h("div", {}, `ccf ${num(c.ccf, 3)}`),
    h("div", {}, `θ ${num(c.rotation_deg, 2)}°`),
    h("div", {}, `dx ${num(c.dx_um, 1)} µm · dy ${num(c.dy_um, 1)} µm`),
  ];
}

function readout(p) {
  const r = p.registration || {};
  const m = p.marks || {};
  const row = (k, v, id) => h("tr", {}, h("th", {}, k), h("td", { class: "num", id }, v));
  return panel("Registration",
    h("table", { class: "kv", id: "registration" },
      row("rotation", `${num(r.rotation_deg, 2)}°`, "reg-rotation"),
      row("shift x", `${num(r.dx_um, 1)} µm`),
      row("shift y", `${num(r.dy_um, 1)} µm`),
      row("overlap", `${num(100 * (r.overlap_fraction ?? NaN), 1)} %`),
      row("registration NCC", num(r.registration_ncc, 3)),
      row("score", num(p.score, 3), "pair-score"),
      row("log10 LR", lr(p.log10_lr), "pair-lr"),
      row("congruent cells", `${p.congruent_cells ?? "–"} / ${p.valid_cells ?? "–"}`, "pair-cells"),
      m.breech_face !== undefined ? row("breech face", num(m.breech_face, 3)) : null,
      m.firing_pin !== undefined && m.firing_pin !== null ? row("firing pin", num(m.firing_pin, 3)) : null));
}
