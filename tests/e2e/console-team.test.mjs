// The agent console with teams and rules, as an agent of the "support"
// team sees it: while nobody is available, conversations wait in the queue
// in routing order (high priority first, then oldest) with their priority,
// rule and hold for login; "Take" assigns one and opens it for replying,
// showing the rule that routed it; search finds conversations by email and
// by message text and opens them read-only; "/" in the reply box offers
// the team's saved replies (the config's and those added in the console);
// the customer's rating shows once given; and the console passes axe-core
// with all of it on screen.

import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { after, before, describe, test } from "node:test";
import { SERVER_BIN, addAgent, agentLogIn, axeViolations, launchBrowser, mintToken, startStack } from "./harness.mjs";

const TEAMS = `
[[apps.rules]]
name = "Verified customers"
status = ["trusted"]
team = "support"
priority = "high"

[[apps.rules]]
status = ["identified"]
hold_for_login_secs = 600

[[apps.rules]]
status = ["anonymous"]
priority = "low"

[[teams]]
id = "support"
name = "Support"
apps = ["demo"]

[[teams.saved_replies]]
title = "Refund policy"
body = "Refunds reach your account within 5 business days."

[[teams.saved_replies]]
title = "Greeting"
body = "Hi! Thanks for reaching out, I'm looking into it."
`;

let stack;
let browser;

before(async () => {
  stack = await startStack({ extraToml: TEAMS });
  addAgent(stack, { email: "alice@support.example", name: "Alice Agent", password: "alice-password-1" });
  setTeams(stack, "alice@support.example", ["support"]);
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  await stack?.stop();
});

/** `trustchat-server agent teams EMAIL --set ...`. */
function setTeams(s, email, teams) {
  const result = spawnSync(SERVER_BIN, ["agent", "teams", "--config", s.config, email, "--set", teams.join(",")], { encoding: "utf8" });
  if (result.status !== 0) throw new Error(`agent teams failed: ${result.stdout}${result.stderr}`);
}

async function freshPage() {
  const context = await browser.newContext({ viewport: { width: 1400, height: 900 } });
  const page = await context.newPage();
  page.problems = [];
  page.on("pageerror", (error) => page.problems.push(`pageerror: ${error.message}`));
  page.on("dialog", (dialog) => {
    page.problems.push(`dialog: ${dialog.message()}`);
    dialog.dismiss();
  });
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

/** A customer session through the HTTP API: `{}`, `{user}` or `{jwt}`. */
async function customer(body) {
  const response = await fetch(`${stack.url}/api/v1/apps/demo/sessions`, {
    method: "POST",
    headers: { "content-type": "application/json", origin: stack.origin },
    body: JSON.stringify(body),
  });
  assert.equal(response.status, 201, `session: ${response.status}`);
  return (await json(response)).session_token;
}

/** A customer message; returns the stored message (with its conversation_id). */
async function say(token, text) {
  const response = await fetch(`${stack.url}/api/v1/messages`, {
    method: "POST",
    headers: { "content-type": "application/json", authorization: `Bearer ${token}`, origin: stack.origin },
    body: JSON.stringify({ client_id: crypto.randomUUID(), body: text }),
  });
  assert.ok(response.status === 201 || response.status === 200, `message: ${response.status}`);
  return json(response);
}

/** The agent API with the page's cookie (and CSRF token for writes). */
function agentApi(page, method, path, body) {
  return page.evaluate(
    async ({ method, path, body }) => {
      const me = await fetch("/api/v1/agent/me").then((r) => r.json());
      const init = { method, headers: { accept: "application/json" } };
      if (method !== "GET") {
        init.headers["content-type"] = "application/json";
        init.headers["x-csrf-token"] = me.csrf_token;
        init.body = JSON.stringify(body ?? {});
      }
      const response = await fetch(`/api/v1/agent${path}`, init);
      return { status: response.status, body: response.status === 204 ? null : await response.json() };
    },
    { method, path, body },
  );
}

const queueItems = (page) => page.locator("[data-agent=queue-item]");

describe("the console of a team's agent", () => {
  let alice;
  let aliceId;
  const ids = {};

  before(async () => {
    alice = await freshPage();
    await agentLogIn(alice, stack.url, "alice@support.example", "alice-password-1");
    aliceId = (await agentApi(alice, "GET", "/me")).body.agent.id;
    // Away: nothing is routed to Alice, so every new conversation waits.
    if ((await alice.locator("[data-agent=status]").getAttribute("data-state")) !== "away") {
      await alice.locator("[data-agent=status]").click();
      await alice.locator('[data-agent=status][data-state="away"]').waitFor();
    }
  });

  test("/me tells the console the agent's teams and apps", async () => {
    const me = (await agentApi(alice, "GET", "/me")).body;
    assert.deepEqual(
      me.teams.map((t) => t.id),
      ["support"],
    );
    assert.deepEqual(me.apps, ["demo"]);
  });

  test("the queue lists waiting conversations in routing order, with priority, rule and hold; Take assigns one", async () => {
    // Oldest first: anonymous (low), identified (normal, held for login), trusted (high).
    const anonymous = await customer({});
    ids.anonymous = (await say(anonymous, "Where is my flamingo parcel?")).conversation_id;
    const identified = await customer({ user: { name: "Ida Identified", email: "ida@example.com" } });
    ids.identified = (await say(identified, "I typed my email in")).conversation_id;
    const jwt = await mintToken(stack.url, { email: "ada@example.com", name: "Ada Lovelace", expiresIn: 600 });
    const trusted = await customer({ jwt });
    ids.trusted = (await say(trusted, "My invoice is wrong")).conversation_id;
    ids.trustedToken = trusted;

    // Refreshed by live frames or its 10 s timer.
    await alice.waitForFunction(() => document.querySelectorAll("[data-agent=queue-item]").length >= 3, null, { timeout: 20_000 });
    const order = await queueItems(alice).evaluateAll((els) => els.map((el) => el.dataset.id));
    assert.deepEqual(order, [ids.trusted, ids.identified, ids.anonymous], "high first, then oldest");
    const priorities = await queueItems(alice).evaluateAll((els) => els.map((el) => el.dataset.priority));
    assert.deepEqual(priorities, ["high", "normal", "low"]);

    const ada = queueItems(alice).filter({ hasText: "Ada Lovelace" });
    assert.match(await ada.textContent(), /ada@example\.com/);
    assert.match(await ada.textContent(), /Rule: Verified customers/);
    assert.match(await ada.locator("[data-agent=priority]").textContent(), /High/);
    const ida = queueItems(alice).filter({ hasText: "Ida Identified" });
    assert.match(await ida.locator("[data-agent=queue-held]").textContent(), /^Waiting for login until \d{1,2}:\d{2}/);
    assert.match(await ida.textContent(), /Rule: rule 2/);
    const anon = queueItems(alice).filter({ hasText: "Anonymous visitor" });
    assert.match(await anon.textContent(), /Rule: rule 3/);

    // Take: assigned to Alice, opened for replying, gone from the queue.
    await ada.locator("[data-agent=take]").click();
    await alice.locator("[data-agent=timeline] [data-agent=message]").filter({ hasText: "My invoice is wrong" }).waitFor();
    await alice.locator("[data-agent=reply]").waitFor({ state: "visible" });
    assert.equal(await alice.evaluate(() => document.activeElement?.dataset.agent), "reply", "Take moves the focus to the reply box");
    await alice.waitForFunction((id) => !document.querySelector(`[data-agent=queue-item][data-id="${id}"]`), ids.trusted);
    assert.equal(await queueItems(alice).count(), 2);
    await alice.locator(`[data-agent=conversation][data-id="${ids.trusted}"]`).waitFor();
    const detail = (await agentApi(alice, "GET", `/conversations/${ids.trusted}`)).body;
    assert.equal(detail.conversation.assigned_agent_id, aliceId);

    // The header tells why it was routed so.
    assert.equal((await alice.locator("[data-agent=routed-by]").textContent()).trim(), "Routed by rule: Verified customers");
    assert.match(await alice.locator("[data-agent=conversation-priority]").textContent(), /High priority/);
    assert.match(await alice.locator("[data-agent=conversation-team]").textContent(), /Team Support/);
    assert.deepEqual(alice.problems, []);
  });

  test("the console with the queue on screen passes axe-core", async () => {
    await queueItems(alice).first().waitFor();
    assert.deepEqual(await axeViolations(alice), []);
  });

  test("search finds conversations by email and by message text and opens them read-only", async () => {
    const search = alice.locator("[data-agent=search]");
    assert.equal(await alice.locator("[role=search]").count(), 1);
    assert.equal(await search.evaluate((el) => el.labels?.[0]?.textContent.trim()), "Search conversations");

    await search.fill("ida@example.com");
    await search.press("Enter");
    const byEmail = alice.locator(`[data-agent=search-result][data-id="${ids.identified}"]`);
    await byEmail.waitFor();
    assert.match(await byEmail.textContent(), /Ida Identified/);

    await search.fill("flamingo");
    await search.press("Enter");
    const byText = alice.locator(`[data-agent=search-result][data-id="${ids.anonymous}"]`);
    await byText.waitFor();
    assert.equal(await alice.locator(`[data-agent=search-result][data-id="${ids.identified}"]`).count(), 0);
    // Keyboard: Down from the box to the result, Enter opens it.
    await search.press("ArrowDown");
    assert.equal(await alice.evaluate(() => document.activeElement?.dataset.id), ids.anonymous);
    await alice.keyboard.press("Enter");
    await alice.locator("[data-agent=timeline] [data-agent=message]").filter({ hasText: "flamingo parcel" }).waitFor();
    await alice.locator("[data-agent=read-only]").waitFor();
    assert.match(await alice.locator("[data-agent=read-only]").textContent(), /waiting for an agent/);
    assert.equal(await alice.locator("[data-agent=reply]").isVisible(), false, "a search result is read-only");
    assert.match(await alice.locator("[data-agent=routed-by]").textContent(), /rule 3/);
    assert.equal(await byText.getAttribute("aria-current"), "true");

    await alice.locator("[data-agent=search-clear]").click();
    assert.equal(await alice.locator("[data-agent=search-results]").isHidden(), true);
    assert.deepEqual(alice.problems, []);
  });

  test("\"/\" in the reply box offers the team's saved replies; Enter inserts one, Escape closes", async () => {
    await alice.locator(`[data-agent=conversation][data-id="${ids.trusted}"]`).click();
    const reply = alice.locator("[data-agent=reply]");
    await reply.waitFor({ state: "visible" });
    await reply.fill("");
    await reply.focus();
    await alice.keyboard.type("/");
    const menu = alice.locator("[data-agent=saved-replies-menu]");
    await menu.waitFor();
    assert.equal(await menu.getAttribute("role"), "listbox");
    const options = alice.locator("[data-agent=saved-reply-option]");
    assert.deepEqual((await options.locator(".saved-menu__title").allTextContents()).sort(), ["Greeting", "Refund policy"]);
    assert.equal(await reply.getAttribute("aria-controls"), await menu.getAttribute("id"));

    // Filtering by title (case-insensitive), moving, and inserting.
    await alice.keyboard.type("REF");
    await alice.waitForFunction(() => document.querySelectorAll("[data-agent=saved-reply-option]").length === 1);
    const active = await reply.getAttribute("aria-activedescendant");
    assert.equal(await alice.locator(`#${active}`).getAttribute("aria-selected"), "true");
    await alice.keyboard.press("Enter");
    assert.equal(await reply.inputValue(), "Refunds reach your account within 5 business days.");
    assert.equal(await menu.isVisible(), false);

    // By body text, with the arrow keys.
    await reply.fill("");
    await alice.keyboard.type("/");
    await options.first().waitFor();
    await alice.keyboard.press("ArrowDown");
    const second = await options.nth(1).getAttribute("aria-selected");
    assert.equal(second, "true", "ArrowDown moves to the second option");
    await alice.keyboard.press("ArrowUp");
    assert.equal(await options.nth(0).getAttribute("aria-selected"), "true");
    await alice.keyboard.press("Escape");
    assert.equal(await menu.isVisible(), false);
    assert.equal(await reply.inputValue(), "/");
    await reply.fill("");

    // Nothing was sent by any of this.
    const messages = (await agentApi(alice, "GET", `/conversations/${ids.trusted}`)).body.messages;
    assert.equal(messages.filter((m) => m.author === "agent").length, 0);
    assert.deepEqual(alice.problems, []);
  });

  test("saved replies are added and deleted in their dialog, and offered by \"/\" in between", async () => {
    await alice.locator("[data-agent=saved-replies-open]").click();
    const dialog = alice.locator("[data-agent=saved-replies-dialog]");
    await dialog.waitFor();
    await dialog.locator("[data-agent=saved-reply]").first().waitFor();
    // The config's replies cannot be deleted here.
    const configured = dialog.locator('[data-agent=saved-reply][data-source="config"]');
    assert.equal(await configured.count(), 2);
    assert.equal(await configured.locator("[data-agent=saved-reply-delete]").count(), 0);

    await dialog.locator("[data-agent=saved-reply-team]").selectOption("support");
    await dialog.locator("[data-agent=saved-reply-title]").fill("Shipping times");
    await dialog.locator("[data-agent=saved-reply-body]").fill("Parcels leave our warehouse within 2 days.");
    await dialog.locator("[data-agent=saved-reply-add]").click();
    const added = dialog.locator('[data-agent=saved-reply][data-source="console"]').filter({ hasText: "Shipping times" });
    await added.waitFor();
    assert.deepEqual(await axeViolations(alice), [], "the dialog passes axe-core");
    await alice.keyboard.press("Escape");
    await dialog.waitFor({ state: "hidden" });

    const reply = alice.locator("[data-agent=reply]");
    await reply.fill("");
    await reply.focus();
    await alice.keyboard.type("/warehouse");
    const option = alice.locator("[data-agent=saved-reply-option]");
    await option.filter({ hasText: "Shipping times" }).waitFor();
    assert.equal(await option.count(), 1);
    await option.first().click();
    assert.equal(await reply.inputValue(), "Parcels leave our warehouse within 2 days.");
    await reply.fill("");

    await alice.locator("[data-agent=saved-replies-open]").click();
    await added.locator("[data-agent=saved-reply-delete]").click();
    await added.waitFor({ state: "detached" });
    const list = (await agentApi(alice, "GET", "/saved-replies")).body.saved_replies;
    assert.deepEqual(list.map((r) => r.title).sort(), ["Greeting", "Refund policy"]);
    await alice.keyboard.press("Escape");
    assert.deepEqual(alice.problems, []);
  });

  test("a queued conversation opened to look at is read-only until taken from its banner", async () => {
    const item = alice.locator(`[data-agent=queue-item][data-id="${ids.identified}"]`);
    await item.locator("[data-agent=queue-open]").click();
    await alice.locator("[data-agent=timeline] [data-agent=message]").filter({ hasText: "I typed my email in" }).waitFor();
    assert.equal(await item.locator("[data-agent=queue-open]").getAttribute("aria-current"), "true");
    assert.equal(await alice.locator("[data-agent=reply]").isVisible(), false);
    assert.match(await alice.locator("[data-agent=conversation-held]").textContent(), /^Waiting for the customer to log in until/);
    await alice.locator("[data-agent=read-only-take]").click();
    await alice.locator("[data-agent=reply]").waitFor({ state: "visible" });
    assert.equal(await alice.locator("[data-agent=read-only]").isHidden(), true);
    await item.waitFor({ state: "detached" });
    await alice.locator(`[data-agent=conversation][data-id="${ids.identified}"]`).waitFor();
    assert.equal((await agentApi(alice, "GET", `/conversations/${ids.identified}`)).body.conversation.assigned_agent_id, aliceId);
    assert.deepEqual(alice.problems, []);
  });

  test("the customer's rating shows in the conversation's details", async () => {
    await alice.locator(`[data-agent=conversation][data-id="${ids.trusted}"]`).click();
    await alice.locator("[data-agent=close]").click();
    await alice.locator('[data-agent=conversation-status][data-status="closed"]').waitFor();
    const response = await fetch(`${stack.url}/api/v1/conversations/${ids.trusted}/rating`, {
      method: "POST",
      headers: { "content-type": "application/json", authorization: `Bearer ${ids.trustedToken}`, origin: stack.origin },
      body: JSON.stringify({ rating: 4, comment: "Quick and kind <b>thanks</b>" }),
    });
    assert.equal(response.status, 200, `rating: ${response.status}`);
    // Live when the server tells the console; otherwise on opening it again.
    const rating = alice.locator("[data-agent=rating]");
    try {
      await rating.waitFor({ timeout: 3_000 });
    } catch {
      await alice.locator(`[data-agent=conversation][data-id="${ids.trusted}"]`).click();
      await rating.waitFor();
    }
    assert.match(await rating.textContent(), /Rated 4\/5/);
    assert.equal((await rating.locator("[data-agent=rating-comment]").textContent()).trim(), "Quick and kind <b>thanks</b>");
    assert.equal(await rating.locator("b").count(), 0, "the comment is text, never markup");
    assert.deepEqual(await axeViolations(alice), []);
    assert.deepEqual(alice.problems, []);
  });
});
