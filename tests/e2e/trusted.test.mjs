// Trusted identity in a real browser: the portal's login makes the chat
// trusted, an expiring token is refreshed through `fetchJwt` before trust
// lapses, a token that runs out without a refresh shows the customer the
// chat is no longer verified, and a mid-chat login upgrades the session.

import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { launchBrowser, mintToken, newPage, openChat, portalLogIn, startStack } from "./harness.mjs";

let stack;
let browser;

before(async () => {
  // The portal's login mints 5-second tokens, so refreshes happen in the test.
  stack = await startStack({ demo: { tokenTtl: 5 } });
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  await stack?.stop();
});

/** The session the widget holds, as the server reports it. */
async function serverSession(page) {
  const token = await page.evaluate(() => {
    const key = Object.keys(localStorage).find((k) => k.startsWith("trustchat:"));
    return key && JSON.parse(localStorage.getItem(key)).session_token;
  });
  assert.ok(token, "the widget stored its session");
  const response = await fetch(`${stack.url}/api/v1/sessions/current`, { headers: { authorization: `Bearer ${token}` } });
  return response.json();
}

/** A host page of the server's origin with the widget loaded and initialised. */
async function hostPage(config) {
  const page = await newPage(browser);
  await page.route(`${stack.url}/host-page`, (route) =>
    route.fulfill({ contentType: "text/html", body: '<!doctype html><html lang="en"><title>Host</title><link rel="icon" href="data:,"><body></body></html>' }),
  );
  await page.goto(`${stack.url}/host-page`);
  await page.addScriptTag({ url: `${stack.url}/widget/trustchat.js` });
  await page.evaluate((c) => window.TrustChat.init(c), config);
  return page;
}

describe("trusted identity in the browser", () => {
  test("the portal's login trusts the customer and fetchJwt keeps them trusted past the first token's expiry", async () => {
    const page = await newPage(browser);
    await page.addInitScript(() => {
      window.tokenEvents = 0;
      // Registered before the widget loads: the loader queues it.
      window.addEventListener("DOMContentLoaded", () => window.TrustChat.on("token:expired", () => (window.tokenEvents += 1)));
    });
    await portalLogIn(page, stack.url, "ada@example.com", "lovelace");
    await page.waitForFunction(() => window.TrustChat.getUser()?.trusted === true);
    const first = await serverSession(page);
    assert.equal(first.trusted, true);
    assert.equal(first.greeting, "Hi Ada!");

    // The widget refreshes before the 5 s token runs out.
    await page.waitForFunction(() => window.tokenEvents >= 1, null, { timeout: 15_000 });
    // Past the first token's expiry the server still reports the session
    // trusted, until a later time: the refreshed token's.
    const deadline = Date.now() + 20_000;
    let later = null;
    while (Date.now() < deadline) {
      const session = await serverSession(page);
      if (Date.now() / 1000 > first.trusted_until + 1) {
        later = session;
        break;
      }
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
    assert.ok(later, "the first token's expiry passed");
    assert.equal(later.trusted, true, JSON.stringify(later));
    assert.ok(later.trusted_until > first.trusted_until);
    assert.equal(await page.evaluate(() => window.TrustChat.getUser().trusted), true);
    await openChat(page);
    assert.equal(await page.locator("[data-tc=unverified]").isVisible(), false);
    await page.locator("[data-tc=verified]").waitFor();
    assert.deepEqual(page.problems, []);
  });

  test("without a fresh token the customer sees that the chat is no longer verified", async () => {
    const page = await hostPage({ appId: "demo" });
    const jwt = await mintToken(stack.url, { email: "grace@example.com", name: "Grace Hopper", expiresIn: 3 });
    const user = await page.evaluate((t) => window.TrustChat.setJwt(t), jwt);
    assert.equal(user.trusted, true);
    await openChat(page);
    await page.locator("[data-tc=verified]").waitFor();
    await page.locator("[data-tc=unverified]").waitFor({ timeout: 15_000 });
    assert.equal(await page.evaluate(() => window.TrustChat.getUser().trusted), false);
    assert.equal(await page.locator("[data-tc=verified]").isVisible(), false);
    assert.equal((await serverSession(page)).trusted, false);

    // A fresh token makes the chat verified again.
    const fresh = await mintToken(stack.url, { email: "grace@example.com", name: "Grace Hopper", expiresIn: 600 });
    await page.evaluate((t) => window.TrustChat.setJwt(t), fresh);
    await page.locator("[data-tc=verified]").waitFor();
    assert.equal(await page.locator("[data-tc=unverified]").isVisible(), false);
  });

  test("a customer who logs in mid-chat keeps their profile and becomes trusted", async () => {
    const page = await hostPage({ appId: "demo" });
    const identified = await page.evaluate(() => window.TrustChat.setUser({ name: "Ada", email: "ada.mid@example.com" }));
    assert.equal(identified.trusted, false);
    const jwt = await mintToken(stack.url, { email: "ada.mid@example.com", name: "Ada Lovelace" });
    const trusted = await page.evaluate((t) => window.TrustChat.setJwt(t), jwt);
    assert.equal(trusted.trusted, true);
    assert.equal(trusted.id, identified.id, "same person, same profile");

    // Someone else logs in on the same page: a different person.
    const other = await mintToken(stack.url, { email: "someone.else@example.com", name: "Someone Else" });
    const switched = await page.evaluate((t) => window.TrustChat.setJwt(t), other);
    assert.notEqual(switched.id, identified.id);
    await openChat(page);
    await page.locator("[data-tc=greeting]").filter({ hasText: "Hi Someone!" }).waitFor();
  });

  test("bad tokens are refused with the reason's code", async () => {
    const page = await hostPage({ appId: "demo" });
    const expired = await page.evaluate(() =>
      window.TrustChat.setJwt("eyJhbGciOiJFUzI1NiIsImtpZCI6ImRlbW8tZXMyNTYifQ.e30.AAAA").then(
        () => "resolved",
        (e) => e.code,
      ),
    );
    assert.equal(expired, "invalid_token");
    const empty = await page.evaluate(() => window.TrustChat.setJwt("").then(() => "resolved", (e) => e.code));
    assert.equal(empty, "invalid_argument");
  });
});
