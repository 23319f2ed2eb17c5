// Type declarations for the TrustChat widget, for the ES module
// (`import { init } from "trustchat"`) and the global `window.TrustChat`.

/** Options of {@link init}. */
export interface TrustChatConfig {
  /** The app id from the server's config, e.g. `"demo"`. */
  appId: string;
  /** Base URL of the TrustChat server. Default: where the widget script was loaded from. */
  server?: string;
  /** Ask anonymous customers for name and email first. Default: the app's setting on the server. */
  onboarding?: boolean;
  /**
   * The customer's language, a BCP 47 tag. The widget speaks English
   * (`en`), Spanish (`es`), French (`fr`), German (`de`), Brazilian
   * Portuguese (`pt-BR`), Japanese (`ja`) and Arabic (`ar`, laid out right
   * to left); a tag matches exactly, else by its language (`pt` → pt-BR,
   * `es-MX` → es). Default: `navigator.language`, else English.
   */
  locale?: string;
  /** Called when the identity token expires; resolve with a fresh JWT. */
  fetchJwt?: () => Promise<string>;
}

/** A customer as the website describes them to {@link setUser}. */
export type UserInput =
  | { name: string; email: string; phone?: string }
  | { name: string; phone: string; email?: string }
  | { jwt: string };

/** The customer the widget is chatting with, as {@link getUser} returns it. */
export interface User {
  /** Stable id of the customer profile on the server. */
  id: string;
  name: string | null;
  firstName: string | null;
  email: string | null;
  /** E.164, e.g. `"+14155550100"`. */
  phone: string | null;
  /** True when the server verified the identity with a JWT that has not expired. */
  trusted: boolean;
}

/** Codes of the `Error`s the widget's promises reject with. */
export type TrustChatErrorCode =
  | "invalid_argument"
  | "not_initialized"
  | "network"
  | "origin_not_allowed"
  | "unknown_app"
  | "invalid_token"
  | "token_expired"
  | "rate_limited"
  | "server_error";

export interface TrustChatError extends Error {
  code: TrustChatErrorCode;
}

/** A stored message, as the server sends it. */
export interface Message {
  id: string;
  conversation_id: string;
  /** 1, 2, 3… within the conversation. */
  seq: number;
  author: "customer" | "agent";
  author_name?: string;
  kind: "text" | "login_request";
  body: string;
  /** The app's login URL, on a `login_request`. */
  link?: string;
  /** True when the customer wrote it under an identity the server verified. */
  trusted: boolean;
  /** Unix milliseconds. */
  created_at: number;
  client_id?: string;
}

/**
 * Whether support can answer now: within office hours with an agent online
 * and available, within hours with nobody free, or outside hours.
 */
export type Availability = "available" | "busy" | "closed";

/** Events and the detail their handlers receive. */
export interface TrustChatEvents {
  /** The customer restored from a previous page, or null. */
  ready: User | null;
  "user:identified": User;
  "user:trusted": User;
  "user:cleared": undefined;
  open: undefined;
  close: undefined;
  error: TrustChatError;
  "token:expired": undefined;
  /** The server stored a message this tab sent. */
  "message:sent": Message;
  /** A new message this tab did not send (an agent's, or another tab's). */
  "message:received": Message;
  /** The agent messages the customer has not seen changed. */
  "unread:change": { count: number };
  /** Support became available, busy or closed; `nextOpenAt` (Unix ms) when closed and known. */
  "availability:change": { availability: Availability; nextOpenAt: number | null };
  /** A conversation of this customer began while the widget was open in this tab. */
  "conversation:started": { conversationId: string };
  /** An agent closed the current conversation. */
  "conversation:ended": { conversationId: string };
}
export type TrustChatEvent = keyof TrustChatEvents;

/**
 * Draws the launcher at once; the rest of the widget loads when the customer
 * opens the chat, when a call needs it, or when the browser is idle. The
 * promise settles once the widget has loaded and the app is known.
 */
export function init(config: TrustChatConfig): Promise<void>;
export function setUser(user: UserInput): Promise<User>;
export function setJwt(token: string): Promise<User>;
export function clearUser(): Promise<void>;
export function show(): void;
export function close(): void;
export function getUser(): User | null;
/**
 * Agent messages the customer has not seen: those that came while the panel
 * was closed or the page hidden. 0 before the widget has loaded.
 */
export function getUnreadCount(): number;
/** Whether support can answer now; `null` before `init` resolved. */
export function getAvailability(): Availability | null;
/**
 * Tells the server the page the customer is on (single-page apps): `url`
 * (resolved against `location.href`), default `location.href`. Throws an
 * `invalid_argument` error for anything but an http(s) URL of at most 2,048
 * characters.
 */
export function navigate(url?: string): void;
export function on<E extends TrustChatEvent>(event: E, handler: (detail: TrustChatEvents[E]) => void): void;
export function off<E extends TrustChatEvent>(event: E, handler: (detail: TrustChatEvents[E]) => void): void;

declare global {
  interface Window {
    TrustChat: {
      init: typeof init;
      setUser: typeof setUser;
      setJwt: typeof setJwt;
      clearUser: typeof clearUser;
      show: typeof show;
      close: typeof close;
      getUser: typeof getUser;
      getUnreadCount: typeof getUnreadCount;
      getAvailability: typeof getAvailability;
      navigate: typeof navigate;
      on: typeof on;
      off: typeof off;
    };
  }
}
