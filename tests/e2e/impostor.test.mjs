// An impostor who knows a customer's email, in a real browser: Eve calls
// setUser with Ada's email while Ada, logged in on the portal, chats with an
// agent. Eve's widget shows nothing of Ada's conversation (not the agent's
// replies, not Ada's phone or name), Ada's widget never shows Eve's text,
// before or after a reload, and the agent console tells the two apart:
// Eve's conversation is not verified and her message carries the name she
// gave.

import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { addAgent, agentLogIn, launchBrowser, newPage, openChat, portalLogIn, startStack, widgetText } from "./harness.mjs";

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

async function send(page, text) {
  await page.locator("[data-tc=composer]").fill(text);
  await page.locator("[data-tc=composer]").press("Enter");
  await page.locator("[data-tc=message][data-author=customer][data-state=sent]").filter({ hasText: text }).waitFor();
}

async function reply(agent, text) {
  await agent.locator("[data-agent=reply]").fill(text);
  await agent.locator("[data-agent=reply]").press("Enter");
  await agent.locator("[data-agent=timeline] [data-agent=message][data-author=agent]").filter({ hasText: text }).waitFor();
}

function agentMessage(page, text) {
  return page.locator("[data-tc=message][data-author=agent]").filter({ hasText: text });
}

describe("an impostor with a customer's email", () => {
  test("sees nothing of the customer's conversation, and the customer never sees the impostor's text", async () => {
    const alice = await newPage(browser);
    await agentLogIn(alice, stack.url, "alice@support.example", "alice-password-1");

    // Ada, logged in on the portal, asks for a recovery code.
    const ada = await newPage(browser);
    await portalLogIn(ada, stack.url, "ada@example.com", "lovelace");
    await ada.waitForFunction(() => window.TrustChat.getUser()?.trusted === true);
    await openChat(ada);
    await send(ada, "I lost access to my account");
    await alice.locator("[data-agent=conversation]").filter({ hasText: "I lost access" }).click();
    await reply(alice, "Your recovery code is 771-204");
    await agentMessage(ada, "771-204").waitFor();

    // Eve, on another computer, says she is Ada.
    const eve = await newPage(browser);
    await eve.goto(`${stack.url}/`);
    const user = await eve.evaluate(() => window.TrustChat.setUser({ name: "Eve", email: "ada@example.com" }));
    assert.equal(user.trusted, false);
    assert.equal(user.email, "ada@example.com");
    assert.ok(!user.phone, "no stored phone comes back");
    assert.equal(user.name, "Eve");
    await openChat(eve);
    await eve.locator("[data-tc=composer]").waitFor();
    await send(eve, "Ada here: refund to IBAN XX00 EVIL");

    // The agent writes to Ada again; Eve's widget never hears it. Her
    // own message reached the server after Ada's conversation had the
    // first reply, so anything of Ada's would have reached her by now;
    // the second reply is checked after a round trip of her own.
    await reply(alice, "Here is a second code: 993-118");
    await agentMessage(ada, "993-118").waitFor();
    await send(eve, "hello?");
    const eveText = await widgetText(eve);
    for (const secret of ["771-204", "993-118", "lost access", "Lovelace"]) {
      assert.ok(!eveText.includes(secret), `Eve's widget shows ${JSON.stringify(secret)}: ${eveText}`);
    }
    await eve.reload();
    await openChat(eve);
    await eve.locator("[data-tc=message][data-author=customer]").filter({ hasText: "hello?" }).waitFor();
    const eveAfterReload = await widgetText(eve);
    assert.ok(!eveAfterReload.includes("771-204") && !eveAfterReload.includes("lost access"), eveAfterReload);

    // Ada's widget shows none of Eve's text, live or after a reload.
    await send(ada, "Thanks, trying it now");
    assert.ok(!(await widgetText(ada)).includes("IBAN"), "live");
    await ada.reload();
    await ada.waitForFunction(() => window.TrustChat.getUser()?.trusted === true);
    await openChat(ada);
    await agentMessage(ada, "993-118").waitFor();
    assert.ok(!(await widgetText(ada)).includes("IBAN"), "after a reload");

    // The console keeps them apart: Eve's conversation is her own, not
    // verified, under the name she gave; Ada's stays verified.
    const eveItem = alice.locator("[data-agent=conversation]").filter({ hasText: "hello?" });
    await eveItem.waitFor();
    assert.equal(await eveItem.locator("[data-agent=verification]").getAttribute("data-verified"), "false");
    await eveItem.click();
    const planted = alice.locator("[data-agent=timeline] [data-agent=message]").filter({ hasText: "IBAN XX00 EVIL" });
    await planted.waitFor();
    assert.equal(await planted.getAttribute("data-trusted"), "false");
    assert.equal(await planted.locator(".message__author").textContent(), "Eve");
    assert.equal(await alice.locator("[data-agent=verified]").textContent(), "Not verified");
    await alice.locator("[data-agent=profile-email] [data-agent=claimed]").waitFor();
    assert.equal(await alice.locator("[data-agent=conversation-title]").textContent(), "Eve");
    assert.ok(!(await alice.locator("[data-agent=timeline]").textContent()).includes("771-204"), "Eve's timeline is hers alone");

    const adaItem = alice.locator("[data-agent=conversation]").filter({ hasText: "Thanks, trying it now" });
    assert.equal(await adaItem.locator("[data-agent=verification]").getAttribute("data-verified"), "true");
    assert.deepEqual(ada.problems, [], "Ada's page");
    assert.deepEqual(eve.problems, [], "Eve's page");
    // The console asks who is logged in before the login (a 401 by design).
    assert.deepEqual(alice.problems.filter((p) => p.startsWith("pageerror")), [], "the console");
  });
});
