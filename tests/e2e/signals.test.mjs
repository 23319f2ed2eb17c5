// The agent console's side of typing, read state and the customer's page,
// in the browser: a customer (a raw WebSocket in a page of the site)
// types, reads and navigates; the console shows "Customer is typing…",
// "Seen" under the agent message read, and the page as a link; the agent
// typing reaches the customer's socket with the agent's name.

import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { addAgent, agentLogIn, axeViolations, launchBrowser, startStack } from "./harness.mjs";

let stack;
let browser;

before(async () => {
  stack = await startStack();
  addAgent(stack, { email: "sam@support.example", name: "Sam Signal", password: "sam-password-12" });
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  await stack?.stop();
});

async function freshPage() {
  const context = await browser.newContext();
  return context.newPage();
}

/** A customer with a raw socket in a page of the site; frames collect in window.__c.frames. */
async function customer(page) {
  await page.goto(`${stack.url}/login/`);
  await page.evaluate(async () => {
    const response = await fetch("/api/v1/apps/demo/sessions", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ user: { name: "Tess Typer", email: "tess@example.com" } }),
    });
    const session = await response.json();
    const ws = new WebSocket(`${location.origin.replace(/^http/, "ws")}/api/v1/ws`);
    window.__c = { frames: [], ws, token: session.session_token };
    ws.onmessage = (event) => window.__c.frames.push(JSON.parse(event.data));
    await new Promise((resolve) => (ws.onopen = resolve));
    ws.send(JSON.stringify({ type: "auth", session_token: session.session_token }));
  });
  await page.waitForFunction(() => window.__c.frames.some((f) => f.type === "ready"));
}

function sendFrame(page, frame) {
  return page.evaluate((f) => window.__c.ws.send(JSON.stringify(f)), frame);
}

describe("typing, read state and the customer's page in the console", () => {
  test("each side sees the other type, the agent sees Seen and the page", async () => {
    const agent = await freshPage();
    await agentLogIn(agent, stack.url, "sam@support.example", "sam-password-12");
    const tess = await freshPage();
    await customer(tess);
    await sendFrame(tess, { type: "send", client_id: crypto.randomUUID(), body: "Hello, is anyone there?" });
    const item = agent.locator("[data-agent=conversation]").filter({ hasText: "Tess Typer" });
    await item.waitFor();
    await item.click();
    await agent.locator("[data-agent=timeline]").filter({ hasText: "Hello, is anyone there?" }).waitFor();

    // The customer types: the console says so, then not after a message.
    await sendFrame(tess, { type: "typing" });
    const typing = agent.locator("[data-agent=typing]");
    await typing.filter({ hasText: "Customer is typing…" }).waitFor();
    await sendFrame(tess, { type: "send", client_id: crypto.randomUUID(), body: "Still here" });
    await agent.locator("[data-agent=timeline]").filter({ hasText: "Still here" }).waitFor();
    assert.equal(await typing.isHidden(), true);

    // The agent types: the customer's socket hears who.
    await agent.locator("[data-agent=reply]").fill("Hi Tess, ");
    await agent.locator("[data-agent=reply]").pressSequentially("how can I help?");
    await tess.waitForFunction(() =>
      window.__c.frames.some((f) => f.type === "typing" && f.author === "agent" && f.name === "Sam Signal"),
    );
    await agent.locator("[data-agent=reply]").press("Enter");
    const reply = agent.locator("[data-agent=message][data-author=agent]").filter({ hasText: "how can I help?" });
    await reply.waitFor();
    const seq = Number(await reply.getAttribute("data-seq"));

    // The customer reads it: "Seen" under it.
    await sendFrame(tess, { type: "read", seq });
    await reply.locator("[data-agent=seen]").filter({ hasText: "Seen" }).waitFor();

    // The customer's page, as a link; a page that is not http(s) is text.
    const setPage = (url) =>
      tess.evaluate(
        (u) =>
          fetch("/api/v1/sessions/current/page", {
            method: "POST",
            headers: { "content-type": "application/json", authorization: `Bearer ${window.__c.token}` },
            body: JSON.stringify({ url: u }),
          }).then((r) => r.status),
        url,
      );
    assert.equal(await setPage(`${stack.url}/account/orders?id=42`), 204);
    const page = agent.locator("[data-agent=current-page]");
    await page.locator("a").filter({ hasText: "/account/orders?id=42" }).waitFor();
    assert.equal(await setPage("javascript:alert(1)"), 204);
    await page.filter({ hasText: "javascript:alert(1)" }).waitFor();
    assert.equal(await page.locator("a").count(), 0);
    assert.deepEqual(await axeViolations(agent), []);
  });
});

describe("the console tells the agent", () => {
  test("asks for notifications only on the button; new conversations and hidden-tab messages notify, chime and count", async () => {
    const context = await browser.newContext();
    // Record what the page asks of the browser.
    await context.addInitScript(() => {
      window.__told = { asked: 0, notes: [], chimes: 0 };
      let permission = "default";
      class FakeNotification {
        static get permission() {
          return permission;
        }
        static async requestPermission() {
          window.__told.asked += 1;
          permission = "granted";
          return permission;
        }
        constructor(title, options) {
          window.__told.notes.push({ title, body: options?.body });
        }
      }
      window.Notification = FakeNotification;
      window.AudioContext = class {
        constructor() {
          this.currentTime = 0;
          this.destination = {};
        }
        createOscillator() {
          window.__told.chimes += 1;
          return { frequency: {}, connect: (x) => x, start() {}, stop() {} };
        }
        createGain() {
          return { gain: { setValueAtTime() {}, exponentialRampToValueAtTime() {} }, connect: (x) => x };
        }
      };
    });
    const agent = await context.newPage();
    await agentLogIn(agent, stack.url, "sam@support.example", "sam-password-12");
    const told = () => agent.evaluate(() => window.__told);
    assert.equal((await told()).asked, 0, "never asked on load");
    const enable = agent.locator("[data-agent=notify-enable]");
    await enable.click();
    assert.equal((await told()).asked, 1);
    await enable.waitFor({ state: "hidden" });

    // A new conversation: a chime at once (and a notification when hidden).
    const tess = await freshPage();
    await customer(tess);
    await sendFrame(tess, { type: "send", client_id: crypto.randomUUID(), body: "New here" });
    await agent.waitForFunction(() => window.__told.chimes > 0);

    // The tab is hidden: a customer message notifies with its text and
    // counts in the title.
    await agent.evaluate(() => Object.defineProperty(document, "hidden", { value: true, configurable: true }));
    await sendFrame(tess, { type: "send", client_id: crypto.randomUUID(), body: "Are you there?" });
    await agent.waitForFunction(() => window.__told.notes.some((n) => n.body === "Are you there?"));
    const note = (await told()).notes.find((n) => n.body === "Are you there?");
    assert.equal(note.title, "New message from Tess Typer");
    await agent.waitForFunction(() => /^\(\d+\) TrustChat agent console$/.test(document.title));

    // The sound can be turned off, and stays off.
    await agent.locator("[data-agent=sound-toggle]").uncheck();
    const before = (await told()).chimes;
    await sendFrame(tess, { type: "send", client_id: crypto.randomUUID(), body: "Hello?" });
    await agent.waitForFunction(() => window.__told.notes.some((n) => n.body === "Hello?"));
    assert.equal((await told()).chimes, before);
    assert.equal(await agent.evaluate(() => localStorage.getItem("trustchat-agent:sound")), "off");
  });
});
