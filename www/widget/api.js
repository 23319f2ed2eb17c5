// The JavaScript face of the widget. The script the page loads holds only
// this, the launcher and the call queue. The wasm and its glue are
// prefetched into the browser's cache, which the browser does at its lowest
// priority, when the page's own requests are done, and run only when
// something needs them: the customer opens the chat, or the site calls an
// API that needs them (setUser, setJwt, clearUser, show, close). Until
// then the widget costs the page almost nothing.
//
// `init` checks the app with the server from here (one small GET, the same
// one the wasm makes), so `await init()` resolves without running the
// wasm; the wasm's own init runs first thing when it starts. Anything
// unusual takes the wasm's path at once, and so gets the wasm's exact
// checks and errors: a config this file does not recognize, a refused
// check, or a customer who already has a session stored in this browser
// (the wasm restores their conversation at once).
//
// Calls take effect in the order they were made: each one waits for the
// previous one to settle, so `init(); setUser()` without an `await` in
// between still identifies the customer after init.

import { catalog, catalogUrl, pick } from "./i18n.js";
import { drawLauncher, removeLauncher } from "./launcher.js";

// Webpack turns this into the content-hashed URL of the emitted .wasm file,
// resolved against wherever the script itself was loaded from. The server
// sends it as `application/wasm`, so it compiles while it streams
// (`WebAssembly.instantiateStreaming`).
const WASM_URL = new URL("../../pkg/trustchat_bg.wasm", import.meta.url);

/** The app ids the server accepts (as the wasm checks them). */
const APP_ID = /^[a-z0-9_-]{1,64}$/;

/** The wasm's exports, once loaded and initialized. */
let wasm = null;
/** The load in flight (or done); null after a failure, so a later call retries. */
let loading = null;
/** The config of an `init` that resolved from here: the wasm runs it when it starts. */
let deferredInit = null;
let chain = Promise.resolve();
let prefetched = false;
/** The events `on` accepts. */
const EVENTS = (
  "ready user:identified user:trusted user:cleared open close error message:sent message:received " +
  "token:expired unread:change availability:change conversation:started conversation:ended"
).split(" ");
/** The page's listeners, `[event, handler]`, in the order added. */
const listeners = [];
/** The wasm's `ready` after an init that resolved from here is not news. */
let quietReady = false;
/** The catalogs asked for, by locale: each a promise of `[locale, texts]`. */
const catalogs = {};
/** `init`'s `locale` (null: none given), once init was called. */
let wanted;
/** The availability init's check found, until the wasm knows better. */
let availability = null;
/** The page `navigate` last named. */
let page = null;

/** The locale `locale` picks and its catalog: loaded once. */
function texts(locale) {
  const picked = pick(locale);
  return (catalogs[picked] ??= catalog(picked).then((texts) => [picked, texts]));
}

/** The wasm's init, with the translator of the customer's language. */
async function start(glue, config) {
  const [locale, catalog] = await texts(config && config.locale);
  return glue.init(config, glue.translator(locale, catalog), emit);
}

/** Loads and starts the wasm (once); its exports. */
function load() {
  // The catalog loads beside the glue and the wasm: the wasm needs it to start.
  if (wanted !== undefined) texts(wanted).catch(() => {});
  loading ??= Promise.all([import(/* webpackChunkName: "glue" */ "./wasm.js"), fetch(WASM_URL)])
    .then(async ([glue, response]) => {
      await glue.default({ module_or_path: response });
      // The page the customer is on: the wasm tells the server once the
      // socket is ready (page rules, and the agent's view).
      glue.navigate(page ?? location.href);
      const config = deferredInit;
      if (config) {
        // `ready` was emitted from here when init resolved: listeners do
        // not hear it twice.
        quietReady = true;
        await start(glue, config);
        deferredInit = null;
      }
      wasm = glue;
      return wasm;
    })
    .catch((cause) => {
      loading = null;
      if (cause && typeof cause.code === "string") throw cause;
      const error = new Error(`could not load the TrustChat widget from ${WASM_URL}: ${cause && cause.message}`);
      error.code = "network";
      throw error;
    });
  return loading;
}

/**
 * Asks the browser to prefetch the wasm, the glue chunk (webpack names it
 * "glue": webpack.config.js sets named chunk ids) and the customer's
 * catalog with `<link rel="prefetch">`: the browser fetches them into its HTTP cache at its
 * lowest priority, behind everything the page itself loads, without
 * delaying the page's load event; neither is compiled or run. Asked in the
 * same task as init's check, because every task that starts requests costs
 * the page's main thread a fixed ~2 ms (measured: BENCHMARKS.md).
 */
function prefetch() {
  if (prefetched || loading) return;
  prefetched = true;
  const glue = document.createElement("link");
  glue.rel = "prefetch";
  glue.as = "script";
  glue.href = __webpack_public_path__ + __webpack_get_script_filename__("glue");
  // `fetch(WASM_URL)` later is a CORS request without credentials: the
  // prefetch must be the same kind for the browser to reuse it.
  // So must the catalog's, which `texts` fetches the same way.
  const fetched = (href) => {
    const link = document.createElement("link");
    link.rel = "prefetch";
    link.as = "fetch";
    link.crossOrigin = "anonymous";
    link.href = href;
    return link;
  };
  document.head.append(glue, fetched(WASM_URL), fetched(catalogUrl(pick(wanted))));
}

function serial(task) {
  const result = chain.then(task);
  chain = result.catch(() => {});
  return result;
}

/** A call that needs the wasm: loading starts now, the call waits its turn. */
function needing(call) {
  load().catch(() => {});
  return serial(() => load().then(call));
}

/**
 * Whether this browser holds a session of `appId`. Unsent messages (in
 * sessionStorage) are kept only beside a session, so this one look is
 * enough; the first touch of each storage area is a synchronous round trip
 * to the browser process, so the loader makes only one.
 */
function stored(appId) {
  try {
    return localStorage.getItem(`trustchat:${appId}:session`) !== null;
  } catch {
    // Storage refused (privacy modes): the wasm cannot restore anything either.
    return false;
  }
}

/**
 * Calls every listener of `name` with `detail` (the wasm emits through
 * this too). A listener that throws is logged, and the others still run:
 * the page cannot break the widget.
 */
function emit(name, detail) {
  if (name === "ready" && quietReady) {
    quietReady = false;
    return;
  }
  // Copied first: a listener may call `on` or `off`.
  for (const [event, handler] of listeners.slice()) {
    if (event !== name) continue;
    try {
      handler(detail);
    } catch (error) {
      console.error(`trustchat: a listener of "${name}" threw`, error);
    }
  }
}

/** The availability in `app` (`GET /apps/{id}`'s answer); the page hears of a change. */
function available(app) {
  const now = { availability: app.availability ?? "available", nextOpenAt: app.next_open_at ?? null };
  const changed = availability && (availability.availability !== now.availability || availability.nextOpenAt !== now.nextOpenAt);
  availability = now;
  if (changed) emit("availability:change", now);
}

/**
 * Until the wasm runs, the availability is asked again once a minute (the
 * wasm then polls itself while its socket is down, and hears the rest on it).
 */
function poll(url) {
  setTimeout(async () => {
    if (loading) return;
    try {
      const response = await fetch(url, { mode: "cors", credentials: "omit" });
      if (response.ok && !loading) available(await response.json());
    } catch {
      // Next minute, next try.
    }
    poll(url);
  }, 60_000);
}

/**
 * `init` without the wasm, for the common case: a known config shape, an
 * app the server confirms for this page, nothing stored. Resolves whether
 * it managed (true) or the wasm must take over (false).
 */
async function initHere(config) {
  const keys = Object.keys(config);
  const known = keys.every((k) => ["appId", "server", "onboarding", "locale", "fetchJwt"].includes(k));
  const server = config.server ?? WASM_URL.origin;
  if (!known || typeof config.appId !== "string" || !APP_ID.test(config.appId) || typeof server !== "string") return false;
  if (config.fetchJwt !== undefined && typeof config.fetchJwt !== "function") return false;
  if (config.onboarding !== undefined && typeof config.onboarding !== "boolean") return false;
  if (config.locale !== undefined && typeof config.locale !== "string") return false;
  if (!/^https?:\/\/[^?#\s]+$/.test(server) || stored(config.appId) || deferredInit || loading) return false;
  prefetch();
  const url = `${server.replace(/\/+$/, "")}/api/v1/apps/${config.appId}`;
  try {
    const response = await fetch(url, { mode: "cors", credentials: "omit" });
    if (!response.ok) return false;
    available(await response.json());
  } catch {
    return false;
  }
  poll(url);
  // A call that needs the wasm started it meanwhile: it runs init itself.
  if (loading) return false;
  deferredInit = { ...config, server };
  return true;
}

/** @type {import("./index").init} */
export function init(config) {
  const object = config && typeof config === "object" && !Array.isArray(config);
  if (object) {
    wanted = typeof config.locale === "string" ? config.locale : null;
    drawLauncher(show);
  }
  const result = serial(async () => {
    if (object && (await initHere(config))) {
      emit("ready", null);
      return undefined;
    }
    const exports = await load();
    return start(exports, object && config.server == null ? { ...config, server: WASM_URL.origin } : config);
  });
  result.catch(removeLauncher);
  return result;
}

/** @type {import("./index").setUser} */
export function setUser(user) {
  return needing((w) => w.setUser(user));
}

/** @type {import("./index").setJwt} */
export function setJwt(token) {
  return needing((w) => w.setJwt(token));
}

/** @type {import("./index").clearUser} */
export function clearUser() {
  return needing((w) => w.clearUser());
}

/** @type {import("./index").show} */
export function show() {
  needing((w) => w.show());
}

/** @type {import("./index").close} */
export function close() {
  needing((w) => w.close());
}

/** @type {import("./index").getUser} */
export function getUser() {
  return wasm ? wasm.getUser() : null;
}

/** @type {import("./index").getUnreadCount} */
export function getUnreadCount() {
  return wasm ? wasm.getUnreadCount() : 0;
}

/** @type {import("./index").getAvailability} */
export function getAvailability() {
  return wasm ? wasm.getAvailability() : (availability?.availability ?? null);
}

/** @type {import("./index").navigate} */
export function navigate(url) {
  let href = null;
  try {
    href = new URL(url ?? location.href, location.href).href;
  } catch {
    // Reported below.
  }
  if (!/^https?:/.test(href) || href.length > 2048) {
    throw invalid("navigate needs an http(s) URL of at most 2048 characters, or nothing (the current page)");
  }
  page = href;
  if (wasm) wasm.navigate(href);
}

/** An `invalid_argument` error. */
function invalid(message) {
  const error = new Error(message);
  error.code = "invalid_argument";
  return error;
}

/** Where `handler` is listening to `event`; throws for a bad pair. */
function find(event, handler) {
  if (!EVENTS.includes(event)) throw invalid(`unknown event; use one of: ${EVENTS.join(", ")}`);
  if (typeof handler !== "function") throw invalid("the listener must be a function");
  return listeners.findIndex(([e, h]) => e === event && h === handler);
}

/** @type {import("./index").on} */
export function on(event, handler) {
  if (find(event, handler) < 0) listeners.push([event, handler]);
}

/** @type {import("./index").off} */
export function off(event, handler) {
  const at = find(event, handler);
  if (at >= 0) listeners.splice(at, 1);
}
