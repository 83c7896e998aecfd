/* The engine dashboard: lanes, workers, throughput. */
import { api } from "./api.js";
import { $, el } from "./dom.js";
import { S } from "./state.js";

export function num(v, digits = 0) {
  return typeof v === "number" && isFinite(v) ? v.toFixed(digits) : "–";
}

export async function pollStats() {
  try {
    const data = await api("/api/stats");
    renderStats(data.stats || {});
  } catch (err) {
    $("#dashboard").replaceChildren(el("p", { class: "muted" }, `Engine stats unavailable: ${err.message}`));
  }
}

export function renderStats(stats) {
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
