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
