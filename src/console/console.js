// vouch console: a plain ES module, no framework, no build step.
// Every value from the server is rendered with textContent, never as markup.

const main = document.getElementById("main");

// An element with its text (never parsed as HTML) and attributes.
export function el(tag, text, attrs) {
  const e = document.createElement(tag);
  if (text !== undefined && text !== null) e.textContent = String(text);
  for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, v);
  return e;
}

// A time in the browser's zone, with the UTC value on hover.
export function timeEl(iso) {
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return el("span", iso);
  return el("time", d.toLocaleString(), { datetime: iso, title: d.toISOString() });
}

function show(...nodes) {
  main.replaceChildren(...nodes);
}

function start() {
  show(el("h1", "vouch console"),
       el("p", "Sign-in and the console's pages are not served by this version yet; use the API or the CLI.",
          { class: "muted", id: "status", role: "status" }));
}

start();
