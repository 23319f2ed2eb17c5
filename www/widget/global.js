// Script-tag entry. Installs the real `window.TrustChat` and replays, in
// order, every call the loader snippet queued before this script arrived,
// settling the promises the snippet handed out.
import * as api from "./api.js";

const stub = window.TrustChat;
const TrustChat = Object.freeze({
  init: api.init,
  setUser: api.setUser,
  setJwt: api.setJwt,
  clearUser: api.clearUser,
  show: api.show,
  close: api.close,
  getUser: api.getUser,
  getUnreadCount: api.getUnreadCount,
  getAvailability: api.getAvailability,
  navigate: api.navigate,
  on: api.on,
  off: api.off,
});
window.TrustChat = TrustChat;

if (stub && Array.isArray(stub.q)) {
  for (const [method, args, resolve, reject] of stub.q.splice(0)) {
    try {
      Promise.resolve(TrustChat[method](...args)).then(resolve, reject);
    } catch (error) {
      reject(error);
    }
  }
}
