// A lead's conclusions on the AFTE range, recorded by examiners one by
// one. The server decides who may see what: a verifier gets the number of
// conclusions already recorded but not their content ("conclusions_hidden")
// until they have recorded their own, and this panel shows just that.

import { api } from "./api.js";
import { h, errorBox, date, panel, lr, num } from "./dom.js";

export const CONCLUSIONS = [
  ["identification", "Identification"],
  ["inconclusive_a", "Inconclusive A (some agreement)"],
  ["inconclusive_b", "Inconclusive B (no sufficient agreement or disagreement)"],
  ["inconclusive_c", "Inconclusive C (some disagreement)"],
  ["elimination", "Elimination"],
  ["unsuitable", "Unsuitable for comparison"],
];

const LABEL = Object.fromEntries(CONCLUSIONS);

export async function conclusionPanel(leadId) {
  const box = panel(`Lead #${leadId}`);
  box.id = "lead-panel";
  try {
    fill(box, await api(`/v1/leads/${encodeURIComponent(leadId)}`));
  } catch (e) {
    box.append(errorBox(e));
  }
  return box;
}

function fill(box, lead) {
  const v = lead.verification || { state: "none", needs_third: false };
  const mine = lead.conclusions || [];
  const hidden = lead.conclusions_hidden || 0;
  box.replaceChildren(
    h("h2", {}, `Lead #${lead.id}`),
    h("table", { class: "kv" },
      h("tr", {}, h("th", {}, "status"), h("td", { id: "lead-status" }, h("span", { class: `tag ${lead.status}` }, lead.status),
        lead.conclusion ? ` (${lead.conclusion})` : "")),
      h("tr", {}, h("th", {}, "verification"), h("td", { id: "lead-verification" },
        v.needs_third ? h("span", { class: "tag warn" }, "disagreement: needs a third examiner") : v.state)),
      h("tr", {}, h("th", {}, "score / log10 LR"), h("td", { class: "num" }, `${num(lead.score)} / ${lr(lead.log10_lr)}`)),
      h("tr", {}, h("th", {}, "marked"), h("td", {}, `${lead.marked_by} · ${date(lead.marked_at)}`)),
      lead.decided_by ? h("tr", {}, h("th", {}, "decided"), h("td", {}, `${lead.decided_by} · ${date(lead.decided_at)}`)) : null),
    hidden > 0
      ? h("p", { class: "blind", id: "conclusions-hidden" },
        `${hidden} conclusion${hidden > 1 ? "s" : ""} recorded by others, hidden until you record yours (blind verification).`)
      : null,
    mine.length ? h("ol", { class: "conclusions", id: "conclusions" }, mine.map((c) =>
      h("li", { dataset: { role: c.role, conclusion: c.conclusion } },
        h("b", {}, LABEL[c.conclusion] || c.conclusion), ` · ${c.role} · ${c.examiner} (${c.agency}) · ${date(c.at)}`,
        c.notes ? h("div", { class: "notes" }, c.notes) : null))) : null,
    form(box, lead),
  );
}

function form(box, lead) {
  const status = h("div");
  const notes = h("textarea", { name: "notes", rows: 3, placeholder: "Notes: features observed, quality, limitations", "aria-label": "Notes" });
  const f = h("form", { id: "conclusion-form", class: "conclusion-form" },
    h("fieldset", {}, h("legend", {}, "Your conclusion"),
      CONCLUSIONS.map(([v, l]) => h("label", { class: "radio" },
        h("input", { type: "radio", name: "conclusion", value: v, required: true }), ` ${l}`))),
    notes,
    h("button", { type: "submit", class: "primary" }, "Record conclusion"),
    status);
  f.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const choice = new FormData(f).get("conclusion");
    try {
      const updated = await api(`/v1/leads/${lead.id}/conclusions`, {
        method: "POST",
        body: { conclusion: choice, notes: notes.value },
      });
      fill(box, updated);
      box.dataset.recorded = "1";
    } catch (e) {
      status.replaceChildren(errorBox(e));
    }
  });
  return f;
}
