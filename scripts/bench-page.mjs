// The widget's cost to the page it sits on, in headless Chromium with 4×
// CPU throttling (Lighthouse's mobile profile): a plain page loaded with
// and without the widget, the main-thread script and task time the widget
// adds before the chat is opened and after, the bytes it transfers, and
// the time from `setUser` to the greeting being painted. Prints a table and
// one JSON line per figure ({"bench":"host_page",...}).
//
// Used by `node scripts/bench.mjs page`; needs a built dist/ and a server
// binary (debug is fine: the server's speed is not what is measured).

import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { chromium } from "playwright-core";
import { ROOT, freePort, startServer } from "./lib.mjs";

const RUNS = 21;
/** How long each page is watched after its load event, before the chat opens. */
const WATCH_MS = 2500;
// The widget page embeds it as README says: the async script tag, then the
// loader snippet inline (www/widget/loader.js without its comments).
const SNIPPET = readFileSync(path.join(ROOT, "www", "widget", "loader.js"), "utf8").replace(/^\/\/.*\n/gm, "");
// Both pages run one trivial script of their own, as real pages do: the
// figure is then the widget's own work, not the cost of starting the page's
// JavaScript engine at all, which a page with no script never pays.
const PAGE = (withWidget) => `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Host page</title>
<link rel="icon" href="data:,">
<script>document.documentElement.dataset.js = "on";</script>
${withWidget ? `<script async src="/widget/trustchat.js"></script><script>${SNIPPET}TrustChat.init({ appId: "bench" });</script>` : ""}
</head><body><h1>A host page</h1><p>${"Some content. ".repeat(200)}</p></body></html>`;

/** Main-thread script and task time (ms) and bytes transferred so far. */
async function metrics(cdp, bytes) {
  const { metrics } = await cdp.send("Performance.getMetrics");
  const get = (name) => metrics.find((m) => m.name === name)?.value ?? 0;
  return { script_ms: get("ScriptDuration") * 1000, task_ms: get("TaskDuration") * 1000, bytes: bytes.total };
}

async function measure(browser, base, withWidget) {
  const context = await browser.newContext();
  const page = await context.newPage();
  const cdp = await context.newCDPSession(page);
  await cdp.send("Performance.enable");
  await cdp.send("Network.enable");
  await cdp.send("Emulation.setCPUThrottlingRate", { rate: 4 });
  const bytes = { total: 0 };
  cdp.on("Network.loadingFinished", (event) => (bytes.total += event.encodedDataLength));
  await page.goto(`${base}/${withWidget ? "with-widget" : "plain"}.html`, { waitUntil: "load" });
  // Before the chat opens: the page as a visitor sees it, launcher only,
  // including everything the widget does unasked (its app check, its
  // prefetch of the rest). Both pages are watched for the same time, and
  // nothing polls the page meanwhile (a poll would be script time too).
  await page.waitForTimeout(WATCH_MS);
  const before = await metrics(cdp, bytes);
  if (withWidget) {
    const prefetched = await page.evaluate(() =>
      performance.getEntriesByType("resource").some((entry) => entry.name.endsWith(".wasm") && entry.responseEnd > 0),
    );
    if (!prefetched) throw new Error(`the wasm was not prefetched within ${WATCH_MS} ms of the load event`);
  }
  let after = null;
  let greetingMs = null;
  if (withWidget) {
    await page.locator("[data-tc=launcher]").waitFor();
    greetingMs = await page.evaluate(async () => {
      const start = performance.now();
      await window.TrustChat.setUser({ name: "Ada Lovelace", email: `ada.${Math.random()}@example.com` });
      window.TrustChat.show();
      const root = document.getElementById("trustchat-root").shadowRoot;
      // Watched with a MutationObserver rather than polled, so the
      // measurement adds next to no script time of its own; then one frame,
      // for the greeting to be painted.
      await new Promise((resolve) => {
        const greeted = () => root.querySelector("[data-tc=greeting]")?.textContent.startsWith("Hi Ada");
        const done = () => requestAnimationFrame(() => resolve());
        if (greeted()) return done();
        const observer = new MutationObserver(() => {
          if (!greeted()) return;
          observer.disconnect();
          done();
        });
        observer.observe(root, { subtree: true, childList: true, characterData: true });
      });
      return performance.now() - start;
    });
    after = await metrics(cdp, bytes);
  }
  await context.close();
  return { before, after, greetingMs };
}

const median = (values) => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)];
};

export async function pageBench({ serverBinary }) {
  const dir = mkdtempSync(path.join(tmpdir(), "trustchat-page-"));
  const port = await freePort();
  const base = `http://127.0.0.1:${port}`;
  // The pages are served by the server itself, beside the built widget
  // (a link to dist/widget): a routed page would turn the browser's HTTP
  // cache off, and the widget counts on it (what idle time prefetched).
  const site = path.join(dir, "site");
  mkdirSync(site);
  symlinkSync(path.join(ROOT, "dist", "widget"), path.join(site, "widget"));
  writeFileSync(path.join(site, "plain.html"), PAGE(false));
  writeFileSync(path.join(site, "with-widget.html"), PAGE(true));
  const config = path.join(dir, "bench.toml");
  writeFileSync(
    config,
    `[server]\nlisten = "127.0.0.1:${port}"\ndatabase_url = "sqlite://${path.join(dir, "b.db")}"\nstatic_dir = "${site}"\n\n[[apps]]\nid = "bench"\nallowed_origins = ["${base}"]\nonboarding = false\n\n[apps.messages]\ngreeting_identified = "Hi {first_name}!"\n`,
  );
  const server = await startServer({ binary: serverBinary, config, log: "ignore" });
  const browser = await chromium.launch({
    executablePath: "/usr/bin/chromium",
    args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
      "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage"],
  });
  try {
    const plain = [];
    const widget = [];
    for (let i = 0; i < RUNS; i += 1) {
      plain.push(await measure(browser, base, false));
      widget.push(await measure(browser, base, true));
    }
    const added = (key, phase) => median(widget.map((w) => w[phase][key])) - median(plain.map((p) => p.before[key]));
    const result = {
      bench: "host_page",
      cpu_throttling: 4,
      runs: RUNS,
      added_script_ms_before_open: Number(added("script_ms", "before").toFixed(1)),
      added_task_ms_before_open: Number(added("task_ms", "before").toFixed(1)),
      added_bytes_before_open: added("bytes", "before"),
      added_script_ms_after_open: Number(added("script_ms", "after").toFixed(1)),
      added_task_ms_after_open: Number(added("task_ms", "after").toFixed(1)),
      added_bytes_after_open: added("bytes", "after"),
      set_user_to_greeting_ms: Number(median(widget.map((w) => w.greetingMs)).toFixed(1)),
    };
    console.log(`host page, 4x CPU throttling, median of ${RUNS}:`);
    console.log(`  before the chat opens: +${result.added_script_ms_before_open} ms script, +${result.added_task_ms_before_open} ms main-thread tasks, +${result.added_bytes_before_open} bytes`);
    console.log(`  after setUser + open:  +${result.added_script_ms_after_open} ms script, +${result.added_task_ms_after_open} ms main-thread tasks, +${result.added_bytes_after_open} bytes`);
    console.log(`  setUser to greeting painted: ${result.set_user_to_greeting_ms} ms`);
    console.log(JSON.stringify(result));
    return result;
  } finally {
    await browser.close();
    await server.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}
