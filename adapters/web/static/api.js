/* Talking to the playground's JSON API. */

export class ApiError extends Error {
  constructor(message, status) { super(message); this.status = status; }
}

function newRequestId() {
  if (window.crypto && crypto.randomUUID) return crypto.randomUUID();
  const b = new Uint8Array(16);
  crypto.getRandomValues(b);
  return Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");
}

export async function api(path, { method, json, form, requestId } = {}) {
  const headers = { "X-Draftloop-Client": "playground" };
  if (requestId) headers["X-Request-Id"] = requestId;
  let body;
  if (json !== undefined) { headers["Content-Type"] = "application/json"; body = JSON.stringify(json); }
  if (form !== undefined) body = form;
  const resp = await fetch(path, { method: method || (body ? "POST" : "GET"), headers, body, credentials: "same-origin" });
  let data = {};
  try { data = await resp.json(); } catch (_) { data = { error: resp.statusText }; }
  if (!resp.ok) throw new ApiError(data.error || `HTTP ${resp.status}`, resp.status);
  return data;
}

/* One user action, delivered at least once: an action whose answer was lost is sent again with the same
   request id, so the bot acts on it once. */
export async function deliver(path, options) {
  const once = { ...options, requestId: newRequestId() };
  try {
    return await api(path, once);
  } catch (err) {
    if (err instanceof ApiError) throw err;
    await new Promise((r) => setTimeout(r, 400));
    return api(path, once);
  }
}
