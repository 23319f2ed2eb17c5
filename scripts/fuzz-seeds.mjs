// Writes the fuzz targets' seed corpora, `fuzz/seeds/<target>/`, from the
// inputs the existing tests use (see RELIABILITY.md). Run it again after
// changing those tests; the seeds are checked in, so neither `npm run fuzz`
// nor CI runs it.
//
// - jwt_token, jwt_claims, jwks: the jwt module's own test cases (every
//   claim and header rule, malformed tokens, alg none, algorithm confusion,
//   key sets that do not load), written by its ignored test
//   `jwt::tests::write_fuzz_seeds`, which signs the tokens with the
//   TEST-ONLY fixture keys.
// - config: `trustchat.toml`, the README's TOML examples and the TOML the
//   server's tests load.
// - client_frame, request_body: the JSON objects the tests send over the
//   WebSockets and as request bodies (`json!` literals, with each variable
//   replaced by a string).
// - validate: the strings the validation tests check.
// - headers: the proxy tests' X-Forwarded-For values with the texts tests'
//   Accept-Language values.
//
// It also writes the JWT attack list (`jwt::tests::attack_cases`) to
// `fuzz/hidden/jwt_token/`, a hidden-input corpus; the Wycheproof keys
// reach `fuzz/hidden/jwks/` from `server/tests/wycheproof.rs`.
//
// Usage: node scripts/fuzz-seeds.mjs

import { createHash } from "node:crypto";
import { mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import path from "node:path";
import { ROOT, run, step } from "./lib.mjs";

const SEEDS = path.join(ROOT, "fuzz", "seeds");
const HIDDEN = path.join(ROOT, "fuzz", "hidden");
/** At most this many seeds per text-extracted target: a few dozen. */
const MAX_SEEDS = 48;

const CLIENT_FRAME_TYPES = new Set(["auth", "send", "ping", "typing", "read", "page"]);
/** Members of the request bodies the API takes (protocol/src). */
const REQUEST_FIELDS = new Set([
  "user", "jwt", "name", "email", "phone", "client_id", "body", "url", "rating", "comment",
  "identityType", "identity", "expiresIn", "password", "agent_id", "seq", "title", "status", "id",
]);

function rustFiles(dir) {
  const out = [];
  for (const entry of readdirSync(path.join(ROOT, dir), { withFileTypes: true })) {
    const rel = path.join(dir, entry.name);
    if (entry.isDirectory()) out.push(...rustFiles(rel));
    else if (entry.name.endsWith(".rs")) out.push(rel);
  }
  return out.sort();
}

/** Rust raw string literals (`r"…"`, `r#"…"#`), in order. */
function rawStrings(source) {
  const out = [];
  const re = /r(#*)"([\s\S]*?)"\1/g;
  for (const match of source.matchAll(re)) {
    // Skip identifiers that end in r (`for"`, `bar"` never occur, but `br#"` does: keep it).
    out.push(match[2]);
  }
  return out;
}

/** Plain Rust string literals, unescaped. */
function plainStrings(source) {
  const out = [];
  const re = /(?<![r#\w])"((?:[^"\\\n]|\\.)*)"/g;
  for (const match of source.matchAll(re)) {
    const text = match[1]
      .replace(/\\u\{([0-9a-fA-F]+)\}/g, (_, hex) => String.fromCodePoint(parseInt(hex, 16)))
      .replace(/\\n/g, "\n")
      .replace(/\\t/g, "\t")
      .replace(/\\0/g, "\0")
      .replace(/\\"/g, '"')
      .replace(/\\\\/g, "\\");
    out.push(text);
  }
  return out;
}

/** The JSON inside each `json!(…)`, with Rust expressions made strings. */
function jsonMacros(source) {
  const out = [];
  let from = 0;
  for (;;) {
    const start = source.indexOf("json!(", from);
    if (start < 0) return out;
    let depth = 0;
    let i = start + 5;
    let inString = false;
    for (; i < source.length; i++) {
      const c = source[i];
      if (inString) {
        if (c === "\\") i++;
        else if (c === '"') inString = false;
      } else if (c === '"') inString = true;
      else if (c === "(" || c === "[" || c === "{") depth++;
      else if (c === ")" || c === "]" || c === "}") {
        depth--;
        if (depth === 0) break;
      }
    }
    from = i + 1;
    const body = source.slice(start + 6, i);
    const json = jsonOf(body);
    if (json !== null && typeof json === "object" && !Array.isArray(json)) out.push(json);
  }
}

/** JSON from a `json!` body: every expression outside strings becomes "x". */
function jsonOf(body) {
  let out = "";
  for (let i = 0; i < body.length; ) {
    const c = body[i];
    if (c === '"') {
      let j = i + 1;
      while (j < body.length && body[j] !== '"') j += body[j] === "\\" ? 2 : 1;
      out += body.slice(i, j + 1);
      i = j + 1;
    } else if (/[A-Za-z_&]/.test(c)) {
      let j = i;
      let parens = 0;
      while (j < body.length && (parens > 0 || /[\w.:&()!\-+ *]/.test(body[j]))) {
        if (body[j] === "(") parens++;
        if (body[j] === ")") {
          if (parens === 0) break;
          parens--;
        }
        j++;
      }
      const word = body.slice(i, j).trim();
      out += ["true", "false", "null"].includes(word) ? word : '"x"';
      i = j;
    } else {
      out += c;
      i++;
    }
  }
  try {
    return JSON.parse(out.replace(/,(\s*[}\]])/g, "$1"));
  } catch {
    return null;
  }
}

function writeSeeds(target, inputs) {
  const dir = path.join(SEEDS, target);
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  const seen = new Set();
  for (const input of inputs) {
    if (seen.size >= MAX_SEEDS) break;
    const bytes = Buffer.from(input, "utf8");
    const name = createHash("sha1").update(bytes).digest("hex").slice(0, 16);
    if (seen.has(name) || bytes.length === 0) continue;
    seen.add(name);
    writeFileSync(path.join(dir, name), bytes);
  }
  console.log(`${target}: ${seen.size} seeds`);
}

step("jwt_token, jwt_claims and jwks seeds from the jwt tests");
// The test keeps files that exist (ECDSA and PSS signatures differ at every
// signing): delete a directory to write it anew.
run("cargo", ["test", "-p", "trustchat-server", "--lib", "--", "--ignored", "--exact", "jwt::tests::write_fuzz_seeds"], {
  env: { ...process.env, TRUSTCHAT_FUZZ_DIR: path.join(ROOT, "fuzz") },
});
for (const target of ["jwt_token", "jwt_claims", "jwks"]) {
  console.log(`${target}: ${readdirSync(path.join(SEEDS, target)).length} seeds`);
}
console.log(`jwt_token: ${readdirSync(path.join(HIDDEN, "jwt_token")).length} JWT attacks (fuzz/hidden)`);

step("jwks hidden corpus: Wycheproof's keys, from server/tests/wycheproof.rs");
rmSync(path.join(HIDDEN, "jwks"), { recursive: true, force: true });
run("cargo", ["test", "-p", "trustchat-server", "--test", "wycheproof"], {
  env: { ...process.env, TRUSTCHAT_FUZZ_DIR: path.join(ROOT, "fuzz") },
});
console.log(`jwks: ${readdirSync(path.join(HIDDEN, "jwks")).length} Wycheproof key sets (fuzz/hidden)`);

step("config, client_frame, request_body and validate seeds from the tests' sources");
const serverTests = rustFiles("server/tests");
const serverSources = rustFiles("server/src");
const read = (file) => readFileSync(path.join(ROOT, file), "utf8");

const TABLE = /^\s*\[\[?(apps|server|limits|agent|teams|smtp|demo)[\].]/m;
const configs = [read("trustchat.toml")];
for (const block of read("README.md").matchAll(/```toml\n([\s\S]*?)```/g)) configs.push(block[1]);
for (const file of [...serverTests, ...serverSources]) {
  for (const text of rawStrings(read(file))) {
    if (TABLE.test(text)) configs.push(text.includes("{{") ? text.replace(/\{\{/g, "{").replace(/\}\}/g, "}") : text);
    else if (/^\s*id = /m.test(text) && file.endsWith("config.rs")) configs.push(`[[apps]]\n${text}\n`);
  }
}
writeSeeds("config", configs);

const frames = [];
const bodies = [];
for (const file of [...serverTests, ...serverSources, ...rustFiles("protocol/src")]) {
  const source = read(file);
  const objects = [...jsonMacros(source)];
  for (const text of rawStrings(source)) {
    try {
      const value = JSON.parse(text);
      if (value && typeof value === "object" && !Array.isArray(value)) objects.push(value);
    } catch {
      // not JSON
    }
  }
  for (const object of objects) {
    if (CLIENT_FRAME_TYPES.has(object.type)) frames.push(JSON.stringify(object));
    else if (Object.keys(object).some((key) => REQUEST_FIELDS.has(key))) bodies.push(JSON.stringify(object));
  }
}
// The tests make client ids at run time; one frame of each shape with a
// real UUID and URL, so the fuzzer starts past those checks.
frames.push(
  '{"type":"send","client_id":"0b7f3d3e-6c1a-4a59-9d2e-3f6a1c2b4d5e","body":"hello"}',
  '{"type":"page","url":"https://portal.example/pricing?plan=pro#faq"}',
);
bodies.push('{"client_id":"0B7F3D3E-6C1A-4A59-9D2E-3F6A1C2B4D5E","body":"hello"}');
writeSeeds("client_frame", frames);
writeSeeds("request_body", bodies);

const strings = [];
for (const file of ["protocol/src/validate.rs", "protocol/src/chat.rs", "server/src/config.rs"]) {
  const source = read(file);
  const tests = source.slice(source.indexOf("#[cfg(test)]"));
  strings.push(...plainStrings(tests).filter((s) => s.trim() !== "" && !/^[a-z_]+$/.test(s)));
}
writeSeeds("validate", strings);

// headers: the X-Forwarded-For values of the proxy tests and the
// Accept-Language values of the texts tests, each from a trusted peer
// (first byte even) and an untrusted one (odd), as fuzzing::headers reads
// them: peer byte, X-Forwarded-For, NUL, Accept-Language.
const testStrings = (file) => {
  const source = read(file);
  return plainStrings(source.slice(source.indexOf("#[cfg(test)]")));
};
const forwarded = testStrings("server/src/proxy.rs").filter((s) => /^[\[\]0-9a-fA-F:., ]+$/.test(s) && /[.:]/.test(s));
const languages = testStrings("server/src/texts.rs").filter((s) => /^[A-Za-z0-9\-,;=.* <>_]*$/.test(s) && /[a-z]{2}/.test(s));
const headerInputs = [];
forwarded.forEach((xff, i) => {
  const language = languages[i % Math.max(languages.length, 1)] ?? "";
  headerInputs.push(`\u0000${xff}\u0000${language}`, `\u0001${xff}\u0000${language}`);
});
writeSeeds("headers", headerInputs);
