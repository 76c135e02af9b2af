// Entry point: who is signed in, the navigation their roles open, and the
// hash routes (#/inbox, #/casing/A/ID, #/compare/A/ID/B/ID, #/firearm/ID,
// #/case/NUMBER, #/serials). Routing by hash keeps the key out of every
// URL and needs no server route per view.

import { api, storedKey, forgetKey, ApiError } from "./api.js";
import { h, mount, errorBox } from "./dom.js";
import { showSignIn } from "./signin.js";
import { showInbox } from "./inbox.js";
import { showCasing } from "./casing.js";
import { showCompare } from "./compare.js";
import { showSerials, showFirearm, showCase } from "./investigate.js";

/** Sections each role opens; a key with several roles sees their union. */
const SECTIONS = [
  { href: "#/inbox", label: "Lead inbox", roles: ["examiner"] },
  { href: "#/serials", label: "Serial search", roles: ["investigator"] },
];

let me = null;

async function whoami() {
  if (!storedKey()) return null;
  try {
    return await api("/v1/whoami");
  } catch (e) {
    // A refused key is forgotten so the sign-in form shows again; any
    // other failure is shown as is.
    if (e instanceof ApiError && e.status === 401) {
      forgetKey();
      return null;
    }
    throw e;
  }
}

function renderBar() {
  const nav = document.getElementById("nav");
  const who = document.getElementById("who");
  const out = document.getElementById("signout");
  const jump = document.getElementById("jump");
  nav.replaceChildren();
  if (!me) {
    who.textContent = "";
    out.hidden = true;
    jump.hidden = true;
    return;
  }
  const roles = me.roles || [];
  for (const s of SECTIONS) {
    if (s.roles.some((r) => roles.includes(r))) {
      nav.append(h("a", { href: s.href, dataset: { section: s.href.slice(2) } }, s.label));
    }
  }
  jump.hidden = !roles.some((r) => r === "examiner" || r === "investigator");
  who.textContent = `${me.key_name || me.key_id} · ${me.agency}`;
  who.title = `key ${me.key_id}; roles: ${roles.join(", ") || "none"}`;
  out.hidden = false;
  const here = location.hash.split("?")[0];
  for (const a of nav.querySelectorAll("a")) {
    a.classList.toggle("active", here.startsWith(a.getAttribute("href")));
  }
}

function home() {
  const roles = (me && me.roles) || [];
  if (roles.includes("examiner")) return "#/inbox";
  if (roles.includes("investigator")) return "#/serials";
  return "#/none";
}

/** Splits "#/compare/a/b?lead=3" into ["compare","a","b"] and its query. */
function parseHash() {
  const [path, q] = location.hash.replace(/^#\/?/, "").split("?");
  const parts = path.split("/").filter(Boolean).map(decodeURIComponent);
  return { parts, params: new URLSearchParams(q || "") };
}

async function route() {
  if (!me) {
    try {
      me = await whoami();
    } catch (e) {
      mount(errorBox(e));
      return;
    }
  }
  renderBar();
  if (!me) {
    showSignIn(async () => {
      me = null;
      await route();
    });
    return;
  }
  const { parts, params } = parseHash();
  const [view, ...args] = parts;
  document.body.dataset.view = view || "";
  try {
    switch (view) {
      case "inbox":
        return await showInbox(params);
      case "casing":
        return await showCasing(args[0], args[1], me);
      case "compare":
        return await showCompare(
          { agency: args[0], casing_id: args[1] },
          { agency: args[2], casing_id: args[3] },
          params.get("lead"),
          me,
        );
      case "serials":
        return await showSerials(params);
      case "firearm":
        return await showFirearm(args[0]);
      case "case":
        return await showCase(args[0]);
      case "none":
        return mount(h("p", { class: "muted" },
          `This key's roles (${(me.roles || []).join(", ") || "none"}) open no section of the workspace.`));
      default:
        location.replace(home());
    }
  } catch (e) {
    mount(errorBox(e));
  }
}

document.getElementById("signout").addEventListener("click", () => {
  forgetKey();
  me = null;
  location.hash = "#/";
  route();
});

document.getElementById("jump").addEventListener("submit", (ev) => {
  ev.preventDefault();
  const id = document.getElementById("jump-casing").value.trim();
  const agency = document.getElementById("jump-agency").value.trim() || (me && me.agency);
  if (id) location.hash = `#/casing/${encodeURIComponent(agency)}/${encodeURIComponent(id)}`;
});

window.addEventListener("hashchange", route);
route();
