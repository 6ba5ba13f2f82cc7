"use strict";
// Missed calls to call back (GET /api/calls/missed): the server groups and
// leaves out the callers already answered or called back; this page draws
// and redraws when the consumer has written new rows to the call log.
const body = document.querySelector("#missed tbody");
const errorBox = document.getElementById("missed-error");
let dialOn = false;

function line(m) {
  const who = m.customer_id
    ? pbx.el("a", { href: "/customer?id=" + encodeURIComponent(m.customer_id) }, m.customer_name || "customer " + m.customer_id)
    : pbx.el("span", { class: "muted" }, m.withheld ? "number withheld" : "unknown");
  const number = m.withheld ? "" : m.number || m.e164 || "";
  const callable = !m.withheld && pbx.dial.callable(m.e164 || number);
  const via = [m.did ? "DID " + m.did : "", m.queue ? "queue " + m.queue : ""].filter(Boolean).join(", ");
  return pbx.el("tr", { "data-call": m.call_id },
    pbx.el("td", { class: "customer" }, who),
    pbx.el("td", { class: "number" }, number, dialOn && callable ? pbx.dial.button(m.e164 || number, "Call back") : null),
    pbx.el("td", { class: "calls" }, m.calls > 1 ? m.calls + "\u00d7" : "1"),
    pbx.el("td", { class: "when" }, pbx.when(m.last_at)),
    pbx.el("td", { class: "via" }, via),
    pbx.el("td", { class: "waited" }, pbx.duration(m.waited_s)));
}

async function load() {
  errorBox.textContent = "";
  try {
    const r = await pbx.api("/api/calls/missed");
    body.replaceChildren(...r.missed.map(line));
    if (!r.missed.length) body.append(pbx.el("tr", {}, pbx.el("td", { colspan: 6, class: "muted" }, "nobody to call back")));
  } catch (e) {
    errorBox.textContent = e.message;
  }
}

document.addEventListener("pbxbus:calls-logged", load);
pbx.dial.load().then((d) => { dialOn = d.enabled; load(); });
