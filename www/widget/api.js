// The JavaScript face of the widget: loads the wasm once, then delegates
// every call to the Rust exports. Calls take effect in the order they were
// made: each one waits for the previous one to settle, so `init(); setUser()`
// without an `await` in between still identifies the customer after init.

import loadWasm, * as wasm from "trustchat-wasm";

// Webpack turns this into the content-hashed URL of the emitted .wasm file,
// resolved against wherever the script itself was loaded from.
const WASM_URL = new URL("../../pkg/trustchat_bg.wasm", import.meta.url);

let loading = null;
let loaded = false;
let chain = Promise.resolve();
const earlyListeners = [];

function load() {
  loading ??= loadWasm({ module_or_path: WASM_URL }).then(
    () => {
      loaded = true;
      for (const [event, handler] of earlyListeners.splice(0)) wasm.on(event, handler);
    },
    (cause) => {
      loading = null;
      const error = new Error(`could not load the TrustChat widget from ${WASM_URL}: ${cause && cause.message}`);
      error.code = "network";
      throw error;
    },
  );
  return loading;
}

function serial(task) {
  const result = chain.then(task);
  chain = result.catch(() => {});
  return result;
}

/** @type {import("./index").init} */
export function init(config) {
  return serial(async () => {
    await load();
    let withDefaults = config;
    if (config && typeof config === "object" && !Array.isArray(config) && config.server == null) {
      withDefaults = { ...config, server: WASM_URL.origin };
    }
    return wasm.init(withDefaults);
  });
}

/** @type {import("./index").setUser} */
export function setUser(user) {
  return serial(() => load().then(() => wasm.setUser(user)));
}

/** @type {import("./index").setJwt} */
export function setJwt(token) {
  return serial(() => load().then(() => wasm.setJwt(token)));
}

/** @type {import("./index").clearUser} */
export function clearUser() {
  return serial(() => load().then(() => wasm.clearUser()));
}

/** @type {import("./index").show} */
export function show() {
  serial(() => load().then(() => wasm.show()));
}

/** @type {import("./index").close} */
export function close() {
  serial(() => load().then(() => wasm.close()));
}

/** @type {import("./index").getUser} */
export function getUser() {
  return loaded ? wasm.getUser() : null;
}

/** @type {import("./index").on} */
export function on(event, handler) {
  if (loaded) wasm.on(event, handler);
  else earlyListeners.push([event, handler]);
}

/** @type {import("./index").off} */
export function off(event, handler) {
  if (loaded) return wasm.off(event, handler);
  const at = earlyListeners.findIndex(([e, h]) => e === event && h === handler);
  if (at >= 0) earlyListeners.splice(at, 1);
}
