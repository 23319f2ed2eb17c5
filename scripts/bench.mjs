// `npm run bench`: the benchmarks that print figures (never timed tests).
// Every result is also printed as one JSON line starting with {"bench":...}
// so a later run can be compared with this one by a program.
//
//   node scripts/bench.mjs [jwt] [load] [postgres] [page] [logins]      (default: all)
//
// - jwt: identity-token verification per algorithm (criterion, in
//   server/benches/jwt.rs), and node's jose verifying the same tokens in the
//   same run, with the ratio.
// - page: the widget's cost to a host page in headless Chromium with 4×
//   CPU throttling (scripts/bench-page.mjs).
// - load: the load generator (`trustchat-server loadtest`, its own process)
//   against a release server on 127.0.0.1 with a fresh SQLite file.
// - postgres (also with load): the same generator against one release server
//   on PostgreSQL, then two servers on one database (sessions split across
//   them, delivery measured on the other server).
// - logins: a release server's memory under 200 concurrent bad agent logins
//   (scripts/bench-logins.mjs).

import { spawnSync } from "node:child_process";
import { mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import path from "node:path";
import { decodeProtectedHeader, importJWK, jwtVerify } from "jose";
import { ROOT, freePort, run, startServer, step } from "./lib.mjs";
import { setup } from "./setup.mjs";
import { build } from "./build.mjs";
import { pageBench } from "./bench-page.mjs";
import { loginBench } from "./bench-logins.mjs";
import { ensurePostgres, startPostgres } from "./postgres.mjs";

const wanted = process.argv.slice(2);
const want = (name) => wanted.length === 0 || wanted.includes(name);
const tmp = path.join(ROOT, ".tmp", "bench");
rmSync(tmp, { recursive: true, force: true });
mkdirSync(tmp, { recursive: true });

function emit(record) {
  console.log(JSON.stringify({ bench: record.bench, ...record }));
}

async function jwtBench() {
  step("JWT verification: trustchat-server (criterion) and node's jose, same tokens");
  const tokensFile = path.join(tmp, "jwt-tokens.json");
  const result = spawnSync("cargo", ["bench", "-p", "trustchat-server", "--bench", "jwt"], {
    cwd: ROOT,
    env: { ...process.env, JWT_BENCH_TOKENS_OUT: tokensFile },
    encoding: "utf8",
    stdio: ["ignore", "pipe", "inherit"],
    maxBuffer: 64 * 1024 * 1024,
  });
  if (result.status !== 0) throw new Error(`cargo bench failed:\n${result.stdout}`);
  const ours = new Map();
  for (const line of result.stdout.split("\n")) {
    if (!line.startsWith('{"')) continue;
    const record = JSON.parse(line);
    if (record.bench === "jwt_verify") ours.set(record.alg, record.ns_per_op);
    console.log(line);
  }
  const { now, aud, iss, tokens } = JSON.parse(readFileSync(tokensFile, "utf8"));
  const fixture = JSON.parse(readFileSync(path.join(ROOT, "server", "tests", "fixtures", "jwt", "keys.jwks.json"), "utf8"));
  const options = { audience: aud, issuer: iss, currentDate: new Date(now * 1000) };
  for (const [alg, token] of Object.entries(tokens)) {
    // jose gets the same fixture key, public part only (the HMAC secret for
    // HS256), imported once as a site would cache it.
    const { kid } = decodeProtectedHeader(token);
    const { d, p, q, dp, dq, qi, ...jwk } = fixture.keys.find((k) => k.kid === kid);
    const key = await importJWK(jwk, alg);
    await jwtVerify(token, key, options); // the token is valid for jose too
    const budgetMs = 1500;
    let iterations = 0;
    const start = process.hrtime.bigint();
    while (Number(process.hrtime.bigint() - start) / 1e6 < budgetMs) {
      for (let i = 0; i < 32; i += 1) await jwtVerify(token, key, options);
      iterations += 32;
    }
    const ns = Number(process.hrtime.bigint() - start) / iterations;
    emit({ bench: "jose_verify", alg, ns_per_op: Math.round(ns), node: process.version });
    if (ours.has(alg)) {
      emit({ bench: "jwt_vs_jose", alg, trustchat_ns: ours.get(alg), jose_ns: Math.round(ns), speedup: Number((ns / ours.get(alg)).toFixed(2)) });
    }
  }
}

// The servers' limits under load: the generator is one address opening
// every session and socket, and sends far more than a person would.
const LOAD_LIMITS = `max_connections = 15000

[limits]
messages_per_minute = 100000
message_burst = 1000
sessions_per_minute_per_address = 1000000
session_burst_per_address = 100000
ws_connects_per_minute_per_address = 1000000
ws_connect_burst_per_address = 100000
unauthenticated_sockets_per_address = 100000
`;

async function loadBench() {
  step("load generator against a release server");
  run("cargo", ["build", "--release", "-p", "trustchat-server"]);
  const binary = path.join(ROOT, "target", "release", "trustchat-server");
  const port = await freePort();
  // Each run gets a fresh database (one file per run), so that a run does
  // not pay for the rows and the WAL the runs before it left.
  const configFor = (run) => {
    const config = path.join(tmp, `load-${run}.toml`);
    writeFileSync(
      config,
      `[server]
listen = "127.0.0.1:${port}"
database_url = "sqlite://${path.join(tmp, `load-${run}.db`)}"
${LOAD_LIMITS}
[[apps]]
id = "demo"
allowed_origins = ["http://127.0.0.1:${port}"]
`,
    );
    return config;
  };
  // Beyond 1,000 sessions only some get an observer socket, so that the
  // generator stays under the 20,000 open files one process may have here.
  const runs = [
    { connections: 1000, rate: 500, duration: 20, observeEvery: 1 },
    { connections: 1000, rate: 2000, duration: 15, observeEvery: 1 },
    { connections: 5000, rate: 2000, duration: 15, observeEvery: 5 },
    { connections: 10000, rate: 2000, duration: 15, observeEvery: 10 },
  ];
  for (const [run, { connections, rate, duration, observeEvery }] of runs.entries()) {
    const server = await startServer({ binary, config: configFor(run), log: "ignore" });
    try {
      const result = spawnSync(
        binary,
        ["loadtest", "--url", server.url, "--app", "demo", "--connections", String(connections), "--rate", String(rate),
          "--duration", String(duration), "--observe-every", String(observeEvery), "--server-pid", String(server.process.pid)],
        { cwd: ROOT, encoding: "utf8", stdio: ["ignore", "pipe", "inherit"] },
      );
      process.stdout.write(result.stdout);
      if (result.status !== 0) throw new Error(`loadtest exited with ${result.status}`);
    } finally {
      await server.stop();
      for (const suffix of ["", "-wal", "-shm"]) rmSync(path.join(tmp, `load-${run}.db${suffix}`), { force: true });
    }
  }
}

// The same load on PostgreSQL (fsync on, as in production): one server,
// then two servers on one database with the sessions split across them and
// each observer on the other server, so delivery crosses servers.
async function postgresLoadBench() {
  step("load generator against release servers on PostgreSQL");
  run("cargo", ["build", "--release", "-p", "trustchat-server"]);
  ensurePostgres();
  const binary = path.join(ROOT, "target", "release", "trustchat-server");
  const load = { connections: 10000, rate: 2000, duration: 15, observeEvery: 10 };
  for (const servers of [1, 2]) {
    const pg = await startPostgres({ fsync: true });
    const started = [];
    try {
      for (let i = 0; i < servers; i += 1) {
        const port = await freePort();
        const config = path.join(tmp, `pg-${servers}-${i}.toml`);
        writeFileSync(
          config,
          `[server]
listen = "127.0.0.1:${port}"
database_url = "${pg.url}"
database_max_connections = 20
${LOAD_LIMITS}
[[apps]]
id = "demo"
allowed_origins = ["http://127.0.0.1:${port}"]
`,
        );
        started.push(await startServer({ binary, config, log: "ignore" }));
      }
      const urls = started.flatMap((server) => ["--url", server.url]);
      const result = spawnSync(
        binary,
        ["loadtest", ...urls, "--app", "demo", "--connections", String(load.connections), "--rate", String(load.rate),
          "--duration", String(load.duration), "--observe-every", String(load.observeEvery),
          "--server-pid", String(started[0].process.pid)],
        { cwd: ROOT, encoding: "utf8", stdio: ["ignore", "pipe", "inherit"] },
      );
      for (const line of result.stdout.split("\n")) {
        if (line.startsWith('{"')) {
          const record = JSON.parse(line);
          emit({ ...record, bench: "loadtest_postgres", servers });
        } else if (line) {
          console.log(line);
        }
      }
      if (result.status !== 0) throw new Error(`loadtest exited with ${result.status}`);
    } finally {
      for (const server of started) await server.stop();
      await pg.stop();
    }
  }
}

setup();
if (want("jwt")) await jwtBench();
if (want("page")) {
  step("the widget's cost to a host page (headless Chromium, 4x CPU throttling)");
  await build({ releaseServer: false });
  await pageBench({ serverBinary: path.join(ROOT, "target", "debug", "trustchat-server") });
}
if (want("load")) await loadBench();
if (want("load") || want("postgres")) await postgresLoadBench();
if (want("logins")) {
  run("cargo", ["build", "--release", "-p", "trustchat-server"]);
  await loginBench({ binary: path.join(ROOT, "target", "release", "trustchat-server") });
}
