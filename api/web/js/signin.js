// Sign-in: the key is typed or pasted into a password field, checked with
// GET /v1/whoami, and kept in sessionStorage only.

import { api, storeKey, forgetKey } from "./api.js";
import { h, mount, errorBox } from "./dom.js";

export function showSignIn(onSignedIn) {
  const input = h("input", {
    id: "key",
    type: "password",
    name: "key",
    autocomplete: "off",
    spellcheck: "false",
    placeholder: "ct_…",
    required: true,
    "aria-label": "API key",
  });
  const status = h("div", { class: "status" });
  const form = h("form", { id: "signin", class: "signin panel" },
    h("h1", {}, "Sign in"),
    h("p", { class: "muted" },
      "Paste your API key. It is kept for this browser session only and sent to this server alone."),
    h("label", { for: "key" }, "API key"),
    input,
    h("button", { type: "submit", class: "primary" }, "Sign in"),
    status,
  );
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const key = input.value.trim();
    status.replaceChildren();
    try {
      await api("/v1/whoami", { key });
      storeKey(key);
      input.value = "";
      await onSignedIn();
    } catch (e) {
      forgetKey();
      status.replaceChildren(errorBox(e));
    }
  });
  mount(form);
  input.focus();
}
