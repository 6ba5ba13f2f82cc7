"use strict";
// The live PBX: a picture kept from /api/live/stream (Server-Sent Events:
// the whole picture first, then each change), drawn again on each change
// and its timers every second.
//
// Every value comes from some PBX on the bus, and one site's bad value must
// not blind the page for the others (audit-3 N6): values are read through
// shape checks (text, list, object), and each site and each row is drawn
// on its own; a row that still cannot be drawn says so in its place.
const items = new Map(); // "site kind name" -> {site, kind, name, value}
const firstSeen = new Map(); // call id -> browser time it was first seen
const sitesBox = document.getElementById("sites");
const status = document.getElementById("live-status");

// Shapes: what the page takes from a value, whatever it holds.
const text = (v) => (typeof v === "string" ? v : typeof v === "number" && isFinite(v) ? String(v) : "");
const list = (v) => (Array.isArray(v) ? v : []);
const record = (v) => (v !== null && typeof v === "object" && !Array.isArray(v) ? v : {});
const texts = (v) => list(v).map(text).filter(Boolean);

function apply(msg) {
  msg = record(msg);
  if (msg.reset) items.clear();
  for (const raw of list(msg.items)) {
    const it = record(raw);
    if (!text(it.site) || !text(it.kind) || !text(it.name)) continue; // not an item of ours
    const key = it.site + "\u0000" + it.kind + "\u0000" + it.name;
    if (it.value === null || it.value === undefined) items.delete(key);
    else items.set(key, it);
    if (it.kind === "call" && it.value && !firstSeen.has(it.name)) firstSeen.set(it.name, Date.now());
  }
  draw();
}

// Since when, for a timer: the PBX's time when it is near ours, else when
// this page first saw it (a replayed or skewed PBX clock).
function since(iso, callId) {
  const t = Date.parse(text(iso));
  const now = Date.now();
  if (!isNaN(t) && t <= now + 5000 && now - t < 86400000) return t;
  return firstSeen.get(callId) || now;
}

function timer(from) {
  return pbx.el("span", { class: "timer", "data-since": String(from) }, pbx.duration((Date.now() - from) / 1000));
}

function tick() {
  for (const t of document.querySelectorAll(".timer")) t.textContent = pbx.duration((Date.now() - Number(t.dataset.since)) / 1000);
}

function state(s) {
  s = text(s);
  return pbx.el("span", { class: "state state-" + (s || "unknown").replace(/[^a-z_]/g, "") }, s || "unknown");
}

// One row, drawn on its own: a value it cannot draw gives a row saying so.
function row(columns, what, draw) {
  try {
    return draw();
  } catch (e) {
    return pbx.el("tr", { class: "undrawable" },
      pbx.el("td", { colspan: String(columns), class: "muted" }, what + ": malformed state, not shown"));
  }
}

function table(caption, heads, rows) {
  return pbx.el("section", {},
    pbx.el("h3", {}, caption),
    rows.length
      ? pbx.el("table", {}, pbx.el("thead", {}, pbx.el("tr", {}, ...heads.map((h) => pbx.el("th", {}, h)))), pbx.el("tbody", {}, ...rows))
      : pbx.el("p", { class: "muted" }, "none"));
}

// the customer the consumer matched, else the name the PBX gave, and the number
function party(call) {
  if (!call) return "";
  if (call.withheld === true) return "withheld";
  if (text(call.customer_name)) return [text(call.customer_name), text(call.external_number)].filter(Boolean).join(" \u00b7 ");
  return [text(call.external_name), text(call.external_number)].filter(Boolean).join(" ") || text(call.extension);
}

const byName = (a, b) => a.name.localeCompare(b.name, undefined, { numeric: true });

function extensionRow(name, e, calls) {
  const call = text(e.call_id) ? calls.get(e.call_id) : null;
  const busy = call && e.state !== "idle";
  return pbx.el("tr", { "data-extension": text(e.extension) || name },
    pbx.el("td", {}, text(e.extension) || name),
    pbx.el("td", { class: "ext-state" }, state(e.state)),
    pbx.el("td", {}, busy ? party(call) : ""),
    pbx.el("td", {}, busy ? timer(since(call.answered_at || call.started_at, call.call_id)) : ""));
}

function queueRow(name, q) {
  const callers = list(q.callers).map(record);
  const members = list(q.members).map(record);
  const oldest = callers.map((c) => Date.parse(text(c.waiting_since))).filter((t) => !isNaN(t)).sort()[0];
  return pbx.el("tr", { "data-queue": text(q.queue) || name },
    pbx.el("td", {}, text(q.queue) || name),
    pbx.el("td", {}, String(callers.length), callers.length && oldest ? pbx.el("span", { class: "muted" }, " longest ", timer(Math.min(oldest, Date.now()))) : ""),
    pbx.el("td", {}, ...members.map((m) => pbx.el("div", {}, (text(m.name) || text(m.location)) + " ", state(m.paused === true ? "paused" : m.state)))));
}

// a parked caller's number and name are null when withheld (or unknown)
function parkedRow(name, p) {
  const out = Date.parse(text(p.times_out_at));
  return pbx.el("tr", { "data-parked": name },
    pbx.el("td", {}, name),
    pbx.el("td", {}, [text(p.name), text(p.number)].filter(Boolean).join(" ") || "not shown"),
    pbx.el("td", {}, timer(since(p.parked_at, text(p.call_id)))),
    pbx.el("td", {}, isNaN(out) ? "" : new Date(out).toLocaleTimeString()));
}

function callRow(c) {
  return pbx.el("tr", { "data-call": text(c.call_id) },
    pbx.el("td", {}, pbx.arrow(text(c.direction))),
    pbx.el("td", {}, party(c)),
    pbx.el("td", {}, text(c.extension) || texts(c.extensions_rung).join(", ")),
    pbx.el("td", {}, text(c.trunk)),
    pbx.el("td", {}, state(c.answered_at ? "answered" : "ringing")),
    pbx.el("td", {}, timer(since(c.started_at, text(c.call_id)))));
}

function siteView(site, of) {
  const calls = new Map(of("call").map((c) => [c.name, record(c.value)]));
  const rows = (kind, columns, what, draw) =>
    of(kind).sort(byName).map(({ name, value }) => row(columns, what + " " + name, () => draw(name, record(value))));
  const extRows = rows("extension", 4, "extension", (name, e) => extensionRow(name, e, calls));
  const trunkRows = rows("trunk", 3, "trunk", (name, t) => pbx.el("tr", { "data-trunk": text(t.trunk) || name },
    pbx.el("td", {}, text(t.trunk) || name), pbx.el("td", {}, state(t.registration)), pbx.el("td", {}, state(t.reachability))));
  const queueRows = rows("queue", 3, "queue", queueRow);
  const parkedRows = rows("parked", 4, "parked call", parkedRow);
  const callRows = [...calls.entries()].map(([name, c]) => row(6, "call " + name, () => callRow(c)));
  const system = record((of("system")[0] || {}).value);
  return pbx.el("section", { class: "site", "data-site": site },
    pbx.el("h2", {}, site, of("system").length ? pbx.el("span", { class: "muted" }, " \u00b7 Asterisk " + (text(system.asterisk_version) || "?")) : ""),
    pbx.el("div", { class: "grid" },
      table("Extensions", ["Extension", "State", "With", "For"], extRows),
      table("Calls in progress", ["Dir.", "Caller / callee", "Extension", "Trunk", "State", "For"], callRows),
      table("Trunks", ["Trunk", "Registration", "Reachability"], trunkRows),
      table("Queues", ["Queue", "Waiting", "Members"], queueRows),
      table("Parked calls", ["Space", "Caller", "For", "Given back at"], parkedRows)));
}

// Each site on its own: one that cannot be drawn says so, the others draw.
function siteSection(site) {
  try {
    return siteView(site, (kind) => [...items.values()].filter((it) => it.site === site && it.kind === kind));
  } catch (e) {
    return pbx.el("section", { class: "site undrawable", "data-site": site },
      pbx.el("h2", {}, site), pbx.el("p", { class: "muted" }, "this site's state is malformed and cannot be shown"));
  }
}

function draw() {
  const sites = [...new Set([...items.values()].map((it) => it.site))].sort();
  sitesBox.replaceChildren(...sites.map(siteSection));
  if (!sites.length) sitesBox.append(pbx.el("p", { class: "muted" }, "nothing on the bus yet"));
}

function connect() {
  pbx.live.on(apply, {
    open: () => { status.textContent = "live"; },
    error: () => { status.textContent = "reconnecting…"; },
  });
}

setInterval(tick, 1000);
connect();
