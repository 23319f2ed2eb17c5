// What the loader loads on demand, as one chunk ("glue"): the wasm-bindgen
// glue and the translator the wasm asks for its texts (translate.js).
export { default, init, setUser, setJwt, clearUser, show, close, getUser, getUnreadCount, getAvailability, navigate } from "trustchat-wasm";
export { translator } from "./translate.js";
