// What the loader loads on demand, as one chunk ("glue"): the wasm-bindgen
// glue, the translator the wasm asks for its texts (translate.js), and
// setUser's shape checks.
import { setUser as wasmSetUser } from "trustchat-wasm";

export { default, init, setJwt, clearUser, show, close, getUser, getUnreadCount, getAvailability, navigate } from "trustchat-wasm";
export { translator } from "./translate.js";

/** An email's and a phone's shapes, as the onboarding form's browser checks judge them. */
const SHAPES = { email: /^\s*[^\s@]+@[^\s@.]+(\.[^\s@.]+)+\s*$/, phone: /^\s*\+[\d\s().-]{7,}$/ };

/**
 * `setUser`: a misshapen email or phone is refused here, before any
 * request, as the onboarding form refuses it; the server holds the full
 * rules (and the wasm the rest of the checks).
 */
export function setUser(user) {
  const bad = ["email", "phone"].find((f) => typeof user?.[f] == "string" && user[f].trim() && !SHAPES[f].test(user[f]));
  if (!bad) return wasmSetUser(user);
  const error = new Error(`setUser needs an email like name@example.com or a phone like +14155550100; this ${bad} is not`);
  error.code = "invalid_argument";
  return Promise.reject(error);
}
