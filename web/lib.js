// Shared by the member app and the brand console: DOM building, API calls, messages.

export const API = window.PUNCHCARD_API || "";

export class ApiError extends Error {
  constructor(status, error) {
    super(error.message || `HTTP ${status}`);
    this.status = status; this.code = error.code; this.details = error.details || {};
  }
}

// One call to the API with a bearer token; JSON in and out; errors as ApiError.
export async function request(method, path, { token, body, headers = {} } = {}) {
  const init = { method, headers: { ...headers } };
  if (token) init.headers.Authorization = `Bearer ${token}`;
  if (body !== undefined) {
    if (typeof body === "string") init.body = body;
    else { init.headers["Content-Type"] = "application/json"; init.body = JSON.stringify(body); }
  }
  const response = await fetch(API + path, init);
  if (response.status === 204) return { response, data: null };
  const data = await response.json().catch(() => ({}));
  return { response, data };
}

export function checked({ response, data }) {
  if (!response.ok) throw new ApiError(response.status, (data && data.error) || {});
  return data;
}

export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === false || value === null || value === undefined) continue;
    if (key.startsWith("on")) el.addEventListener(key.slice(2), value);
    else if (key === "class") el.className = value;
    else el.setAttribute(key, value === true ? "" : value);
  }
  for (const child of children.flat()) if (child !== null && child !== undefined && child !== false)
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  return el;
}

// The API's channels (ActivityInput.channel in openapi.json; a unit test keeps them equal), as people read them.
export const CHANNELS = [
  ["facebook", "Facebook"], ["twitter", "Twitter/X"], ["instagram", "Instagram"], ["online", "Online purchase"],
  ["in_store", "In store"], ["newsletter", "Newsletter"], ["profile", "Profile"], ["referral", "Referral"],
  ["banking", "Banking"], ["app", "App"], ["other", "Other"],
];
export const channelName = (value) => (CHANNELS.find(([v]) => v === value) || [value, value])[1];

export const fmt = new Intl.NumberFormat();
export const points = (n) => `${fmt.format(n)} pts`;
export const day = (iso) => new Date(iso).toLocaleDateString(undefined, { day: "numeric", month: "short", year: "numeric" });

export function toast(text) {
  const el = document.getElementById("toast");
  el.textContent = text; el.hidden = false;
  clearTimeout(toast.timer); toast.timer = setTimeout(() => { el.hidden = true; }, 4000);
}

export function render(...nodes) {
  const main = document.getElementById("main");
  main.replaceChildren(...nodes.flat().filter((n) => n !== null && n !== undefined && n !== false));
  main.focus({ preventScroll: true });
}

// An API error as a person reads it: the message, and the field it is about.
export function errorText(error) {
  if (error instanceof ApiError) {
    const where = error.details.pointer ? ` (${error.details.pointer.replace(/^\//, "")})` : "";
    return `${error.message}${where}`;
  }
  return "Something went wrong. Check your connection and try again.";
}

export function field(id, text, attrs = {}) {
  const { value, ...rest } = attrs;
  return [h("label", { for: id }, text), h("input", { id, name: id, value: value ?? "", ...rest })];
}

export function markCurrent(nav, name) {
  for (const link of nav.querySelectorAll("a")) {
    if (link.getAttribute("href") === `#/${name}`) link.setAttribute("aria-current", "page");
    else link.removeAttribute("aria-current");
  }
}
