// Punchcard brand console: a dashboard (charts by Chart.js), activities (with a dry run before
// activating), rewards and voucher pools, member lookup with balance, history and manual
// adjustments. The brand key lives in sessionStorage (gone with the tab), never in URLs.

import { CHANNELS, channelName, checked, day, errorText, field, fmt, h, markCurrent, points, render, request, toast }
  from "./lib.js";

const nav = document.getElementById("nav");
const RANGES = [7, 30, 90];
const COLOURS = { issued: "#1d4ed8", redeemed: "#b45309", bars: "#0f766e" }; // 4.5:1 or better on white

const key = {
  get value() { return sessionStorage.getItem("pc.brand_key"); },
  set(value) { sessionStorage.setItem("pc.brand_key", value); },
  clear() { sessionStorage.removeItem("pc.brand_key"); },
};

async function api(method, path, body, headers = {}) {
  const reply = await request(method, path, { token: key.value, body, headers });
  if (reply.response.status === 401) { key.clear(); location.hash = "#/login"; }
  return checked(reply);
}

function select(id, text, options, value) {
  const pairs = options.map((o) => (Array.isArray(o) ? o : [o, o]));
  return [h("label", { for: id }, text),
    h("select", { id, name: id }, pairs.map(([v, label]) => h("option", { value: v, selected: v === value }, label)))];
}

// Chart.js is loaded the first time the dashboard opens (the other pages never pay for it).
let chartLibrary;
function loadCharts() {
  chartLibrary ||= new Promise((resolve, reject) => {
    const script = h("script", { src: "vendor/chart.umd.min.js" });
    script.onload = () => resolve(window.Chart);
    script.onerror = () => { chartLibrary = undefined; reject(new Error("charts unavailable")); };
    document.head.append(script);
  });
  return chartLibrary;
}

const charts = []; // destroyed when the page changes
function clearCharts() { while (charts.length) charts.pop().destroy(); }

// A chart with its figures as a table beside it: the canvas is a picture, the table is for
// screen readers, keyboards and anyone who wants the numbers.
function chartCard(id, title, summary, headers, rows) {
  const canvas = h("canvas", { id, role: "img", "aria-label": `${title}: ${summary}` });
  const cell = (c) => h("td", {}, typeof c === "number" ? fmt.format(c) : c);
  const table = h("table", { "data-testid": `${id}-table` },
    h("thead", {}, h("tr", {}, headers.map((c) => h("th", { scope: "col" }, c)))),
    h("tbody", {}, rows.map((r) => h("tr", {}, r.map(cell)))));
  const card = h("section", { class: "card", "aria-labelledby": `${id}-title` },
    h("h2", { id: `${id}-title` }, title), h("div", { class: "chart" }, canvas),
    h("details", {}, h("summary", {}, "Show the figures"), h("div", { class: "scroll" }, table)));
  return { canvas, card };
}

function draw(Chart, canvas, type, labels, datasets, options = {}) {
  charts.push(new Chart(canvas, { type, data: { labels, datasets },
    options: { responsive: true, maintainAspectRatio: false, animation: false, plugins: { legend: { position: "bottom" } },
               scales: { y: { beginAtZero: true, ticks: { precision: 0 } } }, ...options } }));
}

function formError() { return h("p", { class: "error", role: "alert", "data-testid": "form-error" }); }

// An activity as the API takes it, from the simple form.
function activityBody(form) {
  const body = { name: form.name.value.trim(), channel: form.channel.value, status: form.status.value,
                 trigger: { event: form.trigger.value.trim() }, reward: { points: Number(form.points.value) } };
  if (form.max_times.value) body.limits = [{ scope: "member", period: form.period.value, max_times: Number(form.max_times.value) }];
  return body;
}

const pages = {
  async dashboard(params) {
    const days = RANGES.includes(Number(params.get("days"))) ? Number(params.get("days")) : 30;
    const [stats, Chart] = await Promise.all([api("GET", `/v1/analytics/daily?days=${days}`), loadCharts().catch(() => null)]);
    const t = stats.totals;
    const shortDay = (iso) => new Date(`${iso}T12:00:00Z`).toLocaleDateString(undefined, { day: "numeric", month: "short" });
    const events = (n) => `${fmt.format(n)} ${n === 1 ? "event" : "events"}`;
    const kpi = (label, value, id) => h("div", { class: "card kpi" }, h("span", { class: "muted" }, label),
      h("strong", { class: "big", "data-testid": id }, fmt.format(value)));
    const range = h("div", { class: "chips", role: "group", "aria-label": "Period" }, RANGES.map((n) =>
      h("button", { type: "button", "aria-pressed": String(n === days),
        onclick: () => { location.hash = `#/dashboard?days=${n}`; } }, `${n} days`)));
    const flow = chartCard("points-chart", "Points issued vs redeemed per day",
      `${fmt.format(t.points_issued)} issued and ${fmt.format(t.points_redeemed)} redeemed over ${days} days`,
      ["Day", "Issued", "Redeemed", "Reversed", "Adjusted (+/−)"],
      stats.days.map((d) => [d.date, d.points_issued, d.points_redeemed - d.points_returned, d.points_reversed,
        `+${fmt.format(d.points_added)} / −${fmt.format(d.points_deducted)}`]));
    const channels = chartCard("channels-chart", "Events per channel",
      stats.channels.map((c) => `${channelName(c.channel)} ${fmt.format(c.events)}`).join(", ") || "no events yet",
      ["Channel", "Events"], stats.channels.map((c) => [channelName(c.channel), c.events]));
    const top = chartCard("activities-chart", "Top activities",
      stats.top_activities.map((a) => `${a.name || "deleted activity"} ${fmt.format(a.points)} points`).join(", ") || "none yet",
      ["Activity", "Points"], stats.top_activities.map((a) => [a.name || "(deleted activity)", a.points]));
    render(h("h1", {}, "Dashboard"), range,
      h("div", { class: "grid four" }, kpi("Events", t.events, "kpi-events"), kpi("Points issued", t.points_issued, "kpi-issued"),
        kpi("Points redeemed", t.points_redeemed - t.points_returned, "kpi-redeemed"), kpi("Redemptions", t.redemptions, "kpi-redemptions")),
      t.rejected_events || t.failed_events ? h("p", { class: "card", role: "status", "data-testid": "event-problems" },
        `${events(t.rejected_events)} rejected (each event says why) and ${events(t.failed_events)} failed after `
        + "the last retry (they wait in the dead-letter queue; a redrive processes them).") : null,
      Chart ? null : h("p", { class: "muted", role: "note" }, "Charts could not be loaded; the figures are below each title."),
      flow.card, h("div", { class: "grid two" }, channels.card, top.card),
      h("p", { class: "muted" }, `Days are local dates in ${stats.timezone}. Figures follow events within seconds.`));
    if (!Chart) { for (const d of document.querySelectorAll("#main details")) d.open = true; return; }
    draw(Chart, flow.canvas, "bar", stats.days.map((d) => shortDay(d.date)), [
      { label: "Issued", data: stats.days.map((d) => d.points_issued), backgroundColor: COLOURS.issued },
      { label: "Redeemed", data: stats.days.map((d) => d.points_redeemed - d.points_returned), backgroundColor: COLOURS.redeemed }]);
    draw(Chart, channels.canvas, "bar", stats.channels.map((c) => channelName(c.channel)),
      [{ label: "Events", data: stats.channels.map((c) => c.events), backgroundColor: COLOURS.bars }],
      { plugins: { legend: { display: false } } });
    draw(Chart, top.canvas, "bar", stats.top_activities.map((a) => a.name || "(deleted)"),
      [{ label: "Points", data: stats.top_activities.map((a) => a.points), backgroundColor: COLOURS.issued }],
      { indexAxis: "y", plugins: { legend: { display: false } }, scales: { x: { beginAtZero: true, ticks: { precision: 0 } } } });
  },

  async login() {
    const error = formError();
    const form = h("form", { class: "card", novalidate: true },
      field("key", "Brand API key", { type: "password", autocomplete: "off", required: true }), error,
      h("button", { type: "submit" }, "Log in"));
    form.addEventListener("submit", async (event) => {
      event.preventDefault(); error.textContent = "";
      key.set(form.key.value.trim());
      try { await api("GET", "/v1/activities"); location.hash = "#/dashboard"; } catch (e) {
        key.clear(); error.textContent = e.status === 401 ? "That key is not valid." : errorText(e);
      }
    });
    render(h("h1", {}, "Brand console"), form);
  },

  async activities() {
    const list = await api("GET", "/v1/activities");
    const error = formError();
    const form = h("form", { class: "card", novalidate: true, "aria-labelledby": "new-activity" },
      h("h2", { id: "new-activity" }, "New activity"),
      field("name", "Name", { required: true }),
      select("channel", "Channel", CHANNELS, "newsletter"),
      field("trigger", "Event type that triggers it", { placeholder: "newsletter.joined", required: true }),
      field("points", "Points", { type: "number", min: 1, value: 10 }),
      field("max_times", "At most this many times per member (optional)", { type: "number", min: 1 }),
      select("period", "…per", ["day", "week", "month", "year", "forever"], "forever"),
      select("status", "Status", ["draft", "active"], "draft"),
      error,
      h("div", { class: "row" },
        h("button", { type: "button", class: "secondary", onclick: () => simulate(form, result) }, "Simulate"),
        h("button", { type: "submit" }, "Save")));
    const result = h("section", { "aria-live": "polite", "data-testid": "simulation" });
    form.addEventListener("submit", async (event) => {
      event.preventDefault(); error.textContent = "";
      try { await api("POST", "/v1/activities", activityBody(form)); toast("Activity saved"); route(); } catch (e) {
        error.textContent = errorText(e);
      }
    });
    const rows = list.items.length ? h("div", { class: "scroll" }, h("table", { "data-testid": "activity-list" },
      h("thead", {}, h("tr", {}, ["Name", "Channel", "Status", "Points", ""].map((c) => h("th", { scope: "col" }, c)))),
      h("tbody", {}, list.items.map((a) => h("tr", {},
        h("td", {}, a.name), h("td", {}, a.channel), h("td", {}, a.status),
        h("td", {}, a.reward.points !== undefined ? fmt.format(a.reward.points) : "per unit"),
        h("td", {}, a.status === "draft" ? h("button", { type: "button", class: "secondary",
          onclick: () => activate(a), "aria-label": `Activate ${a.name}` }, "Activate") : ""))))))
      : h("p", { class: "muted" }, "No activities yet.");
    render(h("h1", {}, "Activities"), h("section", { class: "card" }, rows), form, result);
  },

  async rewards() {
    const list = await api("GET", "/v1/rewards");
    const error = formError();
    const form = h("form", { class: "card", novalidate: true, "aria-labelledby": "new-reward" },
      h("h2", { id: "new-reward" }, "New reward"),
      field("name", "Name", { required: true }), field("cost", "Cost in points", { type: "number", min: 1 }),
      field("stock", "Stock (empty: unlimited)", { type: "number", min: 0 }),
      select("fulfilment", "Fulfilment", ["voucher_pool", "generated_code", "webhook", "none"], "voucher_pool"),
      error, h("button", { type: "submit" }, "Save reward"));
    form.addEventListener("submit", async (event) => {
      event.preventDefault(); error.textContent = "";
      const body = { name: form.name.value.trim(), cost_points: Number(form.cost.value), fulfilment: form.fulfilment.value };
      if (form.stock.value) body.stock = Number(form.stock.value);
      try { await api("POST", "/v1/rewards", body); toast("Reward saved"); route(); } catch (e) { error.textContent = errorText(e); }
    });
    const rows = list.items.length ? h("ul", { class: "plain", "data-testid": "reward-list" }, list.items.map((r) => {
      const codes = h("textarea", { id: `codes-${r.id}`, rows: 3, "aria-label": `Voucher codes for ${r.name}, one a line` });
      return h("li", {},
        h("div", { class: "row" }, h("strong", {}, r.name), h("span", {}, points(r.cost_points))),
        h("p", { class: "muted" }, `${r.fulfilment} · ${r.redeemed} redeemed · `,
          r.stock_left === null ? "unlimited" : `${fmt.format(r.stock_left)} left`, r.low_stock ? " · low stock" : ""),
        r.fulfilment === "voucher_pool" ? h("div", {}, codes, h("button", { type: "button", class: "secondary",
          onclick: async () => {
            try {
              const result = await api("POST", `/v1/rewards/${r.id}/codes`, codes.value, { "Content-Type": "text/csv" });
              toast(`${result.added} codes added, ${result.duplicates} duplicates skipped`); route();
            } catch (e) { toast(errorText(e)); }
          } }, `Upload codes for ${r.name}`)) : null);
    })) : h("p", { class: "muted" }, "No rewards yet.");
    render(h("h1", {}, "Rewards"), h("section", { class: "card" }, rows), form);
  },

  async members(params) {
    const email = params.get("email") || "";
    const form = h("form", { class: "card", role: "search" }, field("email", "Member e-mail", { type: "email", value: email }),
      h("button", { type: "submit" }, "Look up"));
    form.addEventListener("submit", (event) => {
      event.preventDefault(); location.hash = `#/members?email=${encodeURIComponent(form.email.value.trim())}`;
    });
    if (!email) { render(h("h1", {}, "Members"), form); return; }
    const found = await api("GET", `/v1/members?email=${encodeURIComponent(email)}`);
    if (!found.items.length) { render(h("h1", {}, "Members"), form, h("p", { role: "alert" }, "No member of yours has that e-mail.")); return; }
    const member = found.items[0];
    const [balance, ledger] = await Promise.all([api("GET", `/v1/members/${member.id}/balance`),
      api("GET", `/v1/members/${member.id}/ledger?limit=20`)]);
    const error = formError();
    const adjust = h("form", { class: "card", novalidate: true, "aria-labelledby": "adjust" },
      h("h2", { id: "adjust" }, "Adjust points"),
      field("points", "Points (negative to take away)", { type: "number" }), field("reason", "Reason", { required: true }),
      error, h("button", { type: "submit" }, "Adjust"));
    const idempotency = crypto.randomUUID(); // this form, this adjustment: a double submit moves points once
    adjust.addEventListener("submit", async (event) => {
      event.preventDefault(); error.textContent = "";
      try {
        await api("POST", `/v1/members/${member.id}/adjustments`,
          { points: Number(adjust.points.value), reason: adjust.reason.value.trim() }, { "Idempotency-Key": idempotency });
        toast("Points adjusted"); route();
      } catch (e) { error.textContent = errorText(e); }
    });
    render(h("h1", {}, "Members"), form,
      h("section", { class: "card", "data-testid": "member" },
        h("h2", {}, member.name || member.email || member.id),
        h("p", {}, "Available: ", h("strong", { "data-testid": "member-available" }, fmt.format(balance.available)),
          ` · pending ${fmt.format(balance.pending)} · held ${fmt.format(balance.held)}`, balance.tier ? ` · ${balance.tier}` : ""),
        h("ul", { class: "plain" }, ledger.items.map((e) => h("li", { class: "row" },
          h("span", {}, e.code, e.code === "adjust" && e.reference ? `: ${e.reference}` : "", h("br"),
            h("small", { class: "muted" }, day(e.created_at))),
          h("span", { class: e.amount >= 0 ? "plus" : "minus" }, fmt.format(e.amount)))))),
      adjust);
  },
};

async function simulate(form, result) {
  const body = { activity: { ...activityBody(form), status: "active" }, event: { type: form.trigger.value.trim() } };
  try {
    const outcome = await api("POST", "/v1/activities/simulate", body);
    const why = (outcome.activities || []).map((x) => x.reason).filter(Boolean);
    result.replaceChildren(h("div", { class: "card" }, h("h2", {}, "Simulation"),
      h("p", {}, `An event "${body.event.type}" would earn ${points(outcome.points)}.`),
      why.length ? h("p", { class: "muted" }, `Why not more: ${why.join(", ")}`) : null));
  } catch (e) {
    result.replaceChildren(h("p", { class: "error", role: "alert" }, errorText(e)));
  }
}

async function activate(activity) {
  try {
    const full = await api("GET", `/v1/activities/${activity.id}`);
    const { id, brand_id, version, created_at, updated_at, ...definition } = full; // bookkeeping is not input
    const body = { ...definition, status: "active" };
    await api("PUT", `/v1/activities/${activity.id}`, body);
    toast(`${activity.name} is active`); route();
  } catch (e) { toast(errorText(e)); }
}

async function route() {
  const [path, query] = (location.hash.replace(/^#\/?/, "") || "dashboard").split("?");
  const name = pages[path] ? path : "dashboard";
  clearCharts();
  if (name !== "login" && !key.value) { location.hash = "#/login"; return; }
  nav.hidden = name === "login"; document.getElementById("logout").hidden = name === "login";
  markCurrent(nav, name);
  document.title = `Punchcard console · ${name}`;
  try { await pages[name](new URLSearchParams(query || "")); } catch (e) {
    render(h("h1", {}, "Sorry"), h("p", { class: "error", role: "alert" }, errorText(e)));
  }
}

document.getElementById("logout").addEventListener("click", () => { key.clear(); location.hash = "#/login"; });
window.addEventListener("hashchange", route);
route();
