// `npm start`: install what is missing, build everything, and serve the demo
// portal with the server on http://127.0.0.1:8080 (config: trustchat.toml,
// database: data/trustchat.db).

import { spawn, spawnSync } from "node:child_process";
import path from "node:path";
import { ROOT, step } from "./lib.mjs";
import { setup } from "./setup.mjs";
import { build } from "./build.mjs";

setup();
await build({ releaseServer: true });

const binary = path.join(ROOT, "target", "release", "trustchat-server");

// A demo agent for the console, once: `agent list` prints only its header
// line while there is no agent.
const DEMO_AGENT = { email: "agent@example.com", name: "Demo Agent", password: "demo-agent-password" };
const listed = spawnSync(binary, ["agent", "list", "--config", "trustchat.toml"], { cwd: ROOT, encoding: "utf8" });
if (listed.status !== 0) throw new Error(`agent list failed: ${listed.stderr}`);
if (listed.stdout.trim().split("\n").length <= 1) {
  step("creating the demo agent");
  const added = spawnSync(
    binary,
    ["agent", "add", "--config", "trustchat.toml", "--email", DEMO_AGENT.email, "--name", DEMO_AGENT.name],
    { cwd: ROOT, input: `${DEMO_AGENT.password}\n`, encoding: "utf8" },
  );
  if (added.status !== 0) throw new Error(`agent add failed: ${added.stderr}`);
}

step("starting trustchat-server");
const server = spawn(binary, ["serve", "--config", "trustchat.toml"], { cwd: ROOT, stdio: ["ignore", "pipe", "inherit"] });
server.stdout.setEncoding("utf8");
server.stdout.on("data", (chunk) => {
  process.stdout.write(chunk);
  const match = chunk.match(/listening on (http:\/\/\S+)/);
  if (match) {
    const base = match[1].replace("127.0.0.1", "127.0.0.1");
    console.log(`
  TrustChat is running.

    Demo portal:      ${base}/
    Log in as:        ${base}/login/   (ada@example.com / lovelace)
    Agent console:    ${base}/agent/   (${DEMO_AGENT.email} / ${DEMO_AGENT.password})
    Widget script:    ${base}/widget/trustchat.js
    Health:           ${base}/healthz

  Press Ctrl+C to stop.
`);
  }
});
for (const signal of ["SIGINT", "SIGTERM"]) process.on(signal, () => server.kill(signal));
server.on("exit", (code) => process.exit(code ?? 0));
