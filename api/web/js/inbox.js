// The lead inbox: the caller's agency's leads, best first, filtered by
// case, calibre, date and status, with the counts that show the backlog.
// Filters live in the hash (#/inbox?status=lead&calibre=...), so a view
// can be bookmarked without the key.

import { api, query } from "./api.js";
import { h, mount, errorBox, num, lr, date, casingHref, compareHref, loading } from "./dom.js";

const STATUSES = [
  ["lead", "Open"],
  ["hit", "Hits"],
  ["excluded", "Excluded"],
  ["any", "All"],
];

const COUNT_LABELS = [
  ["lead", "open"],
  ["needs_verification", "awaiting verification"],
  ["disagreement", "disagreements"],
  ["hit", "hits"],
  ["excluded", "excluded"],
];

/** yyyy-mm-dd from a date input as the start (or end) of that UTC day. */
function dayBound(value, end) {
  if (!value) return undefined;
  return end ? `${value}T23:59:59Z` : `${value}T00:00:00Z`;
}

export async function showInbox(params) {
  const f = {
    status: params.get("status") || "lead",
    case_number: params.get("case_number") || "",
    calibre: params.get("calibre") || "",
    since: params.get("since") || "",
    until: params.get("until") || "",
    sort: params.get("sort") || "lr",
  };
  const form = filterForm(f);
  const body = h("div", {}, loading("leads"));
  mount(h("div", { class: "page inbox" },
    h("div", { class: "page-head" }, h("h1", {}, "Lead inbox"), form),
    body));
  let answer;
  try {
    answer = await api(`/v1/leads${query({
      status: f.status,
      case_number: f.case_number,
      calibre: f.calibre,
      since: dayBound(f.since, false),
      until: dayBound(f.until, true),
      sort: f.sort,
      limit: 200,
    })}`);
  } catch (e) {
    body.replaceChildren(errorBox(e));
    return;
  }
  body.replaceChildren(counts(answer.counts || {}, f), leadTable(answer.leads || [], answer.total));
}

function filterForm(f) {
  const status = h("select", { name: "status", "aria-label": "Status" },
    STATUSES.map(([v, l]) => h("option", { value: v, selected: v === f.status }, l)));
  const sort = h("select", { name: "sort", "aria-label": "Sort" },
    h("option", { value: "lr", selected: f.sort === "lr" }, "best LR"),
    h("option", { value: "score", selected: f.sort === "score" }, "best score"));
  const form = h("form", { class: "filters", id: "inbox-filters" },
    status,
    h("input", { name: "case_number", value: f.case_number, placeholder: "case", "aria-label": "Case number" }),
    h("input", { name: "calibre", value: f.calibre, placeholder: "calibre", "aria-label": "Calibre" }),
    h("label", {}, "from ", h("input", { type: "date", name: "since", value: f.since })),
    h("label", {}, "to ", h("input", { type: "date", name: "until", value: f.until })),
    sort,
    h("button", { type: "submit" }, "Filter"));
  form.addEventListener("submit", (ev) => {
    ev.preventDefault();
    const data = new FormData(form);
    location.hash = `#/inbox${query(Object.fromEntries(data.entries()))}`;
  });
  return form;
}

function counts(c, f) {
  return h("div", { class: "counts", id: "lead-counts" },
    COUNT_LABELS.map(([k, label]) => {
      const link = k === "lead" || k === "hit" || k === "excluded";
      const n = c[k] ?? 0;
      const chip = [h("b", {}, String(n)), ` ${label}`];
      return link
        ? h("a", { class: `chip${f.status === k ? " on" : ""}`, href: `#/inbox${query({ ...f, status: k })}`, dataset: { count: k } }, chip)
        : h("span", { class: `chip${n > 0 && k === "disagreement" ? " warn" : ""}`, dataset: { count: k } }, chip);
    }));
}

function verificationCell(l) {
  const v = l.verification || {};
  const label = {
    none: "not examined",
    awaiting: "awaiting verification",
    agree: "verified",
    disagree: "disagreement",
  }[v.state] || v.state || "–";
  return h("span", { class: `tag ${v.needs_third ? "warn" : v.state || ""}` },
    v.needs_third ? "needs third examiner" : label);
}

function leadTable(leads, total) {
  if (leads.length === 0) {
    return h("p", { class: "muted empty", id: "no-leads" }, "No leads match these filters.");
  }
  const rows = leads.map((l) => {
    const href = compareHref(l.query, l.candidate, l.id);
    const tr = h("tr", { class: "row-link", dataset: { lead: l.id } },
      h("td", { class: "num" }, String(l.id)),
      h("td", { class: "num strong" }, lr(l.log10_lr)),
      h("td", { class: "num" }, num(l.score)),
      h("td", {}, h("a", { href: casingHref(l.query.agency, l.query.casing_id) }, l.query.casing_id),
        l.query.agency !== l.agency ? h("span", { class: "muted" }, ` ${l.query.agency}`) : null),
      h("td", {}, h("a", { href: casingHref(l.candidate.agency, l.candidate.casing_id) }, l.candidate.casing_id),
        h("span", { class: "muted" }, ` ${l.candidate.agency}`)),
      h("td", {}, l.case_number ? h("a", { href: `#/case/${encodeURIComponent(l.case_number)}` }, l.case_number) : "–"),
      h("td", {}, l.calibre || "–"),
      h("td", { class: "nowrap" }, date(l.created_at || l.marked_at)),
      h("td", {}, verificationCell(l)),
      h("td", {}, h("span", { class: `tag ${l.status}` }, l.conclusion || l.status)),
      h("td", {}, h("a", { class: "button small", href }, "Compare")));
    tr.addEventListener("click", (ev) => {
      if (!(ev.target instanceof HTMLAnchorElement)) location.hash = href;
    });
    return tr;
  });
  return h("div", {},
    h("table", { class: "grid", id: "leads" },
      h("thead", {}, h("tr", {},
        ["#", "log10 LR", "score", "query", "candidate", "case", "calibre", "created", "verification", "status", ""]
          .map((t) => h("th", {}, t)))),
      h("tbody", {}, rows)),
    h("p", { class: "muted small" }, `${leads.length} of ${total ?? leads.length} shown`));
}
