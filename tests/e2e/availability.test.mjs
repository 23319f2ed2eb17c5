// Whether support can answer now, as the customer sees it (issue 14):
// `getAvailability()` and `availability:change` follow agents coming
// online and going away, over the socket and, before the customer has a
// session, by polling; the chat says "Everyone is busy right now…" when
// nobody is available, and "We're closed right now. We're back …" outside
// the office hours of `[apps.hours]` (in the customer's time zone and
// locale), and the customer can write either way.
//
// The office hours are computed from the clock when the suite starts, in
// UTC, and the browser runs in a time zone where it is then between 12:00
// and 13:00: "today", "tomorrow" and the weekday come out the same
// whenever the suite runs.

import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { addAgent, agentLogIn, axeViolations, launchBrowser, openChat, startStack } from "./harness.mjs";

const HOUR = 3_600_000;
const DAY = 24 * HOUR;
const DAY_KEYS = ["sun", "mon", "tue", "wed", "thu", "fri", "sat"];

const NOW = Date.now();
/** An Etc/GMT zone where it is now between 12:00 and 13:00, and its offset east of UTC. */
const ZONE = (() => {
  const hours = 12 - new Date(NOW).getUTCHours(); // -11 ..= 12
  // The Etc/GMT names count the other way round: Etc/GMT-5 is UTC+5.
  const name = hours === 0 ? "Etc/GMT" : `Etc/GMT${hours > 0 ? "-" : "+"}${Math.abs(hours)}`;
  return { name, offset: hours * HOUR };
})();
/** Midnight today in ZONE, as a Unix ms instant. */
const LOCAL_MIDNIGHT = Math.floor((NOW + ZONE.offset) / DAY) * DAY - ZONE.offset;

/** The instant `days` after today at `hour`:00 in the customer's zone. */
function localAt(days, hour) {
  return LOCAL_MIDNIGHT + days * DAY + hour * HOUR;
}

/** `[apps.hours]` in UTC whose only opening in the coming week is the hour from `at`; `holiday` skips a day. */
function hoursOpeningAt(at, holiday) {
  const d = new Date(at);
  const hh = (h) => `${String(h).padStart(2, "0")}:00`;
  return `[apps.hours]
timezone = "UTC"
${DAY_KEYS[d.getUTCDay()]} = ["${hh(d.getUTCHours())}-${hh(d.getUTCHours() + 1)}"]
${holiday ? `holidays = ["${new Date(holiday).toISOString().slice(0, 10)}"]` : ""}
`;
}

// Closed now, and back: later today, tomorrow, in three days (a weekday),
// in nine days (a date: the weekday's opening two days from now is a
// holiday), and never (no opening at all).
const CLOSED = {
  today: { opensAt: localAt(0, 18) },
  tomorrow: { opensAt: localAt(1, 9), onboarding: true },
  weekday: { opensAt: localAt(3, 9) },
  nextweek: { opensAt: localAt(9, 9), holiday: localAt(2, 9) },
  never: { opensAt: null },
};

function closedApps() {
  return Object.entries(CLOSED)
    .map(
      ([id, app]) => `
[[apps]]
id = "${id}"
name = "Closed ${id}"
allowed_origins = ["{origin}"]
onboarding = ${app.onboarding ?? false}

${app.opensAt ? hoursOpeningAt(app.opensAt, app.holiday) : '[apps.hours]\ntimezone = "UTC"\n'}`,
    )
    .join("\n");
}

const AVA = { email: "ava@support.example", name: "Ava Available", password: "ava-password-123" };
const NED = { email: "ned@support.example", name: "Ned Newcomer", password: "ned-password-123" };

const BUSY = "Everyone is busy right now. Leave a message and we'll reply as soon as we can.";

let stack;
let browser;

before(async () => {
  stack = await startStack({
    extraToml: `${closedApps()}
[limits]
sessions_per_minute_per_address = 6000
session_burst_per_address = 1000
`,
  });
  addAgent(stack, AVA);
  addAgent(stack, NED);
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  await stack?.stop();
});

// ------------------------------------------------------------ helpers

/** A blank page of the site in the customer's zone, with the widget's script loaded (not initialised). */
async function sitePage({ locale = "en-US", fakeClock = false } = {}) {
  const context = await browser.newContext({ timezoneId: ZONE.name, locale });
  const page = await context.newPage();
  if (fakeClock) await page.clock.install();
  page.problems = [];
  page.on("pageerror", (error) => page.problems.push(`pageerror: ${error.message}`));
  await page.route(`${stack.url}/shop/host-page`, (route) =>
    route.fulfill({
      contentType: "text/html",
      body: '<!doctype html><html lang="en"><title>Shop</title><link rel="icon" href="data:,"><body><h1>Shop</h1></body></html>',
    }),
  );
  await page.goto(`${stack.url}/shop/host-page`);
  await page.addScriptTag({ url: `${stack.url}/widget/trustchat.js` });
  return page;
}

/** Records `availability:change` details in the page. */
function listen(page) {
  return page.evaluate(() => {
    window.__availability = [];
    window.TrustChat.on("availability:change", (detail) => window.__availability.push(JSON.parse(JSON.stringify(detail))));
  });
}

function init(page, appId) {
  return page.evaluate((appId) => window.TrustChat.init({ appId }), appId);
}

function getAvailability(page) {
  return page.evaluate(() => window.TrustChat.getAvailability());
}

/** Waits for an `availability:change` to `availability` after the first `from` events; its detail. */
async function changeTo(page, availability, from = 0, timeout = 15_000) {
  await page.waitForFunction(
    ({ availability, from }) => window.__availability.slice(from).some((d) => d.availability === availability),
    { availability, from },
    { timeout },
  );
  return page.evaluate(
    ({ availability, from }) => window.__availability.slice(from).find((d) => d.availability === availability),
    { availability, from },
  );
}

/** The availability notices the customer can see now: [{availability, role, text}]. */
const SHOWN_NOTICES = () =>
  [...(document.getElementById("trustchat-root")?.shadowRoot?.querySelectorAll("[data-tc=availability]") ?? [])]
    .filter((el) => el.checkVisibility())
    .map((el) => ({ availability: el.dataset.availability, role: el.getAttribute("role"), text: el.textContent.trim() }));

function shownNotices(page) {
  return page.evaluate(SHOWN_NOTICES);
}

/** Waits until exactly one notice is shown, of `availability`; it. */
async function noticeShown(page, availability, timeout = 15_000) {
  await page.waitForFunction(
    `(() => { const shown = (${SHOWN_NOTICES})(); return shown.length === 1 && shown[0].availability === ${JSON.stringify(availability)}; })()`,
    undefined,
    { timeout },
  );
  return (await shownNotices(page))[0];
}

async function noNoticeShown(page, timeout = 15_000) {
  await page.waitForFunction(`(${SHOWN_NOTICES})().length === 0`, undefined, { timeout });
}

async function send(page, text) {
  const composer = page.locator("[data-tc=composer]");
  assert.equal(await composer.isEditable(), true, "the composer is usable");
  await composer.fill(text);
  await composer.press("Enter");
  await page.locator("[data-tc=message][data-author=customer][data-state=sent]").filter({ hasText: text }).waitFor();
}

async function consolePage(agent) {
  const context = await browser.newContext();
  const page = await context.newPage();
  await agentLogIn(page, stack.url, agent.email, agent.password);
  return page;
}

async function serverSays(appId) {
  const response = await fetch(`${stack.url}/api/v1/apps/${appId}`);
  assert.equal(response.status, 200);
  return response.json();
}

/** The hour and minute as Intl writes them in the page's locale and zone (the usual option sets). */
function timeTexts(page, locale, at) {
  return page.evaluate(
    ({ locale, at }) => [
      ...new Set(
        [{ timeStyle: "short" }, { hour: "numeric", minute: "2-digit" }, { hour: "2-digit", minute: "2-digit" }].map((o) =>
          new Intl.DateTimeFormat(locale, o).format(new Date(at)),
        ),
      ),
    ],
    { locale, at },
  );
}

// ------------------------------------------------------------ tests

describe("availability", () => {
  test("busy, then available when an agent comes online, busy again when they go away: API, events and the notice", async () => {
    assert.equal((await serverSays("demo")).availability, "busy", "nobody is online yet");
    const page = await sitePage();
    assert.equal(await getAvailability(page), null, "null before init");
    await listen(page);
    await init(page, "demo");
    assert.equal(await getAvailability(page), "busy", "known once init resolved");

    // A customer with a session (and so a socket).
    await page.evaluate(() => window.TrustChat.setUser({ name: "Bo Busy", email: "bo.busy@example.com" }));
    await openChat(page);
    const busy = await noticeShown(page, "busy");
    assert.deepEqual(busy, { availability: "busy", role: "status", text: BUSY });
    // The notice is at the top of the chat, before the messages.
    const onTop = await page.evaluate(() => {
      const root = document.getElementById("trustchat-root").shadowRoot;
      const notice = [...root.querySelectorAll("[data-tc=availability]")].find((el) => el.checkVisibility());
      return Boolean(notice.compareDocumentPosition(root.querySelector("[data-tc=messages]")) & Node.DOCUMENT_POSITION_FOLLOWING);
    });
    assert.ok(onTop, "the notice comes before the messages");
    await send(page, "Anyone there?");

    // An agent comes online.
    let seen = await page.evaluate(() => window.__availability.length);
    const agent = await consolePage(AVA);
    assert.deepEqual(await changeTo(page, "available", seen), { availability: "available", nextOpenAt: null });
    assert.equal(await getAvailability(page), "available");
    await noNoticeShown(page);

    // ... goes away.
    seen = await page.evaluate(() => window.__availability.length);
    await agent.locator("[data-agent=status]").click();
    await agent.locator("[data-agent=status][data-state=away]").waitFor();
    assert.deepEqual(await changeTo(page, "busy", seen), { availability: "busy", nextOpenAt: null });
    assert.equal(await getAvailability(page), "busy");
    assert.equal((await noticeShown(page, "busy")).text, BUSY);

    // ... is back, then logs out.
    seen = await page.evaluate(() => window.__availability.length);
    await agent.locator("[data-agent=status]").click();
    await agent.locator("[data-agent=status][data-state=available]").waitFor();
    await changeTo(page, "available", seen);
    await noNoticeShown(page);
    seen = await page.evaluate(() => window.__availability.length);
    await agent.locator("[data-agent=logout]").click();
    await changeTo(page, "busy", seen);
    await noticeShown(page, "busy");
    await send(page, "Still there?");
    assert.deepEqual(page.problems, []);
    await agent.context().close();
    await page.context().close();
  });

  test("closed outside office hours: 'We're back today / tomorrow / Weekday / Month day at h:mm', or just closed", async () => {
    for (const [appId, app] of Object.entries(CLOSED)) {
      const server = await serverSays(appId);
      assert.equal(server.availability, "closed", `${appId}: the schedule is closed now`);
      assert.equal(server.next_open_at ?? null, app.opensAt, `${appId}: the schedule opens when the test meant`);
      if (app.onboarding) continue; // below, with the onboarding form

      const page = await sitePage();
      await init(page, appId);
      assert.equal(await getAvailability(page), "closed", appId);
      await openChat(page);
      const notice = await noticeShown(page, "closed");
      assert.equal(notice.role, "status");
      let expected;
      if (app.opensAt === null) {
        expected = ["We're closed right now."];
      } else {
        const day = await page.evaluate(
          ({ appId, at }) =>
            appId === "today"
              ? "today"
              : appId === "weekday"
                ? new Intl.DateTimeFormat("en", { weekday: "long" }).format(new Date(at))
                : new Intl.DateTimeFormat("en", { month: "long", day: "numeric" }).format(new Date(at)),
          { appId, at: app.opensAt },
        );
        expected = (await timeTexts(page, "en", app.opensAt)).map((t) => `We're closed right now. We're back ${day} at ${t}.`);
      }
      assert.ok(expected.includes(notice.text), `${appId}: ${JSON.stringify(notice.text)} is one of ${JSON.stringify(expected)}`);
      // The customer can write all the same.
      await send(page, `Hello ${appId}`);
      assert.deepEqual(page.problems, []);
      await page.context().close();
    }
  });

  test("the closed notice is on the onboarding form too, and a customer who fills it in can write", async () => {
    const { opensAt } = CLOSED.tomorrow;
    const page = await sitePage();
    await listen(page);
    await init(page, "tomorrow");
    assert.equal(await getAvailability(page), "closed");
    await openChat(page);
    await page.locator("[data-tc=onboarding]").waitFor();
    const times = await timeTexts(page, "en", opensAt);
    const expected = times.map((t) => `We're closed right now. We're back tomorrow at ${t}.`);
    const onForm = await noticeShown(page, "closed");
    assert.ok(expected.includes(onForm.text), `${JSON.stringify(onForm.text)} is one of ${JSON.stringify(expected)}`);
    const aboveForm = await page.evaluate(() => {
      const root = document.getElementById("trustchat-root").shadowRoot;
      const notice = [...root.querySelectorAll("[data-tc=availability]")].find((el) => el.checkVisibility());
      return Boolean(notice.compareDocumentPosition(root.querySelector("[data-tc=name]")) & Node.DOCUMENT_POSITION_FOLLOWING);
    });
    assert.ok(aboveForm, "the notice comes before the form's fields");
    assert.deepEqual(await axeViolations(page, { include: [["#trustchat-root"]] }), [], "the form with the notice passes axe-core");

    await page.locator("[data-tc=name]").fill("Cleo Closed");
    await page.locator("[data-tc=email]").fill("cleo.closed@example.com");
    await page.locator("[data-tc=submit]").click();
    await page.locator("[data-tc=composer]").waitFor();
    const inChat = await noticeShown(page, "closed");
    assert.equal(inChat.text, onForm.text);
    assert.deepEqual(await axeViolations(page, { include: [["#trustchat-root"]] }), [], "the chat with the notice passes axe-core");
    await send(page, "I'll wait for the morning");
    // Whatever the events said, none of them claimed support was open.
    const details = await page.evaluate(() => window.__availability);
    assert.ok(details.every((d) => d.availability === "closed"), JSON.stringify(details));
    for (const d of details) assert.equal(d.nextOpenAt, opensAt);
    assert.deepEqual(page.problems, []);
    await page.context().close();
  });

  test("without a session (no socket), the widget polls at most once a minute: an agent coming online reaches it", async () => {
    // Nobody available to start with (Ava logged out in the first test).
    const deadline = Date.now() + 20_000;
    while ((await serverSays("demo")).availability !== "busy") {
      assert.ok(Date.now() < deadline, "the demo app became busy");
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
    // The page's clock is Playwright's: the test moves it on a minute
    // instead of waiting for one.
    const page = await sitePage({ fakeClock: true });
    const appGets = [];
    page.on("request", (request) => {
      if (request.method() === "GET" && new URL(request.url()).pathname === "/api/v1/apps/demo") appGets.push(request);
    });
    await listen(page);
    await init(page, "demo");
    await openChat(page); // the onboarding form: no session, no socket
    await page.locator("[data-tc=onboarding]").waitFor();
    assert.equal((await noticeShown(page, "busy")).text, BUSY);
    assert.equal(await page.evaluate(() => window.__availability.some((d) => d.availability === "available")), false);

    const agent = await consolePage(NED);
    while ((await serverSays("demo")).availability !== "available") {
      assert.ok(Date.now() < deadline + 20_000, "the server saw the agent come online");
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    // A minute and a bit, 5 s at a time: a widget polling more often than
    // once a minute would ask a dozen times.
    const before = appGets.length;
    for (let i = 0; i < 13; i += 1) await page.clock.fastForward(5_000);
    assert.deepEqual(await changeTo(page, "available"), { availability: "available", nextOpenAt: null });
    assert.equal(await getAvailability(page), "available");
    await noNoticeShown(page);
    const polls = appGets.length - before;
    assert.ok(polls >= 1 && polls <= 2, `${polls} GET /api/v1/apps/demo in a minute and 5 s: at most one a minute`);
    assert.deepEqual(page.problems, []);
    await agent.context().close();
    await page.context().close();
  });
});
