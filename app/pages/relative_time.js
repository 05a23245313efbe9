// "3 minutes ago" and "waiting 12 s" computed in the browser: the server sends a moment once, never a ticking text.
// The words (`texts`) come from the server's catalog; Intl.PluralRules picks the plural form for the language.
const MINUTE = 60, HOUR = 3600, DAY = 86400;

function fill(template, values) {
  return template.replace(/\{(\w+)\}/g, (whole, name) => (name in values ? values[name] : whole));
}

export default {
  template: `<span>{{ text }}</span>`,
  props: {
    at: Number, // epoch milliseconds, or null
    mode: String, // "ago", "countdown", or "clock" (the moment in the reader's own time zone)
    after: String, // a countdown's text once it has run out
    template: String, // "synced {time}"
    never: String,
    texts: Object,
  },
  data() {
    return { now: Date.now() };
  },
  computed: {
    plurals() {
      return new Intl.PluralRules(this.texts.language);
    },
    text() {
      if (this.at == null) return this.never || "";
      if (this.mode === "clock") return fill(this.template || "{time}", { time: this.clock() });
      if (this.mode === "countdown" && this.after && this.at <= this.now) return this.after;
      const seconds = Math.max(0, Math.floor((this.mode === "countdown" ? this.at - this.now : this.now - this.at) / 1000));
      const body = this.mode === "countdown" ? this.left(seconds) : this.ago(seconds);
      return fill(this.template || "{time}", { time: body });
    },
  },
  methods: {
    counted(forms, n) {
      const form = forms[this.plurals.select(n)] || forms.other;
      return fill(form, { n: n.toLocaleString(this.texts.language) });
    },
    clock() {
      const at = new Date(this.at), language = this.texts.language;
      const time = at.toLocaleTimeString(language, { hour: "2-digit", minute: "2-digit" });
      if (at.toDateString() === new Date(this.now).toDateString()) return time;
      return at.toLocaleDateString(language, { month: "short", day: "numeric" }) + ", " + time;
    },
    ago(seconds) {
      const t = this.texts;
      if (seconds < MINUTE) return t.just_now;
      if (seconds < HOUR) return this.counted(t.minutes_ago, Math.floor(seconds / MINUTE));
      if (seconds < DAY) return this.counted(t.hours_ago, Math.floor(seconds / HOUR));
      return new Date(this.at).toLocaleDateString(t.language, { year: "numeric", month: "short", day: "numeric" });
    },
    left(seconds) {
      const t = this.texts;
      if (seconds < MINUTE) return fill(t.seconds_left, { s: seconds });
      if (seconds < HOUR) return fill(t.minutes_left, { m: Math.floor(seconds / MINUTE), s: seconds % MINUTE });
      return fill(t.hours_left, { h: Math.floor(seconds / HOUR), m: Math.floor((seconds % HOUR) / MINUTE) });
    },
  },
  mounted() {
    // Vue only touches the DOM when the text changes: at most once a minute per "ago", once a second per countdown
    this.timer = setInterval(() => (this.now = Date.now()), this.mode === "countdown" ? 1000 : this.mode === "clock" ? 60000 : 5000);
  },
  unmounted() {
    clearInterval(this.timer);
  },
};
