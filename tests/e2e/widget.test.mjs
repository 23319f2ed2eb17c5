// The widget as a customer using a keyboard and a website developer reading
// errors see it: accessibility of the launcher and panel, onboarding turned
// off, styles that cannot leak, and clear errors for a wrong origin.

import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { launchBrowser, newPage, openChat, startStack } from "./harness.mjs";

let stack;
let browser;

before(async () => {
  stack = await startStack({
    extraToml: `
[[apps]]
id = "quiet"
name = "Quiet App"
allowed_origins = ["{origin}"]
onboarding = false
`,
  });
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  await stack?.stop();
});

/** Serves a bare host page at `base`/host-page (the browser sees the server's origin). */
async function blankPage(page, base) {
  await page.route(`${base}/host-page`, (route) =>
    route.fulfill({
      contentType: "text/html",
      body: `<!doctype html><html lang="en"><head><title>Host page</title><link rel="icon" href="data:,"></head>
        <body><h1 style="font-size:80px">Host page</h1></body></html>`,
    }),
  );
  await page.goto(`${base}/host-page`);
}

/** A blank page of the server's origin that loads the widget with `init`. */
async function blankPageWith(page, initConfig) {
  await blankPage(page, stack.url);
  await page.addScriptTag({ url: `${stack.url}/widget/trustchat.js` });
  return page.evaluate((config) => window.TrustChat.init(config).then(() => "ok", (e) => `${e.code}: ${e.message}`), initConfig);
}

describe("the widget", () => {
  test("is usable by keyboard alone", async () => {
    const page = await newPage(browser);
    assert.equal(await blankPageWith(page, { appId: "demo" }), "ok");
    const launcher = page.locator("[data-tc=launcher]");
    await launcher.focus();
    await page.keyboard.press("Enter");
    await page.locator("[data-tc=panel]").waitFor({ state: "visible" });
    assert.equal(await launcher.getAttribute("aria-expanded"), "true");
    // Focus moved into the panel.
    const focusedInside = await page.evaluate(() => {
      const root = document.getElementById("trustchat-root").shadowRoot;
      return root.activeElement !== null && root.querySelector("[data-tc=panel]").contains(root.activeElement);
    });
    assert.ok(focusedInside, "opening the chat moves focus into the panel");
    // The form's fields have accessible labels.
    for (const field of ["name", "email", "phone"]) {
      const label = await page.locator(`[data-tc=${field}]`).evaluate((el) => el.labels?.[0]?.textContent ?? el.getAttribute("aria-label"));
      assert.ok(label && label.trim().length > 0, `${field} has a label`);
    }
    await page.keyboard.press("Escape");
    await page.locator("[data-tc=panel]").waitFor({ state: "hidden" });
    assert.equal(await launcher.getAttribute("aria-expanded"), "false");
    const focusOnLauncher = await page.evaluate(
      () => document.getElementById("trustchat-root").shadowRoot.activeElement?.dataset.tc,
    );
    assert.equal(focusOnLauncher, "launcher");
    assert.deepEqual(page.problems, []);
  });

  test("with onboarding off, an anonymous visitor goes straight to the chat", async () => {
    const page = await newPage(browser);
    assert.equal(await blankPageWith(page, { appId: "quiet" }), "ok");
    await openChat(page);
    await page.locator("[data-tc=greeting]").waitFor();
    assert.equal(await page.locator("[data-tc=onboarding]").count(), 0);
    assert.match(await page.locator("[data-tc=greeting]").textContent(), /Hi there/);
    assert.deepEqual(page.problems, []);
  });

  test("page styles do not leak into the widget", async () => {
    const page = await newPage(browser);
    assert.equal(await blankPageWith(page, { appId: "demo" }), "ok");
    await page.addStyleTag({ content: "* { font-size: 64px !important; color: red !important; display: block }" });
    const size = await page.locator("[data-tc=launcher]").evaluate((el) => getComputedStyle(el).fontSize);
    assert.notEqual(size, "64px");
  });

  test("one-word and non-Latin names are greeted sensibly", async () => {
    const page = await newPage(browser);
    assert.equal(await blankPageWith(page, { appId: "demo" }), "ok");
    for (const [name, email, greeting] of [
      ["Cher", "cher@example.com", "Hi Cher!"],
      ["  李   小龍 ", "bruce@example.com", "Hi 李!"],
      ["Björk Guðmundsdóttir", "bjork@example.com", "Hi Björk!"],
    ]) {
      const user = await page.evaluate((u) => window.TrustChat.setUser(u), { name, email });
      assert.equal(user.email, email);
      await openChat(page);
      await page.locator("[data-tc=greeting]").filter({ hasText: greeting }).waitFor();
      await page.evaluate(() => window.TrustChat.close());
    }
  });

  test("a wrong origin is refused with origin_not_allowed", async () => {
    const page = await newPage(browser);
    // localhost is a different origin from 127.0.0.1, and the app allows only the latter.
    const other = stack.url.replace("127.0.0.1", "localhost");
    await blankPage(page, other);
    await page.addScriptTag({ url: `${other}/widget/trustchat.js` });
    const result = await page.evaluate((server) =>
      window.TrustChat.init({ appId: "demo", server }).then(() => "ok", (e) => e.code),
    stack.url);
    assert.equal(result, "origin_not_allowed");
  });

  test("an unknown app and a bad config are refused with clear codes", async () => {
    const page = await newPage(browser);
    assert.equal(await blankPageWith(page, { appId: "nope" }).then((r) => r.split(":")[0]), "unknown_app");
    const page2 = await newPage(browser);
    assert.equal(await blankPageWith(page2, { appid: "demo" }).then((r) => r.split(":")[0]), "invalid_argument");
  });
});
