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
        if (pbx.dial.settings.enabled) pbx.dial.myPhoneControl();
      }
      return pbx.dial.settings;
    },
    oneSite() {
      const s = pbx.dial.settings.sites;
      return s.length === 1 && !s[0].includes("+") ? s[0] : null;
    },
    mine() {
      return { extension: localStorage.getItem("pbxbus.extension") || "",
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
      nav.insertBefore(input("my-extension", "pbxbus.extension", "My extension", 6), at);
      if (!pbx.dial.oneSite()) nav.insertBefore(input("my-site", "pbxbus.site", "PBX", 10), at);
    },
    // A number worth a button: not withheld, not an extension.
    callable(number) {
      return typeof number === "string" && (number.match(/\d/g) || []).length >= 7;
    },
    // A "Call" button for number, its outcome in words after it.
    button(number) {
      const status = pbx.el("span", { class: "dial-status", role: "status" });
      const b = pbx.el("button", { type: "button", class: "dial" }, "Call");
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
  if (document.getElementById("logout")) pbx.dial.load(); // the pages behind the login
});
