// vouch console: a plain ES module, no framework, no build step.
// Every value from the server is rendered with textContent, never as markup.
// The API token typed at sign-in is held in this module's memory only (never in
// localStorage, sessionStorage or a cookie): a reload signs out.  Server-side
// sessions with a cookie replace it in the next step (docs/console.md).

const main = document.getElementById("main");
const nav = document.getElementById("nav");

const state = { tenant: null, token: null, me: null };

// ---- rendering helpers ---------------------------------------------------------------------

// An element with its text (never parsed as HTML) and attributes.
export function el(tag, text, attrs) {
  const e = document.createElement(tag);
  if (text !== undefined && text !== null) e.textContent = String(text);
  for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, v);
  return e;
}

function add(parent, ...children) {
  for (const c of children) parent.append(c);
  return parent;
}

// A time in the browser's zone, with the UTC value on hover.
export function timeEl(iso) {
  if (!iso) return el("span", "—");
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return el("span", iso);
  return el("time", d.toLocaleString(), { datetime: iso, title: d.toISOString() });
}

function show(...nodes) {
  main.replaceChildren(...nodes);
  main.focus({ preventScroll: true });
  window.scrollTo(0, 0);
}

function errorBox(message) {
  return el("p", message, { class: "error", role: "alert" });
}

// A table of rows: columns are [header, row => text or Node].
function table(columns, rows, caption) {
  const t = el("table");
  if (caption) t.append(el("caption", caption));
  const head = add(el("thead"), add(el("tr"), ...columns.map(([h]) => el("th", h, { scope: "col" }))));
  const body = el("tbody");
  for (const r of rows) {
    const tr = el("tr");
    for (const [h, f] of columns) {
      const v = f(r);
      const td = el("td", null, { "data-label": h });
      if (v instanceof Node) td.append(v); else td.textContent = v === null || v === undefined ? "" : String(v);
      tr.append(td);
    }
    body.append(tr);
  }
  if (rows.length === 0) {
    body.append(add(el("tr"), el("td", "nothing", { colspan: String(columns.length), class: "muted" })));
  }
  return add(t, head, body);
}

// ---- the API -------------------------------------------------------------------------------

class ApiError extends Error {
  constructor(status, body) {
    super(body && (body.detail || body.error) ? `${status}: ${body.detail || body.error}` : `HTTP ${status}`);
    this.status = status;
  }
}

async function api(method, path, body) {
  const headers = { Authorization: "Bearer " + state.token };
  const init = { method, headers, credentials: "same-origin", cache: "no-store" };
  if (body !== undefined) {
    headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  const r = await fetch(`/api/v1/t/${encodeURIComponent(state.tenant)}${path}`, init);
  const type = r.headers.get("Content-Type") || "";
  let data = null;
  if (type.startsWith("application/json")) data = await r.json();
  else data = await r.text();
  if (!r.ok) throw new ApiError(r.status, typeof data === "object" ? data : null);
  return data;
}

// Whether the signed-in principal may call this route of the tenant (from GET /me).
function may(method, path) {
  return state.me.routes.some((r) => r.method === method && r.path === "/api/v1/t/{tenant}" + path);
}

// ---- sign-in ---------------------------------------------------------------------------------

function signInPage(message) {
  nav.replaceChildren();
  const form = el("form", null, { id: "signin", autocomplete: "off" });
  const tenant = el("input", null, { id: "tenant", name: "tenant", required: "", value: "default",
                                     autocomplete: "off", spellcheck: "false" });
  const token = el("input", null, { id: "token", name: "token", type: "password", required: "",
                                    autocomplete: "off", spellcheck: "false" });
  add(form,
      add(el("p"), add(el("label", "Tenant ", { for: "tenant" })), tenant),
      add(el("p"), add(el("label", "API token ", { for: "token" })), token),
      add(el("p"), el("button", "Sign in", { type: "submit" })));
  const status = el("div", null, { id: "signin-status" });
  if (message) status.append(errorBox(message));
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    state.tenant = tenant.value.trim();
    state.token = token.value.trim();
    token.value = "";
    status.replaceChildren(el("p", "Signing in…", { role: "status" }));
    try {
      state.me = await api("GET", "/me");
    } catch (e) {
      state.token = null;
      status.replaceChildren(errorBox("Sign-in refused: " + e.message));
      return;
    }
    route();
  });
  show(el("h1", "Sign in"), form, status,
       el("p", "The token stays in this page's memory only: reloading the page signs out.", { class: "muted" }));
}

function signOut() {
  state.token = null;
  state.me = null;
  location.hash = "";
  signInPage();
}

// ---- navigation ------------------------------------------------------------------------------

const pages = [
  { id: "dashboard", title: "Dashboard", allowed: () => true, render: dashboardPage },
  { id: "certificates", title: "Certificates", allowed: () => may("GET", "/certificates"), render: certificatesPage },
  { id: "approvals", title: "Approvals", allowed: () => may("GET", "/requests"), render: approvalsPage },
  { id: "audit", title: "Audit", allowed: () => may("GET", "/audit"), render: auditPage },
];

function navBar(current) {
  const links = pages.filter((p) => p.allowed()).map((p) => {
    const a = el("a", p.title, { href: "#" + p.id, id: "nav-" + p.id });
    if (p.id === current) a.setAttribute("aria-current", "page");
    return a;
  });
  const who = el("span", `${state.me.principal} @ ${state.me.tenant} (${state.me.roles.join(", ")})`,
                 { class: "who", id: "who" });
  const out = el("button", "Sign out", { type: "button", id: "signout" });
  out.addEventListener("click", signOut);
  nav.replaceChildren(...links, who, out);
}

function route() {
  if (!state.me) return signInPage();
  const [id, arg] = decodeURIComponent(location.hash.slice(1)).split("/");
  const page = pages.find((p) => p.id === id && p.allowed()) || pages[0];
  navBar(page.id);
  page.render(arg).catch((e) => show(el("h1", page.title), errorBox(e.message)));
}

// ---- dashboard -------------------------------------------------------------------------------

async function section(title, load) {
  const s = add(el("section"), el("h2", title));
  try {
    s.append(await load());
  } catch (e) {
    s.append(errorBox(e.message));
  }
  return s;
}

async function dashboardPage() {
  const parts = [el("h1", "Dashboard")];
  if (may("GET", "/cas")) {
    parts.push(await section("Certificate authorities", async () => {
      const { cas } = await api("GET", "/cas");
      return table([["name", (c) => c.name], ["status", (c) => c.status], ["subject", (c) => c.subject],
                    ["parent", (c) => c.parent], ["expires", (c) => timeEl(c.not_after)]], cas);
    }));
  }
  if (may("GET", "/reports/{name}")) {
    parts.push(await section("Certificates by status (last 30 days)", async () => {
      const rep = await api("GET", "/reports/certificates");
      const by = {};
      for (const r of rep.rows) by[r.status] = (by[r.status] || 0) + r.count;
      return table([["status", (r) => r[0]], ["count", (r) => r[1]]], Object.entries(by));
    }));
  }
  if (may("GET", "/reports/{name}")) {
    parts.push(await section("CRL and OCSP freshness", async () => {
      const rep = await api("GET", "/reports/freshness");
      const iso = (t) => (t ? timeEl(t) : "—");
      return table([["CA", (r) => r.ca], ["CRL number", (r) => r.crl_number],
                    ["CRL next update", (r) => iso(r.crl_next_update)],
                    ["OCSP responses", (r) => r.ocsp_responses], ["OCSP unsigned", (r) => r.ocsp_unsigned],
                    ["OCSP soonest next update", (r) => iso(r.ocsp_soonest_next_update)]], rep.rows);
    }));
  }
  if (may("GET", "/certificates/expiring")) {
    parts.push(await section("Expiring in 30 days", async () => {
      const data = await api("GET", "/certificates/expiring?days=30");
      const list = data.certificates || [];
      return table([["serial", (c) => c.serial], ["subject", (c) => c.subject],
                    ["expires", (c) => timeEl(c.not_after)]], list.slice(0, 20));
    }));
  }
  if (may("GET", "/requests")) {
    parts.push(await section("Pending approvals", async () => {
      const data = await api("GET", "/requests?status=pending&limit=20");
      return table([["id", (r) => r.id], ["kind", (r) => r.kind], ["requester", (r) => r.requester],
                    ["made", (r) => timeEl(r.created)]], data.requests || []);
    }));
  }
  show(...parts);
}

// ---- certificates ----------------------------------------------------------------------------

const PAGE = 20;
const REASONS = ["unspecified", "keyCompromise", "cACompromise", "affiliationChanged", "superseded",
                 "cessationOfOperation", "privilegeWithdrawn", "aACompromise"];

async function certificatesPage(serial) {
  if (serial) return certificatePage(serial);
  const form = el("form", null, { id: "cert-search", role: "search" });
  const fields = {};
  for (const [name, label] of [["serial", "Serial"], ["subject", "Subject"], ["san", "SAN"]]) {
    fields[name] = el("input", null, { id: "q-" + name, name, spellcheck: "false" });
    form.append(add(el("label", label + " ", { for: "q-" + name })), fields[name], document.createTextNode(" "));
  }
  fields.status = el("select", null, { id: "q-status", name: "status" });
  for (const s of ["", "good", "revoked", "hold"]) fields.status.append(el("option", s || "any status", { value: s }));
  add(form, add(el("label", "Status ", { for: "q-status" })), fields.status, el("button", "Search", { type: "submit" }));
  const results = el("div", null, { id: "cert-results" });
  let offset = 0;
  async function load() {
    const q = new URLSearchParams({ limit: String(PAGE), offset: String(offset) });
    for (const [k, f] of Object.entries(fields)) if (f.value.trim()) q.set(k, f.value.trim());
    results.replaceChildren(el("p", "Searching…", { role: "status" }));
    try {
      const data = await api("GET", "/certificates?" + q);
      const link = (c) => el("a", c.serial, { href: "#certificates/" + c.serial });
      const t = table([["serial", link], ["subject", (c) => c.subject], ["CA", (c) => c.ca],
                       ["profile", (c) => c.profile], ["status", (c) => c.status],
                       ["expires", (c) => timeEl(c.not_after)]], data.certificates);
      const pager = el("p", `${data.total} in all`, { class: "pager" });
      if (offset > 0) {
        const prev = el("button", "Previous", { type: "button" });
        prev.addEventListener("click", () => { offset = Math.max(0, offset - PAGE); load(); });
        pager.append(" ", prev);
      }
      if (data.next_offset !== null && data.next_offset !== undefined) {
        const next = el("button", "Next", { type: "button" });
        next.addEventListener("click", () => { offset = data.next_offset; load(); });
        pager.append(" ", next);
      }
      results.replaceChildren(t, pager);
    } catch (e) {
      results.replaceChildren(errorBox(e.message));
    }
  }
  form.addEventListener("submit", (ev) => { ev.preventDefault(); offset = 0; load(); });
  show(el("h1", "Certificates"), form, results);
  await load();
}

function download(name, type, data) {
  const url = URL.createObjectURL(new Blob([data], { type }));
  const a = el("a", null, { href: url, download: name });
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10000);
}

function pemToDer(pem) {
  const b64 = pem.replace(/-----[^-]+-----/g, "").replace(/\s+/g, "");
  return Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
}

async function certificatePage(serial) {
  const c = await api("GET", "/certificates/" + encodeURIComponent(serial));
  const dl = el("dl", null, { id: "cert-detail" });
  for (const [k, v] of [["Serial", c.serial], ["Subject", c.subject], ["SANs", (c.sans || []).join(", ")],
                        ["CA", c.ca], ["Profile", `${c.profile} (version ${c.profile_version})`],
                        ["Status", c.status], ["Not before", timeEl(c.not_before)],
                        ["Not after", timeEl(c.not_after)], ["Revoked at", timeEl(c.revoked_at)],
                        ["Reason", c.reason], ["Renewed from", c.renewed_from]]) {
    const dd = el("dd");
    if (v instanceof Node) dd.append(v); else dd.textContent = v === null || v === undefined ? "—" : String(v);
    add(dl, el("dt", k), dd);
  }
  const downloads = el("p", null, { class: "downloads" });
  for (const [label, f] of [
    ["PEM", () => download(c.serial + ".pem", "application/x-pem-file", c.certificate)],
    ["DER", () => download(c.serial + ".der", "application/pkix-cert", pemToDer(c.certificate))],
    ["Chain", () => download(c.serial + "-chain.pem", "application/x-pem-file", c.certificate + (c.chain || ""))],
  ]) {
    const b = el("button", "Download " + label, { type: "button" });
    b.addEventListener("click", f);
    downloads.append(b, " ");
  }
  const actions = el("div", null, { id: "cert-actions" });
  const status = el("div", null, { id: "cert-action-status" });
  const act = async (path, body, what) => {
    status.replaceChildren(el("p", what + "…", { role: "status" }));
    try {
      await api("POST", `/certificates/${encodeURIComponent(c.serial)}/${path}`, body);
      await certificatePage(c.serial);
      document.getElementById("cert-action-status").replaceChildren(el("p", what + ": done", { role: "status" }));
    } catch (e) {
      status.replaceChildren(errorBox(e.message));
    }
  };
  if (c.status !== "revoked" && may("POST", "/certificates/{serial}/revoke")) {
    const form = el("form", null, { id: "revoke" });
    const reason = el("select", null, { id: "revoke-reason" });
    for (const r of REASONS) reason.append(el("option", r, { value: r }));
    add(form, add(el("label", "Reason ", { for: "revoke-reason" })), reason, " ",
        el("button", "Revoke", { type: "submit", id: "revoke-button" }));
    form.addEventListener("submit", (ev) => {
      ev.preventDefault();
      if (confirm(`Revoke ${c.serial} (${reason.value})? This cannot be undone.`)) act("revoke", { reason: reason.value }, "Revoke");
    });
    actions.append(form);
  }
  if (c.status === "good" && may("POST", "/certificates/{serial}/suspend")) {
    const b = el("button", "Suspend", { type: "button", id: "suspend-button" });
    b.addEventListener("click", () => act("suspend", {}, "Suspend"));
    actions.append(b);
  }
  if (c.status === "hold" && may("POST", "/certificates/{serial}/reinstate")) {
    const b = el("button", "Reinstate", { type: "button", id: "reinstate-button" });
    b.addEventListener("click", () => act("reinstate", {}, "Reinstate"));
    actions.append(b);
  }
  show(add(el("p"), el("a", "← Certificates", { href: "#certificates" })),
       el("h1", "Certificate " + c.serial), dl, downloads, actions, status);
}

// ---- a CSR's subject, decoded for the approver ---------------------------------------------

// One DER TLV at bytes[i]: { tag, start (of the value), end }.
function tlv(bytes, i) {
  const tag = bytes[i];
  let len = bytes[i + 1];
  let start = i + 2;
  if (len & 0x80) {
    const n = len & 0x7f;
    if (n < 1 || n > 3) throw new Error("bad length");
    len = 0;
    for (let k = 0; k < n; k++) len = len * 256 + bytes[start + k];
    start += n;
  }
  if (start + len > bytes.length) throw new Error("truncated");
  return { tag, start, end: start + len };
}

function children(bytes, t) {
  const out = [];
  for (let i = t.start; i < t.end; ) {
    const c = tlv(bytes, i);
    out.push(c);
    i = c.end;
  }
  return out;
}

const NAMES = { "2.5.4.3": "CN", "2.5.4.6": "C", "2.5.4.7": "L", "2.5.4.8": "ST", "2.5.4.10": "O",
                "2.5.4.11": "OU", "2.5.4.5": "serialNumber", "1.2.840.113549.1.9.1": "emailAddress" };

function oidText(bytes, t) {
  const b = bytes.subarray(t.start, t.end);
  const parts = [Math.floor(b[0] / 40), b[0] % 40];
  let v = 0;
  for (let k = 1; k < b.length; k++) {
    v = v * 128 + (b[k] & 0x7f);
    if (!(b[k] & 0x80)) { parts.push(v); v = 0; }
  }
  return parts.join(".");
}

// "CN=..., O=..." of a PEM CSR's subject, or null when it does not parse.
function csrSubject(pem) {
  try {
    const der = pemToDer(pem);
    const req = tlv(der, 0);
    const info = children(der, req)[0];
    const subject = children(der, info)[1];
    const rdns = [];
    for (const set of children(der, subject)) {
      for (const atv of children(der, set)) {
        const [oid, value] = children(der, atv);
        const raw = der.subarray(value.start, value.end);
        const text = value.tag === 0x1e
          ? String.fromCharCode(...Array.from({ length: raw.length / 2 }, (_, k) => raw[2 * k] * 256 + raw[2 * k + 1]))
          : new TextDecoder().decode(raw);
        const o = oidText(der, oid);
        rdns.push(`${NAMES[o] || o}=${text}`);
      }
    }
    return rdns.join(", ");
  } catch (e) {
    return null;
  }
}

// ---- approvals -------------------------------------------------------------------------------

function progress(r) {
  const got = Array.isArray(r.approvals) ? r.approvals.length : r.approved;
  return got === undefined || got === null ? String(r.required ?? "") : `${got} of ${r.required}`;
}

async function approvalsPage(id) {
  if (id) return requestPage(id);
  const form = el("form", null, { id: "req-search" });
  const status = el("select", null, { id: "req-status" });
  for (const s of ["pending", "done", "rejected", "failed", "expired", ""]) {
    status.append(el("option", s || "any status", { value: s }));
  }
  add(form, add(el("label", "Status ", { for: "req-status" })), status, el("button", "Show", { type: "submit" }));
  const results = el("div", null, { id: "req-results" });
  let offset = 0;
  async function load() {
    const q = new URLSearchParams({ limit: String(PAGE), offset: String(offset) });
    if (status.value) q.set("status", status.value);
    results.replaceChildren(el("p", "Loading…", { role: "status" }));
    try {
      const data = await api("GET", "/requests?" + q);
      const list = data.requests || [];
      const link = (r) => el("a", r.id, { href: "#approvals/" + r.id });
      const pager = el("p", null, { class: "pager" });
      if (offset > 0) {
        const prev = el("button", "Previous", { type: "button" });
        prev.addEventListener("click", () => { offset = Math.max(0, offset - PAGE); load(); });
        pager.append(prev);
      }
      if (list.length === PAGE) {
        const next = el("button", "Next", { type: "button" });
        next.addEventListener("click", () => { offset += PAGE; load(); });
        pager.append(next);
      }
      results.replaceChildren(table([["request", link], ["kind", (r) => r.kind], ["object", (r) => r.object],
                                     ["requester", (r) => r.requester], ["status", (r) => r.status],
                                     ["approvals", progress], ["made", (r) => timeEl(r.created)]], list), pager);
    } catch (e) {
      results.replaceChildren(errorBox(e.message));
    }
  }
  form.addEventListener("submit", (ev) => { ev.preventDefault(); offset = 0; load(); });
  const mine = state.me.routes.find((r) => r.path.endsWith("/requests") && r.method === "GET");
  show(el("h1", "Approvals"),
       el("p", mine && mine.own_only ? "Your own requests." : "The tenant's requests.", { class: "muted" }),
       form, results);
  await load();
}

async function requestPage(id) {
  const r = await api("GET", "/requests/" + encodeURIComponent(id));
  const dl = el("dl", null, { id: "req-detail" });
  for (const [k, v] of [["Request", r.id], ["Kind", r.kind], ["Object", r.object], ["Requester", r.requester],
                        ["Status", r.status], ["Approvals", progress(r)],
                        ["Approvers", (r.approvers || []).join(", ") || "any who may approve"],
                        ["Made", timeEl(r.created)], ["Expires", timeEl(r.expires)],
                        ["Decided", timeEl(r.decided)], ["Reason", r.reason]]) {
    const dd = el("dd");
    if (v instanceof Node) dd.append(v); else dd.textContent = v === null || v === undefined || v === "" ? "—" : String(v);
    add(dl, el("dt", k), dd);
  }
  const csr = r.params && r.params.op && r.params.op.csr;
  if (typeof csr === "string") {
    const subject = csrSubject(csr);
    add(dl, el("dt", "Requested subject"), el("dd", subject === null ? "(the CSR does not parse)" : subject, { id: "req-subject" }));
  }
  const decided = table([["by", (a) => a.by], ["when", (a) => timeEl(a.time)]], r.approvals || [], "Approved by");
  const content = el("pre", JSON.stringify(r.params, null, 2), { id: "req-params", class: "json" });
  const parts = [add(el("p"), el("a", "← Approvals", { href: "#approvals" })), el("h1", "Request " + r.id), dl,
                 decided, el("h2", "Content"), content];
  if (r.result) parts.push(el("h2", "Result"), el("pre", JSON.stringify(r.result, null, 2), { id: "req-result", class: "json" }));
  const status = el("div", null, { id: "req-action-status" });
  if (r.status === "pending" && may("POST", "/requests/{request}/approve")) {
    const approve = el("button", "Approve", { type: "button", id: "approve-button" });
    approve.addEventListener("click", async () => {
      status.replaceChildren(el("p", "Approving…", { role: "status" }));
      try {
        await api("POST", `/requests/${encodeURIComponent(r.id)}/approve`, {});
        await requestPage(r.id);
        document.getElementById("req-action-status").replaceChildren(el("p", "Approve: done", { role: "status" }));
      } catch (e) {
        status.replaceChildren(errorBox(e.message));
      }
    });
    const form = el("form", null, { id: "reject" });
    const reason = el("input", null, { id: "reject-reason", required: "", maxlength: "1000" });
    add(form, add(el("label", "Reason ", { for: "reject-reason" })), reason, " ",
        el("button", "Reject", { type: "submit", id: "reject-button" }));
    form.addEventListener("submit", async (ev) => {
      ev.preventDefault();
      status.replaceChildren(el("p", "Rejecting…", { role: "status" }));
      try {
        await api("POST", `/requests/${encodeURIComponent(r.id)}/reject`, { reason: reason.value });
        await requestPage(r.id);
        document.getElementById("req-action-status").replaceChildren(el("p", "Reject: done", { role: "status" }));
      } catch (e) {
        status.replaceChildren(errorBox(e.message));
      }
    });
    parts.push(add(el("div", null, { id: "req-actions" }), approve, form));
  }
  parts.push(status);
  show(...parts);
}

// ---- audit -----------------------------------------------------------------------------------

async function auditPage() {
  const verify = el("button", "Verify the chain", { type: "button", id: "verify-button" });
  const verdict = el("div", null, { id: "verify-result", role: "status" });
  verify.addEventListener("click", async () => {
    verdict.replaceChildren(el("p", "Verifying…"));
    try {
      const v = await api("GET", "/audit/verify");
      verdict.replaceChildren(v.ok
        ? el("p", `Chain verified: ${v.count} events, ${v.checkpoints} signed checkpoints (last at ${v.last_checkpoint ?? "—"}).`, { class: "ok" })
        : errorBox(`Chain broken at event ${v.first_bad_seq}: ${v.reason}`));
    } catch (e) {
      verdict.replaceChildren(errorBox(e.message));
    }
  });
  const form = el("form", null, { id: "audit-filter" });
  const filter = el("input", null, { id: "audit-text", spellcheck: "false" });
  add(form, add(el("label", "Show events containing ", { for: "audit-text" })), filter,
      el("button", "Filter", { type: "submit" }));
  const results = el("div", null, { id: "audit-results" });
  const starts = [0];
  async function load() {
    const after = starts[starts.length - 1];
    results.replaceChildren(el("p", "Loading…", { role: "status" }));
    try {
      const text = await api("GET", `/audit?after=${after}&limit=50`);
      const events = String(text).split("\n").filter((l) => l.trim()).map((l) => JSON.parse(l));
      const needle = filter.value.trim().toLowerCase();
      const shown = needle ? events.filter((e) => JSON.stringify(e).toLowerCase().includes(needle)) : events;
      const detail = (e) => (e.detail === undefined || e.detail === null ? "" :
        typeof e.detail === "string" ? e.detail : JSON.stringify(e.detail));
      const pager = el("p", `events ${after + 1}–${after + events.length}`, { class: "pager" });
      if (starts.length > 1) {
        const prev = el("button", "Previous", { type: "button" });
        prev.addEventListener("click", () => { starts.pop(); load(); });
        pager.append(prev);
      }
      if (events.length === 50) {
        const next = el("button", "Next", { type: "button" });
        next.addEventListener("click", () => { starts.push(events[events.length - 1].seq); load(); });
        pager.append(next);
      }
      results.replaceChildren(table([["seq", (e) => e.seq], ["time", (e) => timeEl(e.time)],
                                     ["actor", (e) => e.actor], ["action", (e) => e.action],
                                     ["object", (e) => e.object], ["result", (e) => e.result],
                                     ["detail", detail]], shown), pager);
    } catch (e) {
      results.replaceChildren(errorBox(e.message));
    }
  }
  form.addEventListener("submit", (ev) => { ev.preventDefault(); load(); });
  show(el("h1", "Audit"), add(el("p"), verify), verdict, form, results);
  await load();
}

// ---- start -----------------------------------------------------------------------------------

window.addEventListener("hashchange", route);
route();
