// Shared set-up for the end-to-end tests: a real trustchat-server on a free
// port of 127.0.0.1 with its own SQLite file and config, serving the built
// widget and demo portal from dist/, and Debian's Chromium driven by
// playwright-core. Nothing here is faked.

import { createHash } from "node:crypto";
import { spawnSync } from "node:child_process";
import { closeSync, mkdirSync, mkdtempSync, openSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { chromium } from "playwright-core";
import { ROOT, freePort, startServer } from "../../scripts/lib.mjs";

/** The API key of the `demo` app in every e2e config. */
export const API_KEY = "tck_e2e_test_key";

export const SERVER_BIN = process.env.TRUSTCHAT_SERVER_BIN ?? path.join(ROOT, "target", "debug", "trustchat-server");

/**
 * Starts a server whose `demo` app allows the server's own origin, verifies
 * and mints identity tokens with the demo key pair, and backs the demo
 * portal's login. `extraToml` is appended to the config (more apps, ...);
 * `{origin}` in it is replaced by the server's origin. `demo.tokenTtl` sets
 * the lifetime of the tokens the portal's login mints; `extraOrigins` are
 * more origins the demo app allows.
 */
export async function startStack({ extraToml = "", demo = {}, extraOrigins = [] } = {}) {
  const dir = mkdtempSync(path.join(tmpdir(), "trustchat-e2e-"));
  const port = await freePort();
  const origin = `http://127.0.0.1:${port}`;
  const config = path.join(dir, "trustchat.toml");
  const onboarding = demo.onboarding ?? true;
  writeFileSync(
    config,
    `[server]
listen = "127.0.0.1:${port}"
database_url = "sqlite://${path.join(dir, "trustchat.db")}"
static_dir = "${path.join(ROOT, "dist")}"

[[apps]]
id = "demo"
name = "Demo Portal"
allowed_origins = ${JSON.stringify([origin, ...extraOrigins])}
login_url = "${origin}/login/"
onboarding = ${onboarding}

[apps.identity]
jwks_file = "${path.join(ROOT, "keys", "demo.jwks.json")}"
mint_kid = "demo-es256"

[[apps.api_keys]]
name = "e2e"
hash = "sha256:${createHash("sha256").update(API_KEY).digest("hex")}"
${extraToml.replaceAll("{origin}", origin)}

[demo]
app = "demo"
token_ttl_secs = ${demo.tokenTtl ?? 600}

[[demo.users]]
email = "ada@example.com"
password = "lovelace"
name = "Ada Lovelace"

[[demo.users]]
email = "grace@example.com"
password = "hopper"
name = "Grace Hopper"
`,
  );
  // With E2E_LOG_DIR (npm test sets it), each server's log goes to a file
  // there, at debug level, and `scripts/test.mjs` greps them all for
  // secrets once the suite is done.
  const logDir = process.env.E2E_LOG_DIR;
  let logFile = null;
  if (logDir) {
    mkdirSync(logDir, { recursive: true });
    logFile = openSync(path.join(logDir, `${path.basename(dir)}.log`), "a");
  }
  const server = await startServer({
    binary: SERVER_BIN,
    config,
    env: logDir ? { TRUSTCHAT_LOG: "debug" } : {},
    log: logFile ?? (process.env.E2E_SERVER_LOG ? "inherit" : "ignore"),
  });
  if (logFile !== null) closeSync(logFile);
  return {
    url: server.url,
    origin,
    config,
    dir,
    server,
    async stop() {
      await server.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Launches headless Chromium from Debian's package with a fresh profile. */
export function launchBrowser() {
  return chromium.launch({
    executablePath: "/usr/bin/chromium",
    headless: true,
    args: [
      "--no-sandbox",
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
      "--disable-dev-shm-usage",
      // Tests put a "customer site" and the TrustChat server on two loopback
      // origins; in production they are public origins, which Chromium's
      // local-network-access checks do not concern.
      "--disable-features=LocalNetworkAccessChecks",
    ],
  });
}

/**
 * A new page that fails the test on any uncaught page error or console
 * error, collected in `page.problems`.
 */
export async function newPage(browser) {
  const context = await browser.newContext();
  const page = await context.newPage();
  page.problems = [];
  page.on("pageerror", (error) => page.problems.push(`pageerror: ${error.message}`));
  page.on("console", (message) => {
    if (message.type() === "error") page.problems.push(`console.error: ${message.text()}`);
  });
  return page;
}

/** Every localStorage and sessionStorage key of the page's origin. */
export function storageKeys(page) {
  return page.evaluate(() => [...Object.keys(localStorage), ...Object.keys(sessionStorage)]);
}

/** Logs in on the demo portal's login page; lands on /account/. */
export async function portalLogIn(page, base, email, password) {
  await page.goto(`${base}/login/`);
  await page.fill("input[name=email]", email);
  await page.fill("input[name=password]", password);
  await Promise.all([page.waitForURL(`${base}/account/`), page.click("button[type=submit]")]);
}

/** Opens the chat panel through its launcher button. */
export async function openChat(page) {
  await page.locator("[data-tc=launcher]").click();
  await page.locator("[data-tc=panel]").waitFor({ state: "visible" });
}

/** The whole text the widget's shadow root shows. */
export function widgetText(page) {
  return page.evaluate(() => document.getElementById("trustchat-root")?.shadowRoot?.textContent ?? "");
}

/** Mints an identity token through the server's mint endpoint. */
export async function mintToken(base, { email, name, expiresIn }) {
  const response = await fetch(`${base}/api/v1/user-identity-jwt`, {
    method: "POST",
    headers: { "content-type": "application/json", authorization: `Bearer ${API_KEY}` },
    body: JSON.stringify({ identityType: "EMAIL", identity: email, name, expiresIn }),
  });
  if (!response.ok) throw new Error(`mint failed: ${response.status} ${await response.text()}`);
  return (await response.json()).token;
}

/** Creates an agent account with the CLI, the password given on stdin. */
export function addAgent(stack, { email, name, password }) {
  const result = spawnSync(SERVER_BIN, ["agent", "add", "--config", stack.config, "--email", email, "--name", name], {
    input: `${password}\n`,
    encoding: "utf8",
  });
  if (result.status !== 0) throw new Error(`agent add failed: ${result.stdout}${result.stderr}`);
  return result;
}

/** Logs an agent in on the console at /agent/ and waits for it to be live. */
export async function agentLogIn(page, base, email, password) {
  await page.goto(`${base}/agent/`);
  await page.fill("[data-agent=login-email]", email);
  await page.fill("[data-agent=login-password]", password);
  await page.click("[data-agent=login-submit]");
  await page.locator("[data-agent=console-view]").waitFor();
  await page.locator('[data-agent=connection][data-state=live]').waitFor();
}

/** Runs axe-core in the page and returns its violations (none expected). */
export async function axeViolations(page, context) {
  // Served as if from the page's own origin, so that a page whose CSP
  // allows only 'self' scripts (the agent console) runs it as it is.
  const url = new URL("/__e2e-axe.min.js", page.url()).href;
  await page.route(url, (route) =>
    route.fulfill({ contentType: "text/javascript", path: path.join(ROOT, "node_modules", "axe-core", "axe.min.js") }),
  );
  await page.addScriptTag({ url });
  return page.evaluate(async (ctx) => {
    const result = await window.axe.run(ctx ?? document, { resultTypes: ["violations"] });
    return result.violations.map((v) => `${v.id}: ${v.help} (${v.nodes.map((n) => n.target.join(" ")).join(", ")})`);
  }, context);
}
