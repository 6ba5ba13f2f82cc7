"use strict";
// The live PBX: a picture kept from /api/live/stream (Server-Sent Events:
// the whole picture first, then each change), drawn again on each change
// and its timers every second.
const items = new Map(); // "site kind name" -> {site, kind, name, value}
const firstSeen = new Map(); // call id -> browser time it was first seen
const sitesBox = document.getElementById("sites");
const status = document.getElementById("live-status");

function apply(msg) {
  if (msg.reset) items.clear();
  for (const it of msg.items) {
    const key = it.site + "\u0000" + it.kind + "\u0000" + it.name;
    if (it.value === null) items.delete(key);
    else items.set(key, it);
    if (it.kind === "call" && it.value && !firstSeen.has(it.name)) firstSeen.set(it.name, Date.now());
  }
  draw();
}

// Since when, for a timer: the PBX's time when it is near ours, else when
// this page first saw it (a replayed or skewed PBX clock).
function since(iso, callId) {
  const t = Date.parse(iso);
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
  return pbx.el("span", { class: "state state-" + String(s || "unknown").replace(/[^a-z_]/g, "") }, s || "unknown");
}

function table(caption, heads, rows) {
  return pbx.el("section", {},
    pbx.el("h3", {}, caption),
    rows.length
      ? pbx.el("table", {}, pbx.el("thead", {}, pbx.el("tr", {}, ...heads.map((h) => pbx.el("th", {}, h)))), pbx.el("tbody", {}, ...rows))
      : pbx.el("p", { class: "muted" }, "none"));
}

function party(call) {
  if (!call) return "";
  if (call.withheld) return "withheld";
  return [call.external_name, call.external_number].filter(Boolean).join(" ") || call.extension || "";
}

function siteView(site, of) {
  const calls = new Map(of("call").map((c) => [c.name, c.value]));
  const ext = of("extension").sort((a, b) => a.name.localeCompare(b.name, undefined, { numeric: true }));
  const extRows = ext.map(({ name, value: e }) => {
    const call = e.call_id ? calls.get(e.call_id) : null;
    const busy = call && e.state !== "idle";
    return pbx.el("tr", { "data-extension": e.extension || name },
      pbx.el("td", {}, e.extension || name),
      pbx.el("td", { class: "ext-state" }, state(e.state)),
      pbx.el("td", {}, busy ? party(call) : ""),
      pbx.el("td", {}, busy ? timer(since(call.answered_at || call.started_at, call.call_id)) : ""));
  });
  const trunkRows = of("trunk").map(({ name, value: t }) => pbx.el("tr", { "data-trunk": t.trunk || name },
    pbx.el("td", {}, t.trunk || name), pbx.el("td", {}, state(t.registration)), pbx.el("td", {}, state(t.reachability))));
  const queueRows = of("queue").map(({ name, value: q }) => {
    const callers = Array.isArray(q.callers) ? q.callers : [];
    const members = Array.isArray(q.members) ? q.members : [];
    const oldest = callers.map((c) => Date.parse(c.waiting_since)).filter((t) => !isNaN(t)).sort()[0];
    return pbx.el("tr", { "data-queue": q.queue || name },
      pbx.el("td", {}, q.queue || name),
      pbx.el("td", {}, String(callers.length), callers.length && oldest ? pbx.el("span", { class: "muted" }, " longest ", timer(Math.min(oldest, Date.now()))) : ""),
      pbx.el("td", {}, ...members.map((m) => pbx.el("div", {}, (m.name || m.location || "") + " ", state(m.paused ? "paused" : m.state)))));
  });
  // a parked caller's number and name are null when withheld (or unknown)
  const parkedRows = of("parked").sort((a, b) => a.name.localeCompare(b.name, undefined, { numeric: true }))
    .map(({ name, value: p }) => pbx.el("tr", { "data-parked": name },
      pbx.el("td", {}, name),
      pbx.el("td", {}, [p.name, p.number].filter(Boolean).join(" ") || "not shown"),
      pbx.el("td", {}, timer(since(p.parked_at, p.call_id))),
      pbx.el("td", {}, isNaN(Date.parse(p.times_out_at)) ? "" : new Date(p.times_out_at).toLocaleTimeString())));
  const callRows = [...calls.values()].map((c) => pbx.el("tr", { "data-call": c.call_id },
    pbx.el("td", {}, pbx.arrow(c.direction)),
    pbx.el("td", {}, party(c)),
    pbx.el("td", {}, c.extension || (c.extensions_rung || []).join(", ")),
    pbx.el("td", {}, c.trunk || ""),
    pbx.el("td", {}, state(c.answered_at ? "answered" : "ringing")),
    pbx.el("td", {}, timer(since(c.started_at, c.call_id)))));
  const system = of("system")[0];
  return pbx.el("section", { class: "site", "data-site": site },
    pbx.el("h2", {}, site, system ? pbx.el("span", { class: "muted" }, " \u00b7 Asterisk " + (system.value.asterisk_version || "?")) : ""),
    pbx.el("div", { class: "grid" },
      table("Extensions", ["Extension", "State", "With", "For"], extRows),
      table("Calls in progress", ["Dir.", "Caller / callee", "Extension", "Trunk", "State", "For"], callRows),
      table("Trunks", ["Trunk", "Registration", "Reachability"], trunkRows),
      table("Queues", ["Queue", "Waiting", "Members"], queueRows),
      table("Parked calls", ["Space", "Caller", "For", "Given back at"], parkedRows)));
}

function draw() {
  const sites = [...new Set([...items.values()].map((it) => it.site))].sort();
  sitesBox.replaceChildren(...sites.map((site) =>
    siteView(site, (kind) => [...items.values()].filter((it) => it.site === site && it.kind === kind))));
  if (!sites.length) sitesBox.append(pbx.el("p", { class: "muted" }, "nothing on the bus yet"));
}

function connect() {
  const es = new EventSource("/api/live/stream");
  es.onopen = () => { status.textContent = "live"; };
  es.onmessage = (ev) => apply(JSON.parse(ev.data));
  es.onerror = async () => {
    status.textContent = "reconnecting…";
    // a lost login shows as an error too: ask once, the API sends us to log in
    try { await pbx.api("/api/live"); } catch (e) { /* shown above */ }
  };
}

setInterval(tick, 1000);
connect();
