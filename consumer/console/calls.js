"use strict";
// The call log: the server filters and pages (by key); this page only asks.
const form = document.getElementById("filters");
const body = document.querySelector("#calls tbody");
const errorBox = document.getElementById("calls-error");
const olderButton = document.getElementById("older");
let next = null;
let dialOn = false; // click-to-call: a Call button beside each number

function filters() {
  const q = new URLSearchParams();
  for (const [k, v] of new FormData(form)) {
    if (v === "") continue;
    // "to" is a date the user means to include: the API's is exclusive
    if (k === "to") {
      const d = new Date(v + "T00:00:00Z");
      d.setUTCDate(d.getUTCDate() + 1);
      q.set(k, d.toISOString().slice(0, 10));
    } else {
      q.set(k, v);
    }
  }
  return q;
}

function row(c) {
  const who = c.customer_id
    ? pbx.el("a", { href: "/customer?id=" + encodeURIComponent(c.customer_id) }, c.customer_name || "customer " + c.customer_id)
    : pbx.el("span", { class: "muted" }, "unknown");
  return pbx.el("tr", { "data-id": c.id },
    pbx.el("td", {}, pbx.when(c.occurred_at)),
    pbx.el("td", { class: "dir" }, pbx.arrow(c.direction)),
    pbx.el("td", { class: "customer" }, who),
    pbx.el("td", { class: "number" }, pbx.number(c),
      dialOn && !c.withheld && pbx.dial.callable(c.external_number) ? pbx.dial.button(c.external_number) : null),
    pbx.el("td", { class: "extension" }, c.extension || ""),
    pbx.el("td", { class: "duration" }, pbx.talkOrRing(c)),
    pbx.el("td", { class: "result" }, pbx.result(c)),
    pbx.el("td", { class: "notes" }, c.notes || ""));
}

async function load(before) {
  const q = filters();
  if (before) q.set("before", before);
  errorBox.textContent = "";
  try {
    const page = await pbx.api("/api/calls?" + q.toString());
    body.replaceChildren(...page.calls.map(row));
    if (page.calls.length === 0) body.append(pbx.el("tr", {}, pbx.el("td", { colspan: 8, class: "muted" }, "no calls")));
    next = page.next;
    olderButton.disabled = !next;
  } catch (e) {
    errorBox.textContent = e.message;
  }
}

// The customer filter: chosen in a search box (by name or number), kept
// as the customer's id in the form.
const customerField = form.elements.customer;
function showCustomer(name) {
  document.getElementById("customer-picked-name").textContent = name;
  document.getElementById("customer-picked").hidden = !customerField.value;
  document.getElementById("customer-pick").hidden = !!customerField.value;
}
document.getElementById("customer-pick").append(pbx.search.box({
  placeholder: "name or number", label: "Customer",
  pick: (c) => { customerField.value = c.customer_id; showCustomer(c.name || "customer " + c.customer_id); form.requestSubmit(); },
}));
document.getElementById("customer-unpick").addEventListener("click", () => {
  customerField.value = "";
  showCustomer("");
  form.requestSubmit();
});
async function nameCustomer() {
  if (!customerField.value) return showCustomer("");
  showCustomer("customer " + customerField.value);
  try {
    const c = await pbx.api("/api/customers/" + encodeURIComponent(customerField.value));
    showCustomer(c.name || "customer " + c.customer_id);
  } catch (e) { /* the id stands */ }
}

// The filters live in the address, so a filtered view can be shared.
function fromAddress() {
  const q = new URLSearchParams(location.search);
  for (const el of form.elements) if (el.name && q.has(el.name)) el.value = q.get(el.name);
  nameCustomer();
}

form.addEventListener("submit", (ev) => {
  ev.preventDefault();
  const q = new URLSearchParams();
  for (const [k, v] of new FormData(form)) if (v !== "") q.set(k, v);
  history.replaceState(null, "", "/calls" + (q.toString() ? "?" + q : ""));
  load(null);
});
document.getElementById("clear").addEventListener("click", () => {
  form.reset();
  customerField.value = ""; // a hidden field keeps its value through reset()
  showCustomer("");
  history.replaceState(null, "", "/calls");
  load(null);
});
document.getElementById("newest").addEventListener("click", () => load(null));
olderButton.addEventListener("click", () => { if (next) load(next); });
fromAddress();
pbx.dial.load().then((d) => { dialOn = d.enabled; load(null); });
