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

import path from "node:path";
import { fileURLToPath } from "node:url";

const root = path.dirname(fileURLToPath(import.meta.url));
const out = path.join(root, "dist", "widget");

/**
 * Chunk file names: the glue `trustchat.[hash].js`, a catalog
 * `trustchat.i18n-<locale>.[hash].js` (www/widget/i18n.js; the size budget
 * counts the largest one, since a page loads one).
 */
function chunkFilename(ext) {
  return ({ chunk }) => {
    const catalog = /^i18n-(.+)-json$/.exec(chunk.name ?? "");
    return catalog ? `trustchat.i18n-${catalog[1]}.[contenthash:12].${ext}` : `trustchat.[contenthash:12].${ext}`;
  };
}

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
      // The launcher's styles and icon, shared with the Rust UI (src/ui/).
      { test: /\.(css|svg)$/, type: "asset/source" },
    ],
  },
  resolve: { alias: { "trustchat-wasm": path.join(root, "pkg", "trustchat.js") } },
};

export default [
  {
    ...common,
    name: "script",
    entry: "./www/widget/global.js",
    output: {
      path: out,
      filename: "trustchat.js",
      chunkFilename: chunkFilename("js"),
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
      chunkFilename: chunkFilename("mjs"),
      publicPath: "auto",
      module: true,
      library: { type: "module" },
    },
  },
];
