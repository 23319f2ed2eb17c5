// Rules that route, in the browser: an anonymous customer's conversation is
// held for a login and the widget shows the login link; logging in on the
// portal releases it at once to the team that serves verified customers,
// whose agent sees it as verified and which rule routed it, while the
// frontline agent, online and free, never gets it. A customer logged in
// from the start goes straight to the verified team.

import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { after, before, describe, test } from "node:test";
import {
  SERVER_BIN,
  addAgent,
  agentLogIn,
  launchBrowser,
  openChat,
  portalLogIn,
  startStack,
} from "./harness.mjs";

const RULES = `
[[apps.rules]]
name = "Verified customers"
status = ["trusted"]
team = "verified"
priority = "high"

[[apps.rules]]
name = "Log in first"
status = ["anonymous", "identified"]
team = "frontline"
hold_for_login_secs = 600

[[teams]]
id = "frontline"
name = "Frontline"
apps = ["demo"]

[[teams]]
id = "verified"
name = "Verified customers"
apps = ["demo"]
`;

let stack;
let browser;

function setTeams(email, teams) {
  const result = spawnSync(SERVER_BIN, ["agent", "teams", email, "--config", stack.config, "--set", teams], {
    encoding: "utf8",
  });
  if (result.status !== 0) throw new Error(`agent teams failed: ${result.stdout}${result.stderr}`);
}

before(async () => {
  stack = await startStack({ extraToml: RULES, demo: { onboarding: false } });
  addAgent(stack, { email: "fran@support.example", name: "Fran Frontline", password: "fran-password-1" });
  addAgent(stack, { email: "vera@support.example", name: "Vera Verified", password: "vera-password-1" });
  setTeams("fran@support.example", "frontline");
  setTeams("vera@support.example", "verified");
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  await stack?.stop();
});

async function freshPage() {
  const context = await browser.newContext();
  const page = await context.newPage();
  page.problems = [];
  page.on("pageerror", (error) => page.problems.push(`pageerror: ${error.message}`));
  return page;
}

async function send(page, text) {
  await page.locator("[data-tc=composer]").fill(text);
  await page.locator("[data-tc=composer]").press("Enter");
  await page.locator("[data-tc=message][data-author=customer][data-state=sent]").filter({ hasText: text }).waitFor();
}

function conversationItem(agent, text) {
  return agent.locator("[data-agent=conversation]").filter({ hasText: text });
}

describe("rules that route by authentication status", () => {
  let fran;
  let vera;

  before(async () => {
    fran = await freshPage();
    vera = await freshPage();
    await agentLogIn(fran, stack.url, "fran@support.example", "fran-password-1");
    await agentLogIn(vera, stack.url, "vera@support.example", "vera-password-1");
  });

  test("a held conversation shows the login link, and a login routes it at once to the verified team", async () => {
    const customer = await freshPage();
    await customer.goto(`${stack.url}/`);
    await openChat(customer);
    await send(customer, "Where is my parcel?");

    // Held: the widget offers the login link at once; nobody has it yet.
    const ask = customer.locator("[data-tc=message][data-author=agent]").filter({ hasText: "log in" });
    await ask.waitFor();
    const href = await ask.locator("a").first().getAttribute("href");
    assert.equal(href, `${stack.url}/login/`);

    // The customer logs in on the portal: the same conversation is routed
    // to Vera, verified, by the trusted customers' rule.
    await portalLogIn(customer, stack.url, "ada@example.com", "lovelace");
    await customer.waitForFunction(() => window.TrustChat.getUser()?.trusted === true);
    // (Its last message is the login request, so the list shows that.)
    const item = conversationItem(vera, "Ada Lovelace");
    await item.waitFor();
    await item.click();
    await vera.locator("[data-agent=routed-by]").filter({ hasText: "Verified customers" }).waitFor();
    await vera.locator("[data-agent=verification][data-verified=true]").first().waitFor();
    await vera.locator("[data-agent=timeline]").filter({ hasText: "Where is my parcel?" }).waitFor();

    // Fran, online and available all along, never got it.
    assert.equal(await conversationItem(fran, "Ada Lovelace").count(), 0);
    assert.deepEqual(customer.problems, []);
  });

  test("a customer logged in from the start goes straight to the verified team", async () => {
    const grace = await freshPage();
    await portalLogIn(grace, stack.url, "grace@example.com", "hopper");
    await grace.waitForFunction(() => window.TrustChat.getUser()?.trusted === true);
    await openChat(grace);
    await send(grace, "Logged in before I asked");
    const item = conversationItem(vera, "Logged in before I asked");
    await item.waitFor();
    await item.click();
    await vera.locator("[data-agent=routed-by]").filter({ hasText: "Verified customers" }).waitFor();
    assert.equal(await conversationItem(fran, "Logged in before I asked").count(), 0);
  });
});
