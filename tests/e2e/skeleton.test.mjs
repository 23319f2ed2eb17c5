// Issue 2's walking skeleton, as a customer and a website developer see it:
// the portal loads the widget from its script tag, login greets the customer
// by first name with no onboarding, logout forgets them, an anonymous visitor
// completes onboarding, and calls made before the wasm arrived are honoured.

import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { launchBrowser, newPage, openChat, portalLogIn, startStack, storageKeys, widgetText } from "./harness.mjs";

let stack;
let browser;

before(async () => {
  stack = await startStack();
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  await stack?.stop();
});

describe("the demo portal", () => {
  test("loads the widget from its script tag and replaces the queue", async () => {
    const page = await newPage(browser);
    await page.goto(`${stack.url}/`);
    const launcher = page.locator("[data-tc=launcher]");
    await launcher.waitFor();
    assert.equal(await launcher.getAttribute("aria-label"), "Open chat");
    assert.equal(await launcher.getAttribute("aria-expanded"), "false");
    // The loader's stub had a queue `q`; the real API has none.
    assert.equal(await page.evaluate(() => "q" in window.TrustChat), false);
    // The widget lives in an open shadow root, so page styles cannot reach it.
    assert.equal(await page.evaluate(() => document.getElementById("trustchat-root").shadowRoot.mode), "open");
    assert.deepEqual(page.problems, []);
  });

  test("a logged-in customer is trusted and greeted by first name, with no onboarding form", async () => {
    const page = await newPage(browser);
    await portalLogIn(page, stack.url, "ada@example.com", "lovelace");
    await page.waitForFunction(() => window.TrustChat.getUser()?.email === "ada@example.com");
    await openChat(page);
    const greeting = page.locator("[data-tc=greeting]");
    await greeting.waitFor();
    assert.equal((await greeting.textContent()).trim(), "Hi Ada!");
    assert.equal(await page.locator("[data-tc=onboarding]").count(), 0);
    const user = await page.evaluate(() => window.TrustChat.getUser());
    assert.equal(user.firstName, "Ada");
    assert.equal(user.name, "Ada Lovelace");
    // The portal's login minted an identity token: the session is trusted.
    assert.equal(user.trusted, true);
    await page.locator("[data-tc=verified]").waitFor();
    assert.deepEqual(page.problems, []);
  });

  test("logout forgets the customer: nothing of them survives a reload", async () => {
    const page = await newPage(browser);
    await portalLogIn(page, stack.url, "grace@example.com", "hopper");
    await page.waitForFunction(() => window.TrustChat.getUser()?.email === "grace@example.com");
    const token = await page.evaluate(() => {
      const key = Object.keys(localStorage).find((k) => k.startsWith("trustchat:"));
      return JSON.parse(localStorage.getItem(key)).session_token;
    });
    assert.match(token, /^tcs_/);

    await page.click("[data-portal=logout]");
    await page.waitForURL(`${stack.url}/`);
    await page.reload();
    await page.locator("[data-tc=launcher]").waitFor();

    assert.deepEqual(
      (await storageKeys(page)).filter((k) => k.startsWith("trustchat:")),
      [],
      "no TrustChat key is left in browser storage",
    );
    assert.equal(await page.evaluate(() => window.TrustChat.getUser()), null);
    await openChat(page);
    await page.locator("[data-tc=onboarding]").waitFor();
    const text = await widgetText(page);
    assert.ok(!text.includes("Grace"), `the widget still shows the previous customer: ${text}`);
    assert.equal(await page.evaluate(() => document.body.innerHTML.includes("grace@example.com")), false);

    // The server revoked the session: its token no longer works.
    const response = await fetch(`${stack.url}/api/v1/sessions/current`, {
      headers: { authorization: `Bearer ${token}` },
    });
    assert.equal(response.status, 401);
    assert.deepEqual(page.problems, []);
  });

  test("an anonymous visitor is asked for name and email, validated in place", async () => {
    const page = await newPage(browser);
    await page.goto(`${stack.url}/`);
    await openChat(page);
    const form = page.locator("[data-tc=onboarding]");
    await form.waitFor();

    // Empty name, bad email.
    await page.fill("[data-tc=email]", "not-an-email");
    await page.click("[data-tc=submit]");
    await page.locator("[data-tc=error-name]").waitFor();
    assert.match(await page.locator("[data-tc=error-name]").textContent(), /name/i);
    assert.match(await page.locator("[data-tc=error-email]").textContent(), /email/i);
    assert.equal(await page.locator("[data-tc=name]").getAttribute("aria-invalid"), "true");

    // A phone that is not E.164.
    await page.fill("[data-tc=name]", "  Hedy   Lamarr ");
    await page.fill("[data-tc=email]", "");
    await page.fill("[data-tc=phone]", "0155 555 0100");
    await page.click("[data-tc=submit]");
    await page.locator("[data-tc=error-phone]").waitFor();
    assert.match(await page.locator("[data-tc=error-phone]").textContent(), /\+14155550100|international/i);

    // Valid at last: the customer is identified exactly as setUser would.
    await page.fill("[data-tc=phone]", "");
    await page.fill("[data-tc=email]", "Hedy@Example.com");
    await page.click("[data-tc=submit]");
    await page.locator("[data-tc=greeting]").waitFor();
    // Identified but not verified: greeted by first name, and offered the login.
    assert.match(await page.locator("[data-tc=greeting]").textContent(), /^Hi Hedy! .*log in/i);
    assert.equal(await form.count(), 0);
    const user = await page.evaluate(() => window.TrustChat.getUser());
    assert.equal(user.email, "hedy@example.com");
    assert.equal(user.name, "Hedy Lamarr");

    // Someone else typing the same email later is linked to the same
    // profile for the agent's eyes only: they are told back what they gave,
    // not even that the email is known.
    const again = await fetch(`${stack.url}/api/v1/apps/demo/sessions`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ user: { name: "Someone", email: "HEDY@example.com" } }),
    }).then((r) => r.json());
    assert.notEqual(again.customer.id, user.id);
    assert.deepEqual(again.customer, { id: again.customer.id, name: "Someone", first_name: "Someone", email: "hedy@example.com", phone: null });
    assert.deepEqual(page.problems, []);
  });

  test("calls made before the wasm arrives are replayed in order and settle", async () => {
    const page = await newPage(browser);
    // Hold the widget script until the page has queued its calls.
    let release;
    const held = new Promise((resolve) => (release = resolve));
    await page.route("**/widget/trustchat.js", async (route) => {
      await held;
      await route.continue();
    });
    // An async script delays the load event, so wait only for the DOM.
    await page.goto(`${stack.url}/`, { waitUntil: "domcontentloaded" });
    const queued = await page.evaluate(() => {
      window.results = [];
      const T = window.TrustChat;
      T.on("user:identified", (u) => window.results.push(`event:${u.firstName}`));
      T.setUser({ name: "Katherine Johnson", email: "katherine@example.com" }).then(
        (u) => window.results.push(`setUser:${u.firstName}`),
        (e) => window.results.push(`setUser failed: ${e.code} ${e.message}`),
      );
      T.show();
      T.setUser({ name: "Bad", email: "nope" }).then(
        () => window.results.push("bad setUser resolved"),
        (e) => window.results.push(`rejected:${e.code}`),
      );
      return T.q.length;
    });
    // init (from the page), on, setUser, show, setUser are waiting in the queue.
    assert.equal(queued, 5);
    release();
    await page.waitForFunction(() => window.results.length === 3);
    assert.deepEqual(await page.evaluate(() => window.results), [
      "event:Katherine",
      "setUser:Katherine",
      "rejected:invalid_argument",
    ]);
    await page.locator("[data-tc=panel]").waitFor({ state: "visible" });
    assert.match(await page.locator("[data-tc=greeting]").textContent(), /^Hi Katherine!/);
    assert.deepEqual(page.problems, []);
  });
});
