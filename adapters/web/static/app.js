/* draftloop playground: a team channel in one page. Plain JS, no build step. */
"use strict";

const USERS = ["ana", "ben", "chloe"];
const USER_COLORS = { ana: "#e0663f", ben: "#2f8fd8", chloe: "#21a27a" };
const WORKING = new Set(["drafting", "refining", "inpainting", "outpainting", "restoring", "upscaling"]);
const KEYCAPS = ["1️⃣", "2️⃣", "3️⃣", "4️⃣", "5️⃣", "6️⃣", "7️⃣", "8️⃣", "9️⃣", "🔟"];
const ICONS = {
  thread: "M2 3.5A1.5 1.5 0 0 1 3.5 2h9A1.5 1.5 0 0 1 14 3.5v6a1.5 1.5 0 0 1-1.5 1.5H7l-3 3v-3h-.5A1.5 1.5 0 0 1 2 9.5z",
  clip: "M10.5 4.5 5.8 9.2a1.2 1.2 0 0 0 1.7 1.7l5-5a2.4 2.4 0 0 0-3.4-3.4l-5 5a3.6 3.6 0 0 0 5.1 5.1L13 8.8",
  clock: "M8 2a6 6 0 1 0 0 12A6 6 0 0 0 8 2zm0 3v3.2l2.2 1.4",
};
const EXAMPLES = [
  "/draft a red fox in fresh snow, watercolor --n 8 --ar 3:2",
  "/draft product shot of a ceramic mug on oak, soft light --n 6 --no text",
  "/draft isometric city at dusk, neon --n 4 --vote 10m --quorum 2",
];

const S = {
  user: USERS.includes(localStorage.getItem("dl.user")) ? localStorage.getItem("dl.user") : "ana",
  approver: localStorage.getItem("dl.approver") === "1",
  channel: "general",
  thread: null,
  channels: [],
  threadInfo: null,
  messages: new Map(),
  campaignId: null,
  campaign: null,
  votes: {},
  files: [],
  es: null,
  unread: new Set(),
  prevCounters: null,
};

const $ = (sel) => document.querySelector(sel);

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === null || v === undefined || v === false) continue;
    if (k === "class") node.className = v;
    else if (k === "dataset") Object.assign(node.dataset, v);
    else if (k.startsWith("on")) node.addEventListener(k.slice(2), v);
    else if (k === "html") node.innerHTML = v;
    else node.setAttribute(k, v === true ? "" : v);
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

function escapeHtml(text) {
  return String(text).replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]);
}

/* Chat-style text: `code`, **bold**, line breaks. Escaped first, so it is safe as HTML. */
function richText(text) {
  return escapeHtml(text)
    .replace(/`([^`]+)`/g, "<code>$1</code>")
    .replace(/\*\*([^*]+)\*\*/g, "<strong>$1</strong>")
    .replace(/\n/g, "<br>");
}

function newEventId() {
  if (window.crypto && crypto.randomUUID) return crypto.randomUUID();
  const b = new Uint8Array(16);
  crypto.getRandomValues(b);
  return Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");
}

function timeText(at) {
  return new Date(at * 1000).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
}

function avatar(name, big = true) {
  const bot = name === "draftloop";
  const node = el("span", { class: `avatar${big ? " big" : ""}${bot ? " bot" : ""}` }, bot ? "dl" : name.slice(0, 1));
  if (!bot) node.style.background = USER_COLORS[name] || "#8a7fb8";
  return node;
}

/* Keycap emoji are drawn as badges: they read the same on machines without an emoji font. */
function emojiLabel(emoji) {
  const i = KEYCAPS.indexOf(emoji);
  return i >= 0 ? el("span", { class: "keycap", "aria-label": emoji }, String(i + 1)) : el("span", {}, emoji);
}

function icon(name) {
  const svg = document.createElementNS("http://www.w3.org/2000/svg", "svg");
  svg.setAttribute("viewBox", "0 0 16 16");
  svg.setAttribute("class", `icon icon-${name}`);
  svg.setAttribute("aria-hidden", "true");
  const path = document.createElementNS("http://www.w3.org/2000/svg", "path");
  path.setAttribute("d", ICONS[name]);
  svg.append(path);
  return svg;
}

function stageBadge(stage) {
  return el("span", { class: "stage", dataset: { stage } }, stage);
}

/* ---------------- API ---------------- */

class ApiError extends Error {
  constructor(message, status) { super(message); this.status = status; }
}

async function api(path, { method, json, form } = {}) {
  const headers = { "X-Draftloop-Client": "playground" };
  let body;
  if (json !== undefined) { headers["Content-Type"] = "application/json"; body = JSON.stringify(json); }
  if (form !== undefined) body = form;
  const resp = await fetch(path, { method: method || (body ? "POST" : "GET"), headers, body, credentials: "same-origin" });
  let data = {};
  try { data = await resp.json(); } catch (_) { data = { error: resp.statusText }; }
  if (!resp.ok) throw new ApiError(data.error || `HTTP ${resp.status}`, resp.status);
  return data;
}

/* A platform delivers events at least once: a send whose answer was lost is sent again, same event id. */
async function deliver(path, options) {
  try {
    return await api(path, options);
  } catch (err) {
    if (err instanceof ApiError) throw err;
    await new Promise((r) => setTimeout(r, 400));
    return api(path, options);
  }
}

/* ---------------- location ---------------- */

function readHash() {
  const parts = location.hash.replace(/^#\/?/, "").split("/").filter(Boolean);
  S.channel = parts[0] || "general";
  S.thread = parts[1] || null;
}

function go(channel, thread) {
  const hash = `#/${channel}${thread ? "/" + thread : ""}`;
  if (location.hash !== hash) location.hash = hash;
  else openLocation();
}

async function openLocation() {
  readHash();
  S.unread.delete(S.thread);
  S.messages.clear();
  renderSidebar();
  renderCrumbs();
  await loadMessages();
  loadCampaign();
}

/* ---------------- sidebar ---------------- */

async function loadChannels() {
  try {
    const data = await api("/api/channels");
    S.channels = data.channels;
  } catch (err) {
    console.warn("channels:", err);
  }
  renderSidebar();
  renderCrumbs();
}

function renderSidebar() {
  const nav = $("#channels");
  nav.replaceChildren();
  for (const ch of S.channels) {
    const active = ch.id === S.channel && !S.thread;
    nav.append(el("a", {
      class: `channel-link${active ? " active" : ""}`, href: `#/${ch.id}`, dataset: { channel: ch.id }, title: ch.topic || "",
    }, el("span", { class: "hash" }, "#"), ch.name));
    for (const t of ch.threads) {
      const cls = ["thread-link"];
      if (t.id === S.thread) cls.push("active");
      if (S.unread.has(t.id)) cls.push("unread");
      nav.append(el("a", { class: cls.join(" "), href: `#/${ch.id}/${t.id}`, dataset: { thread: t.id }, title: t.title },
        icon("thread"),
        el("span", { class: "title" }, t.title),
        t.stage ? stageBadge(t.stage) : null));
    }
  }
}

function currentChannel() {
  return S.channels.find((c) => c.id === S.channel) || { id: S.channel, name: S.channel, topic: "", threads: [] };
}

function currentThread() {
  return currentChannel().threads.find((t) => t.id === S.thread) || S.threadInfo;
}

function renderCrumbs() {
  const ch = currentChannel();
  const crumb = $("#crumb-channel");
  crumb.textContent = `#${ch.name}`;
  crumb.href = `#/${ch.id}`;
  const t = S.thread ? currentThread() : null;
  $("#crumb-thread").hidden = !t;
  $("#crumb-thread").textContent = t ? t.title : "";
  const stage = S.campaign ? S.campaign.stage : t && t.stage;
  $("#crumb-stage").hidden = !stage;
  if (stage) { $("#crumb-stage").textContent = stage; $("#crumb-stage").dataset.stage = stage; }
  $("#where-sub").textContent = t
    ? `Campaign thread · started by ${t.created_by}`
    : ch.topic || "A team channel";
  $("#composer-where").innerHTML = t
    ? "In this thread commands apply to its campaign: <code>/vary 3</code>, <code>/select 2</code>, <code>/refine</code>, <code>/status</code>…"
    : `In #${escapeHtml(ch.name)} a <code>/draft</code> opens a new campaign thread.`;
  document.title = t ? `${t.title} · draftloop` : `#${ch.name} · draftloop`;
}

/* ---------------- messages ---------------- */

async function loadMessages() {
  const q = new URLSearchParams({ channel_id: S.channel, user: S.user });
  if (S.thread) q.set("thread_id", S.thread);
  try {
    const data = await api(`/api/messages?${q}`);
    S.threadInfo = data.thread;
    S.messages.clear();
    for (const m of data.messages) S.messages.set(m.id, m);
  } catch (err) {
    S.messages.clear();
    if (err.status === 404 && S.channel !== "general") { go("general", null); return; }
  }
  renderLog(true);
}

function inView(m) {
  return m.channel_id === S.channel && (m.thread_id || null) === S.thread;
}

function visible(m) {
  return !m.visible_to || m.visible_to === S.user;
}

function renderLog(scroll) {
  const log = $("#log");
  const nearBottom = log.scrollHeight - log.scrollTop - log.clientHeight < 120;
  const msgs = [...S.messages.values()].filter(visible).sort((a, b) => a.at - b.at);
  log.replaceChildren(...(msgs.length ? msgs.map(renderMessage) : [renderEmpty()]));
  updateStatusBar();
  if (scroll || nearBottom) log.scrollTop = log.scrollHeight;
}

function upsertMessage(m) {
  if (!inView(m)) return;
  S.messages.set(m.id, m);
  if (!visible(m)) return;
  const log = $("#log");
  const existing = log.querySelector(`[data-id="${m.id}"]`);
  if (existing) { existing.replaceWith(renderMessage(m)); updateStatusBar(); return; }
  const nearBottom = log.scrollHeight - log.scrollTop - log.clientHeight < 160;
  const empty = log.querySelector(".empty");
  if (empty) empty.remove();
  log.append(renderMessage(m));
  updateStatusBar();
  if (nearBottom || m.author === S.user) log.scrollTop = log.scrollHeight;
}

function renderEmpty() {
  const examples = EXAMPLES.map((text) => el("button", {
    class: "example", type: "button", onclick: () => { const box = $("#command"); box.value = text; box.focus(); autosize(); },
  }, text));
  if (S.thread) {
    return el("div", { class: "empty" }, el("h3", {}, "Nothing here yet"),
      el("p", {}, "The bot posts drafts, status and results in this thread."));
  }
  return el("div", { class: "empty" },
    el("h3", {}, "Run an image campaign with your team"),
    el("p", {}, "Type a /draft below: the bot opens a thread, drafts cheap variants, and the team votes with the number reactions. Winners get refined at full quality, then edited and upscaled."),
    el("div", { class: "steps" }, ...["draft", "vote", "vary", "refine", "edit", "upscale"].map((s) => el("span", {}, s))),
    el("p", {}, "Switch between ana, ben and chloe (top right) to act as a whole team."),
    el("div", { class: "examples" }, ...examples));
}

function renderMessage(m) {
  const author = m.author || "draftloop";
  const classes = ["msg", m.kind === "thread" ? "thread-start" : m.kind];
  if (m.visible_to) classes.push("ephemeral");
  const head = el("div", { class: "msg-head" },
    el("span", { class: "msg-author" }, author === "draftloop" ? "draftloop" : author),
    el("span", { class: "msg-time", title: new Date(m.at * 1000).toLocaleString() }, timeText(m.at)),
    m.edited_at ? el("span", { class: "msg-time" }, "(edited)") : null,
    m.visible_to ? el("span", { class: "msg-flag" }, "only visible to you") : null);
  const body = el("div", { class: "msg-content" }, head);

  if (m.kind === "thread") {
    const t = currentChannel().threads.find((x) => x.id === m.link_thread);
    body.append(el("div", { class: "msg-body" }, "started a campaign thread"),
      el("button", { class: "thread-card", type: "button", onclick: () => go(m.channel_id, m.link_thread) },
        icon("thread"),
        el("span", { class: "tc-title" }, m.text),
        t && t.stage ? stageBadge(t.stage) : null,
        el("span", { class: "tc-open" }, "Open →")));
  } else if (m.kind === "status") {
    body.append(el("div", { class: "msg-body" }, icon("clock"),
      el("span", { class: "status-msg-text", html: richText(m.text) })));
  } else {
    body.append(el("div", { class: "msg-body", html: richText(m.text) }));
  }
  if (m.attachments && m.attachments.length) {
    body.append(el("div", { class: "attachment-names" }, icon("clip"), m.attachments.join(", ")));
  }
  if (m.images && m.images.length) body.append(renderGrid(m));
  const loose = (m.buttons || []).filter((b) => !buttonNumber(b, m));
  if (loose.length) body.append(el("div", { class: "msg-actions" }, ...loose.map((b) => actionButton(b, m))));
  if (m.reactions && m.reactions.length) body.append(renderReactions(m));
  return el("article", { class: classes.join(" "), dataset: { id: m.id, kind: m.kind } }, avatar(author), body);
}

function buttonNumber(button, m) {
  const parts = button.action_id.split(":");
  const n = parseInt(parts[3], 10);
  return (m.images || []).some((img) => img.number === n) ? n : null;
}

function actionButton(b, m) {
  return el("button", {
    class: "act", type: "button", dataset: { action: b.action_id },
    onclick: (ev) => press(b, m, ev.currentTarget),
  }, b.label);
}

function emojiFor(m, index) {
  const r = m.reactions || [];
  return index < r.length ? r[index].emoji : null;
}

function renderGrid(m) {
  const grid = el("div", { class: "tiles" });
  m.images.forEach((img, i) => {
    const ar = img.width && img.height ? `${img.width} / ${img.height}` : "1";
    const emoji = m.round_no !== null && m.round_no !== undefined ? emojiFor(m, i) : null;
    const reaction = emoji ? m.reactions[i] : null;
    const image = el("img", {
      src: img.url, alt: `candidate #${img.number}`, loading: "lazy", width: img.width || null, height: img.height || null,
      onclick: () => openLightbox(img),
    });
    image.style.setProperty("--ar", ar);
    const buttons = (m.buttons || []).filter((b) => buttonNumber(b, m) === img.number);
    grid.append(el("figure", { class: "tile", dataset: { number: img.number } },
      el("div", { class: "tile-img" }, image,
        el("span", { class: "tile-num" }, emoji ? emojiLabel(emoji) : null, `#${img.number}`),
        reaction && reaction.users.length ? el("span", { class: "tile-votes", title: reaction.users.join(", ") }, `▲ ${reaction.users.length}`) : null),
      el("figcaption", { class: "tile-caption" }, img.caption || `#${img.number}`),
      buttons.length ? el("div", { class: "tile-actions" }, ...buttons.map((b) => actionButton(b, m))) : null));
  });
  return grid;
}

function renderReactions(m) {
  const wrap = el("div", { class: "reactions", role: "group", "aria-label": "Votes" });
  m.reactions.forEach((r, i) => {
    const mine = r.users.includes(S.user);
    const img = m.images && m.images[i];
    wrap.append(el("button", {
      class: `reaction${mine ? " mine" : ""}`, type: "button", "aria-pressed": mine ? "true" : "false",
      title: r.users.length ? `Voted: ${r.users.join(", ")}` : "No votes yet", dataset: { emoji: r.emoji },
      onclick: () => react(m, r.emoji, !mine),
    }, emojiLabel(r.emoji), img ? el("span", { class: "for" }, `#${img.number}`) : null,
    el("span", { class: "count" }, String(r.users.length))));
  });
  const box = el("div", {}, wrap);
  if (m.round_no !== null && m.round_no !== undefined) {
    box.append(el("div", { class: "vote-hint" }, `Round ${m.round_no} · click a number to vote or take your vote back`));
  }
  return box;
}

function updateStatusBar() {
  const statuses = [...S.messages.values()].filter((m) => m.kind === "status" && visible(m));
  const bar = $("#status-bar");
  if (!S.thread || !statuses.length) { bar.hidden = true; return; }
  const latest = statuses.sort((a, b) => (a.edited_at || a.at) - (b.edited_at || b.at)).at(-1);
  bar.hidden = false;
  $("#status-text").innerHTML = richText(latest.text);
  const stage = S.campaign && S.campaign.stage;
  bar.classList.toggle("working", Boolean(stage && WORKING.has(stage)));
}

/* ---------------- acting ---------------- */

async function send(ev) {
  ev.preventDefault();
  const box = $("#command");
  const text = box.value.trim();
  if (!text) return;
  const button = $("#send");
  button.disabled = true;
  const fields = { channel_id: S.channel, thread_id: S.thread || "", user: S.user, approver: S.approver ? "1" : "", text, event_id: newEventId() };
  let options;
  if (S.files.length) {
    const form = new FormData();
    for (const [k, v] of Object.entries(fields)) form.append(k, v);
    for (const f of S.files) form.append("files", f, f.name);
    options = { form };
  } else {
    options = { json: fields };
  }
  try {
    const data = await deliver("/api/send", options);
    box.value = "";
    S.files = [];
    renderAttachments();
    autosize();
    if (data.opened_thread) {
      await loadChannels();
      go(S.channel, data.opened_thread);
    } else {
      for (const m of data.messages || []) upsertMessage(m);
    }
  } catch (err) {
    localError(err.message);
  } finally {
    button.disabled = false;
    box.focus();
  }
}

function localError(text) {
  upsertMessage({
    id: `local-${Date.now()}`, channel_id: S.channel, thread_id: S.thread, kind: "error", author: "draftloop",
    text, visible_to: S.user, at: Date.now() / 1000, images: [], reactions: [], buttons: [],
  });
}

async function react(m, emoji, added) {
  try {
    const data = await deliver("/api/react", {
      json: { message_id: m.id, emoji, added, user: S.user, approver: S.approver ? "1" : "", event_id: newEventId() },
    });
    const cur = S.messages.get(m.id);
    if (cur) upsertMessage({ ...cur, reactions: data.reactions });
    if (data.reply) upsertMessage(data.reply);
    scheduleCampaignRefresh();
  } catch (err) {
    localError(err.message);
  }
}

async function press(b, m, node) {
  node.disabled = true;
  try {
    const data = await deliver("/api/press", {
      json: { action_id: b.action_id, message_id: m.id, user: S.user, approver: S.approver ? "1" : "", event_id: newEventId() },
    });
    for (const msg of data.messages || []) upsertMessage(msg);
    scheduleCampaignRefresh();
  } catch (err) {
    localError(err.message);
  } finally {
    node.disabled = false;
  }
}

/* ---------------- campaign panel ---------------- */

/* At most one reload per interval, however many progress events arrive meanwhile. */
function throttled(fn, ms) {
  let timer = null;
  return () => {
    if (timer !== null) return;
    timer = setTimeout(() => { timer = null; fn(); }, ms);
  };
}
const scheduleCampaignRefresh = throttled(() => loadCampaign(), 300);
const scheduleChannelsRefresh = throttled(() => loadChannels(), 250);

async function loadCampaign() {
  const t = S.thread ? currentThread() : null;
  S.campaignId = t && t.campaign_id ? t.campaign_id : null;
  if (!S.campaignId) {
    S.campaign = null;
    $("#campaign").replaceChildren(el("p", { class: "muted" },
      S.thread ? "Waiting for the campaign…" : "Open a campaign thread to see its stage, rounds, lineage and costs."));
    renderCrumbs();
    return;
  }
  try {
    const data = await api(`/api/campaign/${encodeURIComponent(S.campaignId)}`);
    S.campaign = data.campaign;
    S.votes = data.votes || {};
    renderCampaign(data);
  } catch (err) {
    $("#campaign").replaceChildren(el("p", { class: "muted" }, `Campaign unavailable: ${err.message}`));
  }
  renderCrumbs();
  updateStatusBar();
}

function renderCampaign(data) {
  const c = data.campaign;
  const s = c.settings;
  const cands = Object.values(c.candidates).sort((a, b) => a.number - b.number);
  const winners = new Set(c.rounds.flatMap((r) => r.winners).concat(c.selected));
  const root = $("#campaign");
  const kv = el("dl", { class: "kv" },
    el("dt", {}, "stage"), el("dd", {}, stageBadge(c.stage)),
    el("dt", {}, "owner"), el("dd", {}, c.owner),
    el("dt", {}, "settings"), el("dd", {}, `n ${s.n} · ${s.aspect[0]}:${s.aspect[1]} · ${s.preset} → ${s.final_preset}`),
    el("dt", {}, "voting"), el("dd", {}, `${Math.round(s.vote_seconds / 60)} min${s.quorum ? ` · quorum ${s.quorum}` : ""} · top ${s.top_k}`),
    c.selected.length ? el("dt", {}, "selected") : null, c.selected.length ? el("dd", {}, c.selected.map((n) => `#${n}`).join(" ")) : null);

  const rounds = el("ul", { class: "rounds" }, ...c.rounds.map((r) => {
    const isCurrent = r === c.rounds.at(-1);
    const counts = isCurrent ? Object.entries(data.votes || {}).filter(([, v]) => v > 0).map(([n, v]) => `#${n}: ${v}`) : [];
    const state = r.open ? "voting open" : r.closed_by ? `closed by ${r.closed_by}` : `${r.candidates.length}/${r.expected} images`;
    return el("li", { dataset: { round: r.number } },
      el("div", { class: "r-head" }, el("span", {}, `Round ${r.number} · ${r.kind}`), el("span", { class: "muted" }, state)),
      el("div", { class: "r-sub" }, r.candidates.length ? r.candidates.map((n) => `#${n}`).join(" ") : "images pending"),
      counts.length ? el("div", { class: "r-sub" }, `votes ${counts.join(" · ")}`) : null,
      r.winners.length ? el("div", { class: "r-sub" }, `winners ${r.winners.map((n) => `#${n}`).join(" ")}`) : null);
  }));

  const children = new Map();
  for (const cand of cands) {
    const parent = cand.parent !== null && c.candidates[cand.parent] ? cand.parent : 0;
    if (!children.has(parent)) children.set(parent, []);
    children.get(parent).push(cand);
  }
  const tree = (parent) => el("ul", { class: parent ? "" : "tree" }, ...(children.get(parent) || []).map((cand) => el("li", {},
    el("div", { class: `node${winners.has(cand.number) ? " winner" : ""}`, dataset: { number: cand.number } },
      cand.artifact ? el("img", { src: `/artifacts/${cand.artifact}`, alt: "", loading: "lazy" }) : el("span", { class: "ph" }),
      el("div", {},
        el("div", {}, el("span", { class: "n" }, `#${cand.number}`), " ", el("span", { class: "kind" }, cand.stage),
          cand.parent !== null ? el("span", { class: "meta" }, ` from #${cand.parent}`) : null),
        el("div", { class: "meta" }, `seed ${cand.seed} · ${cand.preset} · ${cand.width}×${cand.height}${cand.device_seconds ? ` · ${cand.device_seconds.toFixed(2)}s` : ""}`))),
    children.has(cand.number) ? tree(cand.number) : null)));

  root.replaceChildren(
    el("div", { class: "campaign-title" }, s.prompt || "(no prompt)"),
    kv,
    el("h3", {}, "Rounds"), c.rounds.length ? rounds : el("p", { class: "muted small" }, "No rounds yet."),
    el("h3", {}, `Lineage · ${cands.length} image${cands.length === 1 ? "" : "s"}`),
    cands.length ? tree(0) : el("p", { class: "muted small" }, "Images appear here as the engine delivers them."),
    el("h3", {}, "Cost ledger"), el("pre", { class: "ledger", "data-testid": "ledger" }, data.cost_text));
}

/* ---------------- dashboard ---------------- */

function num(v, digits = 0) {
  return typeof v === "number" && isFinite(v) ? v.toFixed(digits) : "–";
}

async function pollStats() {
  try {
    const data = await api("/api/stats");
    renderStats(data.stats || {});
  } catch (err) {
    $("#dashboard").replaceChildren(el("p", { class: "muted" }, `Engine stats unavailable: ${err.message}`));
  }
}

function renderStats(stats) {
  const lanes = stats.lanes || {};
  const workers = Object.entries(stats.workers || {});
  const counters = stats.counters || {};
  const now = Date.now() / 1000;
  let rate = null;
  if (S.prevCounters && typeof counters.jobs === "number") {
    const dt = now - S.prevCounters.at;
    if (dt > 0) rate = Math.max(0, (counters.jobs - (S.prevCounters.jobs || 0)) / dt);
  }
  S.prevCounters = { at: now, jobs: counters.jobs };
  const avgBatch = counters.batches ? (counters.images || 0) / counters.batches : null;
  const busy = workers.filter(([, w]) => w.busy).length;
  const depths = Object.values(lanes).map((l) => (l.waiting || 0) + (l.pending || 0));
  const maxDepth = Math.max(8, ...depths);

  const metric = (k, v, id) => el("div", { class: "metric", dataset: { metric: id } }, el("div", { class: "v" }, v), el("div", { class: "k" }, k));
  $("#dashboard").replaceChildren(
    el("div", { class: "metrics" },
      metric("jobs / s", rate === null ? "–" : num(rate, 2), "rate"),
      metric("workers busy", `${busy}/${workers.length}`, "workers"),
      metric("avg batch", avgBatch === null ? "–" : num(avgBatch, 1), "batch"),
      metric("device seconds", num((counters.device_ms || 0) / 1000, 1), "device")),
    el("div", {}, el("h3", {}, "Queue depth"), ...Object.entries(lanes).map(([name, l]) => {
      const depth = (l.waiting || 0) + (l.pending || 0);
      const bar = el("i");
      bar.style.width = `${Math.min(100, (100 * depth) / maxDepth)}%`;
      return el("div", { class: "lane", dataset: { lane: name } }, el("span", {}, name), el("span", { class: "bar" }, bar),
        el("span", { title: `${l.waiting || 0} waiting · ${l.pending || 0} running` }, String(depth)));
    })),
    el("div", {}, el("h3", {}, "Workers"), workers.length
      ? el("ul", { class: "workers" }, ...workers.map(([id, w]) => el("li", {},
        el("span", {}, `${id}`, el("div", { class: "raw" }, `${w.device || "?"} · ${w.model || ""}`)),
        el("span", { class: w.busy ? "busy" : "muted" }, w.busy ? `batch ${w.batch_size}` : "idle"))))
      : el("p", { class: "muted small", html: "No worker has reported in yet. Start one with <code>draftloop worker</code>." })),
    el("div", { class: "raw" }, `${num(counters.jobs || 0)} jobs · ${num(counters.images || 0)} images · ${num(counters.batches || 0)} batches`));
  $("#dash-age").textContent = `updated ${new Date().toLocaleTimeString()}`;
}

/* ---------------- live events ---------------- */

function connectEvents() {
  if (S.es) S.es.close();
  const conn = $("#conn");
  const es = new EventSource(`/api/events?user=${encodeURIComponent(S.user)}`);
  S.es = es;
  let first = true;
  es.addEventListener("hello", () => {
    conn.dataset.state = "live";
    conn.textContent = "live";
    if (!first) { loadChannels(); loadMessages(); loadCampaign(); }  // catch up after a reconnect
    first = false;
  });
  es.addEventListener("message", (e) => {
    const m = JSON.parse(e.data);
    if (inView(m)) upsertMessage(m);
    else if (m.thread_id && m.kind !== "status") { S.unread.add(m.thread_id); renderSidebar(); }
    if (S.campaignId && m.campaign_id === S.campaignId) scheduleCampaignRefresh();
    if (m.kind === "status" || m.kind === "grid") scheduleChannelsRefresh();  // stages in the sidebar
  });
  es.addEventListener("reactions", (e) => {
    const data = JSON.parse(e.data);
    const cur = S.messages.get(data.id);
    if (cur) upsertMessage({ ...cur, reactions: data.reactions });
    if (cur && cur.campaign_id === S.campaignId) scheduleCampaignRefresh();
  });
  es.addEventListener("thread", (e) => {
    const t = JSON.parse(e.data);
    loadChannels().then(() => { if (t.id === S.thread) loadCampaign(); });
  });
  es.addEventListener("channel", () => loadChannels());
  es.onerror = () => { conn.dataset.state = "down"; conn.textContent = "reconnecting…"; };
}

/* ---------------- identity, composer, dialogs ---------------- */

function renderUsers() {
  const wrap = $("#users");
  wrap.replaceChildren(...USERS.map((u) => el("button", {
    class: "user-btn", type: "button", role: "radio", "aria-checked": u === S.user ? "true" : "false", dataset: { user: u },
    onclick: () => switchUser(u),
  }, avatar(u, false), u)));
  $("#approver").checked = S.approver;
}

function switchUser(user) {
  if (user === S.user) return;
  S.user = user;
  localStorage.setItem("dl.user", user);
  renderUsers();
  connectEvents();
  loadMessages();
}

function renderAttachments() {
  const box = $("#attachments");
  box.hidden = !S.files.length;
  box.replaceChildren(...S.files.map((f, i) => el("span", { class: "chip" }, icon("clip"), f.name,
    el("button", { type: "button", title: "Remove", onclick: () => { S.files.splice(i, 1); renderAttachments(); } }, "×"))));
}

function autosize() {
  const box = $("#command");
  box.style.height = "auto";
  box.style.height = `${Math.min(box.scrollHeight, 160)}px`;
}

function openLightbox(img) {
  $("#lightbox-title").textContent = `#${img.number}`;
  $("#lightbox-img").src = img.url;
  $("#lightbox-caption").textContent = `${img.caption || ""}${img.width ? ` · ${img.width}×${img.height}` : ""}`;
  $("#lightbox").showModal();
}

async function showHelp(ev) {
  ev.preventDefault();
  $("#help-dialog").showModal();
  try {
    const data = await api("/api/help");
    $("#help-text").textContent = data.text;
  } catch (err) {
    $("#help-text").textContent = `Help unavailable: ${err.message}`;
  }
}

function init() {
  renderUsers();
  $("#approver").addEventListener("change", (e) => {
    S.approver = e.target.checked;
    localStorage.setItem("dl.approver", S.approver ? "1" : "0");
  });
  $("#composer").addEventListener("submit", send);
  $("#command").addEventListener("keydown", (e) => {
    if (e.key === "Enter" && !e.shiftKey && !e.isComposing) { e.preventDefault(); $("#composer").requestSubmit(); }
  });
  $("#command").addEventListener("input", autosize);
  $("#files").addEventListener("change", (e) => { S.files.push(...e.target.files); e.target.value = ""; renderAttachments(); });
  $("#help-link").addEventListener("click", showHelp);
  for (const d of document.querySelectorAll("dialog")) {
    d.addEventListener("click", (e) => { if (e.target === d || e.target.hasAttribute("data-close")) d.close(); });
  }
  $("#new-channel").addEventListener("submit", async (e) => {
    e.preventDefault();
    const input = $("#new-channel-name");
    try {
      const data = await api("/api/channels", { json: { name: input.value } });
      input.value = "";
      await loadChannels();
      go(data.channel.id, null);
    } catch (err) { input.setCustomValidity(err.message); input.reportValidity(); setTimeout(() => input.setCustomValidity(""), 2000); }
  });
  window.addEventListener("hashchange", openLocation);
  connectEvents();
  loadChannels().then(openLocation);
  pollStats();
  setInterval(pollStats, 2000);
}

document.addEventListener("DOMContentLoaded", init);
