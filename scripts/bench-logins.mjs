// The server's memory under a storm of bad agent logins: `logins`
// concurrent logins with wrong passwords, each for its own email and
// (behind the trusted proxy 127.0.0.1) from its own address, so that no
// rate limit turns any away and every one asks for an argon2 check
// (19 MiB each). Prints the server's RSS before, its peak RSS (VmHWM)
// after, the answers by status and how long the storm took.
//
//   node scripts/bench-logins.mjs [--binary PATH] [--legacy] [--logins N]
//
// --legacy writes a config that a server from before the abuse limits
// understands (no trusted_proxies; its per-IP login limit lifted so every
// login reaches argon2 as above), to measure the "before" figure with an
// older binary. `npm run bench` runs it on the release build (`logins`).

import { mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import path from "node:path";
import { ROOT, freePort, startServer, step } from "./lib.mjs";

const MIB = 1024 * 1024;

/** One field of /proc/PID/status in bytes (VmRSS, VmHWM). */
function procStatus(pid, field) {
  const line = readFileSync(`/proc/${pid}/status`, "utf8")
    .split("\n")
    .find((l) => l.startsWith(`${field}:`));
  return Number(line.split(/\s+/)[1]) * 1024;
}

export async function loginBench({ binary, logins = 200, legacy = false }) {
  step(`${logins} concurrent bad agent logins against ${path.relative(ROOT, binary) || binary}${legacy ? " (legacy config)" : ""}`);
  const tmp = path.join(ROOT, ".tmp", "bench-logins");
  rmSync(tmp, { recursive: true, force: true });
  mkdirSync(tmp, { recursive: true });
  const port = await freePort();
  const config = path.join(tmp, "logins.toml");
  const server = legacy
    ? `[server]\nlisten = "127.0.0.1:${port}"\ndatabase_url = "sqlite://${path.join(tmp, "l.db")}"\n\n[agent]\nlogin_attempts_per_ip_per_minute = 100000\n`
    : `[server]\nlisten = "127.0.0.1:${port}"\ndatabase_url = "sqlite://${path.join(tmp, "l.db")}"\ntrusted_proxies = ["127.0.0.1"]\n`;
  writeFileSync(config, `${server}\n[[apps]]\nid = "demo"\nallowed_origins = ["http://127.0.0.1:${port}"]\n`);
  const running = await startServer({ binary, config, log: "ignore", env: { TRUSTCHAT_LOG: "error" } });
  const pid = running.process.pid;
  try {
    // One login first, so the dummy hash and the allocator's first
    // arenas are in the baseline rather than counted as the storm's.
    await fetch(`${running.url}/api/v1/agent/login`, {
      method: "POST",
      headers: { "content-type": "application/json", "x-forwarded-for": "198.18.255.254" },
      body: JSON.stringify({ email: "warm-up@example.com", password: "not-the-password" }),
    });
    const before = procStatus(pid, "VmRSS");
    const started = performance.now();
    const statuses = await Promise.all(
      Array.from({ length: logins }, (_, i) =>
        fetch(`${running.url}/api/v1/agent/login`, {
          method: "POST",
          headers: {
            "content-type": "application/json",
            "x-forwarded-for": `198.18.${i >> 8}.${i & 255}`,
          },
          body: JSON.stringify({ email: `nobody-${i}@example.com`, password: "not-the-password" }),
        }).then(
          (reply) => reply.status,
          () => "error",
        ),
      ),
    );
    const ms = Math.round(performance.now() - started);
    const peak = procStatus(pid, "VmHWM");
    const after = procStatus(pid, "VmRSS");
    const byStatus = {};
    for (const status of statuses) byStatus[status] = (byStatus[status] ?? 0) + 1;
    const record = {
      bench: "login_storm",
      logins,
      legacy,
      rss_before_mib: Number((before / MIB).toFixed(1)),
      rss_peak_mib: Number((peak / MIB).toFixed(1)),
      rss_after_mib: Number((after / MIB).toFixed(1)),
      ms,
      statuses: byStatus,
    };
    console.log(
      `login storm: ${logins} logins in ${ms} ms; RSS ${record.rss_before_mib} MiB before, peak ${record.rss_peak_mib} MiB, ${record.rss_after_mib} MiB after; answers ${JSON.stringify(byStatus)}`,
    );
    console.log(JSON.stringify(record));
    return record;
  } finally {
    await running.stop();
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const args = process.argv.slice(2);
  const value = (flag) => {
    const at = args.indexOf(flag);
    return at >= 0 ? args[at + 1] : undefined;
  };
  await loginBench({
    binary: path.resolve(value("--binary") ?? path.join(ROOT, "target", "release", "trustchat-server")),
    logins: Number(value("--logins") ?? 200),
    legacy: args.includes("--legacy"),
  });
}
