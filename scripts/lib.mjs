// Small helpers shared by the npm scripts: run a command, find the repo,
// check what is installed. Node built-ins only, so they work before
// `npm ci` has run.

import { spawn, spawnSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { createServer } from "node:net";
import path from "node:path";
import { fileURLToPath } from "node:url";

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");

/**
 * The toolchain the widget's release build uses: a pinned nightly, because
 * rebuilding std with `panic=immediate-abort` (`-Zbuild-std`) drops the
 * panic and formatting machinery, about 10 KB of the 60 KB budget. Tests and
 * the server use stable. Move the pin on purpose, and re-measure the size.
 */
export const WIDGET_TOOLCHAIN = "nightly-2026-05-20";

/** Prints a step heading so a long log stays readable. */
export function step(title) {
  console.log(`\n==> ${title}`);
}

/** Runs a command, inheriting stdio; throws when it fails. */
export function run(cmd, args, options = {}) {
  console.log(`$ ${[cmd, ...args].join(" ")}`);
  const result = spawnSync(cmd, args, { stdio: "inherit", cwd: ROOT, ...options });
  if (result.error) throw new Error(`${cmd}: ${result.error.message}`);
  if (result.status !== 0) {
    throw new Error(`${cmd} ${args.join(" ")} exited with ${result.status ?? result.signal}`);
  }
}

/** Runs a command and returns its stdout, or null when it cannot run. */
export function output(cmd, args, options = {}) {
  const result = spawnSync(cmd, args, { encoding: "utf8", cwd: ROOT, ...options });
  if (result.error || result.status !== 0) return null;
  return result.stdout.trim();
}

/** The version of a crate that Cargo.lock resolved, e.g. "0.2.130". */
export function lockedCrateVersion(name) {
  const lock = readFileSync(path.join(ROOT, "Cargo.lock"), "utf8");
  const match = lock.match(new RegExp(`\\[\\[package\\]\\]\\nname = "${name}"\\nversion = "([^"]+)"`));
  if (!match) throw new Error(`${name} is not in Cargo.lock`);
  return match[1];
}

/** True when the current user is root (may apt-get install). */
export function isRoot() {
  return typeof process.getuid === "function" && process.getuid() === 0;
}

/** A TCP port on 127.0.0.1 that was free a moment ago. */
export function freePort() {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.on("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

/**
 * Starts `trustchat-server serve` and resolves once it prints its ready line.
 * Returns { url, process, stop() }. The server's logs go to `logFile` if given.
 */
export function startServer({ binary, config, env = {}, cwd = ROOT, log = "inherit" }) {
  return new Promise((resolve, reject) => {
    const child = spawn(binary, ["serve", "--config", config], {
      cwd,
      env: { ...process.env, ...env },
      stdio: ["ignore", "pipe", log],
    });
    let buffered = "";
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      reject(new Error(`trustchat-server did not print its ready line within 60 s; stdout so far: ${buffered}`));
    }, 60_000);
    child.on("exit", (code, signal) => {
      clearTimeout(timer);
      reject(new Error(`trustchat-server exited early (${code ?? signal}); stdout: ${buffered}`));
    });
    child.stdout.setEncoding("utf8");
    child.stdout.on("data", (chunk) => {
      buffered += chunk;
      const match = buffered.match(/trustchat-server listening on (http:\/\/\S+)/);
      if (match) {
        clearTimeout(timer);
        child.removeAllListeners("exit");
        resolve({
          url: match[1],
          process: child,
          stop: () =>
            new Promise((done) => {
              if (child.exitCode !== null || child.signalCode !== null) return done();
              child.once("exit", () => done());
              child.kill("SIGTERM");
            }),
        });
      }
    });
  });
}

export function exists(p) {
  return existsSync(path.isAbsolute(p) ? p : path.join(ROOT, p));
}
