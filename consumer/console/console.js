// Shared by the console's pages.  Every value from the PBX or the database
// goes into the page as text (textContent), never as HTML.
"use strict";

const pbx = {
  // An element with text and attributes; children appended as given.
  el(tag, attrs, ...children) {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v !== null && v !== undefined && v !== false) e.setAttribute(k, v === true ? "" : String(v));
    }
    for (const c of children) {
      if (c === null || c === undefined) continue;
      e.append(c instanceof Node ? c : document.createTextNode(String(c)));
    }
    return e;
  },

  // fetch as JSON; a 401 goes to the login page.  Throws an Error with the
  // API's own message when the answer is not 2xx.
  async api(path, options) {
    const r = await fetch(path, Object.assign({ credentials: "same-origin" }, options || {}));
    if (r.status === 401 && !path.startsWith("/api/login")) {
      location.href = "/login";
      throw new Error("not logged in");
    }
    let body = null;
    try { body = await r.json(); } catch (e) { body = null; }
    if (!r.ok) throw new Error(body && body.error ? body.error : "HTTP " + r.status);
    return body;
  },

  postJSON(path, obj) {
    return pbx.api(path, { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(obj) });
  },

  // 125 -> "2:05"; 3725 -> "1:02:05"
  duration(seconds) {
    if (seconds === null || seconds === undefined || !isFinite(seconds)) return "";
    const s = Math.max(0, Math.floor(seconds));
    const h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60), r = s % 60;
    const mm = h ? String(m).padStart(2, "0") : String(m);
    return (h ? h + ":" : "") + mm + ":" + String(r).padStart(2, "0");
  },

  arrow(direction) {
    return { inbound: "\u2199 in", outbound: "\u2197 out", internal: "\u2194 internal" }[direction] || direction || "";
  },

  // What became of a call, in words, from the record's disposition and
  // direction (docs/console.md, "What a call shows").  A row without a
  // disposition (an older CRM's, or logged by hand) has its talk time.
  result(c) {
    switch (c.disposition) {
      case "ANSWERED": return "answered";
      case "NO ANSWER": return c.direction === "inbound" ? "missed" : "no answer";
      case "BUSY": return "busy";
      case "FAILED": return "failed";
      case "CONGESTION": return "failed (congestion)";
      default: return c.answered ? "answered" : c.direction === "inbound" ? "missed" : "no answer";
    }
  },

  // Talk time for an answered call; how long it rang for the others.
  talkOrRing(c) {
    if (pbx.result(c) === "answered") return pbx.duration(c.billsec_seconds ?? c.duration_seconds);
    return c.duration_seconds ? "rang " + pbx.duration(c.duration_seconds) : "";
  },

  // The other party's number as shown: "number withheld" where it was.
  number(c) {
    return c.withheld === true ? "number withheld" : c.external_number || "";
  },

  when(iso) {
    const d = new Date(iso);
    return isNaN(d) ? "" : d.toLocaleString();
  },

  // Click-to-call (docs/dial.md).  The person's own extension (and PBX,
  // where the consumer serves several) is kept in this browser only; a
  // Call button asks the PBX to ring that phone, then the number, and
  // says what became of it beside itself.
  dial: {
    settings: null,
    async load() {
      if (!pbx.dial.settings) {
        try { pbx.dial.settings = await pbx.api("/api/calls/dial"); } catch (e) { pbx.dial.settings = { enabled: false, sites: [] }; }
        pbx.dial.myPhoneControl(); // the screen pop needs it too
      }
      return pbx.dial.settings;
    },
    oneSite() {
      const s = pbx.dial.settings.sites;
      return s.length === 1 && !s[0].includes("+") ? s[0] : null;
    },
    mine() {
      // "My extension(s)": the pop watches them all, a call rings the first
      return { extension: (localStorage.getItem("pbxbus.extension") || "").split(/[\s,]+/).filter(Boolean)[0] || "",
               site: pbx.dial.oneSite() || localStorage.getItem("pbxbus.site") || "" };
    },
    // "My extension" (and "PBX") in the navigation bar of every page.
    myPhoneControl() {
      const nav = document.querySelector("nav");
      if (!nav || document.getElementById("my-extension")) return;
      const input = (id, key, label, size) => {
        const i = pbx.el("input", { id, size, value: localStorage.getItem(key) || "", autocomplete: "off" });
        i.addEventListener("change", () => localStorage.setItem(key, i.value.trim()));
        return pbx.el("label", { class: "my-phone" }, label + " ", i);
      };
      const at = document.getElementById("logout");
      nav.insertBefore(input("my-extension", "pbxbus.extension", "My extension(s)", 6), at);
      if (pbx.dial.settings.enabled && !pbx.dial.oneSite()) nav.insertBefore(input("my-site", "pbxbus.site", "PBX", 10), at);
    },
    // A number worth a button: not withheld, not an extension.
    callable(number) {
      return typeof number === "string" && (number.match(/\d/g) || []).length >= 7;
    },
    // A "Call" button (or label) for number, its outcome in words after it.
    button(number, label) {
      const status = pbx.el("span", { class: "dial-status", role: "status" });
      const b = pbx.el("button", { type: "button", class: "dial" }, label || "Call");
      b.addEventListener("click", () => pbx.dial.call(number, b, status));
      return pbx.el("span", { class: "dial-box" }, b, status);
    },
    async call(number, b, status) {
      const me = pbx.dial.mine();
      status.className = "dial-status";
      if (!me.extension) {
        status.textContent = "set your extension first (top of the page)";
        const i = document.getElementById("my-extension");
        if (i) i.focus();
        return;
      }
      b.disabled = true;
      status.textContent = "asking the PBX\u2026";
      try {
        const body = { extension: me.extension, number };
        if (me.site) body.site = me.site;
        const { id } = await pbx.postJSON("/api/calls/dial", body);
        const until = Date.now() + 120000;
        for (;;) {
          const r = await pbx.api("/api/calls/dial/" + encodeURIComponent(id));
          status.textContent = r.message || r.state;
          if (r.final) { status.classList.add(r.ok ? "dial-ok" : "dial-failed"); break; }
          if (Date.now() > until) break;
          await new Promise((done) => setTimeout(done, 400));
        }
      } catch (e) {
        status.textContent = e.message;
        status.classList.add("dial-failed");
      } finally {
        b.disabled = false;
      }
    },
  },

  // The live picture's one stream for the page (Server-Sent Events): the
  // live page draws it, every page keeps its missed-calls count by it.
  live: {
    listeners: [],
    source: null,
    on(fn, events) {
      pbx.live.listeners.push({ fn, events: events || {} });
      if (pbx.live.source) return;
      const es = pbx.live.source = new EventSource("/api/live/stream");
      const each = (name, arg) => { for (const l of pbx.live.listeners) if (l.events[name]) l.events[name](arg); };
      es.onopen = () => each("open");
      es.onmessage = (ev) => {
        let msg;
        try { msg = JSON.parse(ev.data); } catch (e) { return; } // not ours to read
        for (const l of pbx.live.listeners) l.fn(msg);
      };
      es.onerror = async () => {
        each("error");
        // a lost login shows as an error too: ask once, the API sends us to log in
        try { await pbx.api("/api/live"); } catch (e) { /* the listeners say so */ }
      };
    },
  },

  // "Missed" in the navigation bar with the number of callers to call
  // back, read again when the consumer has written rows to the call log.
  missed: {
    rows: null,
    async count() {
      const badge = document.getElementById("missed-count");
      if (!badge) return;
      try {
        const m = await pbx.api("/api/calls/missed?limit=1");
        badge.textContent = m.count ? String(m.count) : "";
        badge.hidden = !m.count;
      } catch (e) { /* the count waits for the next change */ }
    },
    follow() {
      pbx.missed.count();
      pbx.live.on((msg) => {
        for (const it of Array.isArray(msg && msg.items) ? msg.items : []) {
          if (!it || it.kind !== "log" || it.name !== "calls" || !it.value) continue;
          if (pbx.missed.rows !== null && it.value.rows !== pbx.missed.rows) {
            pbx.missed.count();
            document.dispatchEvent(new CustomEvent("pbxbus:calls-logged"));
          }
          pbx.missed.rows = it.value.rows;
        }
      });
    },
  },

  // The search box on every page: customers by any part of their name or
  // number (GET /api/customers?q=), a link to each.  pick(customer), when
  // given, is called on a choice instead of following the link.
  search: {
    box(opts) {
      const o = opts || {};
      const input = pbx.el("input", { type: "search", placeholder: o.placeholder || "Find a customer",
                                      "aria-label": o.label || "Find a customer", autocomplete: "off",
                                      class: "search-input" });
      const list = pbx.el("ul", { class: "search-results", role: "listbox", hidden: true });
      // not a <form>: the call log's customer picker sits inside its filter form
      const box = pbx.el("div", { role: "search", class: "search" }, input, list);
      let asked = 0;
      const show = (items) => { list.replaceChildren(...items); list.hidden = items.length === 0; };
      const look = async () => {
        const q = input.value.trim();
        const mine = ++asked;
        if (q.length < 3) { show([]); return; }
        try {
          const r = await pbx.api("/api/customers?q=" + encodeURIComponent(q));
          if (mine !== asked) return; // an older answer
          show(r.customers.length ? r.customers.map((c) => pbx.search.item(c, o.pick, show))
            : [pbx.el("li", { class: "muted" }, "no customer")]);
        } catch (e) {
          if (mine === asked) show([pbx.el("li", { class: "error" }, e.message)]);
        }
      };
      let timer = null;
      input.addEventListener("input", () => { clearTimeout(timer); timer = setTimeout(look, 200); });
      input.addEventListener("keydown", (ev) => {
        if (ev.key === "Escape") show([]);
        if (ev.key === "Enter") { ev.preventDefault(); clearTimeout(timer); look(); }
      });
      return box;
    },
    item(c, pick, show) {
      const label = (c.name || "customer " + c.customer_id) + (c.phones && c.phones.length ? " \u00b7 " + c.phones.join(", ") : "");
      const a = pbx.el("a", { href: "/customer?id=" + encodeURIComponent(c.customer_id), "data-id": c.customer_id }, label);
      if (pick) a.addEventListener("click", (ev) => { ev.preventDefault(); show([]); pick(c); });
      return pbx.el("li", { role: "option" }, a);
    },
  },

  // What every page behind the login has in its navigation bar.
  nav() {
    const nav = document.querySelector("nav");
    const at = document.getElementById("logout");
    if (!nav || !at || document.querySelector("nav .search")) return;
    const calls = nav.querySelector('a[href="/calls"]');
    const missed = pbx.el("a", { href: "/missed", id: "nav-missed" }, "Missed ",
      pbx.el("span", { id: "missed-count", class: "count", hidden: true, "aria-label": "callers to call back" }));
    if (location.pathname === "/missed") missed.setAttribute("aria-current", "page");
    nav.insertBefore(missed, calls ? calls.nextSibling : at);
    nav.insertBefore(pbx.search.box(), at);
    pbx.missed.follow();
  },

  logoutButton() {
    const b = document.getElementById("logout");
    if (!b) return;
    b.addEventListener("click", async () => {
      try { await pbx.postJSON("/api/logout", {}); } finally { location.href = "/login"; }
    });
  },
};

document.addEventListener("DOMContentLoaded", () => {
  pbx.logoutButton();
  if (document.getElementById("logout")) { // the pages behind the login
    pbx.nav();
    pbx.dial.load();
  }
});
