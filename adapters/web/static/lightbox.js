/* Dialogs: an image enlarged to fill the screen, with its download and "vary region" (a box dragged or a
   mask brushed on it becomes an /inpaint of that image); the command help. */
import { api } from "./api.js";
import { sendCommand } from "./composer.js";
import { $ } from "./dom.js";

const MIN_BOX_PX = 4;  // a smaller drag on the screen is a click, not a box

const R = {
  img: null,  // the image shown: {number, url, download_url, width, height, caption}
  tool: "box",
  scale: 1,  // screen pixels per image pixel
  box: null,  // {x, y, w, h} in image pixels, not rounded (the command says it in percent)
  drag: null,  // where a box drag started, in image pixels
  brushing: false,
  brushed: false,
  releasedAt: 0,  // a drag that ends off the image must not count as a click that closes the dialog
  mask: null,  // a canvas at the image's own size: white where to repaint
  maskFor: "",  // the image the mask belongs to
};

export function openLightbox(img) {
  R.img = img;
  R.releasedAt = 0;
  $("#lightbox-title").textContent = `#${img.number}`;
  const download = $("#lightbox-download");
  download.href = img.download_url || img.url;
  download.setAttribute("download", `draftloop-${img.number}.png`);
  $("#lightbox-caption").textContent = `${img.caption || ""}${img.width ? ` · ${img.width}×${img.height}` : ""}`;
  const picture = $("#lightbox-img");
  delete $("#lightbox").dataset.ready;
  R.mask = null;
  R.box = null;
  R.brushed = false;
  picture.onload = () => fit();
  picture.src = img.url;
  $("#lightbox").showModal();
  updateRegionForm();
  if (picture.complete && picture.naturalWidth) fit();
}

/* Scale the image to the space the dialog has (small images are enlarged) and size the overlay to match. */
function fit() {
  const picture = $("#lightbox-img");
  const w = picture.naturalWidth || R.img.width || 1;
  const h = picture.naturalHeight || R.img.height || 1;
  const room = $("#lightbox-stage").clientWidth || window.innerWidth * 0.9;
  const roomW = Math.max(64, room);
  const roomH = Math.max(64, window.innerHeight * 0.62);
  R.scale = Math.min(roomW / w, roomH / h);
  const shownW = Math.round(w * R.scale);
  const shownH = Math.round(h * R.scale);
  for (const node of [picture, $("#lightbox-region")]) {
    node.style.width = `${shownW}px`;
    node.style.height = `${shownH}px`;
  }
  const overlay = $("#lightbox-region");
  overlay.width = shownW;
  overlay.height = shownH;
  if (!R.mask || R.maskFor !== picture.src) {  // a new image: a new, empty region
    R.mask = document.createElement("canvas");
    R.mask.width = w;
    R.mask.height = h;
    R.maskFor = picture.src;
    clearRegion();
  }
  draw();
  $("#lightbox").dataset.ready = String(R.img.number);
}

function imagePoint(ev) {
  const rect = $("#lightbox-region").getBoundingClientRect();
  const x = Math.min(Math.max(ev.clientX - rect.left, 0), rect.width);
  const y = Math.min(Math.max(ev.clientY - rect.top, 0), rect.height);
  return { x: x / R.scale, y: y / R.scale };
}

function brushRadius() {
  return Math.max(2, Math.round(Math.max(R.mask.width, R.mask.height) * 0.05));
}

function brushAt(p) {
  const ctx = R.mask.getContext("2d");
  ctx.fillStyle = "#fff";
  ctx.beginPath();
  ctx.arc(p.x, p.y, brushRadius(), 0, Math.PI * 2);
  ctx.fill();
  R.brushed = true;
}

function draw() {
  const overlay = $("#lightbox-region");
  const ctx = overlay.getContext("2d");
  ctx.clearRect(0, 0, overlay.width, overlay.height);
  if (R.tool === "brush" && R.brushed) {
    // the mask, tinted, over the image
    const tint = document.createElement("canvas");
    tint.width = R.mask.width;
    tint.height = R.mask.height;
    const t = tint.getContext("2d");
    t.drawImage(R.mask, 0, 0);
    t.globalCompositeOperation = "multiply";
    t.fillStyle = "rgb(91 91 214)";
    t.fillRect(0, 0, tint.width, tint.height);
    ctx.globalAlpha = 0.55;
    ctx.globalCompositeOperation = "screen";
    ctx.drawImage(tint, 0, 0, overlay.width, overlay.height);
    ctx.globalAlpha = 1;
    ctx.globalCompositeOperation = "source-over";
  }
  if (R.tool === "box" && R.box) {
    const { x, y, w, h } = R.box;
    ctx.fillStyle = "rgb(91 91 214 / .28)";
    ctx.fillRect(x * R.scale, y * R.scale, w * R.scale, h * R.scale);
    ctx.strokeStyle = "#fff";
    ctx.lineWidth = 2;
    ctx.setLineDash([6, 4]);
    ctx.strokeRect(x * R.scale + 1, y * R.scale + 1, w * R.scale - 2, h * R.scale - 2);
  }
  updateRegionForm();
}

/* The box as percentages of the image ("25%,40%,30%,40%"), so it means the same region at any size. */
function percentBox() {
  const pct = (v, of) => `${Math.round((v / of) * 1000) / 10}%`;
  const { x, y, w, h } = R.box;
  return [pct(x, R.mask.width), pct(y, R.mask.height), pct(w, R.mask.width), pct(h, R.mask.height)].join(",");
}

function regionReady() {
  return R.tool === "box" ? Boolean(R.box) : R.brushed;
}

function updateRegionForm() {
  const prompt = $("#region-prompt").value.trim();
  $("#region-send").disabled = !(regionReady() && prompt);
  const hint = $("#region-hint");
  if (R.tool === "box") {
    hint.textContent = R.box ? `Box ${percentBox()} (x, y, width, height): say what goes there.` : "Drag a box on the image.";
  } else {
    hint.textContent = R.brushed ? "Brushed: say what goes there." : "Brush over what to repaint.";
  }
}

function clearRegion() {
  R.box = null;
  R.drag = null;
  R.brushed = false;
  if (R.mask) {
    const ctx = R.mask.getContext("2d");
    ctx.fillStyle = "#000";
    ctx.fillRect(0, 0, R.mask.width, R.mask.height);
  }
  draw();
}

function setTool(tool) {
  R.tool = tool;
  for (const b of document.querySelectorAll("#region-form .tool")) b.setAttribute("aria-pressed", b.dataset.tool === tool ? "true" : "false");
  draw();
}

function onDown(ev) {
  if (!R.mask) return;
  ev.preventDefault();
  $("#lightbox-region").setPointerCapture(ev.pointerId);
  const p = imagePoint(ev);
  if (R.tool === "box") { R.drag = p; R.box = null; } else { R.brushing = true; brushAt(p); }
  draw();
}

function onMove(ev) {
  const p = imagePoint(ev);
  if (R.tool === "box" && R.drag) {
    const w = Math.abs(p.x - R.drag.x);
    const h = Math.abs(p.y - R.drag.y);
    const big = w * R.scale >= MIN_BOX_PX && h * R.scale >= MIN_BOX_PX;
    R.box = big ? { x: Math.min(R.drag.x, p.x), y: Math.min(R.drag.y, p.y), w, h } : null;
    draw();
  } else if (R.tool === "brush" && R.brushing) {
    brushAt(p);
    draw();
  }
}

function onUp() {
  if (R.drag || R.brushing) R.releasedAt = Date.now();
  R.drag = null;
  R.brushing = false;
}

async function sendRegion(ev) {
  ev.preventDefault();
  const prompt = $("#region-prompt").value.trim().replace(/\s+/g, " ");
  if (!R.img || !prompt || !regionReady()) return;
  const n = R.img.number;
  const button = $("#region-send");
  button.disabled = true;
  try {
    if (R.tool === "box") {
      await sendCommand(`/inpaint ${n} ${prompt} --box ${percentBox()}`);
    } else {
      const blob = await new Promise((ok) => R.mask.toBlob(ok, "image/png"));
      const name = `mask-${n}.png`;
      await sendCommand(`/inpaint ${n} ${prompt} --mask ${name}`, [new File([blob], name, { type: "image/png" })]);
    }
    $("#region-prompt").value = "";
    $("#lightbox").close();
  } catch (err) {
    $("#region-hint").textContent = err.message;
  } finally {
    updateRegionForm();
  }
}

export function initLightbox() {
  const overlay = $("#lightbox-region");
  overlay.addEventListener("pointerdown", onDown);
  overlay.addEventListener("pointermove", onMove);
  overlay.addEventListener("pointerup", onUp);
  overlay.addEventListener("pointercancel", onUp);
  for (const b of document.querySelectorAll("#region-form .tool")) b.addEventListener("click", () => setTool(b.dataset.tool));
  $("#region-clear").addEventListener("click", clearRegion);
  $("#region-prompt").addEventListener("input", updateRegionForm);
  $("#region-form").addEventListener("submit", sendRegion);
  // only the click that would close the dialog (on its backdrop) right after a drag is swallowed
  $("#lightbox").addEventListener("click", (e) => { if (e.target === e.currentTarget && Date.now() - R.releasedAt < 300) e.stopImmediatePropagation(); }, true);
  window.addEventListener("resize", () => { if ($("#lightbox").open) fit(); });
}

export async function showHelp(ev) {
  ev.preventDefault();
  $("#help-dialog").showModal();
  try {
    const data = await api("/api/help");
    $("#help-text").textContent = data.text;
  } catch (err) {
    $("#help-text").textContent = `Help unavailable: ${err.message}`;
  }
}
