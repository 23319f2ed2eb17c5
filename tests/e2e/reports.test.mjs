// The authentication report as an agent sees it at /agent/reports/: four
// customers chat (one logged in from the start, one who logs in mid-chat,
// one who only typed a name and email, one anonymous), one rates the
// conversation; the page's table, totals, stacked bar chart and CSV show
// exactly that, in the browser's time zone; filters re-ask the server; it
// passes axe-core; and without an agent session it links to the login.

import assert from "node:assert/strict";
import { mkdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { after, before, describe, test } from "node:test";
import { ROOT } from "../../scripts/lib.mjs";
import { addAgent, agentLogIn, axeViolations, launchBrowser, mintToken, startStack } from "./harness.mjs";

const ZONE = "Europe/Paris";
const CSV_HEADER = "date,app_id,trusted_from_start,upgraded,identified,anonymous,messages_trusted,messages_untrusted,csat_average,csat_count";
const ARTIFACTS = process.env.E2E_ARTIFACTS ?? path.join(ROOT, "target", "e2e");

let stack;
let browser;

before(async () => {
  stack = await startStack();
  addAgent(stack, { email: "alice@support.example", name: "Alice Agent", password: "alice-password-1" });
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  await stack?.stop();
});

async function freshPage() {
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 }, timezoneId: ZONE, acceptDownloads: true });
  const page = await context.newPage();
  page.problems = [];
  page.on("pageerror", (error) => page.problems.push(`pageerror: ${error.message}`));
  return page;
}

async function json(response) {
  const text = await response.text();
  try {
    return JSON.parse(text);
  } catch {
    throw new Error(`not JSON (${response.status}): ${text.slice(0, 200)}`);
  }
}

async function customer(body) {
  const response = await fetch(`${stack.url}/api/v1/apps/demo/sessions`, {
    method: "POST",
    headers: { "content-type": "application/json", origin: stack.origin },
    body: JSON.stringify(body),
  });
  assert.equal(response.status, 201, `session: ${response.status}`);
  return (await json(response)).session_token;
}

async function say(token, text) {
  const response = await fetch(`${stack.url}/api/v1/messages`, {
    method: "POST",
    headers: { "content-type": "application/json", authorization: `Bearer ${token}`, origin: stack.origin },
    body: JSON.stringify({ client_id: crypto.randomUUID(), body: text }),
  });
  assert.ok(response.status === 201 || response.status === 200, `message: ${response.status}`);
  return json(response);
}

/** The mid-chat login: the session's identity becomes the token's. */
async function logIn(token, jwt) {
  const response = await fetch(`${stack.url}/api/v1/sessions/current/identity`, {
    method: "POST",
    headers: { "content-type": "application/json", authorization: `Bearer ${token}`, origin: stack.origin },
    body: JSON.stringify({ jwt }),
  });
  assert.equal(response.status, 200, `identity: ${response.status}`);
  return (await json(response)).session_token ?? token;
}

function agentApi(page, method, urlPath, body) {
  return page.evaluate(
    async ({ method, urlPath, body }) => {
      const me = await fetch("/api/v1/agent/me").then((r) => r.json());
      const init = { method, headers: { accept: "application/json" } };
      if (method !== "GET") {
        init.headers["content-type"] = "application/json";
        init.headers["x-csrf-token"] = me.csrf_token;
        init.body = JSON.stringify(body ?? {});
      }
      const response = await fetch(`/api/v1/agent${urlPath}`, init);
      return { status: response.status, body: response.status === 204 ? null : await response.json(), me };
    },
    { method, urlPath, body },
  );
}

function today(zone) {
  const parts = Object.fromEntries(
    new Intl.DateTimeFormat("en-CA", { timeZone: zone, year: "numeric", month: "2-digit", day: "2-digit" })
      .formatToParts(new Date())
      .map((p) => [p.type, p.value]),
  );
  return `${parts.year}-${parts.month}-${parts.day}`;
}

function shiftDate(date, days) {
  return new Date(Date.parse(`${date}T00:00:00Z`) + days * 86_400_000).toISOString().slice(0, 10);
}

/** A row's cells by column. */
function rowValues(row) {
  return row.evaluate((tr) => Object.fromEntries([...tr.querySelectorAll("[data-col]")].map((td) => [td.dataset.col, td.textContent.trim()])));
}

const EXPECTED = {
  trusted_from_start: "1",
  upgraded: "1",
  identified: "1",
  anonymous: "1",
  messages_trusted: "3",
  messages_untrusted: "4",
  csat_average: "5.0",
  csat_count: "1",
};

describe("the authentication report page", () => {
  let alice;

  before(async () => {
    alice = await freshPage();
    await agentLogIn(alice, stack.url, "alice@support.example", "alice-password-1");

    // Trusted from the start: two trusted messages.
    const tess = await customer({ jwt: await mintToken(stack.url, { email: "tess@example.com", name: "Tess Trusted", expiresIn: 600 }) });
    const rated = (await say(tess, "Logged in before I wrote")).conversation_id;
    await say(tess, "And still logged in");
    // Upgraded: identified, then logs in mid-chat.
    let uma = await customer({ user: { name: "Uma Upgraded", email: "uma@example.com" } });
    const before = (await say(uma, "Before my login")).conversation_id;
    uma = await logIn(uma, await mintToken(stack.url, { email: "uma@example.com", name: "Uma Upgraded", expiresIn: 600 }));
    const afterLogin = await say(uma, "After my login");
    assert.equal(afterLogin.conversation_id, before, "the login continues the conversation");
    assert.equal(afterLogin.trusted, true);
    // Identified, never verified.
    await say(await customer({ user: { name: "Ida Identified", email: "ida@example.com" } }), "I only typed my email");
    // Anonymous: two untrusted messages.
    const anon = await customer({});
    await say(anon, "Hello?");
    await say(anon, "Anyone there?");

    // Tess's conversation is closed and rated 5.
    const detail = await agentApi(alice, "GET", `/conversations/${rated}`);
    if (detail.body.conversation.assigned_agent_id !== detail.me.agent.id) {
      assert.equal((await agentApi(alice, "POST", `/conversations/${rated}/assign`, { agent_id: detail.me.agent.id })).status, 200);
    }
    assert.equal((await agentApi(alice, "POST", `/conversations/${rated}/close`)).status, 200);
    const rating = await fetch(`${stack.url}/api/v1/conversations/${rated}/rating`, {
      method: "POST",
      headers: { "content-type": "application/json", authorization: `Bearer ${tess}`, origin: stack.origin },
      body: JSON.stringify({ rating: 5 }),
    });
    assert.equal(rating.status, 200, `rating: ${rating.status}`);
  });

  test("the console links to the report, and the report back to the console", async () => {
    const link = alice.locator("[data-agent=reports-link]");
    assert.equal(await link.getAttribute("href"), "/agent/reports/");
    await Promise.all([alice.waitForURL(/\/agent\/reports\//), link.click()]);
    await alice.locator("[data-agent=report-row]").first().waitFor();
    assert.equal(await alice.locator("[data-agent=console-link]").getAttribute("href"), "/agent/");
  });

  test("shows today's conversations by category in the table, the totals, the chart and the CSV", async () => {
    const day = today(ZONE);
    await alice.goto(`${stack.url}/agent/reports/`);
    const rows = alice.locator("[data-agent=report-row]");
    await rows.first().waitFor();

    // Defaults: the last 14 days, all apps, the browser's time zone.
    assert.equal(await alice.locator("[data-agent=report-tz]").inputValue(), ZONE);
    assert.equal(await alice.locator("[data-agent=report-to]").inputValue(), day);
    assert.equal(await alice.locator("[data-agent=report-from]").inputValue(), shiftDate(day, -13));
    assert.deepEqual(await alice.locator("[data-agent=report-app] option").allTextContents(), ["All apps", "demo"]);

    assert.equal(await rows.count(), 1);
    assert.equal(await rows.first().getAttribute("data-date"), day);
    assert.equal(await rows.first().getAttribute("data-app"), "demo");
    assert.deepEqual(await rowValues(rows.first()), EXPECTED);
    assert.deepEqual(await rowValues(alice.locator("[data-agent=report-totals]")), EXPECTED);
    assert.equal((await alice.locator("[data-agent=total-conversations]").textContent()).trim(), "4");
    assert.equal((await alice.locator("[data-agent=total-trusted_from_start]").textContent()).trim(), "1");

    // The chart: a day per column, today's stacked bar of four parts.
    const chart = alice.locator("svg[data-agent=report-chart]");
    assert.equal(await chart.getAttribute("role"), "img");
    assert.match(await chart.getAttribute("aria-label"), /4 in total, 1 trusted from the start, 1 upgraded, 1 identified, 1 anonymous/);
    assert.equal(await alice.locator("[data-agent=chart-day]").count(), 14);
    const todays = alice.locator(`[data-agent=chart-day][data-date="${day}"]`);
    assert.equal(await todays.getAttribute("data-total"), "4");
    const bars = todays.locator("[data-agent=bar]");
    assert.deepEqual(await bars.evaluateAll((els) => els.map((el) => el.dataset.category)), [
      "trusted_from_start",
      "upgraded",
      "identified",
      "anonymous",
    ]);
    for (const bar of await bars.all()) {
      assert.ok(Number(await bar.getAttribute("height")) > 0, "every part has a height");
      assert.match(await bar.locator("title").textContent(), /: 1$/);
    }
    assert.equal(await alice.locator("[data-agent=chart] [data-agent=bar]").count(), 4, "no bars on days without conversations");
    // Colours come from the stylesheet: green for trusted.
    assert.equal(await bars.first().evaluate((el) => getComputedStyle(el).fill), "rgb(26, 127, 55)");

    assert.deepEqual(await axeViolations(alice), []);
    mkdirSync(ARTIFACTS, { recursive: true });
    await alice.screenshot({ path: path.join(ARTIFACTS, "reports.png"), fullPage: true });

    // The CSV of the same report.
    const csv = alice.locator("[data-agent=report-csv]");
    assert.match(await csv.getAttribute("href"), /format=csv/);
    const [download] = await Promise.all([alice.waitForEvent("download"), csv.click()]);
    const text = readFileSync(await download.path(), "utf8");
    const lines = text.trim().split(/\r?\n/);
    assert.equal(lines[0], CSV_HEADER);
    assert.equal(lines.length, 2);
    assert.match(lines[1], new RegExp(`^${day},demo,1,1,1,1,3,4,5(\\.0+)?,1$`));
    assert.deepEqual(alice.problems, []);
  });

  test("filters ask the server again: another range, one app, a bad time zone", async () => {
    const day = today(ZONE);
    await alice.goto(`${stack.url}/agent/reports/`);
    await alice.locator("[data-agent=report-row]").first().waitFor();

    await alice.locator("[data-agent=report-app]").selectOption("demo");
    await alice.waitForURL(/app=demo/);
    assert.deepEqual(await rowValues(alice.locator("[data-agent=report-totals]")), EXPECTED);

    // A week that ended yesterday: nothing.
    await alice.locator("[data-agent=report-to]").fill(shiftDate(day, -1));
    await alice.locator("[data-agent=report-from]").fill(shiftDate(day, -7));
    await alice.locator("[data-agent=report-show]").click();
    await alice.locator("[data-agent=report-row]").first().waitFor({ state: "detached" });
    assert.equal(await alice.locator("[data-agent=chart-day]").count(), 7);
    assert.equal(await alice.locator("[data-agent=chart] [data-agent=bar]").count(), 0);
    assert.equal((await alice.locator("[data-agent=report-totals] [data-col=trusted_from_start]").textContent()).trim(), "0");
    await alice.locator("[data-agent=chart-empty]").waitFor();

    // The server refuses an unknown time zone; the page says so.
    await alice.locator("[data-agent=report-tz]").fill("Mars/Olympus_Mons");
    await alice.locator("[data-agent=report-show]").click();
    await alice.locator("[data-agent=error]").filter({ hasText: "could not be loaded" }).waitFor();
    assert.equal(await alice.locator("[data-agent=report-tz]").getAttribute("aria-invalid"), "true");

    // From after to is caught before asking.
    await alice.locator("[data-agent=report-tz]").fill("UTC");
    await alice.locator("[data-agent=report-from]").fill(day);
    await alice.locator("[data-agent=report-to]").fill(shiftDate(day, -3));
    await alice.locator("[data-agent=report-show]").click();
    await alice.locator("[data-agent=error]").filter({ hasText: "after the last day" }).waitFor();
    assert.deepEqual(alice.problems, []);
  });

  test("without an agent session the page links to the console's login", async () => {
    const stranger = await freshPage();
    await stranger.goto(`${stack.url}/agent/reports`);
    assert.match(stranger.url(), /\/agent\/reports\/$/, "/agent/reports redirects to /agent/reports/");
    await stranger.locator("[data-agent=logged-out]").waitFor();
    assert.equal(await stranger.locator("[data-agent=login-link]").getAttribute("href"), "/agent/");
    assert.equal(await stranger.locator("[data-agent=report-view]").isHidden(), true);
    assert.deepEqual(await axeViolations(stranger), []);
    const csp = (await (await fetch(`${stack.url}/agent/reports/`)).headers.get("content-security-policy")) ?? "";
    assert.match(csp, /default-src 'self'/);
  });
});
