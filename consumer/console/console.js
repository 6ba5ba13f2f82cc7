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

  logoutButton() {
    const b = document.getElementById("logout");
    if (!b) return;
    b.addEventListener("click", async () => {
      try { await pbx.postJSON("/api/logout", {}); } finally { location.href = "/login"; }
    });
  },
};

document.addEventListener("DOMContentLoaded", () => pbx.logoutButton());
