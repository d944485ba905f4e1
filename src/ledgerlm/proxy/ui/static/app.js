// ledgerlm dashboard: a small vanilla-JS single page over /ui/api/* (session cookie; docs/dashboard.md).
// Pages: overview, logs, keys, teams, users, end users, budgets, models, reconciliation, tag drift.
// Money arrives as exact decimal strings and is shown as received; unpriced calls are counted apart.
"use strict";

const PAGE_TITLES = {
  overview: "Overview", logs: "Logs", keys: "Keys", teams: "Teams", users: "Users",
  end_users: "End users", budgets: "Budgets", models: "Models", reconciliation: "Reconciliation",
  tag_drift: "Tag drift",
};
let ME = null;

// -- helpers -----------------------------------------------------------------------------------------

async function api(path, body) {
  const init = { credentials: "same-origin", headers: {} };
  if (body !== undefined) {
    init.method = "POST";
    init.headers["content-type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  const resp = await fetch(path, init);
  let data = null;
  try { data = await resp.json(); } catch (e) { data = null; }
  if (!resp.ok) {
    const message = (data && data.error && data.error.message) || resp.statusText;
    const err = new Error(message);
    err.status = resp.status;
    throw err;
  }
  return data;
}

function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (name.startsWith("on")) node.addEventListener(name.slice(2), value);
    else node.setAttribute(name, value === true ? "" : value);
  }
  for (const child of children.flat()) {
    if (child !== null && child !== undefined) node.append(child instanceof Node ? child : String(child));
  }
  return node;
}

// money arrives as a JSON number with exact digits (or a decimal string): shown without an exponent
function plain(value) {
  if (typeof value !== "number") return String(value);
  return value.toFixed(12).replace(/0+$/, "").replace(/\.$/, "");
}
function usd(value) { return value === null || value === undefined ? "unpriced" : "$" + plain(value); }
function text(value) {
  if (value === null || value === undefined) return "";
  if (Array.isArray(value)) return value.join(", ");
  if (typeof value === "object") return JSON.stringify(value);
  return String(value);
}
function today() { return new Date().toISOString().slice(0, 10); }
function daysAgo(n) { return new Date(Date.now() - n * 86400000).toISOString().slice(0, 10); }

function csvCell(value) {
  const s = text(value);
  return /[",\n\r]/.test(s) ? '"' + s.replace(/"/g, '""') + '"' : s;
}

function downloadCsv(name, columns, rows) {
  const lines = [columns.map((c) => csvCell(c.label)).join(",")];
  for (const row of rows) lines.push(columns.map((c) => csvCell(row[c.key])).join(","));
  const blob = new Blob([lines.join("\r\n") + "\r\n"], { type: "text/csv" });
  const link = el("a", { href: URL.createObjectURL(blob), download: name + ".csv" });
  document.body.append(link);
  link.click();
  link.remove();
}

// columns: [{key, label, format?, num?}]; options: {name, onRow, actions(row) -> nodes}
function table(columns, rows, options) {
  const opts = options || {};
  const head = el("tr", {}, columns.map((c) => el("th", { class: c.num ? "num" : null }, c.label)),
    opts.actions ? el("th", {}, "") : null);
  const body = rows.map((row) => {
    const cells = columns.map((c) => el("td", { class: c.num ? "num" : null },
      c.format ? c.format(row[c.key], row) : text(row[c.key])));
    const tr = el("tr", { class: opts.onRow ? "clickable" : null, "data-id": opts.idKey ? row[opts.idKey] : null },
      cells, opts.actions ? el("td", {}, opts.actions(row)) : null);
    if (opts.onRow) tr.addEventListener("click", () => opts.onRow(row));
    return tr;
  });
  const csv = el("button", { class: "secondary csv-download", type: "button",
    onclick: () => downloadCsv(opts.name || "table", columns, rows) }, "Download CSV");
  return el("div", { class: "table-block", id: opts.id },
    el("div", { class: "table-tools" }, el("span", { class: "muted" }, rows.length + " rows"), csv),
    el("div", { class: "scroll" }, el("table", { "data-table": opts.name }, el("thead", {}, head), el("tbody", {}, body))));
}

function card(label, value, id) {
  return el("div", { class: "card" }, el("div", { class: "value", id }, value), el("div", { class: "label" }, label));
}

function field(name, label, attrs) {
  return el("label", {}, label, el("input", Object.assign({ name, id: "f-" + name }, attrs || {})));
}

function formValues(form) {
  const out = {};
  for (const [name, value] of new FormData(form).entries()) {
    if (value === "") continue;
    out[name] = ["max_budget", "soft_budget"].includes(name) ? value : value;
  }
  return out;
}

function canWrite(entity) { return ME && ME.writes.includes(entity); }

function notAvailable(page, why) {
  page.append(el("p", { class: "notice", id: "not-available" }, why || "not available on this proxy"));
}

// -- pages -------------------------------------------------------------------------------------------

const DIMENSIONS = ["team", "key", "user", "end_user", "model", "provider", "tag"];

async function overviewPage(page) {
  const form = el("form", { id: "overview-form" },
    field("start_date", "From", { type: "date", value: daysAgo(29), id: "ov-start" }),
    field("end_date", "To", { type: "date", value: today(), id: "ov-end" }),
    el("label", {}, "By", el("select", { name: "dimension", id: "ov-dimension" },
      DIMENSIONS.map((d) => el("option", { value: d }, d.replace("_", " "))))),
    el("button", { type: "submit", id: "ov-apply" }, "Show"));
  const out = el("div", { id: "overview-result" });
  page.append(el("h1", {}, "Spend overview"), form, out);
  async function load() {
    const q = new URLSearchParams(formValues(form));
    const data = await api("/ui/api/overview?" + q);
    const t = data.totals;
    out.replaceChildren(
      el("div", { class: "cards" },
        card("Spend (priced calls)", usd(t.spend), "total-spend"),
        card("Requests", t.api_requests, "total-requests"),
        card("Unpriced requests", t.unpriced_requests, "total-unpriced"),
        card("Failed requests", t.failed_requests, "total-failed"),
        card("Tokens", t.total_tokens, "total-tokens")),
      el("h2", {}, "Daily spend"), el("div", { id: "ov-chart" }),
      el("h2", {}, "By " + data.dimension.replace("_", " ")));
    chart(out.querySelector("#ov-chart"), data);
    if (!data.available) { notAvailable(out, "not available for your role in this dimension"); return; }
    out.append(table([
      { key: "group", label: data.dimension },
      { key: "label", label: "name" },
      { key: "spend", label: "spend (USD)", num: true, format: usd },
      { key: "api_requests", label: "requests", num: true },
      { key: "unpriced_requests", label: "unpriced", num: true },
      { key: "failed_requests", label: "failed", num: true },
      { key: "total_tokens", label: "tokens", num: true },
    ], data.groups, { name: "overview-" + data.dimension, id: "ov-groups" }));
  }
  form.addEventListener("submit", (e) => { e.preventDefault(); load().catch(showError); });
  await load();
}

function everyDay(from, to, daily) {
  const byDate = new Map(daily.map((d) => [d.date, d]));
  const out = [];
  for (let t = Date.parse(from + "T00:00:00Z"); t <= Date.parse(to + "T00:00:00Z"); t += 86400000) {
    const day = new Date(t).toISOString().slice(0, 10);
    out.push(byDate.get(day) || { date: day, spend: "0", api_requests: 0 });
  }
  return out;
}

function chart(target, data) {
  if (!window.uPlot || data.daily.length === 0) { target.append(el("p", { class: "muted" }, "no calls in this period")); return; }
  const days = everyDay(data.from, data.to, data.daily);
  const xs = days.map((d) => Date.parse(d.date + "T00:00:00Z") / 1000);
  const opts = {
    width: Math.max(400, target.clientWidth || 800), height: 220,
    scales: { x: { time: true }, usd: { range: (u, lo, hi) => [0, hi > 0 ? hi * 1.1 : 1] } },
    series: [{}, { label: "spend (USD)", stroke: "#2f5bd3", width: 2, scale: "usd", points: { show: true } },
      { label: "requests", stroke: "#9aa5b8", width: 1, scale: "n" }],
    axes: [{}, { scale: "usd", size: 80, values: (u, vals) => vals.map((v) => "$" + Number(v.toPrecision(3))) },
      { scale: "n", side: 1, grid: { show: false } }],
  };
  new window.uPlot(opts, [xs, days.map((d) => Number(d.spend)), days.map((d) => d.api_requests)], target);
}

const LOG_FILTERS = [
  ["start_date", "From", "date"], ["end_date", "To", "date"], ["api_key", "Key", "text"],
  ["team_id", "Team", "text"], ["user_id", "User", "text"], ["model", "Model", "text"],
  ["tag", "Tag", "text"], ["request_id", "Request id", "text"],
];

async function logsPage(page) {
  const status = el("label", {}, "Status", el("select", { name: "status", id: "lf-status" },
    el("option", { value: "" }, "any"), el("option", { value: "success" }, "success"),
    el("option", { value: "failure" }, "failure")));
  const form = el("form", { id: "logs-form" },
    LOG_FILTERS.map(([name, label, type]) => field(name, label, { type, id: "lf-" + name })), status,
    el("button", { type: "submit", id: "lf-apply" }, "Filter"));
  const list = el("div", { id: "logs-list" });
  const more = el("button", { class: "secondary", id: "logs-more", type: "button", hidden: true }, "Older rows");
  const detail = el("div", { id: "log-detail" });
  page.append(el("h1", {}, "Spend logs"), form, list, more, detail);
  let rows = [];
  let cursor = null;
  const columns = [
    { key: "startTime", label: "time" }, { key: "request_id", label: "request id" },
    { key: "status", label: "status" }, { key: "model_group", label: "model" },
    { key: "custom_llm_provider", label: "provider" }, { key: "team_id", label: "team" },
    { key: "user", label: "user" }, { key: "spend", label: "spend (USD)", num: true, format: usd },
    { key: "total_tokens", label: "tokens", num: true }, { key: "request_tags", label: "tags" },
  ];
  async function load(reset) {
    const q = new URLSearchParams(formValues(form));
    if (!reset && cursor) q.set("cursor", cursor);
    const data = await api("/ui/api/logs?" + q);
    rows = reset ? data.data : rows.concat(data.data);
    cursor = data.next_cursor;
    more.hidden = !cursor;
    list.replaceChildren(table(columns, rows, { name: "spend-logs", id: "logs-table", idKey: "request_id",
      onRow: (row) => showDetail(detail, row.request_id).catch(showError) }));
  }
  form.addEventListener("submit", (e) => { e.preventDefault(); load(true).catch(showError); });
  more.addEventListener("click", () => load(false).catch(showError));
  await load(true);
}

async function showDetail(target, requestId) {
  const d = await api("/ui/api/logs/detail?request_id=" + encodeURIComponent(requestId));
  const breakdown = Object.entries(d.cost.breakdown || {}).map(([category, amount]) => ({ category, amount }));
  const usage = Object.entries(d.usage).map(([category, tokens]) => ({ category, tokens }));
  target.replaceChildren(el("div", {},
    el("h2", {}, "Call " + requestId),
    el("div", { class: "cards" },
      card("Cost", usd(d.cost.total), "detail-total"),
      card("Price id", text(d.price_id) || "none", "detail-price"),
      card("Priced as", text(d.price_ref) || "", "detail-price-ref"),
      card("Price source", text(d.price_source) || "", "detail-source")),
    d.cost.total === null ? el("p", { class: "notice" }, "Unpriced: " + text(d.cost.unpriced_reason)) : null,
    el("h2", {}, "Cost breakdown"),
    table([{ key: "category", label: "category" }, { key: "amount", label: "USD", num: true, format: plain }], breakdown,
      { name: "cost-breakdown-" + requestId, id: "detail-cost" }),
    el("h2", {}, "Usage by category"),
    table([{ key: "category", label: "category" }, { key: "tokens", label: "tokens", num: true }], usage,
      { name: "usage-" + requestId, id: "detail-usage" }),
    el("h2", {}, "Adjustments"),
    d.adjustments.length ? table([{ key: "seq", label: "#" }, { key: "kind", label: "kind" },
      { key: "period", label: "period" }, { key: "old_price_id", label: "old price" },
      { key: "new_price_id", label: "new price" }, { key: "old_spend", label: "old USD", num: true, format: usd },
      { key: "new_spend", label: "new USD", num: true }, { key: "delta", label: "delta USD", num: true },
      { key: "reason", label: "reason" }], d.adjustments, { name: "adjustments-" + requestId, id: "detail-adjustments" })
      : el("p", { class: "muted" }, "none recorded"),
    el("h2", {}, "Prompt and response"),
    d.messages || d.response ? el("pre", { id: "detail-messages" }, JSON.stringify({ messages: d.messages, response: d.response }, null, 2))
      : el("p", { class: "muted" }, "not stored (store_prompts is off)")));
}

// budget_forecast (as /key/info and /team/info answer it): burn rate and when the budget runs out
function forecastCell(value) {
  if (!value) return "-";
  const rate = "$" + plain(value.burn_rate_per_hour) + "/h";
  if (!value.runs_out_at) return rate + ", not running out";
  return rate + ", runs out " + value.runs_out_at.slice(0, 16).replace("T", " ") +
    (value.runs_out_before_reset ? " (before reset)" : "");
}

function budgetCell(value, row) {
  if (row.max_budget === null || row.max_budget === undefined) return usd(row.spend);
  return usd(row.spend) + " of " + usd(row.max_budget) + (row.budget_reset_at ? " (resets " + row.budget_reset_at.slice(0, 10) + ")" : "");
}

async function keysPage(page) {
  page.append(el("h1", {}, "Virtual keys"));
  if (canWrite("key")) {
    const form = el("form", { id: "key-form" },
      field("key_alias", "Alias", { id: "key-alias" }), field("team_id", "Team id", { id: "key-team" }),
      field("max_budget", "Max budget (USD)", { id: "key-budget", inputmode: "decimal" }),
      field("budget_duration", "Budget period", { id: "key-duration", placeholder: "30d" }),
      el("button", { type: "submit", id: "key-create" }, "Create key"));
    const created = el("div", { id: "key-created" });
    form.addEventListener("submit", (e) => {
      e.preventDefault();
      api("/ui/api/keys/new", formValues(form)).then((r) => {
        created.replaceChildren(el("p", {}, "New key (shown once): ", el("span", { class: "secret", id: "new-key" }, r.key)));
        return renderKeys(list);
      }).catch(showError);
    });
    page.append(form, created);
  }
  const list = el("div", { id: "keys-list" });
  page.append(list);
  await renderKeys(list);
}

async function renderKeys(list) {
  const data = await api("/ui/api/keys");
  const actions = canWrite("key") ? (row) => [
    el("button", { class: "secondary", type: "button", onclick: () => api("/ui/api/keys/block", { key: row.token, blocked: !row.blocked }).then(() => renderKeys(list)).catch(showError) }, row.blocked ? "Unblock" : "Block"),
    el("button", { class: "secondary", type: "button", onclick: () => api("/ui/api/keys/regenerate", { key: row.token }).then((r) => { alertBox("New key (shown once): " + r.key); return renderKeys(list); }).catch(showError) }, "Regenerate"),
  ] : null;
  list.replaceChildren(table([
    { key: "key_alias", label: "alias" }, { key: "key_name", label: "key" }, { key: "team_id", label: "team" },
    { key: "user_id", label: "user" }, { key: "spend", label: "budget used", format: budgetCell },
    { key: "budget_forecast", label: "forecast", format: forecastCell },
    { key: "blocked", label: "blocked" }, { key: "expires", label: "expires" },
  ], data.data, { name: "keys", id: "keys-table", idKey: "token", actions }));
}

async function teamsPage(page) {
  page.append(el("h1", {}, "Teams"));
  const list = el("div", { id: "teams-list" });
  if (canWrite("team")) {
    const form = el("form", { id: "team-form" },
      field("team_alias", "Alias", { id: "team-alias", required: true }),
      field("max_budget", "Max budget (USD)", { id: "team-budget", inputmode: "decimal" }),
      field("budget_duration", "Budget period", { id: "team-duration", placeholder: "30d" }),
      el("button", { type: "submit", id: "team-create" }, "Create team"));
    form.addEventListener("submit", (e) => {
      e.preventDefault();
      api("/ui/api/teams/new", formValues(form)).then(() => renderTeams(list)).catch(showError);
    });
    page.append(form);
  }
  page.append(list);
  await renderTeams(list);
}

async function renderTeams(list) {
  const data = await api("/ui/api/teams");
  const actions = canWrite("team") ? (row) => el("button", { class: "secondary", type: "button",
    onclick: () => api("/ui/api/teams/block", { team_id: row.team_id, blocked: !row.blocked }).then(() => renderTeams(list)).catch(showError) },
    row.blocked ? "Unblock" : "Block") : null;
  list.replaceChildren(table([
    { key: "team_id", label: "team id" }, { key: "team_alias", label: "alias" },
    { key: "spend", label: "budget used", format: budgetCell },
    { key: "budget_forecast", label: "forecast", format: forecastCell }, { key: "models", label: "models" },
    { key: "blocked", label: "blocked" },
  ], data.data, { name: "teams", id: "teams-table", idKey: "team_id", actions }));
}

async function usersPage(page) {
  page.append(el("h1", {}, "Users"));
  const list = el("div", { id: "users-list" });
  if (canWrite("user")) {
    const role = el("label", {}, "Role", el("select", { name: "user_role", id: "user-role" },
      ["internal_user", "internal_user_viewer", "proxy_admin_viewer", "proxy_admin"].map((r) => el("option", { value: r }, r))));
    const form = el("form", { id: "user-form" }, field("user_id", "User id", { required: true }),
      field("user_email", "Email"), role, field("password", "Password", { type: "password" }),
      field("max_budget", "Max budget (USD)"), el("button", { type: "submit", id: "user-create" }, "Create user"));
    form.addEventListener("submit", (e) => {
      e.preventDefault();
      api("/ui/api/users/new", Object.assign(formValues(form), { auto_create_key: false })).then(() => renderSimple(list, "/ui/api/users", "users", USER_COLUMNS)).catch(showError);
    });
    page.append(form);
  }
  page.append(list);
  await renderSimple(list, "/ui/api/users", "users", USER_COLUMNS);
}

const USER_COLUMNS = [{ key: "user_id", label: "user id" }, { key: "user_email", label: "email" },
  { key: "user_role", label: "role" }, { key: "spend", label: "personal spend", format: budgetCell }, { key: "teams", label: "teams" }];
const END_USER_COLUMNS = [{ key: "user_id", label: "end user" }, { key: "alias", label: "alias" },
  { key: "spend", label: "budget used", format: budgetCell }, { key: "blocked", label: "blocked" }];

async function renderSimple(list, path, name, columns, actions) {
  const data = await api(path);
  list.replaceChildren(table(columns, data.data, { name, id: name + "-table", actions }));
}

async function endUsersPage(page) {
  page.append(el("h1", {}, "End users"));
  const list = el("div", { id: "end-users-list" });
  const actions = canWrite("end_user") ? (row) => el("button", { class: "secondary", type: "button",
    onclick: () => api("/ui/api/end_users/block", { user_id: row.user_id, blocked: !row.blocked }).then(() => renderSimple(list, "/ui/api/end_users", "end-users", END_USER_COLUMNS, actions)).catch(showError) },
    row.blocked ? "Unblock" : "Block") : null;
  if (canWrite("end_user")) {
    const form = el("form", { id: "end-user-form" }, field("user_id", "End user id", { required: true }),
      field("alias", "Alias"), field("max_budget", "Max budget (USD)"), el("button", { type: "submit" }, "Create end user"));
    form.addEventListener("submit", (e) => {
      e.preventDefault();
      api("/ui/api/end_users/new", formValues(form)).then(() => renderSimple(list, "/ui/api/end_users", "end-users", END_USER_COLUMNS, actions)).catch(showError);
    });
    page.append(form);
  }
  page.append(list);
  await renderSimple(list, "/ui/api/end_users", "end-users", END_USER_COLUMNS, actions);
}

async function budgetsPage(page) {
  page.append(el("h1", {}, "Budgets"), el("p", { class: "muted" }, "Used vs limit for the current period, with the reset date."));
  const list = el("div", {});
  page.append(list);
  await renderSimple(list, "/ui/api/budgets", "budgets", [
    { key: "kind", label: "kind" }, { key: "name", label: "name" }, { key: "id", label: "id" },
    { key: "spend", label: "used (USD)", num: true, format: usd }, { key: "max_budget", label: "limit (USD)", num: true, format: usd },
    { key: "budget_duration", label: "period" }, { key: "budget_reset_at", label: "resets at" },
    { key: "forecast", label: "forecast (last 24 h rate)", format: (f) => (f ? f.message : "") },
  ]);
}

function healthCell(value, row) {
  if (value === "cooldown") return "cooldown (" + Math.ceil(row.cooldown_remaining_s) + " s left)";
  return value;
}

async function modelsPage(page) {
  page.append(el("h1", {}, "Model groups and deployments"));
  const data = await api("/ui/api/models");
  page.append(el("p", { id: "models-summary" }, data.healthy + " healthy, " + data.cooling_down + " cooling down"));
  page.append(table([
    { key: "model_group", label: "model group" }, { key: "deployment_id", label: "deployment" },
    { key: "provider", label: "provider" }, { key: "model", label: "model" }, { key: "api_base", label: "api base" },
    { key: "priced", label: "prices" }, { key: "health", label: "health", format: healthCell },
    { key: "cooldown_remaining_s", label: "cooldown s", num: true }, { key: "in_flight", label: "in flight", num: true },
    { key: "current_rpm", label: "rpm", num: true }, { key: "current_tpm", label: "tpm", num: true },
  ], data.data, { name: "models", id: "models-table" }));
}

async function featurePage(page, name, title, render) {
  page.append(el("h1", {}, title));
  const q = new URLSearchParams({ name, start_date: daysAgo(29), end_date: today() });
  const data = await api("/ui/api/feature?" + q);
  if (!data.available) { notAvailable(page); return; }
  if (data.status !== 200) { notAvailable(page, "error: " + text(data.body && data.body.error && data.body.error.message)); return; }
  render(page, data.body);
}

function reconciliationPage(page) {
  return featurePage(page, "reconcile_runs", "Reconciliation runs", (target, body) => {
    const runs = Array.isArray(body) ? body : (body.data || []);
    const detail = el("div", { id: "reconcile-detail" });
    target.append(table([
      { key: "id", label: "run" }, { key: "provider", label: "provider" }, { key: "from", label: "from" },
      { key: "to", label: "to" }, { key: "ledger_usd", label: "ledger USD", num: true },
      { key: "provider_usd", label: "provider USD", num: true }, { key: "capture_rate", label: "capture rate", num: true },
      { key: "status", label: "status" }, { key: "created_at", label: "created" },
    ], runs, { name: "reconciliation-runs", id: "reconcile-runs", idKey: "id",
      onRow: (run) => showRun(detail, run.id).catch(showError) }), detail);
  });
}

async function showRun(target, runId) {
  const data = await api("/ui/api/feature?" + new URLSearchParams({ name: "reconcile_run", run_id: runId }));
  const rows = (data.body && data.body.rows) || [];
  const columns = rows.length ? Object.keys(rows[0]).map((key) => ({ key, label: key })) : [{ key: "note", label: "" }];
  target.replaceChildren(el("h2", {}, "Explained differences of run " + runId),
    table(columns, rows, { name: "reconciliation-" + runId }));
}

function tagDriftPage(page) {
  return featurePage(page, "tag_drift", "Tag drift", (target, body) => {
    target.append(el("p", { class: "muted" }, text(body.from) + " to " + text(body.to)), table([
      { key: "dimension", label: "dimension" }, { key: "total_usd", label: "total USD", num: true },
      { key: "untagged_share", label: "untagged", num: true }, { key: "defaulted_share", label: "defaulted", num: true },
      { key: "quarantined_share", label: "quarantined", num: true }, { key: "invalid_values", label: "invalid values" },
      { key: "new_values", label: "new values" }, { key: "near_duplicates", label: "near duplicates" },
    ], body.dimensions || [], { name: "tag-drift" }));
  });
}

const PAGES = {
  overview: overviewPage, logs: logsPage, keys: keysPage, teams: teamsPage, users: usersPage,
  end_users: endUsersPage, budgets: budgetsPage, models: modelsPage, reconciliation: reconciliationPage,
  tag_drift: tagDriftPage,
};

// -- shell -------------------------------------------------------------------------------------------

function alertBox(message) {
  const page = document.getElementById("page");
  page.prepend(el("p", { class: "notice", role: "status" }, message));
}

function showError(err) {
  if (err && err.status === 401) { showLogin(); return; }
  const page = document.getElementById("page");
  page.prepend(el("p", { class: "error", role: "alert" }, (err && err.message) || String(err)));
}

function showLogin() {
  ME = null;
  document.getElementById("login").hidden = false;
  document.getElementById("page").hidden = true;
  document.getElementById("nav").hidden = true;
  document.getElementById("nav").replaceChildren();  // a session that ended shows no page links
  document.getElementById("page").replaceChildren();
  document.getElementById("logout").hidden = true;
  document.getElementById("who").textContent = "";
}

async function route() {
  if (!ME) return;
  const wanted = (location.hash || "#overview").slice(1);
  const name = ME.pages.includes(wanted) ? wanted : "overview";
  for (const link of document.querySelectorAll("#nav a")) link.classList.toggle("active", link.dataset.page === name);
  const page = document.getElementById("page");
  page.replaceChildren();
  page.dataset.page = name;
  page.dataset.loaded = "false";
  try { await PAGES[name](page); } catch (err) { showError(err); }
  page.dataset.loaded = "true";
}

async function start() {
  try { ME = await api("/ui/api/me"); } catch (err) { showLogin(); return; }
  document.getElementById("login").hidden = true;
  document.getElementById("page").hidden = false;
  const nav = document.getElementById("nav");
  nav.replaceChildren(...ME.pages.map((p) => el("a", { href: "#" + p, "data-page": p }, PAGE_TITLES[p])));
  nav.hidden = false;
  document.getElementById("logout").hidden = false;
  document.getElementById("who").textContent = (ME.user_id || ME.key_name || "admin") + " (" + ME.role +
    (ME.admin_teams.length ? ", team admin" : "") + ")";
  await route();
}

document.getElementById("login-form").addEventListener("submit", async (e) => {
  e.preventDefault();
  const error = document.getElementById("login-error");
  error.textContent = "";
  try {
    await api("/login", { username: document.getElementById("login-username").value,
      password: document.getElementById("login-password").value });
    if (location.pathname !== "/ui/") { location.href = "/ui/"; return; }
    await start();
  } catch (err) { error.textContent = err.message; }
});
document.getElementById("logout").addEventListener("click", async () => {
  await api("/logout", {});
  showLogin();
});
window.addEventListener("hashchange", route);
start();
