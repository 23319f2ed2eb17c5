// ES module entry (`import { init, setUser } from "trustchat"`): the same
// functions as the global `TrustChat`, with no global side effects.
export {
  init,
  setUser,
  setJwt,
  clearUser,
  show,
  close,
  getUser,
  getUnreadCount,
  getAvailability,
  navigate,
  on,
  off,
} from "./api.js";
