// `npm test`: install what is missing (including Debian's Chromium when run
// as root), build everything, then run every test suite:
//
//   1. native Rust tests (`cargo test --workspace`): protocol, widget core,
//      server, the store conformance suite on SQLite and on a private
//      PostgreSQL cluster started here (TRUSTCHAT_TEST_DATABASE_URL), the
//      email tests against aiosmtpd (TRUSTCHAT_TEST_PYTHON);
//   2. against a real trustchat-server started here: its API document
//      (GET /api/v1/openapi.json) validated as OpenAPI 3.1 by PyPI's
//      openapi-spec-validator (scripts/validate_openapi.py), then the
//      widget's #[wasm_bindgen_test] tests in headless Chromium;
//   3. end-to-end tests (tests/e2e, node's test runner driving Chromium with
//      playwright-core), each starting its own server.
//
// Before the suites, the gates: `cargo fmt --check` and `cargo clippy -D
// warnings` (native and wasm32), and no utoipa in the widget's dependencies.
//
// Every suite runs even when an earlier one fails; the exit code is non-zero
// if any failed, and the last line sums up the test counts. The PostgreSQL
// cluster is stopped at the end, whatever happened (a failing suite does
// not throw; should this script itself fail, postgres.mjs kills the
// cluster as the process exits).

import { spawn } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import path from "node:path";
import { ROOT, freePort, output, startServer, step } from "./lib.mjs";
import { setup } from "./setup.mjs";
import { build } from "./build.mjs";
import { checkSizeBudget } from "./size-budget.mjs";
import { startPostgres } from "./postgres.mjs";

const totals = { passed: 0, failed: 0 };
const failures = [];

/** Runs a command, streaming its output, and adds up the test counts it prints. */
function suite(name, cmd, args, env = {}) {
  step(name);
  console.log(`$ ${[cmd, ...args].join(" ")}`);
  return new Promise((resolve) => {
    const child = spawn(cmd, args, { cwd: ROOT, env: { ...process.env, ...env }, stdio: ["ignore", "pipe", "pipe"] });
    let text = "";
    const tee = (stream, sink) =>
      stream.on("data", (chunk) => {
        text += chunk;
        sink.write(chunk);
      });
    tee(child.stdout, process.stdout);
    tee(child.stderr, process.stderr);
    child.on("close", (code) => {
      for (const m of text.matchAll(/test result: \w+\. (\d+) passed; (\d+) failed/g)) {
        totals.passed += Number(m[1]);
        totals.failed += Number(m[2]);
      }
      for (const m of text.matchAll(/^# pass (\d+)$/gm)) totals.passed += Number(m[1]);
      for (const m of text.matchAll(/^# fail (\d+)$/gm)) totals.failed += Number(m[1]);
      if (code !== 0) failures.push(`${name} (exit ${code})`);
      resolve(code === 0);
    });
  });
}

setup({ browser: true, postgres: true, smtp: true, openapi: true });
await build({ releaseServer: false });

// The widget's weight budgets (scripts/size-budget.mjs): the loader and
// launcher at most 4 KB gzipped, the whole widget at most 60 KB, as the
// server sends them.
step("widget size budget");
if (!checkSizeBudget()) failures.push("widget size budget");

// Our own gates: formatting, and clippy with the workspace's lints
// (Cargo.toml's [workspace.lints]) as errors, natively and for the
// widget's wasm-only code (src/web, src/ui). Each counts as one item.
async function gate(name, cmd, args) {
  const ok = await suite(name, cmd, args);
  if (ok) totals.passed += 1;
  else totals.failed += 1;
}
await gate("rustfmt", "cargo", ["fmt", "--all", "--", "--check"]);
await gate("clippy", "cargo", ["clippy", "--workspace", "--all-targets", "--", "-D", "warnings"]);
await gate("clippy (widget, wasm32)", "cargo", [
  "clippy",
  "-p",
  "trustchat",
  "--target",
  "wasm32-unknown-unknown",
  "--all-targets",
  "--",
  "-D",
  "warnings",
]);

// The server's API document needs utoipa on the protocol's types, behind
// trustchat-protocol's `openapi` feature: the widget must never build it.
step("no utoipa in the widget's dependencies");
{
  const tree = output("cargo", ["tree", "-p", "trustchat", "-e", "features", "--target", "wasm32-unknown-unknown"]);
  const found = tree === null ? "cargo tree failed" : tree.includes("utoipa") ? "utoipa is in the widget's tree" : null;
  if (found) {
    console.log(found);
    failures.push("widget dependencies");
    totals.failed += 1;
  } else {
    console.log("none");
    totals.passed += 1;
  }
}

const serverBinary = path.join(ROOT, "target", "debug", "trustchat-server");
const tmp = path.join(ROOT, ".tmp", "test");
rmSync(tmp, { recursive: true, force: true });
mkdirSync(tmp, { recursive: true });

// A private PostgreSQL for the tests that run on both stores; each test
// creates (and drops) a database of its own there.
step("starting a private PostgreSQL cluster");
const postgres = await startPostgres();
console.log(`PostgreSQL at ${postgres.url}`);

await suite("native Rust tests", "cargo", ["test", "--workspace"], {
  TRUSTCHAT_TEST_DATABASE_URL: postgres.url,
});

{
  // The wasm tests run in a page served by wasm-bindgen-test-runner on a port
  // we choose, so the server's config can allow exactly that origin.
  const serverPort = await freePort();
  const runnerPort = await freePort();
  const config = path.join(tmp, "wasm.toml");
  // The tests get identity tokens from the server's mint endpoint with this
  // API key; the config holds its hash and a fresh HMAC key.
  const apiKey = `tck_${randomBytes(24).toString("base64url")}`;
  const apiKeyHash = createHash("sha256").update(apiKey).digest("hex");
  const hmac = randomBytes(32).toString("base64url");
  writeFileSync(
    config,
    `[server]
listen = "127.0.0.1:${serverPort}"
database_url = "sqlite://${path.join(tmp, "wasm.db")}"
static_dir = "${path.join(ROOT, "dist")}"

# Every wasm test talks from 127.0.0.1: one address with a whole office's
# sessions and sockets.
[limits]
sessions_per_minute_per_address = 6000
session_burst_per_address = 1000
ws_connects_per_minute_per_address = 6000
ws_connect_burst_per_address = 1000

[[apps]]
id = "demo"
name = "Demo Portal"
allowed_origins = ["http://127.0.0.1:${runnerPort}"]
login_url = "http://127.0.0.1:${runnerPort}/login"
onboarding = true

# The widget's tests check greetings word for word.
[apps.messages]
greeting_identified = "Hi {first_name}!"

[apps.identity]
keys = [ { kty = "oct", kid = "wasm-tests", alg = "HS256", k = "${hmac}" } ]
mint_kid = "wasm-tests"
leeway_secs = 0

[[apps.api_keys]]
name = "wasm tests"
hash = "sha256:${apiKeyHash}"

[[apps]]
id = "quiet"
name = "Quiet App"
allowed_origins = ["http://127.0.0.1:${runnerPort}"]
onboarding = false
`,
  );
  step("starting a server for the wasm tests");
  const server = await startServer({ binary: serverBinary, config });
  try {
    // The API document as a real server serves it, through a real validator.
    await suite("OpenAPI document (openapi-spec-validator)", process.env.TRUSTCHAT_OPENAPI_PYTHON ?? "python3", [
      "scripts/validate_openapi.py",
      `${server.url}/api/v1/openapi.json`,
    ]);
    await suite("wasm tests in headless Chromium", "cargo", ["test", "--target", "wasm32-unknown-unknown", "-p", "trustchat"], {
      CHROMEDRIVER: "/usr/bin/chromedriver",
      WASM_BINDGEN_TEST_ADDRESS: `127.0.0.1:${runnerPort}`,
      WASM_BINDGEN_TEST_TIMEOUT: "60",
      TRUSTCHAT_TEST_SERVER: server.url,
      TRUSTCHAT_TEST_API_KEY: apiKey,
    });
  } finally {
    await server.stop();
  }
}

const e2eLogs = path.join(tmp, "e2e-logs");
await suite("end-to-end tests in headless Chromium", process.execPath, ["--test", "--test-concurrency=1", "tests/e2e/"], {
  TRUSTCHAT_SERVER_BIN: serverBinary,
  E2E_LOG_DIR: e2eLogs,
});

// Every e2e server logged at debug level into e2eLogs: no session token,
// API key, identity token or agent password may be there (message text is
// checked word for word by server/tests/logs.rs).
step("secrets in the end-to-end servers' logs");
{
  const SECRETS = [
    ["a session token", /tcs_[A-Za-z0-9_-]{16,}/],
    ["an API key", /tck_[A-Za-z0-9_-]{16,}/],
    ["an identity token", /eyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}/],
    ["an agent's password", /[a-z]+-password-\d+/],
  ];
  const files = existsSync(e2eLogs) ? readdirSync(e2eLogs) : [];
  let lines = 0;
  const found = [];
  for (const file of files) {
    const text = readFileSync(path.join(e2eLogs, file), "utf8");
    lines += text.split("\n").length;
    for (const [what, pattern] of SECRETS) if (pattern.test(text)) found.push(`${what} in ${file}`);
  }
  console.log(`${files.length} server logs, ${lines} lines`);
  if (files.length === 0) found.push("no log was written");
  if (found.length) {
    console.log(`secrets logged: ${found.join("; ")}`);
    failures.push("secrets in the logs");
    totals.failed += 1;
  } else {
    totals.passed += 1;
  }
}

step("stopping the PostgreSQL cluster");
await postgres.stop();

step("summary");
if (failures.length) console.log(`failed suites: ${failures.join(", ")}`);
console.log(`${totals.passed} passed, ${totals.failed} failed`);
process.exit(failures.length ? 1 : 0);
