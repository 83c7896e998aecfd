/* draftloop playground: a team channel in one page. Plain ES modules, no build step. */
import { api } from "./api.js";
import { autosize, renderAttachments, send } from "./composer.js";
import { pollStats } from "./dashboard.js";
import { $, USERS, avatar, el } from "./dom.js";
import { initLightbox, showHelp } from "./lightbox.js";
import { connectEvents } from "./live.js";
import { loadMessages } from "./render.js";
import { go, loadChannels, openLocation } from "./sidebar.js";
import { S } from "./state.js";

export function renderUsers() {
  const wrap = $("#users");
  wrap.replaceChildren(...USERS.map((u) => el("button", {
    class: "user-btn", type: "button", role: "radio", "aria-checked": u === S.user ? "true" : "false", dataset: { user: u },
    onclick: () => switchUser(u),
  }, avatar(u, false), u)));
  $("#approver").checked = S.approver;
}

export function switchUser(user) {
  if (user === S.user) return;
  S.user = user;
  localStorage.setItem("dl.user", user);
  renderUsers();
  connectEvents();
  loadMessages();
}

/* On a narrow screen the channel list slides over the page; choosing a place closes it. */
export function setNav(open) {
  document.body.classList.toggle("nav-open", open);
  $("#nav-toggle").setAttribute("aria-expanded", open ? "true" : "false");
  $("#nav-scrim").hidden = !open;
}

function init() {
  renderUsers();
  initLightbox();
  $("#nav-toggle").addEventListener("click", () => setNav(!document.body.classList.contains("nav-open")));
  $("#nav-scrim").addEventListener("click", () => setNav(false));
  $("#channels").addEventListener("click", (e) => { if (e.target.closest("a")) setNav(false); });
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
