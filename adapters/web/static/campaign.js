/* The campaign panel: stage, rounds, lineage and the cost ledger. */
import { api } from "./api.js";
import { $, el, stageBadge } from "./dom.js";
import { updateStatusBar } from "./render.js";
import { currentThread, loadChannels, renderCrumbs } from "./sidebar.js";
import { S } from "./state.js";

/* At most one reload per interval, however many progress events arrive meanwhile. */
export function throttled(fn, ms) {
  let timer = null;
  return () => {
    if (timer !== null) return;
    timer = setTimeout(() => { timer = null; fn(); }, ms);
  };
}
export const scheduleCampaignRefresh = throttled(() => loadCampaign(), 300);
export const scheduleChannelsRefresh = throttled(() => loadChannels(), 250);

export async function loadCampaign() {
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

export function renderCampaign(data) {
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
