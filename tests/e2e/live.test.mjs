// Issue 14 in the widget, with the agent console open in a second page:
// each side sees the other type; "Seen" goes both ways, and the widget
// tells the server what the customer read only while the chat is open and
// the page visible; the unread count (API, `unread:change`, the launcher's
// badge) and the `<html>` classes follow what the customer has seen;
// `conversation:started` / `conversation:ended` fire live; `navigate()`
// reaches the console and a page-prefix rule routes by it.

import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { addAgent, agentLogIn, axeViolations, launchBrowser, openChat, portalLogIn, startStack } from "./harness.mjs";

// One agent, one word for a name: the widget says "Bea is typing…".
const AGENT = { email: "bea@support.example", name: "Bea", password: "bea-password-123" };

let stack;
let browser;

before(async () => {
  stack = await startStack({
    extraToml: `
# Conversations opened from the checkout pages are routed by this rule
# (the console shows "Routed by rule: Checkout").
[[apps.rules]]
name = "Checkout"
page_prefix = "{origin}/checkout"
priority = "high"

# Many customers from one address in a few minutes, and the console
# logged in afresh for each test.
[limits]
sessions_per_minute_per_address = 6000
session_burst_per_address = 1000

[agent]
login_attempts_per_email_and_ip_per_minute = 1000
login_attempts_per_ip_per_minute = 1000
`,
  });
  addAgent(stack, AGENT);
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  await stack?.stop();
});

// ------------------------------------------------------------ helpers

/** Waits until `check()` is truthy (polled), or fails saying what never happened. */
async function until(what, check, timeout = 10_000) {
  const deadline = Date.now() + timeout;
  for (;;) {
    const value = await check();
    if (value) return value;
    if (Date.now() > deadline) assert.fail(`timed out after ${timeout} ms waiting for: ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** The agent console, logged in and live, in a browser context of its own. */
async function consolePage() {
  const context = await browser.newContext();
  const page = await context.newPage();
  page.problems = [];
  page.on("pageerror", (error) => page.problems.push(`pageerror: ${error.message}`));
  await agentLogIn(page, stack.url, AGENT.email, AGENT.password);
  return page;
}

/**
 * A page of the customer's site at `path` (any path under /shop/ or
 * /checkout/ is a blank host page) with the widget's script loaded, not yet
 * initialised. `page.sent` collects every frame the widget sends on its
 * WebSocket (what the server got), `page.problems` uncaught errors.
 */
async function sitePage(path, context) {
  context ??= await browser.newContext();
  const page = await context.newPage();
  page.problems = [];
  page.sent = [];
  page.on("pageerror", (error) => page.problems.push(`pageerror: ${error.message}`));
  page.on("websocket", (ws) => {
    if (!ws.url().endsWith("/api/v1/ws")) return;
    ws.on("framesent", ({ payload }) => {
      try {
        page.sent.push(JSON.parse(typeof payload === "string" ? payload : payload.toString()));
      } catch {
        page.sent.push({ unparsable: String(payload) });
      }
    });
  });
  await page.route(
    (url) => url.origin === stack.url && /^\/(shop|checkout)\//.test(url.pathname),
    (route) =>
      route.fulfill({
        contentType: "text/html",
        body: '<!doctype html><html lang="en"><title>Shop</title><link rel="icon" href="data:,"><body><h1>Shop</h1></body></html>',
      }),
  );
  await page.goto(`${stack.url}${path}`);
  await addWidget(page);
  return page;
}

function addWidget(page) {
  return page.addScriptTag({ url: `${stack.url}/widget/trustchat.js` });
}

function init(page) {
  return page.evaluate(() => window.TrustChat.init({ appId: "demo" }));
}

/** Records the widget's `names` events, in order, in the page (`window.__events`). */
function listen(page, names) {
  return page.evaluate((names) => {
    window.__events = [];
    for (const name of names) {
      window.TrustChat.on(name, (detail) =>
        window.__events.push({ name, detail: detail === undefined ? null : JSON.parse(JSON.stringify(detail)) }),
      );
    }
  }, names);
}

/** The details of the recorded `name` events, in order. */
function events(page, name) {
  return page.evaluate((name) => window.__events.filter((e) => e.name === name).map((e) => e.detail), name);
}

function identify(page, name, email) {
  return page.evaluate((user) => window.TrustChat.setUser(user), { name, email });
}

async function send(page, text) {
  const composer = page.locator("[data-tc=composer]");
  await composer.fill(text);
  await composer.press("Enter");
  await page.locator("[data-tc=message][data-author=customer][data-state=sent]").filter({ hasText: text }).waitFor();
}

function widgetMessage(page, author, text) {
  return page.locator(`[data-tc=message][data-author=${author}]`).filter({ hasText: text });
}

function unreadCount(page) {
  return page.evaluate(() => window.TrustChat.getUnreadCount());
}

function htmlClasses(page) {
  return page.evaluate(() =>
    [...document.documentElement.classList].filter((c) => c.startsWith("trustchat-")).sort(),
  );
}

/** Fakes the page being hidden (another tab in front) or visible again, as the browser reports it. */
function setPageVisible(page, visible) {
  return page.evaluate((visible) => {
    Object.defineProperty(document, "visibilityState", { value: visible ? "visible" : "hidden", configurable: true });
    Object.defineProperty(document, "hidden", { value: !visible, configurable: true });
    document.dispatchEvent(new Event("visibilitychange"));
  }, visible);
}

/** Opens the customer's conversation in the console. */
async function openConversation(agent, customerName) {
  const item = agent.locator("[data-agent=conversation]").filter({ hasText: customerName });
  await item.first().waitFor();
  await item.first().click();
  await agent.locator("[data-agent=conversation-title]").filter({ hasText: customerName }).waitFor();
}

function agentMessage(agent, text) {
  return agent.locator("[data-agent=message][data-author=agent]").filter({ hasText: text });
}

/** The agent replies from the console; the reply's element in the timeline. */
async function agentSays(agent, text) {
  const reply = agent.locator("[data-agent=reply]");
  await reply.fill(text);
  await reply.press("Enter");
  const message = agentMessage(agent, text);
  await message.waitFor();
  return message;
}

/** Waits until the console shows `url` as the customer's page (a link). */
function consoleShowsPage(agent, url) {
  return agent.waitForFunction(
    (url) => document.querySelector("[data-agent=current-page] a")?.textContent === url,
    url,
    { timeout: 10_000 },
  );
}

async function closeAll(...pages) {
  for (const page of pages) await page?.context().close();
}

// ------------------------------------------------------------ tests

describe("typing", () => {
  test("the customer's typing reaches the console (one frame per 2 s at most); the agent's shows as 'Bea is typing…' until their message or for 5 s", async () => {
    const agent = await consolePage();
    const page = await sitePage("/shop/typing");
    await init(page);
    await identify(page, "Tom Typer", "tom.typer@example.com");
    await openChat(page);
    await send(page, "Can someone help?");
    await openConversation(agent, "Tom Typer");

    // The customer types for about 3 s.
    const composer = page.locator("[data-tc=composer]");
    const sentBefore = page.sent.length;
    const typedFrom = Date.now();
    await composer.pressSequentially("I have a question about my order", { delay: 100 });
    const typedFor = Date.now() - typedFrom;
    const typingFrames = page.sent.slice(sentBefore).filter((f) => f.type === "typing").length;
    assert.ok(typingFrames >= 1, "typing frames went out");
    assert.ok(
      typingFrames <= Math.floor(typedFor / 2000) + 1,
      `${typingFrames} typing frames in ${typedFor} ms: at most one per 2 s`,
    );
    await agent.locator("[data-agent=typing]").filter({ hasText: "Customer is typing…" }).waitFor();
    await composer.fill("");

    // The agent types: the widget says who, above the composer.
    const typing = page.locator("[data-tc=typing]");
    assert.equal(await typing.isVisible(), false, "nobody is typing yet");
    const reply = agent.locator("[data-agent=reply]");
    await reply.pressSequentially("Sure, what is the order number?", { delay: 20 });
    await typing.waitFor({ state: "visible" });
    assert.equal((await typing.textContent()).trim(), "Bea is typing…");
    const aboveComposer = await typing.evaluate((el) => {
      const composer = el.getRootNode().querySelector("[data-tc=composer]");
      return Boolean(el.compareDocumentPosition(composer) & Node.DOCUMENT_POSITION_FOLLOWING);
    });
    assert.ok(aboveComposer, "the typing line comes before the composer");

    // Their message arrives: the typing line goes at once.
    await reply.press("Enter");
    await widgetMessage(page, "agent", "what is the order number?").waitFor();
    assert.equal(await typing.isVisible(), false, "hidden as soon as the agent's message is shown");

    // The agent types a little and stops: the line shows for about 5 s.
    const shownAt = await until(
      "the widget shows the agent typing again",
      async () => {
        await reply.press("O");
        return (await typing.isVisible()) && Date.now();
      },
      15_000,
    );
    assert.equal((await typing.textContent()).trim(), "Bea is typing…");
    await typing.waitFor({ state: "hidden", timeout: 12_000 });
    const shownFor = Date.now() - shownAt;
    assert.ok(shownFor >= 3500, `shown for ${shownFor} ms: about 5 s after the last typing frame`);
    assert.ok(shownFor <= 9000, `shown for ${shownFor} ms: hidden 5 s after the last typing frame`);

    assert.deepEqual(page.problems, []);
    assert.deepEqual(agent.problems, []);
    await closeAll(page, agent);
  });
});

describe("Seen", () => {
  test("the console sees the customer's Seen only while the chat is open and the page visible", async () => {
    const agent = await consolePage();
    const page = await sitePage("/shop/reading");
    await init(page);
    await identify(page, "Rita Reader", "rita.reader@example.com");
    await openChat(page);
    await send(page, "Hello, my parcel is late");
    await openConversation(agent, "Rita Reader");
    const seenUnder = (message) => message.locator("[data-agent=seen]").filter({ hasText: "Seen" });

    // Positive control: open and visible, the reply is read at once.
    const one = await agentSays(agent, "Reply one");
    await widgetMessage(page, "agent", "Reply one").waitFor();
    await seenUnder(one).waitFor();

    // The chat is closed: the next reply arrives (it is unread) but is not read.
    await page.evaluate(() => window.TrustChat.close());
    await page.locator("[data-tc=panel]").waitFor({ state: "hidden" });
    const two = await agentSays(agent, "Reply two");
    const twoSeq = Number(await two.getAttribute("data-seq"));
    await page.waitForFunction(() => window.TrustChat.getUnreadCount() === 1);
    // A later frame on the same socket reaches the console: a read frame
    // sent on the reply's arrival would have come before it.
    await page.evaluate(() => window.TrustChat.navigate("/shop/after-reply-two"));
    await consoleShowsPage(agent, `${stack.url}/shop/after-reply-two`);
    assert.equal(await seenUnder(two).count(), 0, "no Seen for a reply that arrived while the chat was closed");
    assert.equal(await seenUnder(one).count(), 1, "Seen stays under the reply read before");
    assert.deepEqual(
      page.sent.filter((f) => f.type === "read" && f.seq >= twoSeq),
      [],
      "no read frame covers the reply yet",
    );

    // Opening the chat reads it.
    await openChat(page);
    await seenUnder(two).waitFor();
    assert.equal(await seenUnder(one).count(), 0, "Seen moved to the last reply read");
    assert.equal(await unreadCount(page), 0);

    // Open, but the page is hidden (another tab in front): shown, not read.
    await setPageVisible(page, false);
    const three = await agentSays(agent, "Reply three");
    const threeSeq = Number(await three.getAttribute("data-seq"));
    await widgetMessage(page, "agent", "Reply three").waitFor();
    await page.waitForFunction(() => window.TrustChat.getUnreadCount() === 1);
    await page.evaluate(() => window.TrustChat.navigate("/shop/after-reply-three"));
    await consoleShowsPage(agent, `${stack.url}/shop/after-reply-three`);
    assert.equal(await seenUnder(three).count(), 0, "no Seen while the page is hidden");
    assert.equal(await seenUnder(two).count(), 1);
    assert.deepEqual(page.sent.filter((f) => f.type === "read" && f.seq >= threeSeq), []);

    // The page is visible again: read.
    await setPageVisible(page, true);
    await seenUnder(three).waitFor();
    await page.waitForFunction(() => window.TrustChat.getUnreadCount() === 0);
    assert.ok(
      page.sent.some((f) => f.type === "read" && f.seq >= threeSeq),
      "the widget sent a read frame for the last reply",
    );
    assert.deepEqual(page.problems, []);
    await closeAll(page, agent);
  });

  test("the console shows Seen when the customer's read overtakes the reply on its way to the console", async () => {
    // The server tells the console of its own reply after reading the
    // conversation's summary, and answers the reply's POST: the customer's
    // read can reach the console before either. This console's socket
    // holds the reply's `message` frame, and the POST's answer waits, until
    // the `read` frame has been passed on: the order a busy server gives.
    const context = await browser.newContext();
    const agent = await context.newPage();
    agent.problems = [];
    agent.on("pageerror", (error) => agent.problems.push(`pageerror: ${error.message}`));
    let readPassed;
    const readHasPassed = new Promise((resolve) => (readPassed = resolve));
    const held = [];
    let holding = false;
    await agent.routeWebSocket(/\/api\/v1\/agent\/ws$/, (ws) => {
      const server = ws.connectToServer();
      ws.onMessage((message) => server.send(message));
      server.onMessage((message) => {
        const frame = JSON.parse(message);
        if (holding && frame.type === "message" && frame.message?.author === "agent") {
          held.push(message);
        } else if (holding && frame.type === "read") {
          ws.send(message);
          holding = false;
          for (const later of held.splice(0)) ws.send(later);
          readPassed();
        } else {
          ws.send(message);
        }
      });
    });
    await agent.route(/\/api\/v1\/agent\/conversations\/[^/]+\/messages$/, async (route) => {
      if (route.request().method() !== "POST") return route.continue();
      const response = await route.fetch();
      await readHasPassed;
      await route.fulfill({ response });
    });
    await agentLogIn(agent, stack.url, AGENT.email, AGENT.password);

    const page = await sitePage("/shop/overtaken");
    await init(page);
    await identify(page, "Otto Overtaken", "otto.overtaken@example.com");
    await openChat(page);
    await send(page, "Where is my refund?");
    await openConversation(agent, "Otto Overtaken");

    holding = true;
    const reply = agent.locator("[data-agent=reply]");
    await reply.fill("It left our bank today");
    await reply.press("Enter");
    await widgetMessage(page, "agent", "It left our bank today").waitFor();
    await readHasPassed;
    const message = agentMessage(agent, "It left our bank today");
    await message.waitFor();
    const seq = Number(await message.getAttribute("data-seq"));
    assert.ok(
      page.sent.some((f) => f.type === "read" && f.seq >= seq),
      "the widget read the reply while the console was still waiting for it",
    );
    await message.locator("[data-agent=seen]").filter({ hasText: "Seen" }).waitFor({ timeout: 10_000 });
    assert.deepEqual(agent.problems, []);
    assert.deepEqual(page.problems, []);
    await closeAll(page, agent);
  });

  test("the widget shows the agent's Seen under the last customer message read, only once, and again after a reload", async () => {
    const agent = await consolePage();
    const context = await browser.newContext();
    let page = await sitePage("/shop/seen", context);
    await init(page);
    await identify(page, "Sid Seen", "sid.seen@example.com");
    await openChat(page);
    await send(page, "First question");
    const seen = page.locator("[data-tc=seen]");
    const seenIn = (text) => widgetMessage(page, "customer", text).locator("[data-tc=seen]");

    // The conversation reaches the agent, who has not opened it: not seen.
    await agent.locator("[data-agent=conversation]").filter({ hasText: "Sid Seen" }).waitFor();
    assert.equal(await seen.count(), 0, "no Seen before the agent opened the conversation");

    // The agent opens it (the console marks it read): "Seen" under it.
    await openConversation(agent, "Sid Seen");
    await seenIn("First question").waitFor();
    assert.equal((await seenIn("First question").textContent()).trim(), "Seen");

    // The next message is read at once too: Seen moves, one on screen.
    await send(page, "Second question");
    await seenIn("Second question").waitFor();
    await page.waitForFunction(
      () => document.getElementById("trustchat-root").shadowRoot.querySelectorAll("[data-tc=seen]").length === 1,
    );
    assert.equal(await seenIn("First question").count(), 0);

    // An agent reply does not move it off the customer's last message.
    await agentSays(agent, "Here is the answer");
    await widgetMessage(page, "agent", "Here is the answer").waitFor();
    assert.equal(await seenIn("Second question").count(), 1);
    assert.equal(await seen.count(), 1);

    // After a reload the history says how far the agent read.
    await page.reload();
    await addWidget(page);
    await init(page);
    await openChat(page);
    await widgetMessage(page, "agent", "Here is the answer").waitFor();
    await seenIn("Second question").waitFor();
    assert.equal(await seen.count(), 1);
    assert.deepEqual(page.problems, []);
    await closeAll(page, agent);
  });
});

describe("unread messages", () => {
  test("the count, unread:change, the launcher's badge and the <html> classes follow the agent's messages and the chat", async () => {
    const agent = await consolePage();
    const context = await browser.newContext();
    const page = await sitePage("/shop/unread", context);
    assert.equal(await unreadCount(page), 0, "0 before the widget has loaded");
    await listen(page, ["unread:change"]);
    await init(page);
    assert.equal(await unreadCount(page), 0);
    await identify(page, "Una Unread", "una.unread@example.com");
    await openChat(page);
    assert.deepEqual(await htmlClasses(page), ["trustchat-open"]);
    await send(page, "Do you ship to Iceland?");
    await openConversation(agent, "Una Unread");
    await page.evaluate(() => window.TrustChat.close());
    await page.locator("[data-tc=panel]").waitFor({ state: "hidden" });
    assert.deepEqual(await htmlClasses(page), [], "no trustchat-open once closed");

    const badge = page.locator("[data-tc=launcher] [data-tc=unread]");
    const badgeIs = async (text, label) => {
      await badge.filter({ hasText: text }).waitFor({ state: "visible" });
      assert.equal((await badge.textContent()).trim(), text);
      assert.equal(await badge.getAttribute("aria-label"), label);
      // Heard in the launcher's name, which holds what the badge shows.
      const name = await page.locator("[data-tc=launcher]").getAttribute("aria-label");
      assert.ok(name.includes(text) && name.endsWith(label), name);
    };

    await agentSays(agent, "Let me check");
    await badgeIs("1", "1 unread message");
    assert.equal(await unreadCount(page), 1);
    assert.deepEqual(await htmlClasses(page), ["trustchat-unread"]);
    await agentSays(agent, "Yes, we do");
    await badgeIs("2", "2 unread messages");
    assert.equal(await unreadCount(page), 2);
    await page.waitForFunction(() => window.__events.some((e) => e.detail?.count === 2));
    const counts = (await events(page, "unread:change")).map((d) => d.count);
    assert.deepEqual(counts.filter((n) => n > 0), [1, 2], `unread:change counts: ${counts}`);

    // Opening the chat reads everything.
    await openChat(page);
    await page.waitForFunction(() => window.TrustChat.getUnreadCount() === 0);
    await page.waitForFunction(() => window.__events.at(-1)?.detail?.count === 0);
    assert.equal(await badge.isVisible(), false, "the badge is hidden at 0");
    if ((await badge.count()) > 0) assert.notEqual(await badge.getAttribute("hidden"), null, "hidden with the hidden attribute");
    assert.deepEqual(await htmlClasses(page), ["trustchat-open"]);
    await page.evaluate(() => window.TrustChat.close());
    await page.locator("[data-tc=panel]").waitFor({ state: "hidden" });

    // Ten more while closed: the whole number, seen and heard.
    for (let i = 1; i <= 10; i += 1) await agentSays(agent, `Update #${String(i).padStart(2, "0")}`);
    await badgeIs("10", "10 unread messages");
    assert.equal(await unreadCount(page), 10);
    assert.deepEqual(await htmlClasses(page), ["trustchat-unread"]);

    // They are still unread after a reload.
    await page.reload();
    await addWidget(page);
    await listen(page, ["unread:change"]);
    await init(page);
    await badgeIs("10", "10 unread messages");
    await page.waitForFunction(() => window.TrustChat.getUnreadCount() === 10);
    assert.deepEqual(await htmlClasses(page), ["trustchat-unread"]);
    await openChat(page);
    await page.waitForFunction(() => window.TrustChat.getUnreadCount() === 0);
    assert.equal(await badge.isVisible(), false);
    assert.deepEqual(await htmlClasses(page), ["trustchat-open"]);
    assert.deepEqual(page.problems, []);
    await closeAll(page, agent);
  });

  test("with unread messages the widget passes axe-core: the launcher's accessible name carries what its badge shows", async () => {
    const agent = await consolePage();
    const page = await sitePage("/shop/unread-a11y");
    await init(page);
    await identify(page, "Abe Axe", "abe.axe@example.com");
    await openChat(page);
    await send(page, "Can you hear me?");
    await openConversation(agent, "Abe Axe");
    await page.evaluate(() => window.TrustChat.close());
    await page.locator("[data-tc=panel]").waitFor({ state: "hidden" });
    for (let i = 1; i <= 3; i += 1) await agentSays(agent, `Answer #${i}`);
    await page.locator("[data-tc=launcher] [data-tc=unread]").filter({ hasText: "3" }).waitFor();
    assert.deepEqual(await axeViolations(page, { include: [["#trustchat-root"]] }), []);
    assert.deepEqual(page.problems, []);
    await closeAll(page, agent);
  });

  test("trustchat-trusted follows the portal's login, and clearUser removes the classes", async () => {
    const agent = await consolePage();
    const context = await browser.newContext();
    const page = await context.newPage();
    page.problems = [];
    page.on("pageerror", (error) => page.problems.push(`pageerror: ${error.message}`));
    await page.goto(`${stack.url}/`);
    await page.waitForFunction(() => typeof window.TrustChat?.getUnreadCount === "function");
    assert.deepEqual(await htmlClasses(page), [], "an anonymous visitor: no classes");

    await portalLogIn(page, stack.url, "ada@example.com", "lovelace");
    await page.waitForFunction(() => window.TrustChat.getUser()?.trusted === true);
    await page.waitForFunction(() => document.documentElement.classList.contains("trustchat-trusted"));
    await openChat(page);
    await send(page, "Trusted hello");
    await page.evaluate(() => window.TrustChat.close());
    await page.locator("[data-tc=panel]").waitFor({ state: "hidden" });
    await openConversation(agent, "Ada Lovelace");
    await agentSays(agent, "Hello Ada");
    await page.waitForFunction(() => document.documentElement.classList.contains("trustchat-unread"));
    assert.deepEqual(await htmlClasses(page), ["trustchat-trusted", "trustchat-unread"]);

    // Logout: nothing of the customer stays on the page.
    await page.evaluate(() => window.TrustChat.clearUser());
    const classes = await htmlClasses(page);
    assert.ok(!classes.includes("trustchat-trusted") && !classes.includes("trustchat-unread"), `after clearUser: ${classes}`);
    const panelOpen = await page.locator("[data-tc=panel]").isVisible();
    assert.equal(classes.includes("trustchat-open"), panelOpen, "trustchat-open only while the panel is open");
    assert.equal(await unreadCount(page), 0);
    assert.deepEqual(page.problems, []);
    await closeAll(page, agent);
  });
});

describe("conversation events", () => {
  test("conversation:started and conversation:ended fire live, not for history restored on reload", async () => {
    const agent = await consolePage();
    const context = await browser.newContext();
    const page = await sitePage("/shop/conversations", context);
    await listen(page, ["conversation:started", "conversation:ended", "message:sent"]);
    await init(page);
    await identify(page, "Cora Convo", "cora.convo@example.com");
    await openChat(page);
    await send(page, "First conversation");
    await page.waitForFunction(() => window.__events.some((e) => e.name === "conversation:started"));
    const [started] = await events(page, "conversation:started");
    const sent = await events(page, "message:sent");
    assert.equal(typeof started.conversationId, "string");
    assert.equal(started.conversationId, sent[0].conversation_id, "the id of the conversation the message opened");
    assert.deepEqual(await events(page, "conversation:ended"), []);

    // A second message joins it: no new start.
    await send(page, "Still the first one");
    assert.equal((await events(page, "conversation:started")).length, 1);

    // The agent closes it.
    await openConversation(agent, "Cora Convo");
    await agent.locator("[data-agent=close]").click();
    await page.waitForFunction(() => window.__events.some((e) => e.name === "conversation:ended"));
    assert.deepEqual(await events(page, "conversation:ended"), [{ conversationId: started.conversationId }]);

    // Writing again starts a new one.
    await send(page, "Second conversation");
    await page.waitForFunction(() => window.__events.filter((e) => e.name === "conversation:started").length === 2);
    const second = (await events(page, "conversation:started"))[1];
    assert.notEqual(second.conversationId, started.conversationId);
    assert.equal(second.conversationId, (await events(page, "message:sent")).at(-1).conversation_id);

    // A reload restores the conversation without announcing it again.
    await page.reload();
    await addWidget(page);
    await listen(page, ["conversation:started", "conversation:ended", "ready"]);
    await init(page);
    await openChat(page);
    await widgetMessage(page, "customer", "Second conversation").waitFor();
    await page.waitForFunction(() => window.__events.some((e) => e.name === "ready"));
    assert.deepEqual(await events(page, "conversation:started"), [], "no start for restored history");
    assert.deepEqual(await events(page, "conversation:ended"), []);
    assert.deepEqual(page.problems, []);
    await closeAll(page, agent);
  });
});

describe("navigate()", () => {
  test("the console shows the customer's page: reported by itself, relative and default URLs; bad URLs throw", async () => {
    const agent = await consolePage();
    const page = await sitePage("/shop/host-page?ref=mail");
    await init(page);
    await identify(page, "Olive Other", "olive.other@example.com");
    await openChat(page);
    await send(page, "Just browsing");
    await openConversation(agent, "Olive Other");
    // The widget reported where it is by itself; that is no checkout page.
    await consoleShowsPage(agent, `${stack.url}/shop/host-page?ref=mail`);
    assert.equal(await agent.locator("[data-agent=routed-by]").count(), 0, "no rule routed it");

    // Relative to the page.
    await page.evaluate(() => window.TrustChat.navigate("/shop/item/7?color=blue"));
    await consoleShowsPage(agent, `${stack.url}/shop/item/7?color=blue`);
    // No argument: location.href, after a single-page-app navigation.
    await page.evaluate(() => {
      history.pushState({}, "", "/shop/orders/42");
      window.TrustChat.navigate();
    });
    await consoleShowsPage(agent, `${stack.url}/shop/orders/42`);
    await page.evaluate(() => window.TrustChat.navigate("../cart?from=orders"));
    await consoleShowsPage(agent, `${stack.url}/shop/cart?from=orders`);

    // What is not an http(s) URL, or is too long, is refused at once.
    const refused = await page.evaluate(() =>
      ["javascript:alert(1)", "mailto:olive@example.com", `https://shop.example/${"x".repeat(2100)}`].map((url) => {
        try {
          window.TrustChat.navigate(url);
          return "accepted";
        } catch (error) {
          return `${error instanceof Error}:${error.code}`;
        }
      }),
    );
    assert.deepEqual(refused, ["true:invalid_argument", "true:invalid_argument", "true:invalid_argument"]);
    assert.ok(
      !page.sent.some((f) => f.type === "page" && !/^https?:/.test(f.url)),
      "no refused URL went to the server",
    );
    assert.deepEqual(page.problems, []);
    await closeAll(page, agent);
  });

  test("a page given before the chat starts is sent once the socket is ready, and a page-prefix rule routes by it", async () => {
    const agent = await consolePage();
    const page = await sitePage("/shop/host-page");
    await init(page);
    // No session yet: remembered.
    await page.evaluate(() => window.TrustChat.navigate("/checkout/cart?step=2"));
    const cart = `${stack.url}/checkout/cart?step=2`;
    await identify(page, "Nora Navigator", "nora.navigator@example.com");
    await until("the widget sends the remembered page on its socket", () =>
      page.sent.some((f) => f.type === "page" && f.url === cart),
    );
    await openChat(page);
    await send(page, "Is my coupon applied?");
    const pages = page.sent.filter((f) => f.type === "page").map((f) => f.url);
    assert.equal(pages.at(-1), cart, `the last page sent is the one the site gave: ${pages}`);

    await openConversation(agent, "Nora Navigator");
    await consoleShowsPage(agent, cart);
    await agent.locator("[data-agent=routed-by]").filter({ hasText: "Checkout" }).waitFor();
    assert.deepEqual(page.problems, []);
    await closeAll(page, agent);
  });
});
