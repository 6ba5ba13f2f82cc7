"use strict";
// One customer's comms as a timeline, and Log Call.
const id = new URLSearchParams(location.search).get("id") || "";
const timeline = document.getElementById("timeline");
const form = document.getElementById("log-call");
const formError = document.getElementById("log-call-error");
const olderButton = document.getElementById("older");
let next = null;

function entry(c) {
  return pbx.el("li", { class: "call", "data-id": c.id },
    pbx.el("span", { class: "icon", "aria-hidden": "true" }, "\u260E"),
    pbx.el("span", { class: "what" }, pbx.arrow(c.direction) + " call"),
    pbx.el("span", { class: "result result-" + pbx.result(c).replace(/[^a-z]/g, "") }, pbx.result(c)),
    pbx.el("span", { class: "duration" }, pbx.talkOrRing(c)),
    pbx.el("span", { class: "muted" }, " \u00b7 " + pbx.when(c.occurred_at) +
      (c.extension ? " \u00b7 ext " + c.extension : "") + (pbx.number(c) ? " \u00b7 " + pbx.number(c) : "") +
      (c.source === "manual" ? " \u00b7 logged by hand" : "") +
      (c.originated_by ? " \u00b7 click-to-call by " + c.originated_by : "")),
    c.notes ? pbx.el("p", { class: "notes" }, c.notes) : null);
}

async function load(before) {
  const err = document.getElementById("timeline-error");
  err.textContent = "";
  try {
    const q = new URLSearchParams({ customer: id, limit: "50" });
    if (before) q.set("before", before);
    const page = await pbx.api("/api/calls?" + q.toString());
    if (!before) timeline.replaceChildren();
    timeline.append(...page.calls.map(entry));
    next = page.next;
    olderButton.hidden = !next;
  } catch (e) {
    err.textContent = e.message;
  }
}

// The customer's numbers, each with a Call button where click-to-call is on.
async function showPhones(phones) {
  const dial = await pbx.dial.load();
  document.getElementById("phones").replaceChildren(...(phones || []).map((n) =>
    pbx.el("li", { class: "phone" }, pbx.el("span", { class: "number" }, n),
      dial.enabled && pbx.dial.callable(n) ? pbx.dial.button(n) : null)));
}

async function loadCustomer() {
  try {
    const c = await pbx.api("/api/customers/" + encodeURIComponent(id));
    document.getElementById("customer-name").textContent = c.name || "Customer " + c.customer_id;
    await showPhones(c.phones);
    document.title = "pbxbus \u2014 " + (c.name || "customer " + c.customer_id);
  } catch (e) {
    document.getElementById("customer-name").textContent = "Customer " + id + " (" + e.message + ")";
  }
}

// What the person typed goes to the API as it is: its answer, not this
// page, says what is wrong.
function formBody() {
  const f = new FormData(form);
  const m = f.get("minutes").trim(), s = f.get("seconds").trim();
  const whole = (v) => /^-?\d+$/.test(v === "" ? "0" : v);
  const body = {
    customer_id: Number(id),
    direction: f.get("direction"),
    duration_seconds: whole(m) && whole(s) ? Number(m || 0) * 60 + Number(s || 0) : m + ":" + s,
  };
  if (f.get("notes")) body.notes = f.get("notes");
  if (f.get("occurred_at")) body.occurred_at = new Date(f.get("occurred_at")).toISOString();
  return body;
}

form.addEventListener("submit", async (ev) => {
  ev.preventDefault();
  formError.textContent = "";
  try {
    await pbx.postJSON("/api/crm/calls/log", formBody());
    form.reset();
    form.hidden = true;
    await load(null);
  } catch (e) {
    formError.textContent = e.message;
  }
});
document.getElementById("log-call-open").addEventListener("click", () => { form.hidden = false; form.elements.direction.focus(); });
document.getElementById("log-call-cancel").addEventListener("click", () => { form.hidden = true; formError.textContent = ""; });
olderButton.addEventListener("click", () => { if (next) load(next); });
loadCustomer();
load(null);
