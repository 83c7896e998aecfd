/* Page building blocks: constants, element helpers, safe rich text, icons and badges. */


export const USERS = ["ana", "ben", "chloe"];
export const USER_COLORS = { ana: "#e0663f", ben: "#2f8fd8", chloe: "#21a27a" };
export const WORKING = new Set(["drafting", "refining", "inpainting", "outpainting", "restoring", "upscaling"]);
export const KEYCAPS = ["1️⃣", "2️⃣", "3️⃣", "4️⃣", "5️⃣", "6️⃣", "7️⃣", "8️⃣", "9️⃣", "🔟"];
export const ICONS = {
  thread: "M2 3.5A1.5 1.5 0 0 1 3.5 2h9A1.5 1.5 0 0 1 14 3.5v6a1.5 1.5 0 0 1-1.5 1.5H7l-3 3v-3h-.5A1.5 1.5 0 0 1 2 9.5z",
  clip: "M10.5 4.5 5.8 9.2a1.2 1.2 0 0 0 1.7 1.7l5-5a2.4 2.4 0 0 0-3.4-3.4l-5 5a3.6 3.6 0 0 0 5.1 5.1L13 8.8",
  clock: "M8 2a6 6 0 1 0 0 12A6 6 0 0 0 8 2zm0 3v3.2l2.2 1.4",
};
export const EXAMPLES = [
  "/draft a red fox in fresh snow, watercolor --n 8 --ar 3:2",
  "/draft product shot of a ceramic mug on oak, soft light --n 6 --no text",
  "/draft isometric city at dusk, neon --n 4 --vote 10m --quorum 2",
];


export const $ = (sel) => document.querySelector(sel);

export function el(tag, attrs = {}, ...children) {
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

export function escapeHtml(text) {
  return String(text).replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]);
}

/* Chat-style text: `code`, **bold**, line breaks. Escaped first, so it is safe as HTML. */
export function richText(text) {
  return escapeHtml(text)
    .replace(/`([^`]+)`/g, "<code>$1</code>")
    .replace(/\*\*([^*]+)\*\*/g, "<strong>$1</strong>")
    .replace(/\n/g, "<br>");
}


export function timeText(at) {
  return new Date(at * 1000).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
}

export function avatar(name, big = true) {
  const bot = name === "draftloop";
  const node = el("span", { class: `avatar${big ? " big" : ""}${bot ? " bot" : ""}` }, bot ? "dl" : name.slice(0, 1));
  if (!bot) node.style.background = USER_COLORS[name] || "#8a7fb8";
  return node;
}

/* Keycap emoji are drawn as badges: they read the same on machines without an emoji font. */
export function emojiLabel(emoji) {
  const i = KEYCAPS.indexOf(emoji);
  return i >= 0 ? el("span", { class: "keycap", "aria-label": emoji }, String(i + 1)) : el("span", {}, emoji);
}

export function icon(name) {
  const svg = document.createElementNS("http://www.w3.org/2000/svg", "svg");
  svg.setAttribute("viewBox", "0 0 16 16");
  svg.setAttribute("class", `icon icon-${name}`);
  svg.setAttribute("aria-hidden", "true");
  const path = document.createElementNS("http://www.w3.org/2000/svg", "path");
  path.setAttribute("d", ICONS[name]);
  svg.append(path);
  return svg;
}

export function stageBadge(stage) {
  return el("span", { class: "stage", dataset: { stage } }, stage);
}
