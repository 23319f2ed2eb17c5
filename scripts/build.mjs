// Builds everything `npm start` and `npm test` serve: the widget (Rust →
// wasm → wasm-bindgen → wasm-opt → webpack), the static demo portal and
// agent console, and the server binary.
//
//   node scripts/build.mjs [--release-server] [--skip-server]

import { cpSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import path from "node:path";
import { spawnSync } from "node:child_process";
import { ROOT, WIDGET_TOOLCHAIN, run, step } from "./lib.mjs";
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
  // In a process of its own: the zopfli module (emscripten) installs
  // process-wide error handlers that would swallow ours.
  run(process.execPath, [path.join(ROOT, "scripts", "precompress.mjs")]);
  if (!skipServer) buildServer(releaseServer);
  reportSizes();
}

// Rebuilding std for the widget: panics abort at once, with no message, no
// location and no formatting code; `Debug` output is compiled out. The
// widget never relies on a panic message: its errors are values.
const WIDGET_RUSTFLAGS = [
  "-Zunstable-options",
  "-Cpanic=immediate-abort",
  "-Zlocation-detail=none",
  "-Zfmt-debug=none",
];

function buildWasm() {
  step(`building the widget (wasm, ${WIDGET_TOOLCHAIN})`);
  run(
    "cargo",
    [
      `+${WIDGET_TOOLCHAIN}`, "build", "--target", "wasm32-unknown-unknown", "--profile", "wasm-release", "-p", "trustchat",
      "-Zbuild-std=std,panic_abort", "-Zbuild-std-features=optimize_for_size",
    ],
    { env: { ...process.env, RUSTFLAGS: WIDGET_RUSTFLAGS.join(" ") } },
  );
  const targetDir = process.env.CARGO_TARGET_DIR ? path.resolve(ROOT, process.env.CARGO_TARGET_DIR) : path.join(ROOT, "target");
  const wasm = path.join(targetDir, "wasm32-unknown-unknown", "wasm-release", "trustchat.wasm");
  rmSync(path.join(ROOT, "pkg"), { recursive: true, force: true });
  run("wasm-bindgen", ["--target", "web", "--out-dir", "pkg", "--out-name", "trustchat", "--no-typescript", wasm]);
  const bindgenOut = path.join(ROOT, "pkg", "trustchat_bg.wasm");
  // --gufa and --converge: about 1 KB gzipped less than -Oz alone; then
  // the relooper over flattened code, and (Rust never touches the first KB
  // of memory) folding constant addresses into offsets: about 0.9 KB more.
  // `-ocimfs 25`: functions with one caller are inlined only when small
  // (the default inlines them whatever their size, which makes one huge
  // function that compresses worse): about 1.4 KB gzipped less.
  run(WASM_OPT, [
    "--one-caller-inline-max-function-size", "25",
    "-Oz", "--gufa", "--converge", "--flatten", "--rereloop", "-Oz", "--low-memory-unused", "-Oz",
    "--strip-producers", "--strip-target-features",
    ...WASM_FEATURES, bindgenOut, "-o", bindgenOut,
  ]);
  minifyNames(bindgenOut, path.join(ROOT, "pkg", "trustchat.js"));
  trimGlue(path.join(ROOT, "pkg", "trustchat.js"));
}

/**
 * wasm-bindgen's glue starts the wasm from anything (a URL, bytes, a
 * module; `initSync`), with warnings for old call styles and for a server
 * that does not send `application/wasm`. The widget's loader always hands
 * over the wasm's fetch `Response`, from our server, which sends
 * `application/wasm`: that path alone stays (with the non-streaming
 * fallback), about 0.4 KB gzipped less. The build fails if the glue is not
 * the one this expects (the wasm-bindgen CLI is pinned).
 */
function trimGlue(gluePath) {
  const glue = readFileSync(gluePath, "utf8");
  const start = glue.indexOf("async function __wbg_load(module, imports) {");
  const end = "export { initSync, __wbg_init as default };";
  if (start < 0 || !glue.trimEnd().endsWith(end)) throw new Error("trimming the glue: wasm-bindgen's init code is not where expected");
  const lean = `let __wbg_init_promise;
/** Starts the wasm from its fetch Response (trimmed by scripts/build.mjs). */
function __wbg_init({ module_or_path }) {
    if (wasm !== undefined) return wasm;
    __wbg_init_promise ??= (async () => {
        const imports = __wbg_get_imports();
        const response = await module_or_path;
        if (!response.ok) throw new Error(\`failed to fetch Wasm: \${response.status} fetching '\${response.url}'\`);
        let started;
        try {
            started = await WebAssembly.instantiateStreaming(response, imports);
        } catch {
            started = await WebAssembly.instantiate(await response.arrayBuffer(), imports);
        }
        return __wbg_finalize_init(started.instance, started.module);
    })();
    __wbg_init_promise.catch(() => { __wbg_init_promise = undefined; });
    return __wbg_init_promise;
}

export { __wbg_init as default };
`;
  writeFileSync(gluePath, glue.slice(0, start) + lean);
}

const WASM_OPT = path.join(ROOT, "node_modules", ".bin", "wasm-opt");

/**
 * wasm-bindgen names every import after the JavaScript it calls plus a
 * 16-digit hash (`__wbg_createElement_9f5c…`), once in the wasm and once in
 * the glue, and the hashes do not compress: about 4 KB gzipped in all.
 * Binaryen renames imports, exports and the import module to one or two
 * letters and prints the mapping; the same renaming is applied to the glue.
 * Every name must be found where wasm-bindgen puts it, or the build fails.
 */
function minifyNames(wasmPath, gluePath) {
  console.log(`$ wasm-opt --minify-imports-and-exports-and-modules ${path.relative(ROOT, wasmPath)}`);
  const result = spawnSync(
    WASM_OPT,
    ["--minify-imports-and-exports-and-modules", ...WASM_FEATURES, wasmPath, "-o", wasmPath],
    { cwd: ROOT, encoding: "utf8", maxBuffer: 16 << 20 },
  );
  if (result.status !== 0) throw new Error(`wasm-opt --minify-imports-and-exports-and-modules failed: ${result.stderr}`);
  const mapping = JSON.parse(result.stdout);
  const modules = new Set(mapping.imports.map(([module]) => module));
  if (modules.size !== 1) throw new Error(`minifying names: expected one import module, got ${[...modules].join(", ")}`);
  // One pass each, with a lookup, so that a new short name is never renamed
  // again by a later rule.
  const imports = new Map(mapping.imports.map(([, name, short]) => [name, short]));
  const exports = new Map(mapping.exports);
  let glue = readFileSync(gluePath, "utf8");
  const seen = new Set();
  glue = glue.replace(/(\n\s*)(__wbg_\w+|__wbindgen_\w+)(: function\()/g, (all, indent, name, rest) => {
    const short = imports.get(name);
    if (short === undefined) throw new Error(`minifying names: the glue imports ${name}, which the wasm does not`);
    seen.add(name);
    return indent + short + rest;
  });
  const missing = [...imports.keys()].filter((name) => !seen.has(name));
  if (missing.length) throw new Error(`minifying names: not found in the glue: ${missing.join(", ")}`);
  const moduleKey = `${JSON.stringify([...modules][0])}: import0`;
  if (glue.split(moduleKey).length !== 2) throw new Error(`minifying names: ${moduleKey} is not in the glue once`);
  const renamed = new Set(WebAssembly.Module.imports(new WebAssembly.Module(readFileSync(wasmPath))).map((i) => i.module));
  if (renamed.size !== 1) throw new Error(`minifying names: the wasm imports from ${[...renamed].join(", ")}`);
  glue = glue.replace(moduleKey, () => `${JSON.stringify([...renamed][0])}: import0`);
  glue = glue.replace(/\bwasm\.([A-Za-z_$][\w$]*)/g, (all, name) => {
    const short = exports.get(name);
    if (short === undefined) throw new Error(`minifying names: the glue calls wasm.${name}, which the wasm does not export`);
    return `wasm.${short}`;
  });
  writeFileSync(gluePath, glue);
}

async function bundle() {
  step("bundling the widget (webpack)");
  const { default: webpack } = await import("webpack");
  const { default: configs, CATALOG_DIR, CATALOG_HASH } = await import(path.join(ROOT, "webpack.config.js"));
  rmSync(path.join(ROOT, "dist", "widget"), { recursive: true, force: true });
  await new Promise((resolve, reject) => {
    webpack(configs, (err, stats) => {
      if (err) return reject(err);
      if (stats.hasErrors()) return reject(new Error(stats.toString({ all: false, errors: true })));
      resolve();
    });
  });
  cpSync(path.join(ROOT, "www", "widget", "index.d.ts"), path.join(ROOT, "dist", "widget", "trustchat.d.ts"));
  // The catalogs, minified, under names the loader builds from the locale.
  for (const file of readdirSync(CATALOG_DIR)) {
    const texts = JSON.parse(readFileSync(path.join(CATALOG_DIR, file), "utf8"));
    const name = `trustchat.i18n-${path.basename(file, ".json")}.${CATALOG_HASH}.json`;
    writeFileSync(path.join(ROOT, "dist", "widget", name), JSON.stringify(texts));
  }
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
