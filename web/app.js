// Punchcard member app: a small hash-routed app over the public API. No framework, no build.
// Tokens live in sessionStorage (gone with the tab), never in URLs.

import { CHANNELS, channelName, checked, day, errorText, field, fmt, h, markCurrent, points, render, request, toast }
  from "./lib.js";

const nav = document.getElementById("nav");

const FILTERS = [["", "All"], ...CHANNELS];

// -- session and API ---------------------------------------------------------------------------

const session = {
  get token() { return sessionStorage.getItem("pc.id_token"); },
  get refresh() { return sessionStorage.getItem("pc.refresh_token"); },
  save(tokens) {
    sessionStorage.setItem("pc.id_token", tokens.id_token);
    if (tokens.refresh_token) sessionStorage.setItem("pc.refresh_token", tokens.refresh_token);
  },
  clear() { sessionStorage.removeItem("pc.id_token"); sessionStorage.removeItem("pc.refresh_token"); },
};

async function api(method, path, body, headers = {}, retried = false) {
  const reply = await request(method, path, { token: session.token, body, headers });
  if (reply.response.status === 401 && session.refresh && !retried) {
    const renewed = await request("POST", "/v1/auth/refresh", { body: { refresh_token: session.refresh } });
    if (renewed.response.ok) { session.save(renewed.data); return api(method, path, body, headers, true); }
    session.clear(); location.hash = "#/login";
  }
  return checked(reply);
}

// What a ledger entry means to a member.
function label(entry) {
  const meta = entry.metadata || {};
  switch (entry.code) {
    case "earn": return meta.activity_name ? `Earned for ${meta.activity_name}` : "Earned points";
    case "redeem":
      if (entry.phase === "hold") return "Reserved for a reward";
      if (entry.phase === "void") return "Reservation released";
      return "Redeemed a reward";
    case "expire": return "Points expired";
    case "reverse": return "Points returned or taken back";
    case "adjust": return entry.reference ? `Adjustment: ${entry.reference}` : "Adjustment";
    case "transfer": return "Transfer";
    default: return entry.code;
  }
}

// -- pages -------------------------------------------------------------------------------------

function authForm(mode) {
  const error = h("p", { class: "error", role: "alert" });
  const form = h("form", { class: "card", novalidate: true },
    h("label", { for: "email" }, "E-mail"),
    h("input", { id: "email", name: "email", type: "email", autocomplete: "email", required: true }),
    h("label", { for: "password" }, "Password"),
    h("input", { id: "password", name: "password", type: "password", required: true, minlength: 8,
                 autocomplete: mode === "signup" ? "new-password" : "current-password" }),
    error,
    h("button", { type: "submit" }, mode === "signup" ? "Create my account" : "Log in"));
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const body = { email: form.email.value.trim(), password: form.password.value };
    error.textContent = "";
    try {
      if (mode === "signup") await api("POST", "/v1/auth/signup", body);
      session.save(await api("POST", "/v1/auth/login", body));
      location.hash = "#/home";
    } catch (e) { error.textContent = errorText(e); }
  });
  return form;
}

// Brands that enrolled the member's e-mail wait for consent: they see nothing of the member until accepted.
function invitationsCard(items) {
  if (!items.length) return null;
  const answer = (brand, accept) => async () => {
    try {
      if (accept) await api("POST", `/v1/me/invitations/${brand.brand_id}/acceptance`);
      else await api("DELETE", `/v1/me/invitations/${brand.brand_id}`);
      toast(accept ? `You joined ${brand.brand_name}` : `Invitation from ${brand.brand_name} declined`);
      route();
    } catch (e) { toast(errorText(e)); }
  };
  return h("section", { class: "card", "aria-labelledby": "invited", "data-testid": "invitations" },
    h("h2", { id: "invited" }, "Invitations"),
    h("p", { class: "muted" }, "These brands want to add you to their programme. They see your name, points and " +
      "history with them only if you accept."),
    h("ul", { class: "plain" }, items.map((brand) => h("li", { class: "row", "data-brand": brand.brand_id },
      h("strong", {}, brand.brand_name),
      h("span", {},
        h("button", { type: "button", onclick: answer(brand, true), "aria-label": `Accept ${brand.brand_name}` }, "Accept"),
        " ",
        h("button", { type: "button", class: "secondary", onclick: answer(brand, false),
          "aria-label": `Decline ${brand.brand_name}` }, "Decline"))))));
}

const pages = {
  async login() {
    render(h("h1", {}, "Log in"), authForm("login"),
      h("p", {}, "New here? ", h("a", { href: "#/signup" }, "Create an account")));
  },

  async signup() {
    render(h("h1", {}, "Join"), authForm("signup"),
      h("p", {}, "Already a member? ", h("a", { href: "#/login" }, "Log in")));
  },

  async home() {
    const [balance, ledger, invitations] = await Promise.all([api("GET", "/v1/me/balance"),
      api("GET", "/v1/me/ledger?limit=5"), api("GET", "/v1/me/invitations")]);
    const tierCard = h("section", { class: "card", "aria-labelledby": "level" }, h("h2", { id: "level" }, "Level"));
    if (balance.tier) {
      tierCard.append(h("p", { class: "big", "data-testid": "tier" }, balance.tier));
      if (balance.next_tier) {
        const goal = balance.qualifying_points + balance.points_to_next_tier;
        tierCard.append(
          h("progress", { max: goal, value: balance.qualifying_points, "aria-label": `Progress to ${balance.next_tier}` }),
          h("p", { class: "muted" }, `${points(balance.points_to_next_tier)} to ${balance.next_tier}`));
      } else tierCard.append(h("p", { class: "muted" }, "Top level reached."));
    } else tierCard.append(h("p", { class: "muted" }, "This program has no levels."));
    const expiring = balance.expiring.length
      ? h("ul", { class: "plain" }, balance.expiring.slice(0, 3).map((e) =>
          h("li", { class: "row" }, h("span", {}, points(e.points)), h("span", { class: "muted" }, `expire ${day(e.expires_at)}`))))
      : h("p", { class: "muted" }, "Nothing expiring soon.");
    render(
      h("h1", {}, "Your points"),
      invitationsCard(invitations.items),
      h("div", { class: "grid two" },
        h("section", { class: "card", "aria-labelledby": "avail" },
          h("h2", { id: "avail" }, "Available"),
          h("p", { class: "big", "data-testid": "available" }, fmt.format(balance.available)),
          h("p", { class: "muted" }, `${points(balance.pending)} pending`)),
        tierCard),
      h("section", { class: "card", "aria-labelledby": "exp" }, h("h2", { id: "exp" }, "Expiring soon"), expiring),
      h("section", { class: "card", "aria-labelledby": "recent" }, h("h2", { id: "recent" }, "Recent activity"),
        entries(ledger.items), h("p", {}, h("a", { href: "#/history" }, "All history"))));
  },

  async activities(params) {
    const channel = params.get("channel") || "";
    const list = await api("GET", "/v1/activities" + (channel ? `?channel=${encodeURIComponent(channel)}` : ""));
    const chips = h("div", { class: "chips", role: "group", "aria-label": "Filter by channel" },
      FILTERS.map(([value, name]) => h("button", { type: "button", "aria-pressed": String(value === channel),
        onclick: () => { location.hash = value ? `#/activities?channel=${value}` : "#/activities"; } }, name)));
    const items = list.items.length ? h("ul", { class: "plain", "data-testid": "activities" }, list.items.map((a) =>
      h("li", {},
        h("div", { class: "row" }, h("strong", {}, a.name), h("span", { class: "plus" }, rewardText(a.reward))),
        a.description ? h("p", { class: "muted" }, a.description) : null,
        h("p", { class: "muted" }, [channelName(a.channel), limitsText(a)].filter(Boolean).join(" · ")))))
      : h("p", { class: "muted" }, "No activities here yet.");
    render(h("h1", {}, "Ways to earn"), chips, h("section", { class: "card" }, items));
  },

  async rewards() {
    const [rewards, wishlist, balance] = await Promise.all([
      api("GET", "/v1/rewards"), api("GET", "/v1/me/wishlist"), api("GET", "/v1/me/balance")]);
    const wished = new Set(wishlist.items.map((w) => w.reward_id));
    const list = rewards.items.length ? h("ul", { class: "plain", "data-testid": "rewards" }, rewards.items.map((r) => {
      const progress = Math.min(1, balance.available / r.cost_points);
      const wish = h("button", { type: "button", class: "secondary", "aria-pressed": String(wished.has(r.id)),
        "aria-label": `${wished.has(r.id) ? "Remove" : "Add"} ${r.name} ${wished.has(r.id) ? "from" : "to"} wishlist`,
        onclick: async () => {
          try {
            if (wished.has(r.id)) await api("DELETE", `/v1/me/wishlist/${r.id}`);
            else await api("PUT", `/v1/me/wishlist/${r.id}`);
            toast(wished.has(r.id) ? "Removed from your wishlist" : "Added to your wishlist");
            route();
          } catch (e) { toast(errorText(e)); }
        } }, wished.has(r.id) ? "★ Wished" : "☆ Wish");
      const redeem = h("button", { type: "button", disabled: !r.affordable || !r.tier_ok || r.stock_left === 0,
        onclick: () => confirmRedeem(r) }, "Redeem");
      return h("li", { "data-reward": r.id },
        h("div", { class: "row" }, h("strong", {}, r.name), h("span", {}, points(r.cost_points))),
        r.description ? h("p", { class: "muted" }, r.description) : null,
        h("progress", { max: 1, value: progress, "aria-label": `Progress to ${r.name}` }),
        h("p", { class: "muted" }, r.affordable ? "You can afford it" : `${points(r.points_to_go)} to go`,
          !r.tier_ok ? ` · for ${(r.tiers || []).join(", ")} members` : "",
          r.stock_left === 0 ? " · out of stock" : ""),
        h("div", { class: "row" }, wish, redeem));
    })) : h("p", { class: "muted" }, "No rewards yet.");
    render(h("h1", {}, "Points"), h("p", {}, `You have ${points(balance.available)} to spend.`),
      h("section", { class: "card" }, list), h("div", { id: "voucher" }));
  },

  async history() {
    const page = await api("GET", "/v1/me/ledger?limit=50");
    render(h("h1", {}, "History"), h("section", { class: "card" }, entries(page.items)));
  },

  async leaderboard(params) {
    const period = params.get("period") || "week";
    const board = await api("GET", `/v1/leaderboard?period=${period}&limit=20`);
    const tabs = h("div", { class: "chips", role: "group", "aria-label": "Period" },
      [["week", "This week"], ["month", "This month"], ["all", "All time"]].map(([value, name]) =>
        h("button", { type: "button", "aria-pressed": String(value === period),
          onclick: () => { location.hash = `#/leaderboard?period=${value}`; } }, name)));
    const rows = board.items.length ? h("table", { "data-testid": "leaderboard" },
      h("thead", {}, h("tr", {}, h("th", { scope: "col" }, "Rank"), h("th", { scope: "col" }, "Member"),
        h("th", { scope: "col" }, "Points"))),
      h("tbody", {}, board.items.map((row) => h("tr", { class: row.me ? "me" : null, "aria-current": row.me ? "true" : null },
        h("td", {}, row.rank), h("td", {}, row.me ? `${row.member_display} (you)` : row.member_display),
        h("td", {}, fmt.format(row.points))))))
      : h("p", { class: "muted" }, "Nobody has earned points in this period yet.");
    const me = board.me ? h("p", { "data-testid": "my-rank" }, `Your rank: #${board.me.rank} with ${points(board.me.points)}`)
      : h("p", { class: "muted" }, "Earn points to appear here.");
    render(h("h1", {}, "Leaderboard"), tabs, me, h("section", { class: "card" }, rows));
  },

  async profile() {
    const me = await api("GET", "/v1/me");
    const error = h("p", { class: "error", role: "alert" });
    const consents = me.consents || {};
    const form = h("form", { class: "card", novalidate: true },
      field("name", "Name", { value: me.name, autocomplete: "name" }),
      field("birth_date", "Birth date", { value: me.profile.birth_date, type: "date" }),
      field("city", "City", { value: me.profile.city, autocomplete: "address-level2" }),
      field("interests", "Interests (comma separated)", { value: (me.profile.interests || []).join(", ") }),
      h("fieldset", {}, h("legend", {}, "I agree to receive"),
        [["email", "E-mail"], ["sms", "Text messages"], ["data_sharing", "Sharing my data with partner brands"]].map(
          ([kind, text]) => h("label", { class: "check" },
            h("input", { type: "checkbox", name: `consent_${kind}`, checked: consentGiven(consents[kind]) }), text))),
      error, h("button", { type: "submit" }, "Save"));
    form.addEventListener("submit", async (event) => {
      event.preventDefault(); error.textContent = "";
      const profile = { city: form.city.value.trim() || null, birth_date: form.birth_date.value || null,
        interests: form.interests.value.split(",").map((s) => s.trim()).filter(Boolean) };
      try {
        await api("PATCH", "/v1/me", { name: form.name.value.trim() || null, profile,
          consents: { email: form.consent_email.checked, sms: form.consent_sms.checked,
                      data_sharing: form.consent_data_sharing.checked } });
        toast("Saved");
      } catch (e) { error.textContent = errorText(e); }
    });
    const shown = h("p", { class: "error", role: "alert" });
    const nameForm = h("form", { class: "card", novalidate: true }, h("h2", {}, "On the leaderboard"),
      field("display_name", "Show me as (leave empty to stay anonymous)", { maxlength: 40 }),
      shown, h("button", { type: "submit" }, "Save name"));
    nameForm.addEventListener("submit", async (event) => {
      event.preventDefault(); shown.textContent = "";
      try {
        const set = await api("PUT", "/v1/me/leaderboard", { display_name: nameForm.display_name.value.trim() || null });
        toast(`You appear as ${set.shown_as}`);
      } catch (e) { shown.textContent = errorText(e); }
    });
    const link = `${location.origin}/#/signup?ref=${encodeURIComponent(me.referral_code || "")}`;
    render(h("h1", {}, "Profile"), form, nameForm,
      h("section", { class: "card" }, h("h2", {}, "Invite friends"),
        h("p", {}, "Your referral link:"), h("p", { class: "code", "data-testid": "referral" }, link),
        h("button", { type: "button", class: "secondary", onclick: () => copy(link) }, "Copy link")));
  },
};

function consentGiven(value) { return value === true || Boolean(value && value.granted); }
function rewardText(reward) {
  if (reward.points !== undefined) return `+${fmt.format(reward.points)} pts`;
  if (reward.per_unit) return `${fmt.format(reward.per_unit.points)} pts per unit`;
  return "points";
}
const PERIOD_NOW = { day: "today", week: "this week", month: "this month", year: "this year", forever: "" };
function limitsText(activity) {
  // What the member's own limits still leave them, as the API computed it for this member.
  return (activity.remaining || []).map((r) => {
    const when = r.window === "rolling" ? `in the last ${r.period}` : PERIOD_NOW[r.period];
    if (r.times_left === 0 || r.points_left === 0) return r.period === "forever" ? "Done" : `Done ${when}`;
    const parts = [];
    if (r.times_left !== null) parts.push(`${r.times_left} more ${r.times_left === 1 ? "time" : "times"}`);
    if (r.points_left !== null) parts.push(`up to ${points(r.points_left)}`);
    return `${parts.join(", ")} ${when}`.trim();
  }).join(" · ");
}

function entries(items) {
  if (!items.length) return h("p", { class: "muted" }, "Nothing yet.");
  return h("ul", { class: "plain", "data-testid": "entries" }, items.map((e) => h("li", { class: "row" },
    h("span", {}, label(e), h("br"), h("small", { class: "muted" }, day(e.created_at))),
    h("span", { class: e.amount >= 0 ? "plus" : "minus" }, `${e.amount >= 0 ? "+" : "−"}${fmt.format(Math.abs(e.amount))}`))));
}

async function copy(text) {
  try { await navigator.clipboard.writeText(text); toast("Copied"); } catch { toast("Select the text to copy it"); }
}

function confirmRedeem(reward) {
  const dialog = document.getElementById("confirm");
  document.getElementById("confirm-text").textContent = `${reward.name} for ${points(reward.cost_points)}?`;
  const key = crypto.randomUUID(); // one attempt, one key: a double tap or a retry redeems once
  dialog.onclose = async () => {
    if (dialog.returnValue !== "ok") return;
    try {
      const redemption = await api("POST", "/v1/me/redemptions", { reward_id: reward.id }, { "Idempotency-Key": key });
      await route();
      const voucher = document.getElementById("voucher");
      voucher.replaceChildren(h("section", { class: "card", "aria-live": "polite" },
        h("h2", {}, `${reward.name}: redeemed`),
        redemption.voucher_code
          ? [h("p", {}, "Your code:"), h("p", { class: "code", "data-testid": "voucher-code" }, redemption.voucher_code),
             h("button", { type: "button", class: "secondary", onclick: () => copy(redemption.voucher_code) }, "Copy code")]
          : h("p", {}, "The brand will be in touch.")));
      voucher.scrollIntoView();
    } catch (e) { toast(errorText(e)); }
  };
  dialog.showModal();
}

// -- routing -----------------------------------------------------------------------------------

async function route() {
  const [path, query] = (location.hash.replace(/^#\/?/, "") || "home").split("?");
  const name = pages[path] ? path : "home";
  const open = name === "login" || name === "signup";
  if (!open && !session.token) { location.hash = "#/login"; return; }
  nav.hidden = open; document.getElementById("logout").hidden = open;
  markCurrent(nav, name);
  document.title = `Punchcard · ${name[0].toUpperCase()}${name.slice(1)}`;
  try { await pages[name](new URLSearchParams(query || "")); } catch (e) {
    render(h("h1", {}, "Sorry"), h("p", { class: "error", role: "alert" }, errorText(e)),
      h("button", { type: "button", onclick: route }, "Try again"));
  }
}

document.getElementById("logout").addEventListener("click", () => { session.clear(); location.hash = "#/login"; });
window.addEventListener("hashchange", route);
route();
