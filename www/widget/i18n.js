// The customer's language. The locale comes from `init({locale})`, else the
// browser's `navigator.language`, else English; a tag matches a catalog
// exactly (case aside), else by its language (`pt` → pt-BR, `es-MX` → es).
// Only the chosen catalog is downloaded: each is a file of its own, loaded
// beside the wasm. The translator the wasm calls is in translate.js.

/** The locales there is a catalog of. */
const LOCALES = ["en", "es", "fr", "de", "pt-BR", "ja", "ar"];

/** The catalog's locale for `wanted` (a BCP 47 tag, or nothing). */
export function pick(wanted) {
  for (const tag of [wanted, navigator.language]) {
    if (typeof tag !== "string") continue;
    const lower = tag.toLowerCase();
    const found =
      LOCALES.find((l) => l.toLowerCase() === lower) ?? LOCALES.find((l) => l.slice(0, 2) === lower.split("-")[0]);
    if (found) return found;
  }
  return "en";
}

/**
 * Where the catalog of `locale` (one `pick` gave) is: `trustchat.i18n-
 * <locale>.<hash>.json` beside this script, one hash for them all
 * (webpack.config.js).
 */
export function catalogUrl(locale) {
  return `${__webpack_public_path__}trustchat.i18n-${locale}.${__TRUSTCHAT_CATALOGS__}.json`;
}

/** The catalog of `locale` (one `pick` gave). */
export function catalog(locale) {
  return fetch(catalogUrl(locale), { mode: "cors", credentials: "omit" }).then((response) => {
    if (!response.ok) throw new Error(`status ${response.status}`);
    return response.json();
  });
}
