// Telling the agent: a desktop notification (only after the agent asked
// for them with the button, never on load), a short sound (can be turned
// off; remembered), for a new conversation routed to them, or a new
// message in theirs while the tab is hidden. The tab's title counts the
// unread messages (console.js).

const SOUND_KEY = "trustchat-agent:sound";

export class Notifier {
  /**
   * `enable`: the "Enable notifications" button (hidden when the browser
   * has no notifications or the agent already decided); `sound`: the
   * checkbox that turns the sound on and off.
   */
  constructor({ enable, sound }) {
    this.enable = enable;
    this.sound = sound;
    this.audio = null;
    this.sound.checked = localStorage.getItem(SOUND_KEY) !== "off";
    this.sound.addEventListener("change", () => {
      localStorage.setItem(SOUND_KEY, this.sound.checked ? "on" : "off");
    });
    this.enable.addEventListener("click", async () => {
      try {
        await Notification.requestPermission();
      } finally {
        this.#showButton();
      }
    });
    this.#showButton();
  }

  #showButton() {
    this.enable.hidden = !("Notification" in window) || Notification.permission !== "default";
  }

  /** Something new for the agent: a sound, and a notification when the tab is hidden. */
  tell(title, body, { always = false } = {}) {
    if (!always && !document.hidden) return;
    if (this.sound.checked) this.#beep();
    if (document.hidden && "Notification" in window && Notification.permission === "granted") {
      try {
        const note = new Notification(title, { body, tag: "trustchat-agent" });
        note.onclick = () => {
          window.focus();
          note.close();
        };
      } catch {
        // Some browsers allow notifications only from a service worker.
      }
    }
  }

  /** A short two-tone chime, made on the spot (no file to fetch). */
  #beep() {
    try {
      this.audio ??= new AudioContext();
      const now = this.audio.currentTime;
      for (const [i, freq] of [880, 1320].entries()) {
        const osc = this.audio.createOscillator();
        const gain = this.audio.createGain();
        osc.frequency.value = freq;
        gain.gain.setValueAtTime(0.0001, now + i * 0.12);
        gain.gain.exponentialRampToValueAtTime(0.15, now + i * 0.12 + 0.02);
        gain.gain.exponentialRampToValueAtTime(0.0001, now + i * 0.12 + 0.11);
        osc.connect(gain).connect(this.audio.destination);
        osc.start(now + i * 0.12);
        osc.stop(now + i * 0.12 + 0.12);
      }
    } catch {
      // No audio: nothing to do.
    }
  }
}
