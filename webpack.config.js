// Bundles the widget's JavaScript around the wasm-bindgen output in `pkg/`:
//
// - `dist/widget/trustchat.js`: the script-tag build, the one file whose
//   name never changes. Small on purpose: it installs the real
//   `window.TrustChat`, replays the calls the loader snippet queued, draws
//   the launcher, and loads the rest on demand (www/widget/api.js).
// - `dist/widget/trustchat.mjs`: the ES module build for bundlers, with the
//   same functions as named exports and no global side effects.
// - `dist/widget/trustchat.[hash].js`: the wasm-bindgen glue, one chunk per
//   build above, loaded on demand.
// - `dist/widget/trustchat_bg.[hash].wasm`: the widget, shared by both.
//
// Everything but the two entry files is content-hashed, so a server may
// cache it for a year (`Cache-Control: public, max-age=31536000, immutable`).

import { createHash } from "node:crypto";
import { readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import webpack from "webpack";

const root = path.dirname(fileURLToPath(import.meta.url));
const out = path.join(root, "dist", "widget");

/**
 * The catalogs (www/widget/i18n/*.json), one file each in dist/widget,
 * fetched one at a time (www/widget/i18n.js): `trustchat.i18n-<locale>.
 * <hash>.json`, with one hash of them all, so the loader builds any name
 * from the locale (scripts/build.mjs writes them, minified).
 */
export const CATALOG_DIR = path.join(root, "www", "widget", "i18n");
const catalogHash = createHash("sha256");
for (const file of readdirSync(CATALOG_DIR).sort()) catalogHash.update(file).update(readFileSync(path.join(CATALOG_DIR, file)));
export const CATALOG_HASH = catalogHash.digest("hex").slice(0, 12);

const common = {
  mode: "production",
  context: root,
  devtool: false,
  performance: { hints: false },
  // The glue chunk is called "glue", so that the loader can prefetch it by
  // name (www/widget/api.js).
  optimization: { chunkIds: "named" },
  module: {
    rules: [
      { test: /\.wasm$/, type: "asset/resource", generator: { filename: "[name].[contenthash:12][ext]" } },
      // The launcher's styles and icon (src/ui/).
      { test: /\.(css|svg)$/, type: "asset/source" },
    ],
  },
  resolve: { alias: { "trustchat-wasm": path.join(root, "pkg", "trustchat.js") } },
  plugins: [new webpack.DefinePlugin({ __TRUSTCHAT_CATALOGS__: JSON.stringify(CATALOG_HASH) })],
};

export default [
  {
    ...common,
    name: "script",
    entry: "./www/widget/global.js",
    output: {
      path: out,
      filename: "trustchat.js",
      chunkFilename: "trustchat.[contenthash:12].js",
      publicPath: "auto",
      iife: true,
      // The chunk registry is a global of the host page: one name of ours.
      chunkLoadingGlobal: "__trustchatChunks",
    },
  },
  {
    ...common,
    name: "module",
    entry: "./www/widget/index.js",
    experiments: { outputModule: true },
    output: {
      path: out,
      filename: "trustchat.mjs",
      chunkFilename: "trustchat.[contenthash:12].mjs",
      publicPath: "auto",
      module: true,
      library: { type: "module" },
    },
  },
];
