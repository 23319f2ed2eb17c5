// Installs what this repo needs and a fresh machine lacks, and nothing that
// is already there: npm packages, the wasm32 target, rustfmt and clippy, the wasm-bindgen CLI of
// the exact version Cargo.lock pins, and (for tests) Debian's Chromium and
// ChromeDriver, Debian's PostgreSQL (no system cluster: the tests start
// their own, see postgres.mjs), Python's aiosmtpd (the SMTP receiver of
// the email tests, server/tests/smtp_sink.py) and openapi-spec-validator
// (which checks the server's API document). Safe to run again and again.

import { existsSync, statSync } from "node:fs";
import path from "node:path";
import { ROOT, WIDGET_TOOLCHAIN, isRoot, lockedCrateVersion, output, run, step } from "./lib.mjs";
import { ensurePostgres } from "./postgres.mjs";

export function setup({ browser = false, postgres = false, smtp = false, openapi = false } = {}) {
  npmPackages();
  wasmTarget();
  lintTools();
  widgetToolchain();
  wasmBindgenCli();
  if (browser) chromium();
  if (postgres) ensurePostgres();
  if (smtp) smtpSink();
  if (openapi) openapiValidator();
}

function npmPackages() {
  const marker = path.join(ROOT, "node_modules", ".package-lock.json");
  const lock = path.join(ROOT, "package-lock.json");
  if (existsSync(marker) && statSync(marker).mtimeMs >= statSync(lock).mtimeMs) return;
  step("installing npm packages");
  run("npm", ["ci", "--no-audit", "--no-fund"]);
}

function wasmTarget() {
  const installed = output("rustup", ["target", "list", "--installed"]) ?? "";
  if (installed.split("\n").includes("wasm32-unknown-unknown")) return;
  step("adding the wasm32-unknown-unknown target");
  run("rustup", ["target", "add", "wasm32-unknown-unknown"]);
}

// rustfmt and clippy for the test gates (`npm test` runs both).
function lintTools() {
  const installed = (output("rustup", ["component", "list", "--installed"]) ?? "").split("\n");
  const missing = ["rustfmt", "clippy"].filter((c) => !installed.some((line) => line.startsWith(`${c}-`)));
  if (missing.length === 0) return;
  step(`adding ${missing.join(" and ")}`);
  run("rustup", ["component", "add", ...missing]);
}

// The widget's release build: the pinned nightly with std's sources (for
// -Zbuild-std) and the wasm32 target. About 10 seconds and 250 MB, once.
function widgetToolchain() {
  const components = output("rustup", ["component", "list", "--installed", "--toolchain", WIDGET_TOOLCHAIN]) ?? "";
  const lines = components.split("\n");
  if (lines.includes("rust-src") && lines.includes("rust-std-wasm32-unknown-unknown")) return;
  step(`installing the widget's release toolchain (${WIDGET_TOOLCHAIN} with rust-src and wasm32)`);
  run("rustup", [
    "toolchain", "install", WIDGET_TOOLCHAIN,
    "--profile", "minimal", "--component", "rust-src", "--target", "wasm32-unknown-unknown",
  ]);
}

function wasmBindgenCli() {
  if (!existsSync(path.join(ROOT, "Cargo.lock"))) run("cargo", ["generate-lockfile"]);
  const wanted = lockedCrateVersion("wasm-bindgen");
  const have = output("wasm-bindgen", ["--version"]);
  const runner = output("wasm-bindgen-test-runner", ["--version"]);
  if (have === `wasm-bindgen ${wanted}` && runner !== null && runner.includes(wanted)) return;
  step(`installing wasm-bindgen-cli ${wanted} (found: ${have ?? "none"}); this takes a few minutes once`);
  // `--locked` fails for this version on this registry mirror; see TOOLCHAIN notes.
  run("cargo", ["install", "wasm-bindgen-cli", "--version", `=${wanted}`]);
}

function chromium() {
  if (existsSync("/usr/bin/chromium") && existsSync("/usr/bin/chromedriver")) return;
  if (!isRoot()) {
    throw new Error(
      "Chromium and ChromeDriver are missing: run `sudo apt-get install -y chromium chromium-driver` and try again",
    );
  }
  step("installing Debian's chromium and chromium-driver");
  run("apt-get", ["update", "-q"]);
  run("apt-get", ["install", "-y", "-q", "chromium", "chromium-driver"], {
    env: { ...process.env, DEBIAN_FRONTEND: "noninteractive" },
  });
}

/** The aiosmtpd version pip installs. */
const AIOSMTPD = "1.4.6";

// The email tests run a real SMTP receiver, Python's aiosmtpd. Returns the
// Python that has it, also as TRUSTCHAT_TEST_PYTHON for the tests run from
// this process: `python3` with aiosmtpd, else Debian's /usr/bin/python3
// with it, else `python3` after `pip install aiosmtpd`, else (as root)
// Debian's python3-aiosmtpd.
export function smtpSink() {
  const has = (python) => output(python, ["-c", "import aiosmtpd"]) !== null;
  const found = ["python3", "/usr/bin/python3"].find(has);
  if (found) return (process.env.TRUSTCHAT_TEST_PYTHON = found);
  step(`installing Python's aiosmtpd ${AIOSMTPD} (the email tests' SMTP receiver)`);
  try {
    run("python3", ["-m", "pip", "install", "--quiet", "--disable-pip-version-check", "--root-user-action=ignore", `aiosmtpd==${AIOSMTPD}`]);
    if (has("python3")) return (process.env.TRUSTCHAT_TEST_PYTHON = "python3");
  } catch (error) {
    console.log(`pip could not install aiosmtpd (${error.message}); trying Debian's package`);
  }
  if (!isRoot()) {
    throw new Error(
      "Python's aiosmtpd is missing: run `python3 -m pip install aiosmtpd` (or `sudo apt-get install python3-aiosmtpd`) and try again",
    );
  }
  run("apt-get", ["update", "-q"]);
  run("apt-get", ["install", "-y", "-q", "python3-aiosmtpd"], {
    env: { ...process.env, DEBIAN_FRONTEND: "noninteractive" },
  });
  if (!has("/usr/bin/python3")) throw new Error("python3-aiosmtpd was installed but /usr/bin/python3 cannot import aiosmtpd");
  return (process.env.TRUSTCHAT_TEST_PYTHON = "/usr/bin/python3");
}

/** The openapi-spec-validator version pip installs. */
const OPENAPI_SPEC_VALIDATOR = "0.9.0";

// `npm test` validates the API document (GET /api/v1/openapi.json) with
// PyPI's openapi-spec-validator, run by scripts/validate_openapi.py.
// Returns the Python that has it, also as TRUSTCHAT_OPENAPI_PYTHON:
// `python3` or Debian's /usr/bin/python3 with it, else `python3` after
// `pip install` (Debian has no package of it).
export function openapiValidator() {
  const has = (python) => output(python, ["-c", "import openapi_spec_validator"]) !== null;
  const found = ["python3", "/usr/bin/python3"].find(has);
  if (found) return (process.env.TRUSTCHAT_OPENAPI_PYTHON = found);
  step(`installing Python's openapi-spec-validator ${OPENAPI_SPEC_VALIDATOR} (checks the API document)`);
  try {
    run("python3", [
      "-m", "pip", "install", "--quiet", "--disable-pip-version-check", "--root-user-action=ignore",
      `openapi-spec-validator==${OPENAPI_SPEC_VALIDATOR}`,
    ]);
  } catch (error) {
    throw new Error(
      `pip could not install openapi-spec-validator (${error.message}): run \`python3 -m pip install openapi-spec-validator==${OPENAPI_SPEC_VALIDATOR}\` and try again`,
    );
  }
  if (!has("python3")) throw new Error("openapi-spec-validator was installed but python3 cannot import it");
  return (process.env.TRUSTCHAT_OPENAPI_PYTHON = "python3");
}

if (import.meta.url === `file://${process.argv[1]}`) {
  setup({
    browser: process.argv.includes("--browser"),
    postgres: process.argv.includes("--postgres"),
    smtp: process.argv.includes("--smtp"),
    openapi: process.argv.includes("--openapi"),
  });
}
