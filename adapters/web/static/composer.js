/* What the person does: send a command (with attachments), react, press a button. */
import { deliver } from "./api.js";
import { scheduleCampaignRefresh } from "./campaign.js";
import { $, el, icon } from "./dom.js";
import { upsertMessage } from "./render.js";
import { go, loadChannels } from "./sidebar.js";
import { S } from "./state.js";

/* Send one command as the acting user where the page is, with image attachments; returns the answer. */
export async function sendCommand(text, files = []) {
  const fields = { channel_id: S.channel, thread_id: S.thread || "", user: S.user, approver: S.approver ? "1" : "", text };
  let options;
  if (files.length) {
    const form = new FormData();
    for (const [k, v] of Object.entries(fields)) form.append(k, v);
    for (const f of files) form.append("files", f, f.name);
    options = { form };
  } else {
    options = { json: fields };
  }
  const data = await deliver("/api/send", options);
  if (data.opened_thread) {
    await loadChannels();
    go(S.channel, data.opened_thread);
  } else {
    for (const m of data.messages || []) upsertMessage(m);
    scheduleCampaignRefresh();
  }
  return data;
}

export async function send(ev) {
  ev.preventDefault();
  const box = $("#command");
  const text = box.value.trim();
  if (!text) return;
  const button = $("#send");
  button.disabled = true;
  try {
    await sendCommand(text, S.files);
    box.value = "";
    S.files = [];
    renderAttachments();
    autosize();
  } catch (err) {
    localError(err.message);
  } finally {
    button.disabled = false;
    box.focus();
  }
}

export function localError(text) {
  upsertMessage({
    id: `local-${Date.now()}`, channel_id: S.channel, thread_id: S.thread, kind: "error", author: "draftloop",
    text, visible_to: S.user, at: Date.now() / 1000, images: [], reactions: [], buttons: [],
  });
}

/* One person's clicks on one reaction are sent in order, each flipping what they asked for last; the page
   shows a vote only once the server answers with what the bot counted. */
const reacting = new Map();

export function toggleReaction(m, emoji) {
  const key = `${m.id} ${emoji}`;
  const cur = S.messages.get(m.id) || m;
  const shown = ((cur.reactions || []).find((r) => r.emoji === emoji) || { users: [] }).users.includes(S.user);
  const entry = reacting.get(key) || { wanted: shown, pending: 0, chain: Promise.resolve() };
  entry.wanted = !entry.wanted;
  entry.pending += 1;
  const added = entry.wanted;
  reacting.set(key, entry);
  entry.chain = entry.chain.then(() => react(m, emoji, added)).finally(() => {
    entry.pending -= 1;
    if (!entry.pending) reacting.delete(key);
  });
  return entry.chain;
}

async function react(m, emoji, added) {
  try {
    const data = await deliver("/api/react", {
      json: { message_id: m.id, emoji, added, user: S.user, approver: S.approver ? "1" : "" },
    });
    const cur = S.messages.get(m.id);
    if (cur) upsertMessage({ ...cur, reactions: data.reactions });
    if (data.reply) upsertMessage(data.reply);
    scheduleCampaignRefresh();
  } catch (err) {
    localError(err.message);
  }
}

export async function press(b, m, node) {
  node.disabled = true;
  try {
    const data = await deliver("/api/press", {
      json: { action_id: b.action_id, message_id: m.id, user: S.user, approver: S.approver ? "1" : "" },
    });
    for (const msg of data.messages || []) upsertMessage(msg);
    scheduleCampaignRefresh();
  } catch (err) {
    localError(err.message);
  } finally {
    node.disabled = false;
  }
}

export function renderAttachments() {
  const box = $("#attachments");
  box.hidden = !S.files.length;
  box.replaceChildren(...S.files.map((f, i) => el("span", { class: "chip" }, icon("clip"), f.name,
    el("button", { type: "button", title: "Remove", onclick: () => { S.files.splice(i, 1); renderAttachments(); } }, "×"))));
}

export function autosize() {
  const box = $("#command");
  box.style.height = "auto";
  box.style.height = `${Math.min(box.scrollHeight, 160)}px`;
}
