// The satisfaction survey (issue 13): when an agent closes the conversation
// the widget asks "How did we do?", the customer answers with the keyboard
// alone, the agent API shows the rating, and the customer can go on
// writing (a new conversation). The widget passes axe-core with the survey
// open.

import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { addAgent, agentLogIn, axeViolations, launchBrowser, newPage, openChat, startStack } from "./harness.mjs";

let stack;
let browser;

before(async () => {
  stack = await startStack();
  addAgent(stack, { email: "alice@support.example", name: "Alice Agent", password: "alice-password-1" });
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  await stack?.stop();
});

/** Calls the agent API from the agent's page (cookie, same origin, CSRF token). */
function agentApi(agent, method, path) {
  return agent.evaluate(
    async ({ method, path }) => {
      const me = await fetch("/api/v1/agent/me").then((r) => r.json());
      const response = await fetch(path, { method, headers: { "x-csrf-token": me.csrf_token } });
      return { status: response.status, body: await response.json().catch(() => null) };
    },
    { method, path },
  );
}

/** The widget's focused element: its test hook, value and checked state. */
function focused(page) {
  return page.evaluate(() => {
    const el = document.getElementById("trustchat-root").shadowRoot.activeElement;
    return el ? { tc: el.dataset.tc ?? null, value: el.dataset.value ?? null, checked: el.checked ?? null } : null;
  });
}

/** Presses `key` until the widget's focus is on an element with `tc`. */
async function tabTo(page, key, tc) {
  for (let i = 0; i < 12; i += 1) {
    if ((await focused(page))?.tc === tc) return;
    await page.keyboard.press(key);
  }
  assert.fail(`${key} never reached [data-tc=${tc}]; focus is on ${JSON.stringify(await focused(page))}`);
}

describe("the satisfaction survey", () => {
  test("an agent's close asks how we did; the keyboard rates 4 with a comment; the agent sees it", async () => {
    const agent = await newPage(browser);
    await agentLogIn(agent, stack.url, "alice@support.example", "alice-password-1");

    const page = await newPage(browser);
    await page.goto(`${stack.url}/`);
    await page.evaluate(() => window.TrustChat.setUser({ name: "Ada Lovelace", email: "ada@example.com" }));
    await page.evaluate(() => {
      window.TrustChat.on("message:sent", (message) => {
        window.__conversation = message.conversation_id;
      });
    });
    await openChat(page);
    const composer = page.locator("[data-tc=composer]");
    await composer.focus();
    await page.keyboard.type("My parcel never came");
    await page.keyboard.press("Enter");
    await page.locator("[data-tc=message][data-author=customer][data-state=sent]").waitFor();
    const id = await page.evaluate(() => window.__conversation);
    assert.ok(id, "the widget learned the conversation's id");
    const survey = page.locator("[data-tc=survey]");
    assert.equal(await survey.isVisible(), false, "no survey while the conversation is open");

    // The agent closes it (once routing has given it to them).
    let closed;
    for (let i = 0; i < 50; i += 1) {
      closed = await agentApi(agent, "POST", `/api/v1/agent/conversations/${id}/close`);
      if (closed.status === 200) break;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    assert.equal(closed.status, 200, JSON.stringify(closed.body));

    await survey.waitFor({ state: "visible" });
    assert.equal((await survey.locator("legend").textContent()).trim(), "How did we do?");
    for (const n of [1, 2, 3, 4, 5]) {
      const radio = page.getByRole("radio", { name: `${n} out of 5`, exact: true });
      assert.equal(await radio.getAttribute("data-value"), String(n));
    }
    assert.equal(await page.getByLabel("Comment (optional)").getAttribute("data-tc"), "survey-comment");
    assert.deepEqual(await axeViolations(page), [], "the widget with the survey open passes axe-core");

    // Keyboard only, from the composer where the customer's focus still is.
    await composer.focus();
    await tabTo(page, "Shift+Tab", "survey-send");
    // Nothing chosen yet: the browser's own required check stops the send
    // and takes focus to the choices.
    await page.keyboard.press("Enter");
    assert.equal((await focused(page))?.tc, "survey-rating", "focus goes to the choices");
    assert.equal(await page.locator("[data-tc=survey-rating]:checked").count(), 0);
    assert.equal(await page.locator("[data-tc=survey-thanks]").count(), 0, "nothing was sent");

    await tabTo(page, "Shift+Tab", "survey-rating");
    const ring = await page.evaluate(() => {
      const el = document.getElementById("trustchat-root").shadowRoot.activeElement;
      const style = getComputedStyle(el);
      return el.matches(":focus-visible") && style.outlineStyle !== "none" && parseFloat(style.outlineWidth) > 0;
    });
    assert.ok(ring, "the focused choice shows a focus ring");
    await page.keyboard.press("Space");
    let now = await focused(page);
    assert.equal(now.checked, true, "Space chooses the focused rating");
    // Arrow keys move through the choices, choosing as they go.
    while (Number(now.value) !== 4) {
      await page.keyboard.press(Number(now.value) > 4 ? "ArrowLeft" : "ArrowRight");
      now = await focused(page);
      assert.equal(now.checked, true);
    }
    await page.keyboard.press("Tab");
    assert.equal((await focused(page)).tc, "survey-comment");
    await page.keyboard.type("Quick and kind");
    await page.keyboard.press("Tab");
    assert.equal((await focused(page)).tc, "survey-send");
    await page.keyboard.press("Enter");

    const thanks = page.locator("[data-tc=survey-thanks]");
    await thanks.waitFor({ state: "visible" });
    assert.equal(await thanks.textContent(), "Thanks for your feedback!");
    assert.equal(await survey.isVisible(), false, "the thanks replace the survey");
    assert.equal((await focused(page))?.tc, "survey-thanks", "focus stays in the panel");

    const detail = await agentApi(agent, "GET", `/api/v1/agent/conversations/${id}`);
    assert.equal(detail.status, 200);
    assert.equal(detail.body.conversation.rating?.rating, 4, JSON.stringify(detail.body.conversation));
    assert.equal(detail.body.conversation.rating.comment, "Quick and kind");
    assert.equal(typeof detail.body.conversation.rating.rated_at, "number");

    // The customer writes again: a new conversation, and the thanks go.
    await composer.focus();
    await page.keyboard.type("One more question");
    await page.keyboard.press("Enter");
    await page
      .locator("[data-tc=message][data-author=customer][data-state=sent]")
      .filter({ hasText: "One more question" })
      .waitFor();
    assert.notEqual(await page.evaluate(() => window.__conversation), id, "a new conversation");
    await thanks.waitFor({ state: "hidden" });
    assert.equal(await survey.isVisible(), false);
    assert.deepEqual(page.problems, []);
    // The console's first look at /me before its login is a 401 by design.
    assert.deepEqual(agent.problems.filter((p) => p.startsWith("pageerror")), []);
  });
});
