// The iiscors playground page. Every piece of text from the server, the config or the user is
// put in the DOM with textContent, never as HTML.
"use strict";

const MAX_BODY_CHARS = 20000;
let apiBase = null;

function el(tag, text, attrs) {
  const node = document.createElement(tag);
  if (text !== undefined && text !== null) node.textContent = String(text);
  for (const [name, value] of Object.entries(attrs || {})) node.setAttribute(name, value);
  return node;
}

function definitions(pairs) {
  const dl = el("dl");
  for (const [term, value] of pairs) {
    dl.append(el("dt", term));
    const dd = el("dd");
    if (value instanceof Node) dd.append(value); else dd.textContent = String(value);
    dl.append(dd);
  }
  return dl;
}

function headerBlock(pairs) {
  if (!pairs.length) return el("span", "(none)");
  return el("pre", pairs.map(([name, value]) => `${name}: ${value}`).join("\n"));
}

function setVerdict(id, verdict, text) {
  const node = document.getElementById(id);
  node.dataset.verdict = verdict;
  node.textContent = text;
}

function parseHeaders(text) {
  const pairs = [];
  for (const line of text.split(/\r?\n/)) {
    if (!line.trim()) continue;
    const colon = line.indexOf(":");
    if (colon < 0) throw new TypeError(`header line ${JSON.stringify(line)} has no colon`);
    pairs.push([line.slice(0, colon).trim(), line.slice(colon + 1).trim()]);
  }
  return pairs;
}

function fields() {
  return {
    method: document.getElementById("method").value.trim(),
    path: document.getElementById("path").value.trim(),
    headers: document.getElementById("headers").value,
    credentials: document.getElementById("credentials").value,
    body: document.getElementById("body").value,
  };
}

async function seenSince(after) {
  const response = await fetch(`/__iiscors/seen?after=${after}`, {cache: "no-store"});
  return response.json();
}

function seenList(requests) {
  if (!requests.length) return el("span", "nothing reached the API server");
  const list = el("ul");
  for (const r of requests) {
    const what = r.preflight ? "preflight OPTIONS" : r.method;
    list.append(el("li", `${what} ${r.path} → ${r.status === null ? "no response" : r.status}`));
  }
  return list;
}

async function runBrowser(f) {
  const result = document.getElementById("browser-result");
  result.replaceChildren();
  let request;
  try {
    const url = new URL(f.path, apiBase);
    if (url.origin !== new URL(apiBase).origin) throw new TypeError("the path must stay on the API");
    const init = {method: f.method, headers: parseHeaders(f.headers), credentials: f.credentials,
                  mode: "cors", cache: "no-store"};
    if (f.body !== "") init.body = f.body;
    request = new Request(url, init);
  } catch (error) {
    setVerdict("browser-verdict", "error", "not sent: fetch() refuses this request");
    result.append(definitions([["error", String(error)]]));
    return;
  }
  const before = (await seenSince(0)).last;
  let response = null;
  let failure = null;
  try {
    response = await fetch(request);
  } catch (error) {
    failure = error;
  }
  let body = null;
  if (response !== null) {
    try { body = await response.text(); } catch (error) { failure = error; response = null; }
  }
  const seen = (await seenSince(before)).requests;
  if (response !== null) {
    setVerdict("browser-verdict", "allowed", `allowed: the page read the response (${response.status})`);
    const readable = [];
    response.headers.forEach((value, name) => readable.push([name, value]));
    const shown = body.length > MAX_BODY_CHARS ? body.slice(0, MAX_BODY_CHARS) + "\n… (cut)" : body;
    result.append(definitions([
      ["request", `${request.method} ${request.url}`],
      ["status", `${response.status} ${response.statusText}`],
      ["readable headers", headerBlock(readable)],
      ["body", body === "" ? "(empty)" : el("pre", shown)],
      ["reached the API", seenList(seen)],
    ]));
    result.append(el("p", "Only the headers CORS lets a script read are listed: the " +
                     "safelisted ones and those in Access-Control-Expose-Headers.", {class: "note"}));
  } else if (seen.length) {
    setVerdict("browser-verdict", "blocked", "blocked by CORS: the browser refused to give this page the response");
    result.append(definitions([
      ["request", `${request.method} ${request.url}`],
      ["error", String(failure)],
      ["reached the API", seenList(seen)],
    ]));
    result.append(el("p", "The server answered, but the browser withheld the response. " +
                     "Your browser's DevTools console shows its exact CORS reason.", {class: "note"}));
  } else {
    setVerdict("browser-verdict", "error", "failed: nothing reached the API server (is it running?)");
    result.append(definitions([["request", `${request.method} ${request.url}`],
                               ["error", String(failure)]]));
  }
}

function decisionBlock(title, d) {
  const block = el("div", null, {class: "decision", "data-kind": d.kind});
  block.append(el("h3", title));
  const rule = d.rule === null ? "(none)"
    : `origin="${d.rule.origin}"${d.rule.allowed ? "" : ' allowed="false"'} at ${d.rule.file}:${d.rule.line}`;
  const pairs = [
    ["request", `${d.request.method} ${d.request.path}` +
      (d.request.request_method ? `  (Access-Control-Request-Method: ${d.request.request_method})` : "") +
      (d.request.request_headers ? `  (Access-Control-Request-Headers: ${d.request.request_headers})` : "")],
    ["kind", d.kind],
    ["outcome", d.outcome],
    ["status", d.status === null ? "(the app answers)" : `${d.status} (from the middleware)`],
    ["headers", headerBlock(d.headers)],
    ["rule", rule],
    ["scope", d.scope],
    ["reason", d.reason],
  ];
  block.append(definitions(pairs));
  return block;
}

// The browser's verdict as the server computed it (iiscors.policy.verdict): rendered, never
// recomputed here.
function predicted(b) {
  if (b.verdict === "allowed") {
    return b.same_origin ? "browser (predicted): allowed: same-origin, no CORS check"
                         : "browser (predicted): allowed: the page can read the response";
  }
  return `browser (predicted): blocked: ${b.message}`;
}

function verdictBlock(b) {
  const block = el("div", null, {class: "browser-verdict", "data-verdict": b.verdict});
  block.append(el("h3", "The browser's checks (Fetch standard)"));
  const pairs = [["verdict", b.verdict]];
  if (b.check !== null) {
    pairs.push(["failed check", `${b.check} (Fetch standard, "${b.section}")`]);
    pairs.push(["console says", b.message]);
  }
  if (b.chromium !== null) {
    pairs.push(["Chromium 156", b.chromium.verdict === "allowed" ? "differs: allowed"
                                 : `differs: blocked: ${b.chromium.message}`]);
  }
  for (const assumption of b.assumptions) pairs.push(["assumes", assumption]);
  block.append(definitions(pairs));
  return block;
}

function summary(d) {
  if (d.outcome === "allowed") {
    return `allowed: rule origin="${d.rule.origin}" at ${d.rule.file}:${d.rule.line}`;
  }
  return `${d.outcome}: ${d.reason}`;
}

async function runExplain(f) {
  const result = document.getElementById("explain-result");
  result.replaceChildren();
  const query = new URLSearchParams(f);
  let response;
  let data;
  try {
    response = await fetch(`/__iiscors/explain?${query}`, {cache: "no-store"});
    data = await response.json();
  } catch (error) {
    setVerdict("explain-verdict", "error", `explain failed: ${error}`);
    setVerdict("predicted-verdict", "error", "");
    return;
  }
  if (!response.ok) {
    setVerdict("explain-verdict", "error", `not explained: ${data.error}`);
    setVerdict("predicted-verdict", "error", "");
    return;
  }
  const deciding = data.preflight !== null && data.preflight.outcome !== "allowed"
    ? data.preflight : data.actual;
  setVerdict("explain-verdict", deciding.outcome, summary(deciding));
  setVerdict("predicted-verdict", data.browser.verdict, predicted(data.browser));
  result.dataset.simple = String(data.simple);
  const facts = [["origin", data.origin], ["credentials", data.credentials],
                 ["request", data.simple ? "simple: no preflight" : "not simple: the browser sends a preflight first"]];
  if (!data.simple) {
    const why = el("ul");
    for (const reason of data.why_preflight) why.append(el("li", reason));
    facts.push(["why a preflight", why]);
  }
  facts.push(["headers fetch() sends", headerBlock(data.sent_headers)]);
  if (data.dropped_headers.length) {
    facts.push(["dropped by fetch()", data.dropped_headers.join(", ") + " (forbidden request headers)"]);
  }
  result.append(definitions(facts));
  if (data.preflight !== null) {
    result.append(decisionBlock("Preflight (OPTIONS)", data.preflight));
    if (!data.actual_sent) {
      result.append(el("p", "The browser does not send the actual request after this " +
                       "preflight; below is what the middleware would do if it did.", {class: "note"}));
    }
  }
  result.append(decisionBlock(`Actual request (${data.method})`, data.actual));
  result.append(verdictBlock(data.browser));
}

async function loadConfig() {
  const target = document.getElementById("config");
  try {
    const data = await (await fetch("/__iiscors/config", {cache: "no-store"})).json();
    apiBase = data.api;
    document.getElementById("api-base").textContent = data.api;
    document.getElementById("page-origin").textContent = data.origin;
    target.replaceChildren();
    for (const file of data.files) {
      target.append(el("h3", file.name));
      target.append(el("pre", file.text, {class: "config-text"}));
    }
    for (const warning of data.warnings) target.append(el("p", warning, {class: "note"}));
    target.append(el("p", data.reload ? "Edits to the file apply on the next request (hot reload)."
                                      : "Hot reload is off."));
  } catch (error) {
    target.textContent = `cannot load the configuration: ${error}`;
  }
}

async function send(event) {
  event.preventDefault();
  const button = document.getElementById("send");
  const status = document.getElementById("status");
  button.disabled = true;
  status.dataset.state = "running";
  status.textContent = "sending…";
  try {
    await loadConfig();
    const f = fields();
    await runExplain(f);
    await runBrowser(f);
  } catch (error) {
    setVerdict("browser-verdict", "error", `playground error: ${error}`);
  } finally {
    button.disabled = false;
    status.dataset.state = "done";
    status.textContent = "done";
  }
}

document.addEventListener("DOMContentLoaded", () => {
  document.getElementById("request-form").addEventListener("submit", send);
  loadConfig();
});
