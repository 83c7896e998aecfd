/* Live updates over server-sent events. */
import { loadCampaign, scheduleCampaignRefresh, scheduleChannelsRefresh } from "./campaign.js";
import { $ } from "./dom.js";
import { inView, loadMessages, upsertMessage } from "./render.js";
import { loadChannels, renderSidebar } from "./sidebar.js";
import { S } from "./state.js";

export function connectEvents() {
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
    const inThread = S.thread && m.thread_id === S.thread;
    if ((S.campaignId && m.campaign_id === S.campaignId) || inThread) scheduleCampaignRefresh();
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
