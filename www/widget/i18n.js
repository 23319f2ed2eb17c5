// The customer's language. The locale comes from `init({locale})`, else the
// browser's `navigator.language`, else English; a tag matches a catalog
// exactly (case aside), else by its language (`pt` → pt-BR, `es-MX` → es).
// Only the chosen catalog is downloaded: each is a chunk of its own
// (`trustchat.i18n-<locale>.<hash>.js`), loaded beside the wasm. The
// translator the wasm calls is in translate.js.

/** The locales there is a catalog of. */
export const LOCALES = ["en", "es", "fr", "de", "pt-BR", "ja", "ar"];

/** The catalog's locale for `wanted` (a BCP 47 tag, or nothing). */
export function pick(wanted) {
  for (const tag of [wanted, navigator.language]) {
    if (typeof tag !== "string") continue;
    const lower = tag.toLowerCase();
    const language = lower.split("-")[0];
    const found =
      LOCALES.find((l) => l.toLowerCase() === lower) ?? LOCALES.find((l) => l.toLowerCase().split("-")[0] === language);
    if (found) return found;
  }
  return "en";
}

/** The catalog of `locale`: its own chunk. */
export function catalog(locale) {
  return import(/* webpackChunkName: "i18n-[request]" */ `./i18n/${locale}.json`).then((m) => m.default);
}
