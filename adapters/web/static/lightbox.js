/* Dialogs: an image at full size, the command help. */
import { api } from "./api.js";
import { $ } from "./dom.js";

export function openLightbox(img) {
  $("#lightbox-title").textContent = `#${img.number}`;
  $("#lightbox-img").src = img.url;
  $("#lightbox-caption").textContent = `${img.caption || ""}${img.width ? ` · ${img.width}×${img.height}` : ""}`;
  $("#lightbox").showModal();
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
