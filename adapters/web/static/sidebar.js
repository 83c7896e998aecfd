/* Where the page is (the #/channel/thread hash), the channel and thread list, the crumbs. */
import { api } from "./api.js";
import { loadCampaign } from "./campaign.js";
import { $, el, escapeHtml, icon, stageBadge } from "./dom.js";
import { loadMessages } from "./render.js";
import { S } from "./state.js";

export function readHash() {
  const parts = location.hash.replace(/^#\/?/, "").split("/").filter(Boolean);
  S.channel = parts[0] || "general";
  S.thread = parts[1] || null;
}

export function go(channel, thread) {
  const hash = `#/${channel}${thread ? "/" + thread : ""}`;
  if (location.hash !== hash) location.hash = hash;
  else openLocation();
}

export async function openLocation() {
  readHash();
  S.unread.delete(S.thread);
  S.messages.clear();
  renderSidebar();
  renderCrumbs();
  await loadMessages();
  loadCampaign();
}


export async function loadChannels() {
  try {
    const data = await api("/api/channels");
    S.channels = data.channels;
  } catch (err) {
    console.warn("channels:", err);
  }
  renderSidebar();
  renderCrumbs();
}

export function renderSidebar() {
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

export function currentChannel() {
  return S.channels.find((c) => c.id === S.channel) || { id: S.channel, name: S.channel, topic: "", threads: [] };
}

export function currentThread() {
  return currentChannel().threads.find((t) => t.id === S.thread) || S.threadInfo;
}

export function renderCrumbs() {
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
