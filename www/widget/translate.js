// The wasm asks for every text through `translate(key, arg)`
// (this file, in the glue chunk, with the wasm's glue):
//   - `arg` a number: the key's plural form for it (`unread_one`,
//     `unread_other`, … as `Intl.PluralRules` names them), with `{}` the
//     number in the locale's digits;
//   - `arg` a string: `{}` replaced by it (a name);
//   - `@time` (a Unix ms time): hour and minute, by `Intl`;
//   - `@back` (a Unix ms time): "We're closed right now. We're back
//     Monday at 9:00." (today, tomorrow, a weekday within the week, else a
//     date), in the customer's time zone;
//   - `@lang` and `@dir`: the locale's tag, and `rtl` for Arabic.
// A key the catalog lacks shows as itself (the protocol's English
// sentences are their own keys), except `error_*`, which falls back to
// `error_other`.

/** The translator the wasm calls. */
export function translator(locale, texts) {
  // Made when first needed: each costs the page a few ms to make.
  let plural, number, clock;
  const time = (at) => (clock ??= new Intl.DateTimeFormat(locale, { hour: "numeric", minute: "2-digit" })).format(at);
  const fill = (text, value) => text.replace("{}", value);
  const day = (at) => new Date(at).setHours(0, 0, 0, 0);
  function back(at) {
    const days = Math.round((day(at) - day(Date.now())) / 864e5);
    const hour = time(at);
    const when =
      days < 1
        ? fill(texts.today, hour)
        : days < 2
          ? fill(texts.tomorrow, hour)
          : texts.day_at
              .replace(
                "{day}",
                new Intl.DateTimeFormat(locale, days < 7 ? { weekday: "long" } : { month: "long", day: "numeric" }).format(at),
              )
              .replace("{time}", hour);
    return fill(texts.back, when);
  }
  return (key, arg) => {
    if (key === "@lang") return locale;
    if (key === "@dir") return locale === "ar" ? "rtl" : "ltr";
    if (key === "@time") return time(arg);
    if (key === "@back") return back(arg);
    if (typeof arg === "number") {
      plural ??= new Intl.PluralRules(locale);
      number ??= new Intl.NumberFormat(locale);
      const text = texts[`${key}_${plural.select(arg)}`] ?? texts[`${key}_other`] ?? texts[key] ?? key;
      return fill(text, number.format(arg));
    }
    const text = texts[key] ?? (key.startsWith("error_") ? texts.error_other : key);
    return arg === undefined ? text : fill(text, arg);
  };
}
