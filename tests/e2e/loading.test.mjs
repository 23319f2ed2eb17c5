// What a page with the widget downloads, and when (issue 6, "load on
// demand"): the script tag brings only the loader, which draws the
// launcher; `init` resolves from the loader; the glue and the wasm are
// prefetched into the cache at the lowest priority, and run when the
// customer opens the chat or the site calls an API that needs them. The
// Rust UI then adopts the loader's launcher instead of drawing another.

import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { launchBrowser, newPage, startStack } from "./harness.mjs";

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

/**
 * A host page of the server's origin with the README's two tags (the async
 * widget script and the loader snippet) and `init`.
 */
async function hostPage({ beforeInit = "" } = {}) {
  const page = await newPage(browser);
  const widgetRequests = [];
  page.on("request", (request) => {
    const { pathname } = new URL(request.url());
    if (pathname.startsWith("/widget/")) widgetRequests.push(pathname.slice("/widget/".length));
  });
  const snippet = (await (await fetch(`${stack.url}/widget/loader.js`)).text()).replace(/^\/\/.*\n/gm, "");
  await page.route(`${stack.url}/host-page`, (route) =>
    route.fulfill({
      contentType: "text/html",
      body: `<!doctype html><html lang="en"><head><title>Host</title><link rel="icon" href="data:,">
        <script async src="/widget/trustchat.js"></script><script>${snippet}</script><script>${beforeInit}window.initialized = TrustChat.init({ appId: "demo" }).then(() => "resolved", (e) => e.code);</script></head>
        <body><h1>Host page</h1></body></html>`,
    }),
  );
  await page.goto(`${stack.url}/host-page`);
  return { page, widgetRequests };
}

const isGlue = (file) => /^trustchat\.[0-9a-f]{12}\.js$/.test(file);
const isWasm = (file) => /^trustchat_bg\.[0-9a-f]{12}\.wasm$/.test(file);

describe("loading on demand", () => {
  test("the page runs only the loader; the rest is prefetched compressed and does not run", async () => {
    const { page, widgetRequests } = await hostPage();
    const wasmResponse = page.waitForResponse((r) => r.url().endsWith(".wasm"));
    await page.locator("[data-tc=launcher]").waitFor();
    assert.equal(await page.locator("[data-tc=launcher]").getAttribute("aria-label"), "Open chat");
    // init resolved without the wasm.
    assert.equal(await page.evaluate(() => window.initialized), "resolved");
    // The wasm arrives as application/wasm, compressed, and the glue is
    // prefetched too; neither runs until something needs them.
    const response = await wasmResponse;
    await response.finished();
    assert.equal(response.headers()["content-type"], "application/wasm");
    assert.match(response.headers()["content-encoding"] ?? "", /^(br|gzip)$/);
    await page.waitForFunction(() => performance.getEntriesByType("resource").some((e) => /\/trustchat\.[0-9a-f]{12}\.js$/.test(e.name) && e.responseEnd > 0));
    assert.equal(widgetRequests[0], "trustchat.js");
    assert.equal(widgetRequests.filter(isGlue).length, 1, `${widgetRequests}`);
    assert.equal(widgetRequests.filter(isWasm).length, 1, `${widgetRequests}`);
    const ran = await page.evaluate(() => !!document.getElementById("trustchat-root").shadowRoot.getElementById("trustchat-panel"));
    assert.equal(ran, false, "the wasm did not run: no panel yet");
    assert.equal(await page.evaluate(() => window.TrustChat.getUser()), null);
    assert.deepEqual(page.problems, []);
  });

  test("ready fires once, from init, and not again when the wasm starts", async () => {
    const { page } = await hostPage({
      beforeInit: "window.readies = []; TrustChat.on('ready', (user) => window.readies.push(user));",
    });
    assert.equal(await page.evaluate(() => window.initialized), "resolved");
    assert.deepEqual(await page.evaluate(() => window.readies), [null]);
    await page.evaluate(() => window.TrustChat.show());
    await page.locator("[data-tc=panel]").waitFor({ state: "visible" });
    // The wasm ran its own init before show; the listener still heard one ready.
    assert.deepEqual(await page.evaluate(() => window.readies), [null]);
    assert.deepEqual(page.problems, []);
  });

  test("opening the chat loads the rest, and the wasm adopts the loader's launcher", async () => {
    const { page, widgetRequests } = await hostPage();
    const launcher = page.locator("[data-tc=launcher]");
    await launcher.waitFor();
    await launcher.evaluate((el) => (el.drawnByLoader = true));
    await launcher.focus();
    await page.keyboard.press("Enter");
    await page.locator("[data-tc=panel]").waitFor({ state: "visible" });
    assert.ok(widgetRequests.some(isWasm), `the wasm was fetched: ${widgetRequests}`);
    const state = await page.evaluate(() => {
      const root = document.getElementById("trustchat-root").shadowRoot;
      const launchers = root.querySelectorAll("[data-tc=launcher]");
      return {
        hosts: document.querySelectorAll("#trustchat-root").length,
        launchers: launchers.length,
        same: launchers[0].drawnByLoader === true,
        expanded: launchers[0].getAttribute("aria-expanded"),
        controls: launchers[0].getAttribute("aria-controls"),
      };
    });
    assert.deepEqual(state, { hosts: 1, launchers: 1, same: true, expanded: "true", controls: "trustchat-panel" });
    // Escape closes, and focus is back on that same launcher.
    await page.keyboard.press("Escape");
    await page.locator("[data-tc=panel]").waitFor({ state: "hidden" });
    assert.equal(await page.evaluate(() => document.getElementById("trustchat-root").shadowRoot.activeElement?.drawnByLoader), true);
    assert.deepEqual(page.problems, []);
  });

  test("an API that needs the wasm loads it at once", async () => {
    const { page, widgetRequests } = await hostPage();
    await page.locator("[data-tc=launcher]").waitFor();
    const user = await page.evaluate(() => window.TrustChat.setUser({ name: "Ada Lovelace", email: "ada.load@example.com" }));
    assert.equal(user.firstName, "Ada");
    assert.ok(widgetRequests.some(isWasm));
    // Identified, not verified: the greeting offers the app's login page as
    // a link, the rest of it as text.
    await page.evaluate(() => window.TrustChat.show());
    const link = page.locator("[data-tc=greeting-link]");
    await link.waitFor();
    assert.equal(await link.textContent(), "Log in");
    assert.equal(await link.getAttribute("href"), `${stack.origin}/login/`);
    const greeting = await page.locator("[data-tc=greeting]").textContent();
    assert.match(greeting, /^Hi Ada!/);
    assert.ok(!greeting.includes("http"), `the URL is not written out beside the link: ${greeting}`);
    assert.deepEqual(page.problems, []);
  });

  test("with nothing asked, the widget is prefetched but not run until the chat opens", async () => {
    const { page, widgetRequests } = await hostPage();
    await page.waitForFunction(() =>
      performance.getEntriesByType("resource").some((entry) => entry.name.endsWith(".wasm") && entry.responseEnd > 0),
    );
    assert.ok(widgetRequests.some(isWasm));
    await page.waitForTimeout(500);
    assert.equal(await page.evaluate(() => !!document.getElementById("trustchat-root").shadowRoot.getElementById("trustchat-panel")), false);
    // Opening the chat runs it.
    await page.locator("[data-tc=launcher]").click();
    await page.locator("[data-tc=panel]").waitFor({ state: "visible" });
    assert.deepEqual(page.problems, []);
  });
});
