// A private PostgreSQL for the tests: Debian's package, installed when it
// is missing (as root), and a throwaway cluster in a fresh temp directory,
// owned by the `postgres` user (PostgreSQL refuses to run as root), on a
// free loopback port, its Unix socket inside that directory. No system
// cluster, no daemon left behind: the server is our child process and is
// stopped by its PID (SIGINT, PostgreSQL's fast shutdown).
//
//   import { ensurePostgres, startPostgres } from "./postgres.mjs";
//   ensurePostgres();
//   const pg = await startPostgres();   // { url, port, stop(), restart() }
//   ... TRUSTCHAT_TEST_DATABASE_URL = pg.url ...
//   await pg.stop();
//
// Run on its own (`node scripts/postgres.mjs`) it starts a cluster, prints
// its URL and keeps it up until Ctrl-C.

import { spawn, spawnSync } from "node:child_process";
import { chownSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync, openSync, closeSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { freePort, isRoot, run, step } from "./lib.mjs";

const PG_ROOT = "/usr/lib/postgresql";
const CREATECLUSTER_CONF = "/etc/postgresql-common/createcluster.conf";
/** How long a start may take before we give up (it takes about a second). */
const START_TIMEOUT_MS = 30_000;
/** How long a fast shutdown may take before the server is killed. */
const STOP_TIMEOUT_MS = 15_000;

/**
 * The directory holding `initdb`, `postgres` and `pg_isready` of the newest
 * PostgreSQL installed from Debian's packages, or null.
 */
export function postgresBinDir() {
  if (!existsSync(PG_ROOT)) return null;
  const versions = readdirSync(PG_ROOT)
    .filter((v) => existsSync(path.join(PG_ROOT, v, "bin", "postgres")) && existsSync(path.join(PG_ROOT, v, "bin", "initdb")))
    .sort((a, b) => Number(b) - Number(a));
  return versions.length ? path.join(PG_ROOT, versions[0], "bin") : null;
}

/**
 * Installs Debian's `postgresql` when its binaries are missing (root only),
 * without the system cluster the package would otherwise create and start.
 * Returns the binaries' directory.
 */
export function ensurePostgres() {
  const found = postgresBinDir();
  if (found) return found;
  if (!isRoot()) {
    throw new Error(
      "PostgreSQL is missing: run `sudo apt-get install -y postgresql` (the tests start their own cluster) and try again",
    );
  }
  step("installing Debian's postgresql (no system cluster)");
  // The tests run their own private cluster; a `main` one would only take
  // port 5432 and memory.
  mkdirSync(path.dirname(CREATECLUSTER_CONF), { recursive: true });
  const conf = existsSync(CREATECLUSTER_CONF) ? readFileSync(CREATECLUSTER_CONF, "utf8") : "";
  if (!/^\s*create_main_cluster\s*=\s*false\s*$/m.test(conf)) {
    writeFileSync(CREATECLUSTER_CONF, `${conf.replace(/^\s*create_main_cluster\s*=.*$/gm, "")}\ncreate_main_cluster = false\n`);
  }
  run("apt-get", ["update", "-q"]);
  run("apt-get", ["install", "-y", "-q", "postgresql"], {
    env: { ...process.env, DEBIAN_FRONTEND: "noninteractive" },
  });
  const bin = postgresBinDir();
  if (!bin) throw new Error(`postgresql was installed but no server binaries are under ${PG_ROOT}/*/bin`);
  return bin;
}

/** The uid and gid of the `postgres` user when we are root; null otherwise. */
function postgresUser() {
  if (!isRoot()) return null;
  const id = (flag) => {
    const result = spawnSync("id", [flag, "postgres"], { encoding: "utf8" });
    if (result.status !== 0) throw new Error("there is no `postgres` user: install Debian's postgresql package");
    return Number(result.stdout.trim());
  };
  return { uid: id("-u"), gid: id("-g") };
}

/**
 * Starts a private cluster: `initdb` in a fresh temp directory, then
 * `postgres` as a child process on 127.0.0.1:`port` (a free one by
 * default), waiting until it accepts connections. Resolves to
 * `{ url, port, dir, stop(), restart() }`; `url` connects as the superuser
 * `postgres` (trust authentication) to the `postgres` database, where the
 * tests create databases of their own.
 */
export async function startPostgres({ port, fsync = false } = {}) {
  const bin = postgresBinDir();
  if (!bin) throw new Error("PostgreSQL is not installed: call ensurePostgres() first");
  port ??= await freePort();
  const user = postgresUser();
  const dir = mkdtempSync(path.join(tmpdir(), "trustchat-pg-"));
  const data = path.join(dir, "data");
  const log = path.join(dir, "postgres.log");
  if (user) chownSync(dir, user.uid, user.gid);
  // As root, initdb runs as `postgres` through runuser; as anyone else, as
  // that user, who then owns the cluster.
  const asPostgres = (cmd, args) => (user ? ["runuser", ["-u", "postgres", "--", cmd, ...args]] : [cmd, args]);
  const [initCmd, initArgs] = asPostgres(path.join(bin, "initdb"), [
    "-D", data, "-A", "trust", "-E", "UTF8", "--locale=C", "-U", "postgres", "--no-sync",
  ]);
  const init = spawnSync(initCmd, initArgs, { encoding: "utf8", cwd: dir });
  if (init.status !== 0) {
    rmSync(dir, { recursive: true, force: true });
    throw new Error(`initdb failed (${init.status ?? init.error?.message}):\n${init.stdout}${init.stderr}`);
  }

  let child = null;
  let exited = null;
  const launch = async () => {
    const logFd = openSync(log, "a");
    if (user) chownSync(log, user.uid, user.gid);
    // Spawned with the postgres user's ids rather than through runuser, so
    // the PID we signal is the postmaster itself.
    child = spawn(
      path.join(bin, "postgres"),
      [
        "-D", data,
        "-c", "listen_addresses=127.0.0.1",
        "-c", `port=${port}`,
        "-c", `unix_socket_directories=${dir}`,
        // Tests only: a crash of the machine may lose the cluster. Never
        // in production, nor for benchmarks (`fsync: true`).
        ...(fsync ? [] : ["-c", "fsync=off"]),
        // Room for the suites running in parallel, each test with its own
        // pools.
        "-c", "max_connections=300",
        // Profiling (BENCHMARKS.md): per-statement times, plans of slow
        // statements, autovacuum and checkpoints in the cluster's log.
        ...(process.env.TRUSTCHAT_PG_STATEMENTS ? ["-c", "shared_preload_libraries=pg_stat_statements,auto_explain", "-c", "auto_explain.log_min_duration=30", "-c", "auto_explain.log_nested_statements=on", "-c", "log_autovacuum_min_duration=0", "-c", "log_checkpoints=on"] : []),
      ],
      { cwd: dir, stdio: ["ignore", logFd, logFd], ...(user ?? {}), env: { ...process.env, LC_ALL: "C" } },
    );
    closeSync(logFd);
    exited = new Promise((resolve) => child.once("exit", (code, signal) => resolve(code ?? signal)));
    const deadline = Date.now() + START_TIMEOUT_MS;
    for (;;) {
      if (child.exitCode !== null || child.signalCode !== null) {
        throw new Error(`postgres exited during start-up (${child.exitCode ?? child.signalCode}); its log:\n${readLog()}`);
      }
      const ready = spawnSync(path.join(bin, "pg_isready"), ["-q", "-h", "127.0.0.1", "-p", String(port), "-U", "postgres", "-d", "postgres"]);
      if (ready.status === 0) return;
      if (Date.now() > deadline) {
        child.kill("SIGKILL");
        throw new Error(`postgres did not accept connections within ${START_TIMEOUT_MS / 1000} s; its log:\n${readLog()}`);
      }
      await new Promise((r) => setTimeout(r, 100));
    }
  };
  const readLog = () => (existsSync(log) ? readFileSync(log, "utf8") : "(no log)");
  const halt = async () => {
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const killer = setTimeout(() => child.kill("SIGKILL"), STOP_TIMEOUT_MS);
    child.kill("SIGINT");
    await exited;
    clearTimeout(killer);
  };
  // A test runner that dies (an exception, Ctrl-C handled elsewhere) must
  // not leave a postmaster or its directory behind. Only synchronous work
  // is possible here: kill it outright, then remove what it wrote.
  const onExit = () => {
    if (child && child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
    rmSync(dir, { recursive: true, force: true });
  };
  process.on("exit", onExit);

  try {
    await launch();
  } catch (error) {
    process.off("exit", onExit);
    rmSync(dir, { recursive: true, force: true });
    throw error;
  }
  return {
    url: `postgres://postgres@127.0.0.1:${port}/postgres`,
    port,
    dir,
    /** Fast shutdown (SIGINT), then the directory is removed. */
    stop: async () => {
      await halt();
      process.off("exit", onExit);
      rmSync(dir, { recursive: true, force: true });
    },
    /** Stops and starts the same cluster on the same port (a database restart). */
    restart: async () => {
      await halt();
      await launch();
    },
    /** The server's log so far. */
    log: readLog,
  };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  ensurePostgres();
  const pg = await startPostgres();
  console.log(pg.url);
  const stop = async () => {
    await pg.stop();
    process.exit(0);
  };
  process.on("SIGINT", stop);
  process.on("SIGTERM", stop);
}
