// Bundles the widget's JavaScript around the wasm-bindgen output in `pkg/`:
//
// - `dist/widget/trustchat.js`: the script-tag build. It installs the real
//   `window.TrustChat` and replays the calls the loader snippet queued.
// - `dist/widget/trustchat.mjs`: the ES module build for bundlers, with the
//   same functions as named exports and no global side effects.
//
// Both load the same content-hashed `.wasm` file, which webpack emits as an
// asset next to them (see `new URL(..., import.meta.url)` in www/widget).

import path from "node:path";
import { fileURLToPath } from "node:url";

const root = path.dirname(fileURLToPath(import.meta.url));
const out = path.join(root, "dist", "widget");

const common = {
  mode: "production",
  context: root,
  devtool: false,
  performance: { hints: false },
  module: {
    rules: [{ test: /\.wasm$/, type: "asset/resource", generator: { filename: "[name].[contenthash:12][ext]" } }],
  },
  resolve: { alias: { "trustchat-wasm": path.join(root, "pkg", "trustchat.js") } },
};

export default [
  {
    ...common,
    name: "script",
    entry: "./www/widget/global.js",
    output: { path: out, filename: "trustchat.js", publicPath: "auto", iife: true },
  },
  {
    ...common,
    name: "module",
    entry: "./www/widget/index.js",
    experiments: { outputModule: true },
    output: {
      path: out,
      filename: "trustchat.mjs",
      publicPath: "auto",
      module: true,
      library: { type: "module" },
    },
  },
];
