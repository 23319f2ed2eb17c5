// The JavaScript face of the widget. The script the page loads holds only
// this, the launcher and the call queue; the wasm and its glue arrive when
// the customer opens the chat, when the site calls an API that needs them
// (setUser, setJwt, clearUser, show, close), or when the browser is idle
// after the page loaded, whichever comes first. `init` does not need them:
// it draws the launcher and waits its turn.
//
// Calls take effect in the order they were made: each one waits for the
// previous one to settle, so `init(); setUser()` without an `await` in
// between still identifies the customer after init.

import { drawLauncher, removeLauncher } from "./launcher.js";

// Webpack turns this into the content-hashed URL of the emitted .wasm file,
// resolved against wherever the script itself was loaded from. The wasm is
// fetched at once when loading starts, beside the glue, and compiled while
// it streams (`WebAssembly.instantiateStreaming`: the server sends
// `application/wasm`).
const WASM_URL = new URL("../../pkg/trustchat_bg.wasm", import.meta.url);

/** The wasm's exports, once loaded. */
let wasm = null;
/** The load in flight (or done); null after a failure, so a later call retries. */
let loading = null;
/** Resolves when something first needs the wasm. */
let demand;
const demanded = new Promise((resolve) => (demand = resolve));
let chain = Promise.resolve();
let idleScheduled = false;
const earlyListeners = [];

function attempt() {
  loading ??= Promise.all([import(/* webpackChunkName: "glue" */ "trustchat-wasm"), fetch(WASM_URL)])
    .then(async ([glue, response]) => {
      await glue.default({ module_or_path: response });
      wasm = glue;
      for (const [event, handler] of earlyListeners.splice(0)) wasm.on(event, handler);
      return wasm;
    })
    .catch((cause) => {
      loading = null;
      const error = new Error(`could not load the TrustChat widget from ${WASM_URL}: ${cause && cause.message}`);
      error.code = "network";
      throw error;
    });
  return loading;
}

/** Starts loading now; the wasm's exports. */
function load() {
  demand();
  return attempt();
}

/** The wasm's exports, once something else started loading them. */
function loaded() {
  return demanded.then(attempt);
}

/** Loads when the browser is idle after the page's own load. */
function loadWhenIdle() {
  if (idleScheduled) return;
  idleScheduled = true;
  const go = () => load().catch(() => {});
  const idle = () =>
    window.requestIdleCallback ? requestIdleCallback(go, { timeout: 3000 }) : setTimeout(go, 1500);
  if (document.readyState === "complete") idle();
  else window.addEventListener("load", idle, { once: true });
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

/** @type {import("./index").init} */
export function init(config) {
  const object = config && typeof config === "object" && !Array.isArray(config);
  if (object) {
    drawLauncher(show);
    loadWhenIdle();
  }
  const result = serial(async () => {
    const exports = await (object ? loaded() : load());
    return exports.init(object && config.server == null ? { ...config, server: WASM_URL.origin } : config);
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

/** @type {import("./index").on} */
export function on(event, handler) {
  if (wasm) wasm.on(event, handler);
  else earlyListeners.push([event, handler]);
}

/** @type {import("./index").off} */
export function off(event, handler) {
  if (wasm) return wasm.off(event, handler);
  const at = earlyListeners.findIndex(([e, h]) => e === event && h === handler);
  if (at >= 0) earlyListeners.splice(at, 1);
}
