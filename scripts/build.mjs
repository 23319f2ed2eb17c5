// Builds everything `npm start` and `npm test` serve: the widget (Rust →
// wasm → wasm-bindgen → wasm-opt → webpack), the static demo portal and
// agent console, and the server binary.
//
//   node scripts/build.mjs [--release-server] [--skip-server]

import { cpSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import path from "node:path";
import { ROOT, run, step } from "./lib.mjs";
import { measure, report } from "./size-budget.mjs";

const WASM_FEATURES = [
  "--enable-bulk-memory",
  "--enable-nontrapping-float-to-int",
  "--enable-sign-ext",
  "--enable-mutable-globals",
  "--enable-reference-types",
  "--enable-multivalue",
];

export async function build({ releaseServer = false, skipServer = false } = {}) {
  buildWasm();
  await bundle();
  copyStatic();
  if (!skipServer) buildServer(releaseServer);
  reportSizes();
}

function buildWasm() {
  step("building the widget (wasm)");
  run("cargo", ["build", "--target", "wasm32-unknown-unknown", "--profile", "wasm-release", "-p", "trustchat"]);
  const targetDir = process.env.CARGO_TARGET_DIR ? path.resolve(ROOT, process.env.CARGO_TARGET_DIR) : path.join(ROOT, "target");
  const wasm = path.join(targetDir, "wasm32-unknown-unknown", "wasm-release", "trustchat.wasm");
  rmSync(path.join(ROOT, "pkg"), { recursive: true, force: true });
  run("wasm-bindgen", ["--target", "web", "--out-dir", "pkg", "--out-name", "trustchat", "--no-typescript", wasm]);
  const bindgenOut = path.join(ROOT, "pkg", "trustchat_bg.wasm");
  // --gufa and --converge: about 1 KB gzipped less than -Oz alone.
  run(path.join(ROOT, "node_modules", ".bin", "wasm-opt"), ["-Oz", "--gufa", "--converge", ...WASM_FEATURES, bindgenOut, "-o", bindgenOut]);
}

async function bundle() {
  step("bundling the widget (webpack)");
  const { default: webpack } = await import("webpack");
  const { default: configs } = await import(path.join(ROOT, "webpack.config.js"));
  rmSync(path.join(ROOT, "dist", "widget"), { recursive: true, force: true });
  await new Promise((resolve, reject) => {
    webpack(configs, (err, stats) => {
      if (err) return reject(err);
      if (stats.hasErrors()) return reject(new Error(stats.toString({ all: false, errors: true })));
      resolve();
    });
  });
  cpSync(path.join(ROOT, "www", "widget", "index.d.ts"), path.join(ROOT, "dist", "widget", "trustchat.d.ts"));
  cpSync(path.join(ROOT, "www", "widget", "loader.js"), path.join(ROOT, "dist", "widget", "loader.js"));
}

function copyStatic() {
  step("copying the demo portal and agent console");
  const dist = path.join(ROOT, "dist");
  mkdirSync(dist, { recursive: true });
  for (const entry of readdirSync(path.join(ROOT, "www"))) {
    if (entry === "widget") continue;
    cpSync(path.join(ROOT, "www", entry), path.join(dist, entry), { recursive: true });
  }
}

function buildServer(release) {
  step(`building the server (${release ? "release" : "debug"})`);
  run("cargo", ["build", "-p", "trustchat-server", ...(release ? ["--release"] : [])]);
}

function reportSizes() {
  step("widget size");
  // Printed here; `npm test` fails on it (scripts/size-budget.mjs).
  console.log(report(measure()));
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const { setup } = await import("./setup.mjs");
  setup();
  await build({ releaseServer: process.argv.includes("--release-server"), skipServer: process.argv.includes("--skip-server") });
}
