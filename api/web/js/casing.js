// A casing: its record (metadata, evidence hash), a rendering of its
// prepared comparison canvas, and its ranked candidates with score, LR,
// congruent cells and per-mark scores, each a link to the comparison.

import { api, query, decodeHeights } from "./api.js";
import { h, mount, errorBox, num, lr, date, casingHref, compareHref, panel, loading } from "./dom.js";
import { normals, shade, greys } from "./shading.js";

export async function showCasing(agency, casingId, me) {
  const q = query({ agency });
  const id = encodeURIComponent(casingId);
  const meta = h("div", {}, loading("the casing"));
  const picture = h("div", { class: "surface-box" }, loading("the surface"));
  const cands = h("div", {}, loading("candidates"));
  mount(h("div", { class: "page casing" },
    h("div", { class: "page-head" }, h("h1", {}, "Casing ", casingId, h("span", { class: "muted small" }, `  ${agency}`))),
    h("div", { class: "casing-layout" },
      h("div", {}, panel("Record", meta), panel("Prepared surface", picture)),
      panel("Candidates", cands))));
  // Three independent reads: each shows its own answer or its own error.
  await Promise.all([
    api(`/v1/casings/${id}${q}`).then((c) => meta.replaceChildren(record(c)), (e) => meta.replaceChildren(errorBox(e))),
    api(`/v1/casings/${id}/surface${query({ agency, format: "heights" })}`)
      .then((s) => picture.replaceChildren(render(s)), (e) => picture.replaceChildren(errorBox(e))),
    api(`/v1/casings/${id}/candidates${query({ agency, limit: 20 })}`)
      .then((l) => cands.replaceChildren(candidateTable({ agency, casing_id: casingId }, l.candidates || [], me)),
        (e) => cands.replaceChildren(errorBox(e))),
  ]);
}

function record(c) {
  const row = (k, v) => h("tr", {}, h("th", {}, k), h("td", {}, v ?? "–"));
  const meta = Object.entries(c.metadata || {}).map(([k, v]) => row(k, typeof v === "string" ? v : JSON.stringify(v)));
  return h("table", { class: "kv", id: "casing-record" },
    row("case", c.case_number ? h("a", { href: `#/case/${encodeURIComponent(c.case_number)}` }, c.case_number) : "–"),
    row("calibre", c.calibre),
    row("kind", c.kind),
    row("file", `${c.file_name} (${c.format}, ${c.surface_kind})`),
    row("scan", `${c.width} × ${c.height} px at ${num(c.um_per_px, 3)} µm/px`),
    row("SHA-256", h("code", { class: "hash", id: "casing-sha256" }, c.sha256)),
    row("submitted", `${c.submitted_by} · ${date(c.submitted_at)}`),
    meta);
}

function render(s) {
  const heights = decodeHeights(s);
  const pic = s.kind === "photograph"
    ? greys(heights, s.width, s.height)
    : shade(normals(heights, s.width, s.height, s.um_per_px), 315, 45);
  const shown = h("canvas", { id: "casing-surface", class: "surface", width: 320, height: 320 });
  const ctx = shown.getContext("2d");
  ctx.imageSmoothingEnabled = true;
  ctx.drawImage(pic, 0, 0, 320, 320);
  return h("figure", {}, shown,
    h("figcaption", { class: "muted small" },
      `${s.width} × ${s.height} px at ${s.um_per_px} µm/px · ${s.kind} · light 315°/45°`));
}

function candidateTable(self, list, me) {
  if (list.length === 0) return h("p", { class: "muted empty", id: "no-candidates" }, "No candidates among the casings this key may correlate with.");
  const examiner = (me.roles || []).includes("examiner");
  return h("table", { class: "grid", id: "candidates" },
    h("thead", {}, h("tr", {}, ["rank", "casing", "agency", "score", "log10 LR", "cells", "breech face", "firing pin", ""].map((t) => h("th", {}, t)))),
    h("tbody", {}, list.map((c, i) => h("tr", { dataset: { candidate: c.casing_id, agency: c.agency, rank: i + 1 } },
      h("td", { class: "num" }, String(i + 1)),
      h("td", {}, h("a", { href: casingHref(c.agency, c.casing_id) }, c.casing_id)),
      h("td", {}, c.agency),
      h("td", { class: "num strong" }, num(c.score)),
      h("td", { class: "num", title: c.lr_withheld || c.calibration || "" }, lr(c.log10_lr)),
      h("td", { class: "num" }, `${c.congruent_cells}/${c.valid_cells}`),
      h("td", { class: "num" }, num(c.marks && c.marks.breech_face)),
      h("td", { class: "num" }, num(c.marks && c.marks.firing_pin)),
      h("td", {}, examiner ? h("a", { class: "button small", href: compareHref(self, c) }, "Compare") : null)))));
}
