// Precompresses what the server sends, once, at build time: next to every
// text or wasm file in dist/ goes `FILE.gz` (zopfli: a gzip stream about 5%
// smaller than `gzip -9`, which every browser reads) and `FILE.br` (brotli
// quality 11). The server answers with one of them when the browser accepts
// it (tower-http's precompressed ServeDir), so a page never pays for
// compression on the fly, nor for bytes sent uncompressed.
//
//   node scripts/precompress.mjs [DIR]

import { readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import path from "node:path";
import { brotliCompressSync, constants as zlib } from "node:zlib";
import { ROOT } from "./lib.mjs";

/** What is worth compressing; images and fonts are compressed already. */
const COMPRESSIBLE = /\.(html|js|mjs|css|wasm|json|svg|map|txt|d\.ts)$/;
/** Below this a compressed copy saves less than its headers cost. */
const MIN_BYTES = 256;

/** Zopfli's iterations: 15 is its default; 50 gains a few dozen bytes over the widget's files, for seconds. */
const ZOPFLI_ITERATIONS = 50;

export async function precompress(dir = path.join(ROOT, "dist")) {
  const { gzipAsync } = await import("@gfx/zopfli");
  let files = 0;
  for (const file of walk(dir)) {
    if (!COMPRESSIBLE.test(file)) continue;
    const bytes = readFileSync(file);
    if (bytes.length < MIN_BYTES) continue;
    writeFileSync(`${file}.gz`, await gzipAsync(bytes, { numiterations: ZOPFLI_ITERATIONS }));
    writeFileSync(`${file}.br`, brotliCompressSync(bytes, { params: { [zlib.BROTLI_PARAM_QUALITY]: 11, [zlib.BROTLI_PARAM_SIZE_HINT]: bytes.length } }));
    files += 1;
  }
  return files;
}

function* walk(dir) {
  for (const entry of readdirSync(dir)) {
    const full = path.join(dir, entry);
    if (statSync(full).isDirectory()) yield* walk(full);
    else yield full;
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const count = await precompress(process.argv[2] ? path.resolve(process.argv[2]) : undefined);
  console.log(`precompressed ${count} files`);
}
