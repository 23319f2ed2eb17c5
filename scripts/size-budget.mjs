// The widget's size budgets (issue 6), checked on the built dist/widget:
//
//   - the loader and launcher, `trustchat.js` (what every page with the
//     widget downloads), at most 4 KB gzipped;
//   - the whole widget a script-tag page ends up with once the chat is
//     opened (that file, the glue chunk, the wasm, and the catalog of the
//     customer's language: the largest of them counts, since a page loads
//     one; the CSS is inside them), at most 60 KB gzipped.
//
// "gzipped" is what the server sends to a browser that accepts gzip: the
// build's zopfli `.gz` files. `gzip -9` sizes are printed beside them.
//
// The ES module build (`trustchat.mjs` and its own glue chunk) is listed
// but not counted: a page uses one build or the other.
//
//   node scripts/size-budget.mjs [DIR]   exit 1 when a budget is exceeded
//
// Prints a line per file and the totals, then one JSON line
// {"bench":"widget_size",...} for tools comparing runs.

import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import path from "node:path";
import { brotliCompressSync, constants as zlib, gzipSync } from "node:zlib";
import { ROOT } from "./lib.mjs";

export const KB = 1024;
/** The budgets the widget is held to (the performance issue's targets). */
export const BUDGETS = { loader: 4 * KB, widget: 60 * KB };

/**
 * The sizes of `file` as the server sends it: its precompressed `.gz` and
 * `.br` siblings when the build wrote them (scripts/precompress.mjs: zopfli
 * and brotli 11), else gzip level 9 and brotli 11 computed here. `gzip9`
 * is always `gzip -9`'s size, for comparing with figures measured that way.
 */
function sizes(file) {
  const bytes = readFileSync(file);
  const gzip9 = gzipSync(bytes, { level: 9 }).length;
  return {
    raw: bytes.length,
    gzip: existsSync(`${file}.gz`) ? statSync(`${file}.gz`).size : gzip9,
    gzip9,
    brotli: existsSync(`${file}.br`)
      ? statSync(`${file}.br`).size
      : brotliCompressSync(bytes, { params: { [zlib.BROTLI_PARAM_QUALITY]: 11 } }).length,
  };
}

/**
 * Measures `dir` (default dist/widget): every file with its sizes and role,
 * the totals, and the budgets' verdicts.
 */
export function measure(dir = path.join(ROOT, "dist", "widget"), budgets = BUDGETS) {
  const names = readdirSync(dir).filter((f) => /\.(js|mjs|wasm|css|json)$/.test(f));
  const files = names.map((file) => {
    // The entry is the one stable name; chunks and the wasm are content-hashed.
    const role =
      file === "trustchat.js"
        ? "loader"
        : /^trustchat\.[0-9a-f]{8,}\.js$/.test(file) || /\.(wasm|css)$/.test(file)
          ? "on demand"
          : /^trustchat\.i18n-[\w-]+\.[0-9a-f]{8,}\.json$/.test(file)
            ? "catalog"
            : file === "loader.js"
              ? "snippet (inline)"
              : "module build";
    return { file, role, ...sizes(path.join(dir, file)) };
  });
  const sum = (list) =>
    list.reduce(
      (t, f) => ({ raw: t.raw + f.raw, gzip: t.gzip + f.gzip, gzip9: t.gzip9 + f.gzip9, brotli: t.brotli + f.brotli }),
      { raw: 0, gzip: 0, gzip9: 0, brotli: 0 },
    );
  const loader = sum(files.filter((f) => f.role === "loader"));
  const catalogs = files.filter((f) => f.role === "catalog");
  const largest = catalogs.reduce((big, f) => (big && big.gzip >= f.gzip ? big : f), null);
  const widget = sum(files.filter((f) => f.role === "loader" || f.role === "on demand" || f === largest));
  if (!files.some((f) => f.role === "loader")) throw new Error(`no trustchat.js in ${dir}: build the widget first`);
  if (!largest) throw new Error(`no catalog (trustchat.i18n-*.json) in ${dir}: build the widget first`);
  const failures = [];
  if (loader.gzip > budgets.loader) failures.push(`the loader and launcher weigh ${kb(loader.gzip)} gzipped, over the ${kb(budgets.loader)} budget`);
  if (widget.gzip > budgets.widget) failures.push(`the whole widget weighs ${kb(widget.gzip)} gzipped, over the ${kb(budgets.widget)} budget`);
  return { files, loader, widget, largest, budgets, failures, ok: failures.length === 0 };
}

function kb(n) {
  return `${(n / KB).toFixed(1)} KB`;
}

/** The report a person reads, then the JSON line. */
export function report(result) {
  const lines = [];
  const row = (name, role, s) =>
    `${name.padEnd(34)} ${role.padEnd(16)} ${kb(s.raw).padStart(9)} raw ${kb(s.gzip).padStart(9)} gzip ${kb(s.brotli).padStart(9)} brotli ${kb(s.gzip9).padStart(9)} gzip -9`;
  for (const f of result.files) lines.push(row(f.file, f.role, f));
  lines.push(row("loader + launcher", `budget ${kb(result.budgets.loader)}`, result.loader));
  lines.push(row("whole widget", `budget ${kb(result.budgets.widget)}`, result.widget));
  lines.push(`(the whole widget counts the largest catalog: ${result.largest.file})`);
  lines.push(result.ok ? "widget size: within budget" : `widget size: OVER BUDGET: ${result.failures.join("; ")}`);
  lines.push(
    JSON.stringify({
      bench: "widget_size",
      loader_gzip: result.loader.gzip,
      loader_brotli: result.loader.brotli,
      loader_gzip9: result.loader.gzip9,
      widget_gzip: result.widget.gzip,
      widget_brotli: result.widget.brotli,
      widget_gzip9: result.widget.gzip9,
      budget_loader_gzip: result.budgets.loader,
      budget_widget_gzip: result.budgets.widget,
      ok: result.ok,
      files: Object.fromEntries(result.files.map((f) => [f.file, { raw: f.raw, gzip: f.gzip, gzip9: f.gzip9, brotli: f.brotli }])),
    }),
  );
  return lines.join("\n");
}

/** Measures, prints, and answers whether the budgets hold. */
export function checkSizeBudget(dir, budgets = BUDGETS) {
  const result = measure(dir, budgets);
  console.log(report(result));
  return result.ok;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  try {
    process.exit(checkSizeBudget(process.argv[2]) ? 0 : 1);
  } catch (error) {
    console.error(`size-budget: ${error.message}`);
    process.exit(2);
  }
}
