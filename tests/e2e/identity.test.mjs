// Trusted identity from the outside: tokens minted by `jose` (the token
// library many Node websites use) for every algorithm family are accepted
// by the running server; a JWKS URL served by this test is fetched, follows
// a key rotation and survives a failing fetch; the token debugger CLI
// explains refusals.

import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { writeFileSync } from "node:fs";
import { createServer } from "node:http";
import path from "node:path";
import { after, before, describe, test } from "node:test";
import { SignJWT, exportJWK, generateKeyPair, generateSecret } from "jose";
import { SERVER_BIN, startStack } from "./harness.mjs";

const ALGS = ["HS256", "RS256", "PS256", "ES256", "EdDSA"];

/** A key pair (or secret) per algorithm, each with its public JWK. */
async function makeKey(alg, kid) {
  if (alg.startsWith("HS")) {
    const secret = await generateSecret(alg, { extractable: true });
    return { alg, kid, signWith: secret, jwk: { ...(await exportJWK(secret)), kid, alg } };
  }
  const options = alg === "EdDSA" ? { crv: "Ed25519", extractable: true } : { extractable: true };
  const { publicKey, privateKey } = await generateKeyPair(alg, options);
  return { alg, kid, signWith: privateKey, jwk: { ...(await exportJWK(publicKey)), kid, alg, use: "sig" } };
}

/** A token as a Node website would mint it with jose. */
function mint(key, aud, claims = {}) {
  return new SignJWT({ email: "ada@example.com", name: "Ada Lovelace", ...claims })
    .setProtectedHeader({ alg: key.alg, kid: key.kid, typ: "JWT" })
    .setSubject("user-42")
    .setAudience(aud)
    .setIssuedAt()
    .setExpirationTime("10m")
    .sign(key.signWith);
}

async function openSession(base, app, jwt) {
  const response = await fetch(`${base}/api/v1/apps/${app}/sessions`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ jwt }),
  });
  return { status: response.status, body: await response.json() };
}

let stack;
let keys;
let jwks; // what the test's JWKS endpoint serves; null = answer 500
let jwksServer;
let jwksFetches = 0;
let jwksFile;

before(async () => {
  keys = Object.fromEntries(await Promise.all(ALGS.map(async (alg) => [alg, await makeKey(alg, `k-${alg}`)])));
  const remote1 = await makeKey("ES256", "remote-1");
  const remote2 = await makeKey("ES256", "remote-2");
  keys.remote1 = remote1;
  keys.remote2 = remote2;
  jwks = { keys: [remote1.jwk] };
  jwksServer = createServer((request, response) => {
    jwksFetches += 1;
    if (jwks === null) {
      response.writeHead(500).end("down");
      return;
    }
    response.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify(jwks));
  });
  await new Promise((resolve) => jwksServer.listen(0, "127.0.0.1", resolve));
  const jwksUrl = `http://127.0.0.1:${jwksServer.address().port}/.well-known/jwks.json`;

  const { mkdtempSync } = await import("node:fs");
  const { tmpdir } = await import("node:os");
  jwksFile = path.join(mkdtempSync(path.join(tmpdir(), "trustchat-jwks-")), "interop.jwks.json");
  writeFileSync(jwksFile, JSON.stringify({ keys: ALGS.map((alg) => keys[alg].jwk) }));
  stack = await startStack({
    extraToml: `
[[apps]]
id = "interop"
allowed_origins = ["{origin}"]
[apps.identity]
jwks_file = "${jwksFile}"
issuer = "https://portal.example"

[[apps]]
id = "remote"
allowed_origins = ["{origin}"]
[apps.identity]
jwks_url = "${jwksUrl}"
jwks_unknown_kid_min_interval_secs = 1
`,
  });
});

after(async () => {
  await stack?.stop();
  await new Promise((resolve) => jwksServer?.close(resolve) ?? resolve());
});

describe("identity tokens", () => {
  for (const alg of ALGS) {
    test(`a ${alg} token minted by jose is accepted and trusted`, async () => {
      const jwt = await mint(keys[alg], "interop", { iss: "https://portal.example", given_name: "Ada" });
      const { status, body } = await openSession(stack.url, "interop", jwt);
      assert.equal(status, 201, JSON.stringify(body));
      assert.equal(body.trusted, true);
      assert.equal(body.customer.email, "ada@example.com");
      assert.equal(body.greeting, "Hi Ada!");
    });
  }

  test("jose tokens that break the policy are refused with the exact reason", async () => {
    const es = keys.ES256;
    const cases = [
      [await mint(es, "interop"), "missing_claim"],
      [await mint(es, "interop", { iss: "https://evil.example" }), "wrong_issuer"],
      [await mint(es, "somebody-else", { iss: "https://portal.example" }), "wrong_audience"],
      [await mint(keys.HS256, "interop", { iss: "https://portal.example", email: "nope" }), "invalid_claim"],
      [
        await new SignJWT({ email: "ada@example.com", iss: "https://portal.example" })
          .setProtectedHeader({ alg: "ES256", kid: "k-ES256" })
          .setSubject("u")
          .setAudience("interop")
          .setIssuedAt()
          .setExpirationTime("30d")
          .sign(es.signWith),
        "lifetime_too_long",
      ],
      [
        // Signed with the ES256 key but claiming the RS256 key's kid.
        await new SignJWT({ email: "ada@example.com", iss: "https://portal.example" })
          .setProtectedHeader({ alg: "ES256", kid: "k-RS256" })
          .setSubject("u")
          .setAudience("interop")
          .setExpirationTime("5m")
          .sign(es.signWith),
        "algorithm_not_allowed",
      ],
    ];
    for (const [jwt, reason] of cases) {
      const { status, body } = await openSession(stack.url, "interop", jwt);
      assert.equal(status, 401, JSON.stringify(body));
      assert.equal(body.error.code, "invalid_token");
      assert.equal(body.error.reason, reason, JSON.stringify(body));
    }
  });

  test("a JWKS URL is fetched, follows a rotation and survives a failing fetch", async () => {
    const first = await openSession(stack.url, "remote", await mint(keys.remote1, "remote"));
    assert.equal(first.status, 201, JSON.stringify(first.body));
    assert.equal(first.body.trusted, true);

    // The site rotates: a new key appears in its JWK set. A token naming the
    // new kid makes the server refresh (at most once a second here).
    jwks = { keys: [keys.remote1.jwk, keys.remote2.jwk] };
    const rotated = await mint(keys.remote2, "remote");
    let accepted = null;
    const deadline = Date.now() + 10_000;
    while (Date.now() < deadline) {
      const attempt = await openSession(stack.url, "remote", rotated);
      if (attempt.status === 201) {
        accepted = attempt;
        break;
      }
      assert.equal(attempt.body.error.reason, "unknown_key", JSON.stringify(attempt.body));
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
    assert.ok(accepted, "the token with the rotated-in kid was accepted within 10 s");

    // The site's JWKS endpoint fails: the last good set keeps working.
    jwks = null;
    const before = jwksFetches;
    const unknown = await mint(await makeKey("ES256", "remote-3"), "remote");
    await new Promise((resolve) => setTimeout(resolve, 1100)); // past the 1 s rate limit
    const refused = await openSession(stack.url, "remote", unknown);
    assert.equal(refused.body.error.reason, "unknown_key");
    assert.ok(jwksFetches > before, "the unknown kid made the server try to refresh");
    for (const key of [keys.remote1, keys.remote2]) {
      const still = await openSession(stack.url, "remote", await mint(key, "remote"));
      assert.equal(still.status, 201, `kid ${key.kid} still works after a failed fetch`);
    }

    // A flood of unknown kids does not hammer the site.
    const flood = jwksFetches;
    await Promise.all(Array.from({ length: 20 }, () => openSession(stack.url, "remote", unknown)));
    assert.ok(jwksFetches - flood <= 1, `${jwksFetches - flood} fetches for 20 unknown-kid tokens`);
  });

  test("the token debugger explains valid and refused tokens", async () => {
    const jwt = await mint(keys.ES256, "interop", { iss: "https://portal.example" });
    const ok = spawnSync(SERVER_BIN, ["jwt", "verify", "--jwks", jwksFile, "--app", "interop", jwt], { encoding: "utf8" });
    assert.equal(ok.status, 0, ok.stdout + ok.stderr);
    const report = JSON.parse(ok.stdout);
    assert.equal(report.claims.email, "ada@example.com");
    assert.equal(report.header.kid, "k-ES256");

    const later = spawnSync(SERVER_BIN, ["jwt", "verify", "--jwks", jwksFile, "--app", "interop", "--at", "4102444800", jwt], {
      encoding: "utf8",
    });
    assert.equal(later.status, 1);
    assert.match(later.stdout, /^invalid: token_expired/);

    const tampered = jwt.slice(0, -4) + (jwt.endsWith("AAAA") ? "BBBB" : "AAAA");
    const bad = spawnSync(SERVER_BIN, ["jwt", "verify", "--jwks", jwksFile, "--signature-only", tampered], { encoding: "utf8" });
    assert.equal(bad.status, 1);
    assert.match(bad.stdout, /^invalid: bad_signature/);

    const opaque = await new (await import("jose")).CompactSign(new TextEncoder().encode("not json at all"))
      .setProtectedHeader({ alg: "HS256", kid: "k-HS256" })
      .sign(keys.HS256.signWith);
    const sig = spawnSync(SERVER_BIN, ["jwt", "verify", "--jwks", jwksFile, "--signature-only", opaque], { encoding: "utf8" });
    assert.equal(sig.status, 0, sig.stdout + sig.stderr);
    assert.equal(JSON.parse(sig.stdout).payload, "not json at all");
  });
});
