// `npm run fuzz`: runs each cargo-fuzz target of `fuzz/` for a while and
// prints how many inputs each executed; fails when any target finds a
// crash (a panic, a broken invariant, a slow input or an allocation over
// the limit). See RELIABILITY.md.
//
//   npm run fuzz                          every target, 60 s each
//   npm run fuzz -- --seconds 20          every target, 20 s each (CI)
//   npm run fuzz -- --target jwt_token    one target (repeat or comma-separate for more)
//   npm run fuzz -- --list                the targets
//
// It installs cargo-fuzz when missing and builds with the nightly the
// widget's release build pins (WIDGET_TOOLCHAIN), so no second nightly is
// downloaded. Each target reads `fuzz/seeds/<target>/`,
// `fuzz/regressions/<target>/` and `fuzz/hidden/<target>/` (the hidden-input
// corpora: the JWT attack list, Wycheproof's keys; all checked in) and grows
// `fuzz/corpus/<target>/`
// (not checked in); a crash input lands in `fuzz/artifacts/<target>/`, and
// libFuzzer's full output in `fuzz/artifacts/<target>.log`.

import { spawn } from "node:child_process";
import { createWriteStream, existsSync, mkdirSync, readFileSync, readdirSync } from "node:fs";
import path from "node:path";
import { ROOT, WIDGET_TOOLCHAIN, output, run, step } from "./lib.mjs";

const FUZZ = path.join(ROOT, "fuzz");
/** Build flags: no sanitizer (the code under test is safe Rust; the
 * sanitizer only slows every run), and debug assertions on, so that integer
 * overflow panics as it does in tests. `run` must pass the same flags as
 * `build`, or cargo-fuzz builds again. */
const BUILD_FLAGS = ["--sanitizer", "none", "--debug-assertions"];
/** libFuzzer's limits: an input taking longer than TIMEOUT seconds, or a
 * run holding more than RSS_LIMIT_MB, is a finding like a panic. */
const TIMEOUT = 10;
const RSS_LIMIT_MB = 2048;

function targets() {
  const manifest = readFileSync(path.join(FUZZ, "Cargo.toml"), "utf8");
  return [...manifest.matchAll(/^\[\[bin\]\]\nname = "([^"]+)"/gm)].map((m) => m[1]);
}

function parseArgs(argv) {
  const options = { seconds: 60, targets: [], list: false };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    const value = () => {
      const next = argv[++i];
      if (next === undefined) throw new Error(`${arg} needs a value`);
      return next;
    };
    if (arg === "--seconds" || arg === "-s") options.seconds = Number(value());
    else if (arg.startsWith("--seconds=")) options.seconds = Number(arg.slice("--seconds=".length));
    else if (arg === "--target" || arg === "-t") options.targets.push(...value().split(","));
    else if (arg.startsWith("--target=")) options.targets.push(...arg.slice("--target=".length).split(","));
    else if (arg === "--list") options.list = true;
    else throw new Error(`unknown argument ${arg}; use --seconds N, --target NAME or --list`);
  }
  if (!Number.isInteger(options.seconds) || options.seconds < 1) {
    throw new Error("--seconds must be a whole number of seconds, at least 1");
  }
  const known = targets();
  for (const target of options.targets) {
    if (!known.includes(target)) throw new Error(`no fuzz target ${target}; the targets are ${known.join(", ")}`);
  }
  if (options.targets.length === 0) options.targets = known;
  return options;
}

function ensureTools() {
  const toolchains = output("rustup", ["toolchain", "list"]) ?? "";
  if (!toolchains.split("\n").some((line) => line.startsWith(WIDGET_TOOLCHAIN))) {
    step(`installing ${WIDGET_TOOLCHAIN} (the pinned nightly the fuzz targets build with)`);
    run("rustup", ["toolchain", "install", WIDGET_TOOLCHAIN, "--profile", "minimal"]);
  }
  if (output("cargo", ["fuzz", "--version"]) === null) {
    step("installing cargo-fuzz");
    run("cargo", ["install", "cargo-fuzz", "--locked"]);
  }
}

/** Runs one target; resolves to { target, runs, seconds, ok, artifact }. */
function fuzz(target, seconds) {
  const corpus = path.join(FUZZ, "corpus", target);
  const artifacts = path.join(FUZZ, "artifacts", target);
  mkdirSync(corpus, { recursive: true });
  mkdirSync(artifacts, { recursive: true });
  const dirs = [corpus, ...["seeds", "regressions", "hidden"].map((d) => path.join(FUZZ, d, target)).filter(existsSync)];
  const args = [
    `+${WIDGET_TOOLCHAIN}`, "fuzz", "run", ...BUILD_FLAGS, target, ...dirs, "--",
    `-max_total_time=${seconds}`, `-timeout=${TIMEOUT}`, `-rss_limit_mb=${RSS_LIMIT_MB}`,
    `-artifact_prefix=${artifacts}/`, "-print_final_stats=1",
  ];
  const logFile = path.join(FUZZ, "artifacts", `${target}.log`);
  console.log(`$ cargo ${args.join(" ")}`);
  return new Promise((resolve) => {
    const log = createWriteStream(logFile);
    const started = Date.now();
    const child = spawn("cargo", args, { cwd: ROOT, stdio: ["ignore", "pipe", "pipe"] });
    let text = "";
    const keep = (chunk) => {
      log.write(chunk);
      text += chunk;
      // libFuzzer prints a line per new input; keep the end, which has the stats.
      if (text.length > 1_000_000) text = text.slice(-200_000);
    };
    child.stdout.on("data", keep);
    child.stderr.on("data", keep);
    child.on("close", (code, signal) => {
      log.end();
      const stat = text.match(/stat::number_of_executed_units:\s*(\d+)/);
      const done = [...text.matchAll(/Done (\d+) runs in (\d+) second/g)].pop();
      // After a crash there are no final stats: the last status line counts.
      const status = [...text.matchAll(/^#(\d+)\s/gm)].pop();
      const runs = stat ? Number(stat[1]) : done ? Number(done[1]) : status ? Number(status[1]) : null;
      const artifact = text.match(/Test unit written to (\S+)/)?.[1] ?? null;
      const ok = code === 0 && artifact === null;
      if (!ok) {
        console.log(text.split("\n").slice(-60).join("\n"));
        console.log(`${target}: FAILED (exit ${code ?? signal}); full output in ${path.relative(ROOT, logFile)}`);
      } else {
        console.log(`${target}: ${runs ?? "?"} runs, no crash`);
      }
      // libFuzzer's own time when it ran to the end, else the wall clock.
      const took = done ? Number(done[2]) : Math.max(1, Math.round((Date.now() - started) / 1000));
      resolve({ target, runs, seconds: took, ok, artifact, corpus: readdirSync(corpus).length });
    });
  });
}

const options = parseArgs(process.argv.slice(2));
if (options.list) {
  console.log(targets().join("\n"));
  process.exit(0);
}
ensureTools();
step(`building the fuzz targets (${WIDGET_TOOLCHAIN})`);
run("cargo", [`+${WIDGET_TOOLCHAIN}`, "fuzz", "build", ...BUILD_FLAGS]);
const results = [];
for (const target of options.targets) {
  step(`fuzzing ${target} for ${options.seconds} s`);
  results.push(await fuzz(target, options.seconds));
}

step("executions per target");
const width = Math.max(...results.map((r) => r.target.length));
for (const r of results) {
  const runs = r.runs === null ? "?" : r.runs.toLocaleString("en-US");
  const rate = r.runs === null ? "" : ` (${Math.round(r.runs / r.seconds).toLocaleString("en-US")}/s)`;
  const verdict = r.ok ? "ok" : `CRASH${r.artifact ? `: ${path.relative(ROOT, r.artifact)}` : ""}`;
  console.log(`${r.target.padEnd(width)}  ${runs.padStart(12)} runs in ${r.seconds} s${rate}, corpus ${r.corpus}  ${verdict}`);
}
const failed = results.filter((r) => !r.ok);
if (failed.length > 0) {
  console.log(`\n${failed.length} of ${results.length} fuzz targets failed: ${failed.map((r) => r.target).join(", ")}`);
  console.log("Reproduce with `cargo +" + WIDGET_TOOLCHAIN + " fuzz run " + BUILD_FLAGS.join(" ") + " TARGET ARTIFACT`;");
  console.log("fix the code, then keep the input as fuzz/regressions/TARGET/NAME and a #[test] (RELIABILITY.md).");
  process.exit(1);
}
console.log(`\nfuzz: ${results.length} targets, no crash`);
