/**
 * The connect form's stylesheet and script, and the host page's script (`/connect.js`). Plain
 * browser JavaScript, served as files so the pages' Content-Security-Policy allows no inline code.
 */

/** On the form page: format checks as the customer types, a submit without reloading, and messages to the host page, only ever to the session's origin. */
export const FORM_SCRIPT = String.raw`(() => {
  "use strict";
  const origin = document.body.dataset.origin || "";
  const host = window.parent !== window ? window.parent : window.opener;
  // Messages go to the session's origin only: a page on any other origin receives nothing.
  const tell = (message) => {
    if (host && origin) host.postMessage(Object.assign({ source: "keyway" }, message), origin);
  };
  window.addEventListener("message", (event) => {
    if (event.origin !== origin || !event.data || event.data.source !== "keyway-host") return;
    if (event.data.type === "close") tell({ type: "close" });
  });
  const form = document.querySelector("form[data-connector]");
  tell({ type: "ready" });
  if (!form) return;
  const outcome = document.getElementById("outcome");
  const button = form.querySelector("button[type=submit]");
  const cancel = form.querySelector("[data-close]");
  if (host && cancel) {
    cancel.hidden = false;
    cancel.addEventListener("click", () => tell({ type: "close" }));
  }
  const problemOf = (input) => document.getElementById(input.id + "-problem");
  const show = (input, problem) => {
    const slot = problemOf(input);
    if (slot) slot.textContent = problem;
    input.setAttribute("aria-invalid", problem ? "true" : "false");
  };
  // The same rules the server applies: a pattern matches the whole value.
  const formatProblem = (input) => {
    const value = input.value;
    if (value === "") return "";
    if (input.hasAttribute("data-no-whitespace") && /\s/.test(value)) return "Remove the spaces: copy the value without them.";
    if (input.minLength > 0 && value.length < input.minLength) return "Too short: at least " + input.minLength + " characters.";
    if (input.maxLength > 0 && value.length > input.maxLength) return "Too long: at most " + input.maxLength + " characters.";
    const pattern = input.dataset.pattern;
    if (pattern) {
      let expression;
      try { expression = new RegExp("^(?:" + pattern + ")$", "u"); } catch (_) { expression = undefined; }
      if (expression && !expression.test(value)) {
        return input.dataset.hint ? "Expected " + input.dataset.hint + "." : "This does not look like the expected format.";
      }
    }
    return "";
  };
  const inputs = () => Array.from(form.querySelectorAll("input:not([type=hidden]), select"));
  for (const input of inputs()) input.addEventListener("input", () => show(input, formatProblem(input)));
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    let first;
    for (const input of inputs()) {
      const problem = input.required && input.value === "" ? "Required." : formatProblem(input);
      show(input, problem);
      if (problem && !first) first = input;
    }
    if (first) {
      first.focus();
      return;
    }
    button.disabled = true;
    outcome.textContent = "Testing the connection...";
    let answer;
    try {
      const response = await fetch(form.action, {
        method: "POST",
        body: new URLSearchParams(new FormData(form)),
        headers: { accept: "application/json" },
        credentials: "same-origin",
      });
      answer = await response.json();
    } catch (_) {
      answer = { ok: false, code: "unreachable", message: "Keyway could not be reached. Try again.", problems: {} };
    }
    button.disabled = false;
    if (answer.html) outcome.innerHTML = answer.html;
    else outcome.textContent = answer.message || "";
    let refused;
    for (const [field, problem] of Object.entries(answer.problems || {})) {
      const input = form.querySelector('[name="' + CSS.escape(field) + '"]');
      if (input) show(input, problem);
      if (input && !refused) refused = input;
    }
    // The button was disabled while the check ran, which dropped the focus: the outcome takes it.
    if (answer.ok) {
      outcome.focus();
      tell({ type: "connect", connectionId: answer.connectionId });
      if (!host && answer.returnUrl) {
        const url = new URL(answer.returnUrl);
        url.searchParams.set("connection", answer.connectionId);
        window.location.assign(url.href);
      }
      return;
    }
    tell({ type: "error", code: answer.code, message: answer.message });
    // A failed test keeps what was typed, apart from the secrets.
    for (const input of form.querySelectorAll("input[type=password]")) input.value = "";
    (refused || outcome).focus();
  });
})();
`

/**
 * On the host application's page: `Keyway.connect({ token, mode, onEvent })` opens the form in an
 * iframe (default) or a popup, reports ready, connect, error and close to `onEvent`, and resolves
 * with the result. It accepts messages only from Keyway's origin and from the window it opened.
 */
export const CONNECT_SCRIPT = String.raw`(() => {
  "use strict";
  const script = document.currentScript;
  const keywayOrigin = new URL(script.src).origin;
  const connect = (options) => {
    const token = options.token;
    const mode = options.mode || "iframe";
    const onEvent = options.onEvent || (() => {});
    const url = keywayOrigin + "/connect/" + encodeURIComponent(token);
    let frame;
    let popup;
    if (mode === "popup") {
      popup = window.open(url, "keyway-connect", "width=560,height=780");
    } else {
      frame = document.createElement("iframe");
      frame.src = url;
      frame.title = "Connect a service";
      frame.style.cssText = "position:fixed;inset:0;width:100%;height:100%;border:0;z-index:2147483647;background:#fff";
      document.body.appendChild(frame);
    }
    const source = () => (frame ? frame.contentWindow : popup);
    return new Promise((resolve) => {
      const finish = (result) => {
        window.removeEventListener("message", listener);
        if (frame) frame.remove();
        if (popup) popup.close();
        resolve(result);
      };
      const listener = (event) => {
        if (event.origin !== keywayOrigin || event.source !== source()) return;
        const data = event.data;
        if (!data || data.source !== "keyway") return;
        const message = Object.assign({}, data);
        delete message.source;
        onEvent(message);
        if (message.type === "connect") finish({ type: "connect", connectionId: message.connectionId });
        else if (message.type === "close") finish({ type: "close" });
      };
      window.addEventListener("message", listener);
    });
  };
  window.Keyway = { connect };
})();
`

export const FORM_STYLE = `
:root { color-scheme: light; font-family: system-ui, sans-serif; line-height: 1.5; color: #1a1a1a; }
body { margin: 0; background: #f6f6f4; }
main { max-width: 36rem; margin: 0 auto; padding: 1.5rem; background: #fff; min-height: 100vh; box-sizing: border-box; }
h1 { font-size: 1.5rem; margin: 0 0 1rem; }
h2 { font-size: 1.1rem; margin: 1.5rem 0 0.5rem; }
.field { margin: 1rem 0; }
label { display: block; font-weight: 600; }
.optional { font-weight: 400; color: #555; }
input, select { width: 100%; box-sizing: border-box; padding: 0.6rem; font-size: 1rem; border: 1px solid #767676; border-radius: 4px; }
input:focus, select:focus, button:focus, a:focus { outline: 3px solid #1a5fb4; outline-offset: 2px; }
input[aria-invalid=true] { border-color: #a51d2d; }
.help { margin: 0.25rem 0 0; color: #4a4a4a; font-size: 0.9rem; }
.problem { margin: 0.25rem 0 0; color: #a51d2d; font-size: 0.9rem; min-height: 0; }
.actions { display: flex; gap: 0.75rem; margin-top: 1.5rem; }
button { padding: 0.65rem 1.2rem; font-size: 1rem; border-radius: 4px; border: 0; background: #1a5fb4; color: #fff; cursor: pointer; }
button.secondary { background: #fff; color: #1a5fb4; border: 1px solid #1a5fb4; }
button:disabled { background: #6b6b6b; }
#outcome { margin-top: 1rem; }
.success { border-left: 4px solid #26a269; padding: 0.5rem 1rem; background: #eef8f1; }
.failure { border-left: 4px solid #a51d2d; padding: 0.5rem 1rem; background: #fbeeee; }
fieldset { border: 1px solid #ccc; border-radius: 4px; padding: 0 1rem; }
a { color: #1a5fb4; }
`
