// Shared set-up for the end-to-end tests: a real trustchat-server on a free
// port of 127.0.0.1 with its own SQLite file and config, serving the built
// widget and demo portal from dist/, and Debian's Chromium driven by
// playwright-core. Nothing here is faked.

import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { chromium } from "playwright-core";
import { ROOT, freePort, startServer } from "../../scripts/lib.mjs";

export const SERVER_BIN = process.env.TRUSTCHAT_SERVER_BIN ?? path.join(ROOT, "target", "debug", "trustchat-server");

/**
 * Starts a server whose `demo` app allows the server's own origin.
 * `extraToml` is appended to the config (more apps, identity keys, ...);
 * `{origin}` in it is replaced by the server's origin.
 */
export async function startStack({ extraToml = "", demo = {} } = {}) {
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
allowed_origins = ["${origin}"]
login_url = "${origin}/login/"
onboarding = ${onboarding}
${extraToml.replaceAll("{origin}", origin)}
`,
  );
  const server = await startServer({ binary: SERVER_BIN, config, log: "ignore" });
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
