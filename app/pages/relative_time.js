// "3 min ago" and "waiting 12 s" computed in the browser: the server sends a moment once, never a ticking text.
const MINUTE = 60, HOUR = 3600, DAY = 86400;

function ago(seconds, at) {
  if (seconds < MINUTE) return "just now";
  if (seconds < HOUR) return `${Math.floor(seconds / MINUTE)} min ago`;
  if (seconds < DAY) return `${Math.floor(seconds / HOUR)} h ago`;
  return new Date(at).toISOString().slice(0, 10);
}

function left(seconds) {
  if (seconds < MINUTE) return `${seconds} s`;
  if (seconds < HOUR) return `${Math.floor(seconds / MINUTE)} min ${seconds % MINUTE} s`;
  return `${Math.floor(seconds / HOUR)} h ${Math.floor((seconds % HOUR) / MINUTE)} min`;
}

export default {
  template: `<span>{{ text }}</span>`,
  props: {
    at: Number, // epoch milliseconds, or null
    mode: String, // "ago" or "countdown"
    prefix: String,
    suffix: String,
    never: String,
  },
  data() {
    return { now: Date.now() };
  },
  computed: {
    text() {
      if (this.at == null) return this.never || "";
      const seconds = Math.max(0, Math.floor((this.mode === "countdown" ? this.at - this.now : this.now - this.at) / 1000));
      const body = this.mode === "countdown" ? left(seconds) : ago(seconds, this.at);
      return `${this.prefix || ""}${body}${this.suffix || ""}`;
    },
  },
  mounted() {
    // Vue only touches the DOM when the text changes: at most once a minute per "ago", once a second per countdown
    this.timer = setInterval(() => (this.now = Date.now()), this.mode === "countdown" ? 1000 : 5000);
  },
  unmounted() {
    clearInterval(this.timer);
  },
};
