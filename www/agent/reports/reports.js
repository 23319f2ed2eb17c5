// The authentication report: per day (in a chosen time zone) and app, how
// many conversations were trusted from the start, upgraded mid-chat,
// identified but never verified, and anonymous. A stacked bar chart drawn
// as SVG with createElementNS (no library, no inline style: colours come
// from classes in reports.css), a table with the same numbers, totals, and
// the CSV download.

import * as api from "../api.js";
import { h, replaceChildren, srOnly } from "../dom.js";

const REPORT_URL = "/api/v1/reports/authentication";
const SVG_NS = "http://www.w3.org/2000/svg";
const MAX_DAYS = 366;
const DAY_MS = 86_400_000;

/** The four categories, bottom of the stack first. */
export const CATEGORIES = [
  { key: "trusted_from_start", label: "Trusted from the start", short: "trusted from the start" },
  { key: "upgraded", label: "Upgraded mid-chat", short: "upgraded" },
  { key: "identified", label: "Identified, not verified", short: "identified" },
  { key: "anonymous", label: "Anonymous", short: "anonymous" },
];

const ui = Object.fromEntries(
  [
    "announce", "agent-name", "loading", "logged-out", "report-view", "filters", "report-from", "report-to",
    "report-app", "report-tz", "report-tz-list", "report-show", "report-csv", "error", "summary", "legend",
    "chart", "report-table", "report-caption", "report-rows", "report-foot",
  ].map((hook) => [hook.replace(/-(\w)/g, (_, c) => c.toUpperCase()), document.querySelector(`[data-agent="${hook}"]`)]),
);

const state = {
  me: null,
  apps: [],
  /** The shown report and the filters it was asked with. */
  report: null,
  query: null,
  token: 0,
  chartWidth: 0,
};

const numberFormat = new Intl.NumberFormat();
const percentFormat = new Intl.NumberFormat(undefined, { style: "percent", maximumFractionDigits: 0 });
const csatFormat = new Intl.NumberFormat(undefined, { minimumFractionDigits: 1, maximumFractionDigits: 1 });
const dayLong = new Intl.DateTimeFormat(undefined, { dateStyle: "medium", timeZone: "UTC" });
const dayShort = new Intl.DateTimeFormat(undefined, { month: "short", day: "numeric", timeZone: "UTC" });
const weekday = new Intl.DateTimeFormat(undefined, { weekday: "short", timeZone: "UTC" });

boot();

async function boot() {
  let info;
  try {
    info = await api.get("/me");
  } catch (error) {
    ui.loading.hidden = true;
    if (error.status === 401) {
      ui.loggedOut.hidden = false;
      document.querySelector('[data-agent="login-link"]')?.focus();
    } else {
      ui.reportView.hidden = false;
      showError(`The report cannot be shown: ${error.message}.`);
    }
    return;
  }
  api.setCsrfToken(info.csrf_token);
  state.me = info.agent;
  state.apps = Array.isArray(info.apps) ? info.apps : [];
  ui.agentName.textContent = info.agent?.name ?? "";
  setUpFilters();
  ui.loading.hidden = true;
  ui.reportView.hidden = false;
  wire();
  load();
}

// ---------------------------------------------------------------- filters

function setUpFilters() {
  const params = new URLSearchParams(location.search);
  const zone = params.get("tz") || browserZone();
  const to = isDate(params.get("to")) ? params.get("to") : todayIn(zone);
  const from = isDate(params.get("from")) ? params.get("from") : addDays(to, -13);
  ui.reportFrom.value = from;
  ui.reportTo.value = to;
  ui.reportTz.value = zone;
  replaceChildren(
    ui.reportApp,
    h("option", { value: "" }, "All apps"),
    state.apps.map((id) => h("option", { value: id }, id)),
  );
  const app = params.get("app");
  if (app && state.apps.includes(app)) ui.reportApp.value = app;
  let zones = [];
  try {
    zones = Intl.supportedValuesOf("timeZone");
  } catch {
    zones = [];
  }
  if (!zones.includes("UTC")) zones.unshift("UTC");
  replaceChildren(ui.reportTzList, zones.map((z) => h("option", { value: z })));
}

function wire() {
  ui.filters.addEventListener("submit", (event) => {
    event.preventDefault();
    load();
  });
  // Dates and the app apply at once; the time zone on change (blur, or a pick from the list).
  ui.filters.addEventListener("change", () => load());
  ui.error.addEventListener("click", (event) => {
    if (event.target.closest('[data-agent="dismiss-error"]')) clearError();
  });
  let frame = 0;
  new ResizeObserver(() => {
    cancelAnimationFrame(frame);
    frame = requestAnimationFrame(() => {
      const width = Math.round(ui.chart.clientWidth);
      if (state.report && Math.abs(width - state.chartWidth) > 8) renderChart();
    });
  }).observe(ui.chart);
}

/** The filters as asked, or an error sentence. */
function readFilters() {
  const from = ui.reportFrom.value;
  const to = ui.reportTo.value;
  const tz = ui.reportTz.value.trim();
  const app = ui.reportApp.value;
  if (!isDate(from)) return { error: "Choose the first day.", field: ui.reportFrom };
  if (!isDate(to)) return { error: "Choose the last day.", field: ui.reportTo };
  if (from > to) return { error: "The first day is after the last day.", field: ui.reportFrom };
  if (daysBetween(from, to) + 1 > MAX_DAYS) return { error: `Choose at most ${MAX_DAYS} days.`, field: ui.reportFrom };
  if (!tz) return { error: "Enter a time zone, such as Europe/Paris or UTC.", field: ui.reportTz };
  return { from, to, tz, app };
}

function queryString(q, extra = {}) {
  const params = new URLSearchParams({ from: q.from, to: q.to, tz: q.tz });
  if (q.app) params.set("app", q.app);
  for (const [k, v] of Object.entries(extra)) params.set(k, v);
  return params.toString();
}

async function load() {
  const q = readFilters();
  for (const field of [ui.reportFrom, ui.reportTo, ui.reportTz]) field.removeAttribute("aria-invalid");
  if (q.error) {
    q.field.setAttribute("aria-invalid", "true");
    showError(q.error);
    return;
  }
  const token = ++state.token;
  ui.reportView.setAttribute("aria-busy", "true");
  ui.reportShow.disabled = true;
  try {
    const report = await api.getUrl(`${REPORT_URL}?${queryString(q)}`);
    if (token !== state.token) return;
    state.report = normalize(report);
    state.query = q;
    clearError();
    history.replaceState(null, "", `${location.pathname}?${queryString(q)}`);
    render();
    const t = state.report.totals;
    const total = sumConversations(t);
    announce(`Report from ${dayLong.format(dateMs(q.from))} to ${dayLong.format(dateMs(q.to))}: ${numberFormat.format(total)} conversations.`);
  } catch (error) {
    if (token !== state.token) return;
    if (error.status === 401) {
      ui.reportView.hidden = true;
      ui.loggedOut.hidden = false;
      return;
    }
    if (error.code === "invalid_request" && /zone|tz/i.test(error.message)) ui.reportTz.setAttribute("aria-invalid", "true");
    showError(`The report could not be loaded: ${error.message}.`);
  } finally {
    if (token === state.token) {
      ui.reportView.setAttribute("aria-busy", "false");
      ui.reportShow.disabled = false;
    }
  }
}

/** Numbers as numbers, whatever the server sent. */
function normalize(report) {
  const counts = (r) => ({
    trusted_from_start: int(r?.trusted_from_start),
    upgraded: int(r?.upgraded),
    identified: int(r?.identified),
    anonymous: int(r?.anonymous),
    messages_trusted: int(r?.messages_trusted),
    messages_untrusted: int(r?.messages_untrusted),
    csat_average: Number.isFinite(r?.csat_average) ? r.csat_average : null,
    csat_count: int(r?.csat_count),
  });
  const days = (Array.isArray(report?.days) ? report.days : []).map((d) => ({ date: String(d.date), app_id: String(d.app_id), ...counts(d) }));
  return { days, totals: counts(report?.totals) };
}

// ---------------------------------------------------------------- rendering

function render() {
  renderSummary();
  renderLegend();
  renderChart();
  renderTable();
  const q = state.query;
  ui.reportCsv.setAttribute("href", new URL(`${REPORT_URL}?${queryString(q, { format: "csv" })}`, location.origin).href);
  ui.reportCsv.setAttribute("download", `trustchat-authentication-${q.from}-to-${q.to}${q.app ? `-${q.app}` : ""}.csv`);
}

function renderSummary() {
  const t = state.report.totals;
  const total = sumConversations(t);
  const share = (n) => (total ? `${percentFormat.format(n / total)} of conversations` : "no conversations");
  const messages = t.messages_trusted + t.messages_untrusted;
  const tile = (key, label, value, sub, extraClass = "") =>
    h(
      "div",
      { class: `tile ${extraClass}`, "data-agent": "tile", "data-key": key },
      h("dt", { class: "tile__label" }, label),
      h("dd", { class: "tile__value", "data-agent": `total-${key}` }, value),
      h("dd", { class: "tile__sub" }, sub),
    );
  replaceChildren(
    ui.summary,
    tile("conversations", "Conversations", numberFormat.format(total), rangeText(state.query), "tile--total"),
    CATEGORIES.map((c) => tile(c.key, c.label, numberFormat.format(t[c.key]), share(t[c.key]), `tile--${c.key}`)),
    tile(
      "messages",
      "Trusted customer messages",
      messages ? percentFormat.format(t.messages_trusted / messages) : "—",
      `${numberFormat.format(t.messages_trusted)} of ${numberFormat.format(messages)} messages`,
    ),
    tile(
      "csat",
      "Satisfaction",
      t.csat_average === null ? "—" : `${csatFormat.format(t.csat_average)} / 5`,
      t.csat_count ? `${numberFormat.format(t.csat_count)} rating${t.csat_count === 1 ? "" : "s"}` : "no ratings yet",
    ),
  );
}

function renderLegend() {
  const t = state.report.totals;
  replaceChildren(
    ui.legend,
    CATEGORIES.map((c) =>
      h(
        "li",
        { class: "legend__item" },
        h("span", { class: `swatch swatch--${c.key}`, "aria-hidden": "true" }),
        h("span", {}, c.label),
        h("span", { class: "legend__count muted" }, numberFormat.format(t[c.key])),
      ),
    ),
  );
}

/** Per day of the range, the four counts summed over the apps. */
function seriesByDay() {
  const q = state.query;
  const byDate = new Map();
  for (const d of state.report.days) {
    if (q.app && d.app_id !== q.app) continue;
    const sum = byDate.get(d.date) ?? { trusted_from_start: 0, upgraded: 0, identified: 0, anonymous: 0 };
    for (const c of CATEGORIES) sum[c.key] += d[c.key];
    byDate.set(d.date, sum);
  }
  const n = daysBetween(q.from, q.to) + 1;
  const series = [];
  for (let i = 0; i < n; i += 1) {
    const date = addDays(q.from, i);
    const counts = byDate.get(date) ?? { trusted_from_start: 0, upgraded: 0, identified: 0, anonymous: 0 };
    series.push({ date, counts, total: sumConversations(counts) });
  }
  return series;
}

function renderChart() {
  const series = seriesByDay();
  const totals = state.report.totals;
  const total = sumConversations(totals);
  const width = Math.max(320, Math.round(ui.chart.clientWidth || 720));
  state.chartWidth = width;
  const height = width < 560 ? 240 : 300;
  const margin = { top: 14, right: 12, bottom: 46, left: 44 };
  const plotW = width - margin.left - margin.right;
  const plotH = height - margin.top - margin.bottom;
  const maxTotal = Math.max(0, ...series.map((d) => d.total));
  const ticks = niceTicks(maxTotal);
  const yMax = ticks[ticks.length - 1] || 1;
  const band = plotW / series.length;
  const barW = Math.max(1, Math.min(48, band * 0.72));
  const y = (v) => margin.top + plotH - (v / yMax) * plotH;

  const summary =
    `Stacked bar chart of conversations per day, ${rangeText(state.query)}: ${numberFormat.format(total)} in total, ` +
    CATEGORIES.map((c) => `${numberFormat.format(totals[c.key])} ${c.short}`).join(", ") +
    ". The table below has the numbers.";
  const svg = svgEl("svg", {
    class: `chart__svg${band >= 10 ? " chart__svg--gaps" : ""}`,
    viewBox: `0 0 ${width} ${height}`,
    width,
    height,
    role: "img",
    "aria-label": summary,
    "data-agent": "report-chart",
    focusable: "false",
  });

  // Grid lines and the y axis.
  const grid = svgEl("g", { class: "chart__grid" });
  const yAxis = svgEl("g", { class: "chart__axis chart__axis--y" });
  for (const tick of ticks) {
    const ty = y(tick);
    grid.append(svgEl("line", { x1: margin.left, x2: width - margin.right, y1: ty, y2: ty }));
    yAxis.append(svgText(numberFormat.format(tick), { x: margin.left - 8, y: ty, "text-anchor": "end", "dominant-baseline": "middle" }));
  }
  svg.append(grid, yAxis);

  // The bars, one group per day, stacked bottom-up.
  const bars = svgEl("g", { class: "chart__bars" });
  series.forEach((d, i) => {
    const x = margin.left + i * band + (band - barW) / 2;
    const label = dayLong.format(dateMs(d.date));
    const group = svgEl("g", { class: "chart__day", "data-agent": "chart-day", "data-date": d.date, "data-total": d.total });
    group.append(
      svgTitle(
        d.total
          ? `${label}: ${numberFormat.format(d.total)} conversation${d.total === 1 ? "" : "s"} — ` +
              CATEGORIES.filter((c) => d.counts[c.key]).map((c) => `${numberFormat.format(d.counts[c.key])} ${c.short}`).join(", ")
          : `${label}: no conversations`,
      ),
    );
    // A full-height transparent band, so the day's tooltip shows anywhere above it.
    group.append(svgEl("rect", { class: "chart__hit", x: margin.left + i * band, y: margin.top, width: band, height: plotH }));
    let base = 0;
    for (const c of CATEGORIES) {
      const n = d.counts[c.key];
      if (!n) continue;
      const top = y(base + n);
      const rect = svgEl("rect", {
        class: `bar bar--${c.key}`,
        "data-agent": "bar",
        "data-category": c.key,
        "data-value": n,
        x: round(x),
        y: round(top),
        width: round(barW),
        height: round(y(base) - top),
      });
      rect.append(svgTitle(`${label} · ${c.label}: ${numberFormat.format(n)}`));
      group.append(rect);
      base += n;
    }
    bars.append(group);
  });
  svg.append(bars);

  // The x axis: a baseline and as many day labels as fit.
  const xAxis = svgEl("g", { class: "chart__axis chart__axis--x" });
  xAxis.append(svgEl("line", { class: "chart__baseline", x1: margin.left, x2: width - margin.right, y1: y(0), y2: y(0) }));
  const fit = Math.max(1, Math.floor(plotW / 58));
  const every = Math.ceil(series.length / fit);
  series.forEach((d, i) => {
    if (i % every !== 0) return;
    const cx = margin.left + i * band + band / 2;
    xAxis.append(svgEl("line", { class: "chart__tick", x1: cx, x2: cx, y1: y(0), y2: y(0) + 5 }));
    xAxis.append(svgText(dayShort.format(dateMs(d.date)), { x: cx, y: y(0) + 19, "text-anchor": "middle" }));
    if (series.length <= 16) {
      xAxis.append(svgText(weekday.format(dateMs(d.date)), { x: cx, y: y(0) + 34, "text-anchor": "middle", class: "chart__weekday" }));
    }
  });
  svg.append(xAxis);

  const empty = total === 0;
  replaceChildren(
    ui.chart,
    svg,
    empty ? h("p", { class: "chart__empty", "data-agent": "chart-empty" }, "No conversations in this period.") : null,
  );
}

function renderTable() {
  const q = state.query;
  const rows = state.report.days.filter((d) => !q.app || d.app_id === q.app);
  ui.reportCaption.textContent = `Conversations and customer messages per day and app, ${rangeText(q)}`;
  const cells = (r) => [
    ...CATEGORIES.map((c) => h("td", { class: "num", "data-col": c.key }, numberFormat.format(r[c.key]))),
    h("td", { class: "num", "data-col": "messages_trusted" }, numberFormat.format(r.messages_trusted)),
    h("td", { class: "num", "data-col": "messages_untrusted" }, numberFormat.format(r.messages_untrusted)),
    h(
      "td",
      { class: "num", "data-col": "csat_average" },
      r.csat_average === null ? [h("span", { "aria-hidden": "true" }, "—"), srOnly("none")] : csatFormat.format(r.csat_average),
    ),
    h("td", { class: "num", "data-col": "csat_count" }, numberFormat.format(r.csat_count)),
  ];
  replaceChildren(
    ui.reportRows,
    rows.length
      ? rows.map((r) =>
          h(
            "tr",
            { "data-agent": "report-row", "data-date": r.date, "data-app": r.app_id },
            h("th", { scope: "row" }, h("time", { datetime: r.date }, dayLong.format(dateMs(r.date)))),
            h("td", { dir: "auto" }, r.app_id),
            cells(r),
          ),
        )
      : h("tr", { class: "report-table__empty" }, h("td", { colspan: 10 }, "No conversations in this period.")),
  );
  replaceChildren(
    ui.reportFoot,
    h("tr", { "data-agent": "report-totals" }, h("th", { scope: "row", colspan: 2 }, "Total"), cells(state.report.totals)),
  );
}

// ---------------------------------------------------------------- svg

function svgEl(tag, attrs = {}) {
  const el = document.createElementNS(SVG_NS, tag);
  for (const [name, value] of Object.entries(attrs)) el.setAttribute(name, String(value));
  return el;
}

function svgText(text, attrs) {
  const el = svgEl("text", attrs);
  el.textContent = text;
  return el;
}

function svgTitle(text) {
  const el = svgEl("title");
  el.textContent = text;
  return el;
}

/** 0 and 4–6 evenly spaced round numbers up to at least `max`. */
export function niceTicks(max) {
  if (max <= 0) return [0, 1];
  if (max <= 5) return Array.from({ length: Math.ceil(max) + 1 }, (_, i) => i);
  const rough = max / 5;
  const power = 10 ** Math.floor(Math.log10(rough));
  const step = [1, 2, 2.5, 5, 10].map((m) => m * power).find((s) => s >= rough && Number.isInteger(s)) ?? 10 * power;
  const top = Math.ceil(max / step) * step;
  const ticks = [];
  for (let v = 0; v <= top + step / 2; v += step) ticks.push(v);
  return ticks;
}

// ---------------------------------------------------------------- dates

function isDate(s) {
  return typeof s === "string" && /^\d{4}-\d{2}-\d{2}$/.test(s) && !Number.isNaN(dateMs(s));
}

function dateMs(s) {
  const [y, m, d] = s.split("-").map(Number);
  return Date.UTC(y, m - 1, d);
}

function addDays(s, n) {
  return new Date(dateMs(s) + n * DAY_MS).toISOString().slice(0, 10);
}

function daysBetween(a, b) {
  return Math.round((dateMs(b) - dateMs(a)) / DAY_MS);
}

function browserZone() {
  try {
    return Intl.DateTimeFormat().resolvedOptions().timeZone || "UTC";
  } catch {
    return "UTC";
  }
}

/** Today's date (`YYYY-MM-DD`) in a time zone; the browser's when it is unknown. */
function todayIn(zone) {
  const parts = (tz) => {
    const f = new Intl.DateTimeFormat("en-CA", { timeZone: tz, year: "numeric", month: "2-digit", day: "2-digit" });
    const p = Object.fromEntries(f.formatToParts(new Date()).map((x) => [x.type, x.value]));
    return `${p.year}-${p.month}-${p.day}`;
  };
  try {
    return parts(zone);
  } catch {
    return parts(undefined);
  }
}

function rangeText(q) {
  const range = q.from === q.to ? dayLong.format(dateMs(q.from)) : `${dayLong.format(dateMs(q.from))} to ${dayLong.format(dateMs(q.to))}`;
  return `${range} (${q.tz})${q.app ? `, app ${q.app}` : ""}`;
}

// ---------------------------------------------------------------- helpers

function sumConversations(c) {
  return c.trusted_from_start + c.upgraded + c.identified + c.anonymous;
}

function int(v) {
  const n = Number(v);
  return Number.isFinite(n) ? Math.trunc(n) : 0;
}

function round(v) {
  return Math.round(v * 10) / 10;
}

function showError(text) {
  replaceChildren(
    ui.error,
    h("span", {}, text),
    h("button", { type: "button", class: "alert__dismiss", "data-agent": "dismiss-error" }, "Dismiss"),
  );
}

function clearError() {
  ui.error.replaceChildren();
}

function announce(text) {
  ui.announce.textContent = "";
  setTimeout(() => (ui.announce.textContent = text), 50);
}
