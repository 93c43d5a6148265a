// needsbot try: the web chat. Plain JavaScript, no dependencies.
//
// State lives on the server (the fake Bot API). The page long-polls
// /api/chat with the last version it has seen and redraws what changed:
// messages keep their element, so an edit updates the bubble in place.
(() => {
  "use strict";

  const $ = (id) => document.getElementById(id);
  const el = (tag, cls, text) => {
    const e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined) e.textContent = text;
    return e;
  };
  const store = {
    get: (k) => { try { return JSON.parse(localStorage.getItem("needsbot-try:" + k)); } catch { return null; } },
    set: (k, v) => { try { localStorage.setItem("needsbot-try:" + k, JSON.stringify(v)); } catch { /* private mode */ } },
  };

  const ui = {
    personas: $("personas"), lang: $("lang"), about: $("about"), chat: $("chat"), messages: $("messages"),
    typing: $("typing"), status: $("status"), who: $("who"), botName: $("bot-name"), form: $("form"),
    input: $("input"), send: $("send"), start: $("start"), menuBtn: $("menu-btn"), menuPop: $("menu-pop"),
    chips: $("chips"), replyKb: $("reply-kb"), toast: $("toast"), alert: $("alert"), alertText: $("alert-text"),
    newRespondent: $("new-respondent"), phone: $("phone"),
  };

  let config = null;
  let persona = null;      // the persona object
  let user = 0;            // the Telegram user id the page plays
  let version = null;      // last chat version drawn
  let poller = null;       // AbortController of the running long poll
  let generation = 0;      // bumps on every switch: stale answers are dropped
  let lastChat = null;
  let drawnOnce = false;   // toasts from before the page was shown are not replayed
  const seenToasts = new Set();
  const nodes = new Map(); // message id -> {root, sig}

  async function api(path, body) {
    const opts = body === undefined ? {} : {
      method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body),
    };
    const r = await fetch(path, opts);
    const data = await r.json().catch(() => ({}));
    if (!r.ok) throw new Error(data.error || r.statusText);
    return data;
  }

  // ---- personas and language --------------------------------------------

  function initials(p) {
    return (p.first_name || p.label || "?").slice(0, 1).toUpperCase();
  }

  function personaClass(p) {
    return ["respondent", "operator", "manager", "admin"].includes(p.key) ? "p-" + p.key : "p-other";
  }

  function drawPersonas() {
    ui.personas.textContent = "";
    for (const p of config.personas) {
      const b = el("button", "persona " + personaClass(p));
      b.type = "button";
      b.setAttribute("role", "radio");
      b.dataset.persona = p.key;
      b.setAttribute("aria-checked", String(persona && persona.key === p.key));
      b.append(el("span", "pa", initials(p)));
      const t = el("span", "pt");
      t.append(el("div", "pl", p.label), el("div", "pd", p.description));
      b.append(t);
      const check = document.createElementNS("http://www.w3.org/2000/svg", "svg");
      check.setAttribute("viewBox", "0 0 24 24");
      check.setAttribute("class", "check");
      check.innerHTML = '<path d="M9 16.2 4.8 12l-1.4 1.4L9 19 21 7l-1.4-1.4z"/>';
      b.append(check);
      b.addEventListener("click", () => switchTo(p.key, false));
      ui.personas.append(b);
    }
  }

  function drawLanguages() {
    ui.lang.textContent = "";
    for (const l of config.languages) {
      const o = el("option", "", l.code ? `${l.name} (${l.code})` : l.name);
      o.value = l.code;
      ui.lang.append(o);
    }
  }

  function defaultLang() {
    const saved = store.get("lang");
    const codes = config.languages.map((l) => l.code.toLowerCase());
    if (saved !== null && codes.includes(saved)) return saved;
    for (const nav of navigator.languages || []) {
      const n = nav.toLowerCase();
      if (codes.includes(n)) return n;
      const base = n.split("-")[0];
      if (codes.includes(base)) return base;
    }
    return codes.includes("en") ? "en" : codes[0] || "";
  }

  async function switchTo(key, fresh, payload) {
    const p = config.personas.find((x) => x.key === key);
    if (!p) return;
    persona = p;
    store.set("persona", key);
    const gen = ++generation;
    stopPolling();
    resetChat();
    const users = store.get("users") || {};
    const s = await api("/api/session", { persona: key, user: fresh ? 0 : users[key] || 0, fresh: !!fresh, lang: ui.lang.value });
    if (gen !== generation) return;
    user = s.user;
    users[key] = user;
    store.set("users", users);
    document.body.dataset.user = String(user);
    document.body.dataset.persona = key;
    drawPersonas();
    ui.who.textContent = p.label;
    ui.who.className = "who " + personaClass(p);
    ui.about.textContent = p.tips || "";
    ui.newRespondent.hidden = p.key !== "respondent" && config.personas.some((x) => x.key === "respondent");
    drawChips();
    if (payload) await api("/api/start", { user, payload });
    poll(gen);
  }

  function drawChips() {
    ui.chips.textContent = "";
    const cmds = (persona && persona.commands) || [];
    ui.chips.hidden = cmds.length === 0;
    for (const c of cmds) {
      const b = el("button", "", c);
      b.type = "button";
      b.addEventListener("click", () => sendText(c));
      ui.chips.append(b);
    }
    const action = persona && persona.action;
    if (action) {
      // The persona's demo action (the manager: fill the demo with
      // synthetic interviews), beside the command suggestions.
      ui.chips.hidden = false;
      const b = el("button", "action", action.label);
      b.type = "button";
      b.id = "persona-action";
      b.addEventListener("click", async () => {
        b.disabled = true;
        b.classList.add("loading");
        try {
          const r = await api("/api/action", { persona: persona.key });
          showToast({ text: r.text, alert: true });
        } catch (e) {
          showToast({ text: e.message, alert: true });
        } finally {
          b.disabled = false;
          b.classList.remove("loading");
        }
      });
      ui.chips.append(b);
    }
  }

  // ---- the chat -----------------------------------------------------------

  function resetChat() {
    version = null;
    lastChat = null;
    nodes.clear();
    seenToasts.clear();
    ui.messages.textContent = "";
    ui.typing.hidden = true;
    ui.status.textContent = "bot";
    ui.status.classList.remove("busy");
    document.body.dataset.version = "";
    document.body.dataset.pending = "";
    document.body.dataset.busy = "";
    drawnOnce = false;
  }

  function stopPolling() {
    if (poller) poller.abort();
    poller = null;
  }

  async function poll(gen) {
    let backoff = 500;
    while (gen === generation) {
      const ctl = new AbortController();
      poller = ctl;
      try {
        // With the "typing…" the page shows, so that the bot finishing
        // its work wakes the poll even when no message changes.
        const q = version === null ? "" : "&since=" + version + "&busy=" + (lastChat && lastChat.busy ? "1" : "0");
        const r = await fetch(`/api/chat?user=${user}${q}`, { signal: ctl.signal });
        if (gen !== generation) return;
        if (r.status === 404) { // the server restarted: get a user again
          await switchTo(persona.key, false);
          return;
        }
        if (!r.ok) throw new Error(r.statusText);
        const c = await r.json();
        if (gen !== generation) return;
        draw(c);
        backoff = 500;
      } catch (e) {
        if (ctl.signal.aborted || gen !== generation) return;
        ui.status.textContent = "connecting…";
        await new Promise((res) => setTimeout(res, backoff));
        backoff = Math.min(backoff * 2, 5000);
      }
    }
  }

  const ticks = '<svg viewBox="0 0 18 12" aria-hidden="true"><path d="M1 6.5 4.4 10 11 2.5" fill="none" stroke="currentColor" stroke-width="1.6" stroke-linecap="round" stroke-linejoin="round"/><path d="M7.6 10 14.5 2.5" fill="none" stroke="currentColor" stroke-width="1.6" stroke-linecap="round"/></svg>';

  function hhmm(unix) {
    const d = new Date(unix * 1000);
    // In the zone the bot writes its own times in, so both agree.
    const o = { hour: "2-digit", minute: "2-digit" };
    if (config && config.timezone) o.timeZone = config.timezone;
    try {
      return d.toLocaleTimeString([], o);
    } catch (e) {
      return d.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
    }
  }

  function fmtSize(n) {
    if (n < 1024) return n + " B";
    if (n < 1024 * 1024) return (n / 1024).toFixed(1) + " KB";
    return (n / 1024 / 1024).toFixed(1) + " MB";
  }

  function signature(m) {
    return JSON.stringify([m.html, m.buttons, m.edited, m.file && m.file.url, m.extra]);
  }

  function buildMessage(m) {
    const root = el("div", "msg " + (m.from_bot ? "in" : "out"));
    root.dataset.id = String(m.id);
    const bubble = el("div", "bubble");
    if (m.file) {
      if (m.kind === "photo" && m.file.url) {
        const img = el("img", "media");
        img.src = m.file.url;
        img.alt = "";
        img.loading = "lazy";
        img.addEventListener("load", () => stickToBottom(true));
        bubble.append(img);
      } else if (m.kind === "document") {
        const a = el("a", "doc");
        if (m.file.url) { a.href = m.file.url; a.download = m.file.name || "file"; }
        const icon = el("span", "doc-icon");
        icon.innerHTML = '<svg viewBox="0 0 24 24"><path d="M12 16 7 11l1.4-1.4 2.6 2.6V4h2v8.2l2.6-2.6L17 11zM5 20v-2h14v2z"/></svg>';
        const info = el("span");
        info.append(el("div", "doc-name", m.file.name || "file"), el("div", "doc-size", fmtSize(m.file.size)));
        a.append(icon, info);
        bubble.append(a);
      }
    }
    if (m.extra && (m.kind === "sticker")) bubble.append(el("div", "extra", m.extra));
    else if (m.extra) {
      // A map pin's title and address (or a location, a contact…): in the
      // direction of its own script, like every text of the chat.
      const extra = el("div", "text", m.kind === "venue" ? "📍 " + m.extra : m.kind + ": " + m.extra);
      extra.dir = "auto";
      bubble.append(extra);
    }
    const text = el("div", "text");
    text.dir = "auto";
    // m.html is built on the server from the text and its entities: every
    // character escaped, only b/i/u/s/code/pre/a/blockquote/span written.
    text.innerHTML = m.html;
    const meta = el("span", "meta");
    meta.dir = "ltr";
    meta.textContent = (m.edited ? "edited " : "") + hhmm(m.date);
    if (!m.from_bot) {
      const t = el("span", "ticks");
      t.innerHTML = ticks;
      meta.append(t);
    }
    text.append(meta);
    if (m.html || !m.file) bubble.append(text);
    else bubble.append(meta);
    root.append(bubble);
    if (m.buttons && m.buttons.length) {
      root.classList.add("has-kb");
      const kb = el("div", "kb");
      m.buttons.forEach((row) => {
        const r = el("div", "kb-row");
        row.forEach((b) => {
          let btn;
          if (b.url) {
            btn = el("a", "", b.text);
            btn.href = b.url;
            btn.target = "_blank";
            btn.rel = "noopener noreferrer";
            btn.addEventListener("click", (ev) => { if (openDeepLink(b.url)) ev.preventDefault(); });
          } else {
            btn = el("button", "", b.text);
            btn.type = "button";
            btn.addEventListener("click", () => tap(m.id, b.text, btn));
          }
          btn.dir = "auto";
          btn.dataset.label = b.text;
          r.append(btn);
        });
        kb.append(r);
      });
      root.append(kb);
    }
    text.addEventListener("click", (ev) => {
      const a = ev.target.closest("a");
      const sp = ev.target.closest(".spoiler");
      if (sp) sp.classList.add("shown");
      if (!a) return;
      if (a.classList.contains("cmd")) {
        ev.preventDefault();
        sendText(a.textContent.split("@")[0]);
      } else if (openDeepLink(a.getAttribute("href"))) {
        ev.preventDefault();
      }
    });
    return root;
  }

  // openDeepLink handles t.me/<this bot>?start=PAYLOAD links, such as the
  // invites operators create: they open as a new respondent, as scanning
  // the QR code on another phone would.
  function openDeepLink(href) {
    let u;
    try { u = new URL(href, location.href); } catch { return false; }
    const bot = (config.bot.username || "").toLowerCase();
    if (!/^(www\.)?(t|telegram)\.me$/i.test(u.hostname)) return false;
    if (u.pathname.replace(/^\//, "").toLowerCase() !== bot) return false;
    const payload = u.searchParams.get("start") || "";
    const resp = config.personas.find((p) => p.key === "respondent");
    if (!resp) return false;
    switchTo(resp.key, true, payload || undefined);
    return true;
  }

  function nearBottom() {
    const c = ui.chat;
    return c.scrollHeight - c.scrollTop - c.clientHeight < 120;
  }

  // followed is the scroll position the page last chose itself (follow):
  // while the chat is there, the page keeps following the conversation.
  let followed = -1;
  // acted is set by the person's tap or message, until the bot is done
  // with it: its answer is shown wherever the person had scrolled to (a
  // key halfway down a long card).
  let acted = false;
  function following() {
    return acted || nearBottom() || Math.abs(ui.chat.scrollTop - followed) < 2;
  }

  // follow shows the latest message: the bottom of the chat, as a phone
  // does — but a message of the bot taller than the screen (a long
  // question card on a small phone, in a language whose text runs long)
  // from its top, where its question starts, as Telegram opens a long
  // unread message: the person reads down to its keys, a scroll below.
  function follow() {
    const c = ui.chat;
    const last = ui.messages.lastElementChild;
    if (last && last.classList.contains("in") && last.offsetHeight > c.clientHeight - 16) {
      c.scrollTop += last.getBoundingClientRect().top - c.getBoundingClientRect().top - 8;
    } else {
      c.scrollTop = c.scrollHeight;
    }
    followed = c.scrollTop;
  }

  function stickToBottom(force) {
    if (force || following()) follow();
    showMore();
  }
  // The round arrow shows there is more below (the keys of a card shown
  // from its top) and scrolls there.
  const toBottom = $("to-bottom");
  function showMore() {
    const c = ui.chat;
    toBottom.hidden = c.scrollHeight - c.scrollTop - c.clientHeight < 24;
  }
  toBottom.addEventListener("click", () => { ui.chat.scrollTop = ui.chat.scrollHeight; });
  // Keep the latest message in view when the phone's size changes (the
  // keyboard opens, the window is resized), as a chat app does.
  let atBottom = true;
  ui.chat.addEventListener("scroll", () => { atBottom = following(); showMore(); }, { passive: true });
  new ResizeObserver(() => { if (atBottom) stickToBottom(true); }).observe(ui.chat);

  function draw(c) {
    const stick = version === null || following();
    version = c.version;
    lastChat = c;
    document.body.dataset.version = String(c.version);
    document.body.dataset.pending = String(c.pending);
    document.body.dataset.busy = String(!!c.busy);
    if (!c.busy) {
      // Every tap is answered once the bot has handled it, also when the
      // answer changes no message (a notice, a chart sent apart): the
      // spinner ends then, not only when the buttons are redrawn.
      ui.messages.querySelectorAll(".kb .loading").forEach((b) => b.classList.remove("loading"));
    }

    const keep = new Set();
    let prev = null;
    if (c.messages.length && !ui.messages.querySelector(".day")) {
      ui.messages.prepend(el("div", "day", "Today"));
    }
    ui.messages.querySelector(".empty-note")?.remove();
    c.messages.forEach((m, i) => {
      keep.add(m.id);
      const sig = signature(m);
      let n = nodes.get(m.id);
      if (!n || n.sig !== sig) {
        const root = buildMessage(m);
        if (n) n.root.replaceWith(root);
        else if (prev) prev.after(root);
        else ui.messages.append(root);
        n = { root, sig };
        nodes.set(m.id, n);
      }
      const next = c.messages[i + 1];
      const before = c.messages[i - 1];
      n.root.classList.toggle("first", !before || before.from_bot !== m.from_bot);
      n.root.classList.toggle("tail", !next || next.from_bot !== m.from_bot);
      prev = n.root;
    });
    for (const [id, n] of nodes) {
      if (!keep.has(id)) { n.root.remove(); nodes.delete(id); }
    }
    if (!c.messages.length) {
      const note = el("div", "empty-note");
      if (persona.start_button) {
        note.append(el("b", "", "You opened an invite link"));
        note.append(document.createTextNode("Press START at the bottom, as a person who scanned the QR code at the service desk would."));
      } else {
        note.append(el("b", "", "No messages yet"));
        note.append(document.createTextNode("Send a command, or tap one of the suggestions above the keyboard."));
      }
      ui.messages.append(note);
    }

    // The bot has updates of this chat to acknowledge or still works on
    // one (c.busy), or says it is typing.
    const busy = c.busy || c.action === "typing";
    ui.typing.hidden = !busy;
    ui.status.classList.toggle("busy", busy || !!c.action);
    ui.status.textContent = busy ? "typing" : c.action ? c.action.replace("upload_", "sending ").replace("_", " ") : "bot";

    const showStart = !!persona.start_button && c.messages.length === 0;
    ui.start.hidden = !showStart;
    ui.form.hidden = showStart;
    ui.menuBtn.hidden = showStart || !c.commands.length;
    drawMenu(c.commands);
    drawReplyKeyboard(c.reply_keyboard);

    for (const t of c.toasts) {
      if (seenToasts.has(t.id)) continue;
      seenToasts.add(t.id);
      if (drawnOnce) showToast(t);
    }
    drawnOnce = true;
    if (stick) stickToBottom(true);
    else showMore();
    if (!c.busy && c.version !== actedAt) acted = false;
  }

  function drawMenu(cmds) {
    ui.menuPop.textContent = "";
    for (const c of cmds) {
      const b = el("button");
      b.type = "button";
      b.setAttribute("role", "menuitem");
      b.append(el("span", "c", c.command), el("span", "d", c.description));
      b.addEventListener("click", () => { closeMenu(); sendText(c.command); });
      ui.menuPop.append(b);
    }
  }

  function drawReplyKeyboard(rows) {
    ui.replyKb.textContent = "";
    ui.replyKb.hidden = !rows || !rows.length;
    for (const row of rows || []) {
      const r = el("div", "row");
      for (const label of row) {
        const b = el("button", "", label);
        b.type = "button";
        b.dir = "auto";
        b.addEventListener("click", () => sendText(label));
        r.append(b);
      }
      ui.replyKb.append(r);
    }
  }

  let toastTimer = 0;
  function showToast(t) {
    if (t.alert) {
      ui.alertText.textContent = t.text;
      ui.alert.hidden = false;
      $("alert-ok").focus();
      return;
    }
    ui.toast.textContent = t.text;
    ui.toast.dir = "auto";
    ui.toast.hidden = false;
    clearTimeout(toastTimer);
    toastTimer = setTimeout(() => { ui.toast.hidden = true; }, 2500);
  }

  // ---- actions ------------------------------------------------------------

  // actedAt is the chat's version when the person last acted (see acted).
  let actedAt = null;
  function act() {
    acted = true;
    actedAt = version;
  }

  async function sendText(text) {
    text = text.trim();
    if (!text || !user) return;
    act();
    try {
      await api("/api/send", { user, text });
    } catch (e) {
      showToast({ text: e.message });
    }
  }

  async function tap(message, label, btn) {
    btn.classList.add("loading");
    act();
    try {
      await api("/api/tap", { user, message, label });
    } catch (e) {
      btn.classList.remove("loading");
      showToast({ text: "This button no longer works." });
    }
  }

  function closeMenu() {
    ui.menuPop.hidden = true;
    ui.menuBtn.setAttribute("aria-expanded", "false");
  }

  ui.form.addEventListener("submit", (ev) => {
    ev.preventDefault();
    const text = ui.input.value;
    if (!text.trim()) return;
    ui.input.value = "";
    autosize();
    sendText(text);
  });
  ui.input.addEventListener("keydown", (ev) => {
    if (ev.key === "Enter" && !ev.shiftKey && !ev.isComposing) {
      ev.preventDefault();
      ui.form.requestSubmit();
    }
  });
  function autosize() {
    ui.input.style.height = "auto";
    ui.input.style.height = Math.min(ui.input.scrollHeight, 140) + "px";
    ui.send.disabled = !ui.input.value.trim();
  }
  ui.input.addEventListener("input", autosize);
  // On a phone the chat fills the screen once the conversation starts.
  function phoneView() {
    if (window.matchMedia("(max-width: 820px)").matches) ui.phone.scrollIntoView({ block: "start" });
  }

  ui.start.addEventListener("click", async () => {
    phoneView();
    ui.start.disabled = true;
    try { await api("/api/start", { user }); } catch (e) { showToast({ text: e.message }); }
    ui.start.disabled = false;
  });
  ui.menuBtn.addEventListener("click", () => {
    const open = ui.menuPop.hidden;
    ui.menuPop.hidden = !open;
    ui.menuBtn.setAttribute("aria-expanded", String(open));
  });
  document.addEventListener("click", (ev) => {
    if (!ui.menuPop.hidden && !ev.target.closest("#menu-pop, #menu-btn")) closeMenu();
  });
  document.addEventListener("keydown", (ev) => {
    if (ev.key === "Escape") { closeMenu(); ui.alert.hidden = true; }
  });
  $("alert-ok").addEventListener("click", () => { ui.alert.hidden = true; });
  ui.newRespondent.addEventListener("click", () => switchTo("respondent", true));
  ui.lang.addEventListener("change", async () => {
    store.set("lang", ui.lang.value);
    const l = config.languages.find((x) => x.code === ui.lang.value);
    document.documentElement.lang = ui.lang.value || "en";
    ui.input.dir = l && l.rtl ? "rtl" : "auto";
    if (user) {
      try { await api("/api/language", { user, lang: ui.lang.value }); } catch (e) { showToast({ text: e.message }); }
    }
  });

  async function main() {
    config = await api("/api/config");
    document.title = config.title + " · try";
    ui.botName.textContent = config.bot.name;
    drawLanguages();
    ui.lang.value = defaultLang();
    const saved = store.get("persona");
    const first = config.personas.find((p) => p.key === saved) || config.personas[0];
    drawPersonas();
    autosize();
    await switchTo(first.key, false);
    document.body.dataset.ready = "true";
  }
  main().catch((e) => {
    ui.status.textContent = "error: " + e.message;
  });
})();
