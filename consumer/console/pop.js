"use strict";
// Who is calling me: a card at the top of every page while a call rings at
// one of "My extension(s)" (kept in this browser), from the live stream's
// "ringing" items (the bridge's calls/ringing, with the consumer's customer
// match).  It turns to answered or missed as the call goes on and leaves
// when the call is over.  With the browser's permission a desktop
// notification says the same.  Everything from the PBX or the database is
// text (textContent, never HTML).

pbx.pop = {
  cards: new Map(),     // "site\nname" -> { el, value, notified }
  history: new Map(),   // customer_id -> Promise of their last calls

  mine() {
    return (localStorage.getItem("pbxbus.extension") || "").split(/[\s,]+/).filter(Boolean);
  },

  caller(v) {
    if (v.caller_number) return v.caller_number;
    if (v.withheld === true) return "number withheld";
    return "number not known";
  },

  via(v) {
    const words = { direct: "direct", ring_group: "ring group", queue: "queue", follow_me: "follow-me",
                    transfer: "transferred" };
    let s = words[v.via] || String(v.via || "");
    if (v.via === "queue" && v.queue) s += " " + v.queue;
    if (v.did) s += " \u00b7 DID " + v.did;
    return s;
  },

  // What the card's head says: ringing, answered by you / by 101, missed.
  state(v) {
    const mine = pbx.pop.mine();
    let s;
    if (v.state === "ringing") s = "Ringing at " + v.extension;
    else if (v.answered_by) s = mine.includes(v.answered_by) ? "Answered by you" : "Answered by " + v.answered_by;
    else s = "Missed";
    return v.ended ? s + " \u00b7 call ended" : s;
  },

  stateClass(v) {
    if (v.state === "ringing") return "ringing";
    return v.answered_by ? "answered" : "missed";
  },

  lastCalls(id) {
    if (!pbx.pop.history.has(id))
      pbx.pop.history.set(id, pbx.api("/api/calls?" + new URLSearchParams({ customer: String(id), limit: "3" }))
        .then((p) => p.calls || []).catch(() => []));
    return pbx.pop.history.get(id);
  },

  async customer(v, box) {
    if (!v.customer_id) { // none, or not known yet: the consumer's answer may follow
      box.replaceChildren();
      return;
    }
    const link = pbx.el("a", { href: "/customer?id=" + encodeURIComponent(v.customer_id), class: "pop-customer" },
      v.customer_name || "customer " + v.customer_id);
    const list = pbx.el("ul", { class: "pop-calls" });
    box.replaceChildren(link, list);
    const calls = await pbx.pop.lastCalls(v.customer_id);
    list.replaceChildren(...calls.map((c) => pbx.el("li", {}, pbx.when(c.occurred_at) + " \u00b7 " +
      pbx.result(c) + (c.notes ? " \u00b7 " + c.notes : ""))));
  },

  draw(card, v) {
    const old = card.value;
    card.value = v;
    card.el.className = "pop pop-" + pbx.pop.stateClass(v);
    card.el.querySelector(".pop-state").textContent = pbx.pop.state(v);
    card.el.querySelector(".pop-number").textContent = pbx.pop.caller(v);
    card.el.querySelector(".pop-name").textContent = v.caller_name || "";
    card.el.querySelector(".pop-via").textContent = pbx.pop.via(v);
    if (!old || old.customer_id !== v.customer_id) pbx.pop.customer(v, card.el.querySelector(".pop-match"));
  },

  show(key, v) {
    let card = pbx.pop.cards.get(key);
    if (!card) {
      const el = pbx.el("article", { class: "pop", "data-extension": v.extension, "data-call": v.call_id },
        pbx.el("div", { class: "pop-state" }),
        pbx.el("div", {}, pbx.el("strong", { class: "pop-number" }), " ", pbx.el("span", { class: "pop-name" })),
        pbx.el("div", { class: "pop-match" }),
        pbx.el("div", { class: "pop-via muted" }));
      card = { el, value: null, notified: null };
      pbx.pop.cards.set(key, card);
      document.getElementById("pops").append(el);
    }
    pbx.pop.draw(card, v);
    pbx.pop.notify(key, card);
  },

  hide(key) {
    const card = pbx.pop.cards.get(key);
    if (card) card.el.remove();
    pbx.pop.cards.delete(key);
  },

  // One notification per ring, replaced (same tag) when the customer is known.
  notify(key, card) {
    const v = card.value;
    if (typeof Notification === "undefined" || Notification.permission !== "granted") return;
    const said = (v.customer_name || "") + "|" + v.state;
    if (v.state !== "ringing" || card.notified === said) return;
    card.notified = said;
    const body = [pbx.pop.caller(v), v.caller_name, v.customer_name, pbx.pop.via(v)].filter(Boolean).join("\n");
    try {
      new Notification("Call for " + v.extension, { body, tag: key, silent: !!card.notifiedOnce });
      card.notifiedOnce = true;
    } catch (e) { /* a browser that refuses: the card is there */ }
  },

  askPermission() {
    if (typeof Notification === "undefined" || Notification.permission !== "default") return;
    const nav = document.querySelector("nav");
    const b = pbx.el("button", { type: "button", id: "allow-notifications", class: "link" }, "Desktop notifications");
    b.addEventListener("click", async () => { await Notification.requestPermission(); b.remove(); });
    nav.insertBefore(b, document.getElementById("logout"));
  },

  follow() {
    const main = document.querySelector("main");
    if (!main || document.getElementById("pops")) return;
    document.body.insertBefore(pbx.el("section", { id: "pops", "aria-live": "polite", "aria-label": "calls for you" }), main);
    pbx.pop.askPermission();
    pbx.live.on((msg) => {
      if (!msg || !Array.isArray(msg.items)) return;
      if (msg.reset) for (const key of [...pbx.pop.cards.keys()]) pbx.pop.hide(key);
      const mine = pbx.pop.mine();
      for (const it of msg.items) {
        if (!it || it.kind !== "ringing" || typeof it.name !== "string") continue;
        const key = it.site + "\n" + it.name;
        const v = it.value;
        if (!v || typeof v !== "object" || !mine.includes(v.extension)) pbx.pop.hide(key);
        else pbx.pop.show(key, v);
      }
    });
  },
};

document.addEventListener("DOMContentLoaded", () => {
  if (document.getElementById("logout")) pbx.pop.follow();
});
