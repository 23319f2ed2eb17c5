// Messaging that loses nothing, proven against real faults: a customer
// sends hundreds of messages while the server is killed and restarted on
// the same SQLite file, the page is reloaded and the customer's connections
// are cut; afterwards the server holds each message exactly once and the
// widget shows each exactly once, in order. And a second tab of the same
// session sees the conversation live.

import assert from "node:assert/strict";
import { connect, createServer } from "node:net";
import { after, before, describe, test } from "node:test";
import path from "node:path";
import { ROOT, freePort, startServer } from "../../scripts/lib.mjs";
import { SERVER_BIN, launchBrowser, openChat, startStack } from "./harness.mjs";

/**
 * A TCP proxy in front of the server, so the test can cut every connection
 * of the browser (HTTP and WebSocket) at will, as a flaky network would.
 */
async function startProxy(listenPort, targetPort) {
  const sockets = new Set();
  const server = createServer((client) => {
    const target = connect(targetPort, "127.0.0.1");
    sockets.add(client);
    sockets.add(target);
    const drop = () => {
      client.destroy();
      target.destroy();
      sockets.delete(client);
      sockets.delete(target);
    };
    client.on("error", drop).on("close", drop);
    target.on("error", drop).on("close", drop);
    client.pipe(target);
    target.pipe(client);
  });
  await new Promise((resolve) => server.listen(listenPort, "127.0.0.1", resolve));
  return {
    port: server.address().port,
    cutAll() {
      const count = sockets.size;
      for (const socket of sockets) socket.destroy();
      sockets.clear();
      return count;
    },
    close: () => new Promise((resolve) => server.close(resolve)),
  };
}

let stack;
let proxy;
let browser;
let server; // the currently running server process (restarted during the test)

before(async () => {
  // Hundreds of messages in seconds: well above a customer's normal rate.
  const proxyPort = await freePort();
  stack = await startStack({
    extraToml: "[limits]\nmessages_per_minute = 100000\nmessage_burst = 1000\n",
    extraOrigins: [`http://127.0.0.1:${proxyPort}`],
  });
  server = stack.server;
  proxy = await startProxy(proxyPort, new URL(stack.url).port);
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  await proxy?.close();
  await server?.stop();
  await stack?.stop();
});

/** The page of the proxy's origin, with the widget talking through the proxy. */
async function proxiedHostPage(context) {
  const base = `http://127.0.0.1:${proxy.port}`;
  const page = await context.newPage();
  page.problems = [];
  page.on("pageerror", (error) => page.problems.push(`pageerror: ${error.message}`));
  await page.route(`${base}/host-page`, (route) =>
    route.fulfill({ contentType: "text/html", body: '<!doctype html><html lang="en"><title>Host</title><link rel="icon" href="data:,"><body></body></html>' }),
  );
  // The widget's files come from a CDN or the browser cache in real life:
  // they stay reachable while the chat server is down.
  await page.route(`${base}/widget/**`, (route) => {
    const file = path.join(ROOT, "dist", new URL(route.request().url()).pathname);
    route.fulfill({ path: file, contentType: file.endsWith(".wasm") ? "application/wasm" : "text/javascript" });
  });
  await page.goto(`${base}/host-page`);
  await page.addScriptTag({ url: `${base}/widget/trustchat.js` });
  await page.evaluate(() => window.TrustChat.init({ appId: "demo" }));
  return page;
}

/** Messages as the widget shows them: [{seq, state, text}], in DOM order. */
function shownMessages(page) {
  return page.evaluate(() =>
    [...document.getElementById("trustchat-root").shadowRoot.querySelectorAll("[data-tc=message]")].map((el) => ({
      seq: Number(el.dataset.seq || 0),
      state: el.dataset.state,
      author: el.dataset.author,
      text: el.textContent,
    })),
  );
}

async function typeAndSend(page, text) {
  const composer = page.locator("[data-tc=composer]");
  await composer.fill(text);
  await composer.press("Enter");
}

/** Kills the server the hard way: no graceful shutdown. */
async function killServer() {
  server.process.kill("SIGKILL");
  await new Promise((resolve) => server.process.once("exit", resolve));
}

async function startAgain() {
  server = await startServer({ binary: SERVER_BIN, config: stack.config, log: "ignore" });
}

describe("messaging under faults", () => {
  test("hundreds of messages survive server kills, a reload and cut connections, each exactly once and in order", async () => {
    const context = await browser.newContext();
    let page = await proxiedHostPage(context);
    await page.evaluate(() => window.TrustChat.setUser({ name: "Ada Lovelace", email: "ada.faults@example.com" }));
    await openChat(page);

    const total = 300;
    const bodies = Array.from({ length: total }, (_, i) => `message ${String(i + 1).padStart(3, "0")}`);
    for (let i = 0; i < total; i += 1) {
      if (i === 60) {
        // The server dies; the customer keeps typing.
        await killServer();
      }
      if (i === 100) {
        // ... and reloads the page while messages are still pending.
        await page.reload();
        await page.addScriptTag({ url: `http://127.0.0.1:${proxy.port}/widget/trustchat.js` });
        await page.evaluate(() => window.TrustChat.init({ appId: "demo" }));
        await openChat(page);
      }
      if (i === 140) await startAgain();
      if (i === 200 || i === 230 || i === 260) proxy.cutAll();
      if (i === 240) {
        await killServer();
        await startAgain();
      }
      await typeAndSend(page, bodies[i]);
    }

    // Everything is acknowledged in the end.
    await page.waitForFunction(
      (n) => {
        const items = [...document.getElementById("trustchat-root").shadowRoot.querySelectorAll("[data-tc=message][data-author=customer]")];
        return items.length === n && items.every((el) => el.dataset.state === "sent");
      },
      total,
      { timeout: 60_000, polling: 250 },
    );

    // The widget shows each message exactly once, in order, with seq 1..n.
    const shown = (await shownMessages(page)).filter((m) => m.author === "customer");
    assert.deepEqual(
      shown.map((m) => m.seq),
      bodies.map((_, i) => i + 1),
    );
    shown.forEach((m, i) => assert.ok(m.text.includes(bodies[i]), `item ${i} shows ${bodies[i]}: ${m.text}`));

    // The server holds each exactly once, in the same order.
    const token = await page.evaluate(() => {
      const key = Object.keys(localStorage).find((k) => k.startsWith("trustchat:") && k.endsWith(":session"));
      return JSON.parse(localStorage.getItem(key)).session_token;
    });
    const stored = [];
    let afterSeq = 0;
    for (;;) {
      const page = await fetch(`${stack.url}/api/v1/messages?after=${afterSeq}`, { headers: { authorization: `Bearer ${token}` } }).then((r) => r.json());
      if (page.messages.length === 0) break;
      stored.push(...page.messages);
      afterSeq = page.messages.at(-1).seq;
    }
    assert.deepEqual(stored.map((m) => m.body), bodies);
    assert.deepEqual(stored.map((m) => m.seq), bodies.map((_, i) => i + 1));
    assert.equal(new Set(stored.map((m) => m.client_id)).size, total);
    // Nothing is left pending in the tab.
    assert.deepEqual(await page.evaluate(() => Object.keys(sessionStorage).filter((k) => k.endsWith(":pending") && JSON.parse(sessionStorage.getItem(k)).length)), []);
    await context.close();
  });

  test("a message sent in one tab appears in another tab of the same session", async () => {
    const context = await browser.newContext();
    const tabA = await proxiedHostPage(context);
    await tabA.evaluate(() => window.TrustChat.setUser({ name: "Grace Hopper", email: "grace.tabs@example.com" }));
    const tabB = await proxiedHostPage(context);
    assert.equal((await tabB.evaluate(() => window.TrustChat.getUser())).email, "grace.tabs@example.com");
    await openChat(tabA);
    await openChat(tabB);
    await typeAndSend(tabA, "hello from tab A");
    await tabB.locator("[data-tc=message]").filter({ hasText: "hello from tab A" }).waitFor({ timeout: 10_000 });
    await typeAndSend(tabB, "and from tab B");
    await tabA.locator("[data-tc=message]").filter({ hasText: "and from tab B" }).waitFor({ timeout: 10_000 });
    for (const tab of [tabA, tabB]) {
      const texts = (await shownMessages(tab)).map((m) => m.text);
      assert.equal(texts.filter((t) => t.includes("hello from tab A")).length, 1);
      assert.equal(texts.filter((t) => t.includes("and from tab B")).length, 1);
      assert.deepEqual(tab.problems, []);
    }
    await context.close();
  });
});
