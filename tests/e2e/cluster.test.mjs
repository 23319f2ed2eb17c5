// Two server processes on one PostgreSQL database (a private cluster this
// file starts): a customer on server A and an agent console on server B
// talk live in the browser; `kill -9` of A during a burst of sends, the
// client retrying on B with the same ids, leaves every acknowledged message
// exactly once with seqs 1..n; a database restart under load makes /readyz
// answer 503 and then 200 again, and loses nothing acknowledged.

import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { after, before, describe, test } from "node:test";
import { ROOT, freePort, startServer } from "../../scripts/lib.mjs";
import { ensurePostgres, startPostgres } from "../../scripts/postgres.mjs";
import { SERVER_BIN, addAgent, agentLogIn, launchBrowser, newPage, openChat, portalLogIn } from "./harness.mjs";

let pg;
let browser;
let dir;

before(async () => {
  ensurePostgres();
  pg = await startPostgres();
  browser = await launchBrowser();
  dir = mkdtempSync(path.join(tmpdir(), "trustchat-cluster-"));
});

after(async () => {
  await browser?.close();
  await pg?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

/** A fresh database on the cluster, for one test. */
async function freshDatabase(name) {
  const { spawnSync } = await import("node:child_process");
  const created = spawnSync("psql", [pg.url, "-v", "ON_ERROR_STOP=1", "-c", `CREATE DATABASE ${name}`], { encoding: "utf8" });
  if (created.status !== 0) throw new Error(`cannot create ${name}: ${created.stderr}`);
  return pg.url.replace(/\/[^/]*$/, `/${name}`);
}

/** Starts `count` servers on `databaseUrl`, each allowing every server's origin. */
async function startServers(databaseUrl, count) {
  const ports = [];
  for (let i = 0; i < count; i += 1) ports.push(await freePort());
  const origins = ports.map((port) => `http://127.0.0.1:${port}`);
  const servers = [];
  for (const [i, port] of ports.entries()) {
    const config = path.join(dir, `server-${port}.toml`);
    writeFileSync(
      config,
      `[server]
listen = "127.0.0.1:${port}"
database_url = "${databaseUrl}"
database_max_connections = 8
static_dir = "${path.join(ROOT, "dist")}"

# One client sends hundreds of messages here.
[limits]
messages_per_minute = 100000
message_burst = 1000

[[apps]]
id = "demo"
name = "Demo Portal"
allowed_origins = ${JSON.stringify(origins)}
login_url = "${origins[i]}/login/"
onboarding = true

[apps.identity]
jwks_file = "${path.join(ROOT, "keys", "demo.jwks.json")}"
mint_kid = "demo-es256"

[demo]
app = "demo"
token_ttl_secs = 600

[[demo.users]]
email = "ada@example.com"
password = "lovelace"
name = "Ada Lovelace"
`,
    );
    servers.push({ ...(await startServer({ binary: SERVER_BIN, config, log: "ignore" })), config });
  }
  return servers;
}

async function json(response) {
  const text = await response.text();
  try {
    return JSON.parse(text);
  } catch {
    return { text };
  }
}

async function openSession(base) {
  const response = await fetch(`${base}/api/v1/apps/demo/sessions`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: "{}",
  });
  assert.equal(response.status, 201);
  return (await json(response)).session_token;
}

/** Sends one message; the status, or null when the server could not be reached. */
async function send(base, token, clientId, body) {
  try {
    const response = await fetch(`${base}/api/v1/messages`, {
      method: "POST",
      headers: { "content-type": "application/json", authorization: `Bearer ${token}` },
      body: JSON.stringify({ client_id: clientId, body }),
      signal: AbortSignal.timeout(5_000),
    });
    return response.status;
  } catch {
    return null;
  }
}

async function history(base, token) {
  const messages = [];
  for (;;) {
    const after = messages.at(-1)?.seq ?? 0;
    const response = await fetch(`${base}/api/v1/messages?after=${after}`, { headers: { authorization: `Bearer ${token}` } });
    assert.equal(response.status, 200);
    const page = await json(response);
    messages.push(...page.messages);
    if (!page.has_more) return messages;
  }
}

async function waitFor(what, check, timeoutMs = 15_000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await check()) return;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

describe("several servers on one PostgreSQL", () => {
  test("a customer on server A and an agent on server B talk live in the browser", async () => {
    const [a, b] = await startServers(await freshDatabase("live_across"), 2);
    try {
      addAgent({ config: b.config }, { email: "alice@support.example", name: "Alice Agent", password: "alice-password-1" });
      const alice = await newPage(browser);
      await agentLogIn(alice, b.url, "alice@support.example", "alice-password-1");

      const ada = await newPage(browser);
      await portalLogIn(ada, a.url, "ada@example.com", "lovelace");
      await ada.waitForFunction(() => window.TrustChat.getUser()?.trusted === true);
      await openChat(ada);
      await ada.locator("[data-tc=composer]").fill("Hello from server A");
      await ada.locator("[data-tc=composer]").press("Enter");

      const item = alice.locator("[data-agent=conversation]").filter({ hasText: "Hello from server A" });
      await item.waitFor();
      await item.click();
      const message = alice.locator("[data-agent=timeline] [data-agent=message]").filter({ hasText: "Hello from server A" });
      await message.waitFor();
      assert.equal(await message.getAttribute("data-trusted"), "true");

      await alice.locator("[data-agent=reply]").fill("Hi Ada, this is server B");
      await alice.locator("[data-agent=reply]").press("Enter");
      await ada.locator("[data-tc=message][data-author=agent]").filter({ hasText: "Hi Ada, this is server B" }).waitFor();
      assert.deepEqual(ada.problems, []);
    } finally {
      await a.stop();
      await b.stop();
    }
  });

  test("kill -9 of a server during a burst: retried on another, every acknowledged message once, seqs without gaps", async () => {
    const [a, b] = await startServers(await freshDatabase("kill_nine"), 2);
    try {
      const token = await openSession(a.url);
      const sends = Array.from({ length: 200 }, (_, n) => ({ clientId: randomUUID(), body: `burst ${n}`, acked: false }));
      // The burst goes to A, ten at a time; A is killed while the
      // eleventh batch is in flight.
      for (let i = 0; i < sends.length; i += 10) {
        const batch = sends.slice(i, i + 10);
        const pending = Promise.all(batch.map((s) => send(a.url, token, s.clientId, s.body)));
        if (i === 100) a.process.kill("SIGKILL");
        const statuses = await pending;
        statuses.forEach((status, j) => (batch[j].acked = status === 201 || status === 200));
      }
      await new Promise((resolve) => (a.process.exitCode !== null || a.process.signalCode !== null ? resolve() : a.process.once("exit", resolve)));
      const ackedOnA = sends.filter((s) => s.acked).length;
      assert.ok(ackedOnA > 0 && ackedOnA < sends.length, `A acknowledged ${ackedOnA} of ${sends.length} before it died`);

      // The client sends everything again to B, with the same ids, in
      // order: what A had stored comes back as it was, the rest is new.
      for (const s of sends) {
        const status = await send(b.url, token, s.clientId, s.body);
        assert.ok(status === 200 || status === 201, `resend of ${s.body}: ${status}`);
        if (s.acked) assert.equal(status, 200, `${s.body} was acknowledged by A, so B has it`);
      }
      const stored = await history(b.url, token);
      assert.deepEqual(
        stored.map((m) => m.seq),
        stored.map((_, i) => i + 1),
        "seqs 1..n without gaps or repeats",
      );
      const bodies = stored.map((m) => m.body);
      assert.equal(new Set(bodies).size, bodies.length, "no message twice");
      assert.deepEqual([...bodies].sort(), sends.map((s) => s.body).sort(), "every message once");
    } finally {
      await a.stop();
      await b.stop();
    }
  });

  test("a database restart under load: /readyz says 503 and then 200, and nothing acknowledged is lost", async () => {
    const [a] = await startServers(await freshDatabase("restart_under_load"), 1);
    let sending = true;
    try {
      const token = await openSession(a.url);
      const acked = [];
      let n = 0;
      const sender = (async () => {
        while (sending) {
          const body = `load ${n++}`;
          const status = await send(a.url, token, randomUUID(), body);
          if (status === 201) acked.push(body);
          else await new Promise((resolve) => setTimeout(resolve, 20));
        }
      })();
      await waitFor("the first acknowledgements", () => acked.length >= 20);
      const readiness = [];
      const watcher = (async () => {
        while (sending) {
          const response = await fetch(`${a.url}/readyz`).catch(() => null);
          readiness.push(response?.status ?? 0);
          await new Promise((resolve) => setTimeout(resolve, 25));
        }
      })();
      const restart = pg.restart();
      await waitFor("readiness to drop", () => readiness.includes(503));
      await restart;
      await waitFor("readiness to come back", async () => (await fetch(`${a.url}/readyz`)).status === 200);
      const before = acked.length;
      await waitFor("acknowledgements after the restart", () => acked.length >= before + 20);
      sending = false;
      await sender;
      await watcher;
      const stored = (await history(a.url, token)).map((m) => m.body);
      for (const body of acked) assert.ok(stored.includes(body), `acknowledged ${body} was lost`);
      assert.deepEqual(
        (await history(a.url, token)).map((m) => m.seq),
        stored.map((_, i) => i + 1),
      );
    } finally {
      // Whatever failed, the loops stop, so the file ends.
      sending = false;
      await a.stop();
    }
  });
});
