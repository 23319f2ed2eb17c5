// The agent console with customers chatting at the same time, as an agent
// and customers see it: trusted messages carry a green icon while the
// conversation is open and a gray one once it is closed, anonymous messages
// carry none, asking an anonymous customer to log in upgrades the rest of
// the conversation, different customers are routed on their own, hostile
// text shows as typed and never runs, and both pages pass axe-core.

import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import {
  addAgent,
  agentLogIn,
  axeViolations,
  launchBrowser,
  openChat,
  portalLogIn,
  startStack,
} from "./harness.mjs";

const GREEN = "rgb(26, 127, 55)";
const GRAY = "rgb(110, 119, 129)";

let stack;
let browser;

before(async () => {
  stack = await startStack();
  addAgent(stack, { email: "alice@support.example", name: "Alice Agent", password: "alice-password-1" });
  addAgent(stack, { email: "bob@support.example", name: "Bob Agent", password: "bob-password-12" });
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  await stack?.stop();
});

/** A fresh browser context (its own storage and cookies) with one page. */
async function freshPage() {
  const context = await browser.newContext();
  const page = await context.newPage();
  page.problems = [];
  page.on("pageerror", (error) => page.problems.push(`pageerror: ${error.message}`));
  page.on("dialog", (dialog) => {
    page.problems.push(`dialog: ${dialog.message()}`);
    dialog.dismiss();
  });
  return page;
}

async function send(page, text) {
  await page.locator("[data-tc=composer]").fill(text);
  await page.locator("[data-tc=composer]").press("Enter");
  await page.locator("[data-tc=message][data-author=customer][data-state=sent]").filter({ hasText: text }).waitFor();
}

/** The console's conversation item for a customer, once it shows up live. */
function conversationItem(agent, text) {
  return agent.locator("[data-agent=conversation]").filter({ hasText: text });
}

/** The console's timeline message with this text. */
function timelineMessage(agent, text) {
  return agent.locator("[data-agent=timeline] [data-agent=message]").filter({ hasText: text });
}

async function iconColor(message) {
  const icon = message.locator("[data-agent=trusted-icon]");
  return icon.evaluate((el) => getComputedStyle(el).color);
}

/** Conversations in an agent's list, through the API with the agent's cookie. */
function agentConversations(agent) {
  return agent.evaluate(() => fetch("/api/v1/agent/conversations").then((r) => r.json()));
}

describe("the agent console", () => {
  let alice;

  before(async () => {
    alice = await freshPage();
    await agentLogIn(alice, stack.url, "alice@support.example", "alice-password-1");
  });

  test("a logged-in customer's messages carry the green trusted icon, gray once closed, with their profile and past conversations", async () => {
    const ada = await freshPage();
    await portalLogIn(ada, stack.url, "ada@example.com", "lovelace");
    await ada.waitForFunction(() => window.TrustChat.getUser()?.trusted === true);
    await openChat(ada);
    await send(ada, "My invoice is wrong");

    await conversationItem(alice, "Ada Lovelace").first().click();
    const first = timelineMessage(alice, "My invoice is wrong");
    await first.waitFor();
    assert.equal(await first.getAttribute("data-trusted"), "true");
    const icon = first.locator("[data-agent=trusted-icon]");
    assert.equal(await icon.getAttribute("aria-label"), "Trusted message");
    assert.equal(await icon.getAttribute("data-state"), "open");
    assert.equal(await iconColor(first), GREEN);
    await alice.locator("[data-agent=verified]").filter({ hasText: "Verified now" }).waitFor();
    assert.match(await alice.locator("[data-agent=profile]").textContent(), /ada@example\.com/);

    // The agent replies; the customer sees it in real time.
    await alice.locator("[data-agent=reply]").fill("Hi Ada, let me check");
    await alice.locator("[data-agent=reply]").press("Enter");
    await ada.locator("[data-tc=message][data-author=agent]").filter({ hasText: "Hi Ada, let me check" }).waitFor();

    // Closing the conversation turns the icons gray.
    await alice.locator("[data-agent=close]").click();
    await first.locator('[data-agent=trusted-icon][data-state="closed"]').waitFor();
    assert.equal(await iconColor(first), GRAY);

    // The customer writes again: a new conversation, the old one in the profile.
    await send(ada, "One more question");
    const second = conversationItem(alice, "One more question");
    await second.waitFor();
    await second.click();
    await timelineMessage(alice, "One more question").waitFor();
    const past = alice.locator("[data-agent=past-conversation]");
    await past.first().waitFor();
    await past.first().click();
    await alice.locator("[data-agent=read-only]").waitFor();
    const old = timelineMessage(alice, "My invoice is wrong");
    await old.waitFor();
    assert.equal(await iconColor(old), GRAY);
    assert.equal(await alice.locator("[data-agent=reply]").isVisible(), false, "past conversations are read-only");
    assert.deepEqual(ada.problems, []);
    assert.deepEqual(alice.problems, []);
  });

  test("an anonymous customer has no icon until they follow the login link; later messages are trusted", async () => {
    const grace = await freshPage();
    await grace.goto(`${stack.url}/`);
    await openChat(grace);
    await grace.fill("[data-tc=name]", "Grace Hopper");
    await grace.fill("[data-tc=email]", "grace@example.com");
    await grace.click("[data-tc=submit]");
    await grace.locator("[data-tc=composer]").waitFor();
    await send(grace, "Where is my parcel?");

    // Alice or Bob may get it; Alice is the only agent online here.
    await conversationItem(alice, "Where is my parcel?").click();
    const before = timelineMessage(alice, "Where is my parcel?");
    await before.waitFor();
    assert.equal(await before.getAttribute("data-trusted"), "false");
    assert.equal(await before.locator("[data-agent=trusted-icon]").count(), 0);
    assert.equal(await alice.locator("[data-agent=verified]").textContent(), "Not verified");

    await alice.locator("[data-agent=request-login]").click();
    const link = grace.locator("[data-tc=login-link]");
    await link.waitFor();
    assert.equal(await link.getAttribute("href"), `${stack.origin}/login/`);
    await Promise.all([grace.waitForURL(/\/login\//), link.click()]);
    await grace.fill("input[name=email]", "grace@example.com");
    await grace.fill("input[name=password]", "hopper");
    await Promise.all([grace.waitForURL(`${stack.url}/account/`), grace.click("button[type=submit]")]);
    await grace.waitForFunction(() => window.TrustChat.getUser()?.trusted === true);
    await openChat(grace);
    await send(grace, "Logged in now");

    const afterLogin = timelineMessage(alice, "Logged in now");
    await afterLogin.waitFor();
    assert.equal(await afterLogin.getAttribute("data-trusted"), "true");
    assert.equal(await iconColor(afterLogin), GREEN);
    assert.equal(await timelineMessage(alice, "Where is my parcel?").locator("[data-agent=trusted-icon]").count(), 0);
    await alice.locator("[data-agent=login-marker]").waitFor();
    await alice.locator("[data-agent=verified]").filter({ hasText: "Verified now" }).waitFor();
    assert.deepEqual(grace.problems, []);
  });

  test("a second customer with another email is routed on their own", async () => {
    const bob = await freshPage();
    await agentLogIn(bob, stack.url, "bob@support.example", "bob-password-12");
    const aliceOpen = (await agentConversations(alice)).conversations.filter((c) => c.status === "open").length;
    assert.ok(aliceOpen >= 1, "Alice has open conversations");

    // Bob has none open, so the next new conversation is his.
    const hedy = await freshPage();
    await hedy.goto(`${stack.url}/`);
    await hedy.evaluate(() => window.TrustChat.setUser({ name: "Hedy Lamarr", email: "hedy@example.com" }));
    await openChat(hedy);
    await send(hedy, "Hello from Hedy");
    await conversationItem(bob, "Hedy Lamarr").waitFor();

    // The same person with another email is another customer and conversation.
    await hedy.evaluate(() => window.TrustChat.setUser({ name: "Hedy Lamarr", email: "hedy.work@example.com" }));
    await send(hedy, "Hello from my work address");
    const all = (await agentConversations(alice)).conversations.concat((await agentConversations(bob)).conversations);
    const personal = all.filter((c) => c.customer.email === "hedy@example.com");
    const work = all.filter((c) => c.customer.email === "hedy.work@example.com");
    assert.equal(personal.length, 1);
    assert.equal(work.length, 1, "the work address has a conversation of its own");
    assert.notEqual(work[0].id, personal[0].id);
    assert.notEqual(work[0].customer.id, personal[0].customer.id);
  });

  test("hostile names and messages show as typed and never run, in the console and the widget", async () => {
    const corpus = [
      `<script>window.__pwned = "script"</script>`,
      `<img src=x onerror="window.__pwned='img'">`,
      `javascript:window.__pwned='url'`,
      `<svg onload="window.__pwned='svg'"><circle r="5"/></svg>`,
      "\u202Egnp.exe — RTL override",
      "bad UTF-8 \uFFFD\uFFFD replaced",
      "x".repeat(4000),
    ];
    const mallory = await freshPage();
    await mallory.goto(`${stack.url}/`);
    await mallory.evaluate(
      (name) => window.TrustChat.setUser({ name, email: "mallory@example.com" }),
      `<img src=x onerror="window.__pwned='name'"> Mallory`,
    );
    await openChat(mallory);
    for (const text of corpus) await send(mallory, text);

    await conversationItem(alice, "Mallory").first().click();
    for (const text of corpus) {
      const shown = timelineMessage(alice, text.slice(0, 40));
      await shown.first().waitFor();
      assert.ok((await shown.first().textContent()).includes(text), `console shows ${text.slice(0, 30)} as typed`);
    }
    assert.match(await alice.locator("[data-agent=profile]").textContent(), /<img src=x onerror/);
    // The agent answers with hostile text; the widget shows it as typed.
    await alice.locator("[data-agent=reply]").fill(corpus[1]);
    await alice.locator("[data-agent=reply]").press("Enter");
    await mallory.locator("[data-tc=message][data-author=agent]").filter({ hasText: "onerror" }).waitFor();

    for (const page of [alice, mallory]) {
      assert.equal(await page.evaluate(() => window.__pwned), undefined);
      assert.deepEqual(page.problems, []);
    }
    assert.equal(await alice.locator("[data-agent=timeline] img, [data-agent=timeline] script").count(), 0);
    const noScroll = await alice.evaluate(() => document.documentElement.scrollWidth <= window.innerWidth + 1);
    assert.ok(noScroll, "a 4,000-character line wraps instead of widening the page");
  });

  test("the console and the widget pass axe-core", async () => {
    assert.deepEqual(await axeViolations(alice), []);
    const customer = await freshPage();
    await portalLogIn(customer, stack.url, "ada@example.com", "lovelace");
    await customer.waitForFunction(() => window.TrustChat.getUser()?.trusted === true);
    await openChat(customer);
    await send(customer, "Checking accessibility");
    assert.deepEqual(await axeViolations(customer), []);
  });

  test("the console is usable by keyboard alone, with visible focus", async () => {
    const item = alice.locator("[data-agent=conversation][data-status=open]").first();
    await item.focus();
    const outline = await item.evaluate((el) => {
      const style = getComputedStyle(el);
      return style.outlineStyle !== "none" && parseFloat(style.outlineWidth) > 0;
    });
    assert.ok(outline, "the focused conversation shows a focus outline");
    await alice.keyboard.press("Enter");
    await alice.locator("[data-agent=timeline] [data-agent=message]").first().waitFor();
    let reached = false;
    for (let i = 0; i < 40 && !reached; i += 1) {
      await alice.keyboard.press("Tab");
      reached = await alice.evaluate(() => document.activeElement?.dataset.agent === "reply");
    }
    assert.ok(reached, "Tab reaches the reply box");
    await alice.keyboard.type("Typed without a mouse");
    await alice.keyboard.press("Enter");
    await timelineMessage(alice, "Typed without a mouse").waitFor();
  });
});
