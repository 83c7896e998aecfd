/* The message log: loading a location's messages and drawing messages, grids and reactions. */
import { api } from "./api.js";
import { autosize, press, toggleReaction } from "./composer.js";
import { $, EXAMPLES, WORKING, avatar, el, emojiLabel, icon, richText, stageBadge, timeText } from "./dom.js";
import { openLightbox } from "./lightbox.js";
import { currentChannel, go } from "./sidebar.js";
import { S } from "./state.js";

export async function loadMessages() {
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

export function inView(m) {
  return m.channel_id === S.channel && (m.thread_id || null) === S.thread;
}

export function visible(m) {
  return !m.visible_to || m.visible_to === S.user;
}

export function renderLog(scroll) {
  const log = $("#log");
  const nearBottom = log.scrollHeight - log.scrollTop - log.clientHeight < 120;
  const msgs = [...S.messages.values()].filter(visible).sort((a, b) => a.at - b.at);
  log.replaceChildren(...(msgs.length ? msgs.map(renderMessage) : [renderEmpty()]));
  updateStatusBar();
  if (scroll || nearBottom) log.scrollTop = log.scrollHeight;
}

export function upsertMessage(m) {
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

export function renderEmpty() {
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

export function renderMessage(m) {
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
  } else if (m.kind === "user") {
    body.append(el("div", { class: "msg-body" }, el("span", { class: "used" }, "used "), el("code", { class: "typed" }, m.text)));
  } else {
    body.append(el("div", { class: "msg-body", html: richText(m.text) }));
  }
  if (m.attachments && m.attachments.length) {
    body.append(el("div", { class: "attachment-names" }, icon("clip"), m.attachments.join(", ")));
  }
  if (m.images && m.images.length) body.append(renderGrid(m));
  if (m.files && m.files.length) body.append(renderFiles(m.files));
  const loose = m.buttons || [];  // actions not tied to one image
  if (loose.length) body.append(el("div", { class: "msg-actions" }, ...loose.map((b) => actionButton(b, m))));
  if (m.reactions && m.reactions.length) body.append(renderReactions(m));
  return el("article", { class: classes.join(" "), dataset: { id: m.id, kind: m.kind } }, avatar(author), body);
}

export function fileSize(bytes) {
  if (bytes >= 1024 * 1024) return `${(bytes / 1024 / 1024).toFixed(1)} MiB`;
  return `${Math.max(1, Math.round(bytes / 1024))} KiB`;
}

/* Files the bot attached (a delivery zip, a contact sheet): a download each, images also as a preview. */
export function renderFiles(files) {
  return el("div", { class: "files" }, ...files.map((f) => el("div", { class: "file" },
    f.media_type.startsWith("image/") ? el("img", { class: "file-preview", src: f.url, alt: f.name, loading: "lazy" }) : null,
    el("a", { class: "file-link", href: f.url, download: f.name }, icon("clip"), el("span", { class: "file-name" }, f.name),
      el("span", { class: "file-size" }, fileSize(f.size))))));
}

export function actionButton(b, m) {
  return el("button", {
    class: "act", type: "button", dataset: { action: b.action_id },
    onclick: (ev) => press(b, m, ev.currentTarget),
  }, b.label);
}

export function emojiFor(m, index) {
  const r = m.reactions || [];
  return index < r.length ? r[index].emoji : null;
}

export function renderGrid(m) {
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
    const buttons = img.buttons || [];
    grid.append(el("figure", { class: "tile", dataset: { number: img.number } },
      el("div", { class: "tile-img" }, image,
        el("span", { class: "tile-num" }, emoji ? emojiLabel(emoji) : null, `#${img.number}`),
        reaction && reaction.users.length ? el("span", { class: "tile-votes", title: reaction.users.join(", ") }, `▲ ${reaction.users.length}`) : null),
      el("figcaption", { class: "tile-caption" }, img.caption),
      buttons.length ? el("div", { class: "tile-actions" }, ...buttons.map((b) => actionButton(b, m))) : null));
  });
  return grid;
}

export function renderReactions(m) {
  const wrap = el("div", { class: "reactions", role: "group", "aria-label": "Votes" });
  m.reactions.forEach((r, i) => {
    const mine = r.users.includes(S.user);
    const img = m.images && m.images[i];
    wrap.append(el("button", {
      class: `reaction${mine ? " mine" : ""}`, type: "button", "aria-pressed": mine ? "true" : "false",
      title: r.users.length ? `Voted: ${r.users.join(", ")}` : "No votes yet", dataset: { emoji: r.emoji },
      onclick: () => toggleReaction(m, r.emoji),
    }, emojiLabel(r.emoji), img ? el("span", { class: "for" }, `#${img.number}`) : null,
    el("span", { class: "count" }, String(r.users.length))));
  });
  const box = el("div", {}, wrap);
  if (m.round_no !== null && m.round_no !== undefined) {
    box.append(el("div", { class: "vote-hint" }, `Round ${m.round_no} · click a number to vote or take your vote back`));
  }
  return box;
}

export function updateStatusBar() {
  const statuses = [...S.messages.values()].filter((m) => m.kind === "status" && visible(m));
  const bar = $("#status-bar");
  if (!S.thread || !statuses.length) { bar.hidden = true; return; }
  const latest = statuses.sort((a, b) => (a.edited_at || a.at) - (b.edited_at || b.at)).at(-1);
  bar.hidden = false;
  $("#status-text").innerHTML = richText(latest.text);
  const stage = S.campaign && S.campaign.stage;
  bar.classList.toggle("working", Boolean(stage && WORKING.has(stage)));
}
