//! The server's own texts and their languages: the `[apps.messages]`
//! table, per locale `[apps.messages.LOCALE]`, and the built-in texts.
//!
//! ```toml
//! [apps.messages]
//! greeting_anonymous = "Hi there! Log in for faster help: {login_url}"
//! email_subject = "New reply from {agent} ({app})"
//!
//! [apps.messages.fr]                 # any BCP 47 tag
//! email_subject = "Nouvelle réponse de {agent} ({app})"
//! ```
//!
//! A customer gets the texts of one language: the first of the languages
//! they ask for (`Accept-Language`, best first; for what is written to them
//! outside a request, the ones their session recorded) that the app has a
//! `[apps.messages.LOCALE]` table for or the server has built-in texts in
//! (English, Spanish, French, German, Brazilian Portuguese, Japanese and
//! Arabic; greetings only in English). A tag finds the same tag, else one
//! of the same language (`fr-CA` finds `fr`, `pt` finds `pt-BR`). In that
//! language, each text comes from the locale's table, else from
//! `[apps.messages]`, else from the built-in texts of the language, else
//! the English ones: what the config says wins over what is built in.
//!
//! Placeholders (`{agent}`) are filled in one pass ([`fill`]): a value is
//! never read again for placeholders. The config is checked when it loads
//! ([`MessagesConfig::check`]): unknown keys, texts that are not strings,
//! locale tables that are not language tags, and placeholders a text does
//! not have are refused.
//!
//! Pure: no IO, tested by data.

use std::collections::BTreeMap;
use std::fmt;

use serde::de::IgnoredAny;
use serde::{Deserialize, Deserializer};

/// A text of `[apps.messages]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Text {
    /// The first message of a trusted customer.
    GreetingTrusted,
    /// The first message of an identified, untrusted customer.
    GreetingIdentified,
    /// The first message of an anonymous customer.
    GreetingAnonymous,
    /// The login request a conversation held for a login opens with.
    HeldForLogin,
    /// The login request an agent sends ("Ask to log in").
    LoginRequest,
    /// An email of one unread reply: its subject.
    EmailSubject,
    /// An email of several unread replies: its subject.
    EmailSubjectMany,
    /// An email's first line, to a customer whose first name is known.
    EmailGreeting,
    /// An email's first line, to a customer without a known first name.
    EmailGreetingAnonymous,
    /// The line that introduces the replies of one agent.
    EmailIntro,
    /// The line that introduces the replies of several agents.
    EmailIntroMany,
    /// How the last of several agents' names joins the others.
    EmailNames,
    /// A login request's link in an email.
    EmailLogin,
    /// The link back to the chat.
    EmailLink,
    /// The small print at the end of an email.
    EmailFooter,
}

impl Text {
    /// Every text, in the order the keys are listed in messages.
    pub const ALL: [Text; 15] = [
        Text::GreetingTrusted,
        Text::GreetingIdentified,
        Text::GreetingAnonymous,
        Text::HeldForLogin,
        Text::LoginRequest,
        Text::EmailSubject,
        Text::EmailSubjectMany,
        Text::EmailGreeting,
        Text::EmailGreetingAnonymous,
        Text::EmailIntro,
        Text::EmailIntroMany,
        Text::EmailNames,
        Text::EmailLogin,
        Text::EmailLink,
        Text::EmailFooter,
    ];

    /// Its key in `[apps.messages]`.
    pub fn key(self) -> &'static str {
        match self {
            Text::GreetingTrusted => "greeting_trusted",
            Text::GreetingIdentified => "greeting_identified",
            Text::GreetingAnonymous => "greeting_anonymous",
            Text::HeldForLogin => "held_for_login",
            Text::LoginRequest => "login_request",
            Text::EmailSubject => "email_subject",
            Text::EmailSubjectMany => "email_subject_many",
            Text::EmailGreeting => "email_greeting",
            Text::EmailGreetingAnonymous => "email_greeting_anonymous",
            Text::EmailIntro => "email_intro",
            Text::EmailIntroMany => "email_intro_many",
            Text::EmailNames => "email_names",
            Text::EmailLogin => "email_login",
            Text::EmailLink => "email_link",
            Text::EmailFooter => "email_footer",
        }
    }

    /// The text whose key is `key`.
    pub fn from_key(key: &str) -> Option<Text> {
        Text::ALL.into_iter().find(|text| text.key() == key)
    }

    /// Whether it is a first message (which [`crate::rules`] picks, with
    /// `{first_name}` and `{login_url}`).
    pub fn is_greeting(self) -> bool {
        matches!(
            self,
            Text::GreetingTrusted | Text::GreetingIdentified | Text::GreetingAnonymous
        )
    }

    /// The placeholders it may use, and the ones it must (`None`: not
    /// checked, the greetings as before).
    fn placeholders(self) -> Option<(&'static [&'static str], &'static [&'static str])> {
        Some(match self {
            Text::GreetingTrusted | Text::GreetingIdentified | Text::GreetingAnonymous => {
                return None
            }
            Text::HeldForLogin | Text::LoginRequest => (&[], &[]),
            Text::EmailSubject | Text::EmailIntro | Text::EmailIntroMany => (&[AGENT, APP], &[]),
            Text::EmailSubjectMany => (&[COUNT, AGENT, APP], &[]),
            Text::EmailGreeting => (&[FIRST_NAME, APP], &[]),
            Text::EmailNames => (&[NAMES, LAST], &[NAMES, LAST]),
            Text::EmailGreetingAnonymous
            | Text::EmailLogin
            | Text::EmailLink
            | Text::EmailFooter => (&[APP], &[]),
        })
    }
}

/// `{agent}`: the agents who replied ("Bea", "Bea and Carl").
pub const AGENT: &str = "agent";
/// `{app}`: the app's name.
pub const APP: &str = "app";
/// `{count}`: how many replies.
pub const COUNT: &str = "count";
/// `{first_name}`: the customer's first name.
pub const FIRST_NAME: &str = "first_name";
/// `{names}`: every agent name but the last, joined by ", ".
pub const NAMES: &str = "names";
/// `{last}`: the last agent name.
pub const LAST: &str = "last";

/// One table of texts: `[apps.messages]` or `[apps.messages.LOCALE]`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Texts(BTreeMap<Text, String>);

impl Texts {
    /// The text set for `text`, if any.
    pub fn get(&self, text: Text) -> Option<&str> {
        self.0.get(&text).map(String::as_str)
    }

    /// Every text set, with its key.
    pub fn iter(&self) -> impl Iterator<Item = (Text, &str)> {
        self.0.iter().map(|(text, value)| (*text, value.as_str()))
    }
}

/// The `[apps.messages]` table: texts for every customer, and per locale
/// (`[apps.messages.fr]`) the texts that override them for customers who
/// ask for that language.
#[derive(Debug, Clone, Default)]
pub struct MessagesConfig {
    /// The texts without a language.
    pub texts: Texts,
    /// `[apps.messages.LOCALE]`: texts by language tag (`fr`, `pt-BR`).
    pub locales: BTreeMap<String, Texts>,
    /// What did not fit (an unknown key, a text that is not a string), for
    /// [`MessagesConfig::check`] to refuse.
    problems: Vec<String>,
}

/// Which languages the built-in texts of a kind of text exist in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BuiltIn {
    /// Only English: the greetings.
    English,
    /// [`LANGUAGES`]: the login requests and the emails.
    Translated,
}

/// The texts one customer gets: one language's.
#[derive(Debug, Clone, Copy)]
pub struct Localized<'a> {
    messages: &'a MessagesConfig,
    /// `[apps.messages.LOCALE]` of the language, when the app has one.
    table: Option<&'a Texts>,
    /// The built-in texts of the language, else English's.
    built_in: &'static Translation,
    /// The language's tag.
    tag: &'a str,
}

impl MessagesConfig {
    /// The texts for a customer who asks for `locales` (best first), of a
    /// kind built in in `built_in`'s languages.
    pub fn localize<'a>(&'a self, locales: &[String], built_in: BuiltIn) -> Localized<'a> {
        let languages: &[Translation] = match built_in {
            BuiltIn::English => &TRANSLATIONS[..1],
            BuiltIn::Translated => &TRANSLATIONS,
        };
        for want in locales {
            let table = find_locale(self.locales.iter(), want);
            let translation = find_locale(languages.iter().map(|t| (&t.lang, t)), want);
            if table.is_some() || translation.is_some() {
                return Localized {
                    messages: self,
                    table: table.map(|(_, texts)| texts),
                    built_in: translation.map_or(&TRANSLATIONS[0], |(_, t)| t),
                    tag: match (table, translation) {
                        (Some((tag, _)), _) => tag.as_str(),
                        (None, Some((_, t))) => t.lang,
                        (None, None) => "en",
                    },
                };
            }
        }
        Localized {
            messages: self,
            table: None,
            built_in: &TRANSLATIONS[0],
            tag: "en",
        }
    }

    /// Refuses what the config may not say: an unknown key, a text that is
    /// not a string, a locale table whose name is not a language tag, a
    /// placeholder the text does not have, a subject on several lines.
    pub fn check(&self) -> Result<(), String> {
        if let Some(problem) = self.problems.first() {
            return Err(problem.clone());
        }
        let tables = std::iter::once((None, &self.texts))
            .chain(self.locales.iter().map(|(tag, texts)| (Some(tag), texts)));
        for (tag, texts) in tables {
            let table = match tag {
                Some(tag) => format!("[apps.messages.{tag}]"),
                None => "[apps.messages]".to_owned(),
            };
            if let Some(tag) = tag {
                if !valid_locale(tag) {
                    return Err(format!(
                        "{table} is not a language tag (such as fr or pt-BR), nor a text of [apps.messages] ({})",
                        keys()
                    ));
                }
            }
            for (text, value) in texts.iter() {
                let key = text.key();
                let Some((allowed, required)) = text.placeholders() else {
                    continue;
                };
                let named = |names: &[&str]| {
                    if names.is_empty() {
                        "none".to_owned()
                    } else {
                        names
                            .iter()
                            .map(|n| format!("{{{n}}}"))
                            .collect::<Vec<_>>()
                            .join(", ")
                    }
                };
                if let Some(unknown) = placeholders(value).find(|p| !allowed.contains(p)) {
                    return Err(format!(
                        "{table} {key}: {{{unknown}}} is not a placeholder of this text; it may use {}",
                        named(allowed)
                    ));
                }
                if let Some(missing) = required
                    .iter()
                    .find(|r| !placeholders(value).any(|p| p == **r))
                {
                    return Err(format!(
                        "{table} {key} must use {{{missing}}} (it needs {})",
                        named(required)
                    ));
                }
                if matches!(text, Text::EmailSubject | Text::EmailSubjectMany)
                    && value.chars().any(char::is_control)
                {
                    return Err(format!("{table} {key} must be one line"));
                }
            }
        }
        Ok(())
    }

    /// Every configured first message, for checks at load.
    pub fn greetings(&self) -> impl Iterator<Item = &str> {
        std::iter::once(&self.texts)
            .chain(self.locales.values())
            .flat_map(Texts::iter)
            .filter(|(text, _)| text.is_greeting())
            .map(|(_, value)| value)
    }
}

impl<'a> Localized<'a> {
    /// The text the config sets: the language's table's, else
    /// `[apps.messages]`'s.
    pub fn configured(&self, text: Text) -> Option<&'a str> {
        self.table
            .and_then(|table| table.get(text))
            .or_else(|| self.messages.texts.get(text))
    }

    /// The text: configured, else built in, in the language or else in
    /// English. Empty for a greeting nobody configured (their built-in
    /// texts are [`crate::rules`]').
    pub fn text(&self, text: Text) -> &'a str {
        self.configured(text)
            .or_else(|| self.built_in.get(text))
            .or_else(|| TRANSLATIONS[0].get(text))
            .unwrap_or_default()
    }

    /// The language's tag, for `lang` and `Content-Language`: the locale
    /// table's, else the built-in language's; `en` when the customer asked
    /// for none the server has.
    pub fn tag(&self) -> &'a str {
        self.tag
    }

    /// Whether the language is written right to left.
    pub fn right_to_left(&self) -> bool {
        let primary = primary(self.tag);
        RIGHT_TO_LEFT.contains(&primary.as_str())
    }
}

/// Primary languages written right to left.
const RIGHT_TO_LEFT: [&str; 9] = ["ar", "he", "fa", "ur", "ps", "yi", "dv", "ckb", "sd"];

/// Fills `template`'s `{name}` placeholders with `values` (names without
/// braces) in one pass; a value is never read again for placeholders, and
/// any other brace stays as written.
pub fn fill(template: &str, values: &[(&str, &str)]) -> String {
    let mut out = String::with_capacity(template.len() + 32);
    let mut rest = template;
    while let Some(open) = rest.find('{') {
        out.push_str(&rest[..open]);
        let after = &rest[open + 1..];
        let found = values.iter().find(|(name, _)| {
            after
                .strip_prefix(name)
                .is_some_and(|tail| tail.starts_with('}'))
        });
        match found {
            Some((name, value)) => {
                out.push_str(value);
                rest = &after[name.len() + 1..];
            }
            None => {
                out.push('{');
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

/// The placeholders `{name}` of `text` (a name of `a-z` and `_`).
fn placeholders(text: &str) -> impl Iterator<Item = &str> {
    text.split('{').skip(1).filter_map(|part| {
        let (name, _) = part.split_once('}')?;
        (!name.is_empty() && name.bytes().all(|b| b.is_ascii_lowercase() || b == b'_'))
            .then_some(name)
    })
}

/// Every key, for messages.
fn keys() -> String {
    Text::ALL
        .iter()
        .map(|text| text.key())
        .collect::<Vec<_>>()
        .join(", ")
}

impl<'de> Deserialize<'de> for MessagesConfig {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        /// A value of `[apps.messages]`: a text, a locale's table, or a
        /// mistake.
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Entry {
            Text(String),
            Table(BTreeMap<String, Value>),
            Other(IgnoredAny),
        }
        /// A value of `[apps.messages.LOCALE]`.
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Value {
            Text(String),
            Other(IgnoredAny),
        }

        let entries = BTreeMap::<String, Entry>::deserialize(deserializer)?;
        let mut config = MessagesConfig::default();
        for (key, entry) in entries {
            match (Text::from_key(&key), entry) {
                (Some(text), Entry::Text(value)) => {
                    config.texts.0.insert(text, value);
                }
                (Some(_), _) => config
                    .problems
                    .push(format!("[apps.messages] {key} must be a string")),
                (None, Entry::Table(table)) => {
                    let mut texts = Texts::default();
                    for (name, value) in table {
                        match (Text::from_key(&name), value) {
                            (Some(text), Value::Text(value)) => {
                                texts.0.insert(text, value);
                            }
                            (Some(_), Value::Other(_)) => config
                                .problems
                                .push(format!("[apps.messages.{key}] {name} must be a string")),
                            (None, _) => config.problems.push(format!(
                                "[apps.messages.{key}] has an unknown key {name:?}; the keys are {}",
                                keys()
                            )),
                        }
                    }
                    config.locales.insert(key, texts);
                }
                (None, _) => config.problems.push(format!(
                    "[apps.messages] has an unknown key {key:?}; the keys are {}, and [apps.messages.LOCALE] tables",
                    keys()
                )),
            }
        }
        Ok(config)
    }
}

/// Whether `tag` looks like a BCP 47 language tag: a primary language of
/// 2 or 3 letters, then subtags of 1 to 8 letters or digits.
pub fn valid_locale(tag: &str) -> bool {
    let mut parts = tag.split('-');
    let primary = parts.next().unwrap_or_default();
    (2..=3).contains(&primary.len())
        && primary.bytes().all(|b| b.is_ascii_alphabetic())
        && parts.all(|p| (1..=8).contains(&p.len()) && p.bytes().all(|b| b.is_ascii_alphanumeric()))
}

/// The languages a request asks for, best first, from `Accept-Language`
/// (`fr-CA,fr;q=0.9,en;q=0.5`); `*` and malformed entries are skipped,
/// at most 10 kept.
pub fn accepted_locales(header: &str) -> Vec<String> {
    let mut weighted: Vec<(u16, usize, String)> = header
        .split(',')
        .enumerate()
        .filter_map(|(order, entry)| {
            let mut parts = entry.split(';');
            let tag = parts.next()?.trim();
            if !valid_locale(tag) {
                return None;
            }
            let q = parts
                .find_map(|p| p.trim().strip_prefix("q="))
                .map_or(Some(1000), |q| {
                    q.trim()
                        .parse::<f32>()
                        .ok()
                        .map(|q| (q.clamp(0.0, 1.0) * 1000.0) as u16)
                })?;
            (q > 0).then(|| (q, order, tag.to_owned()))
        })
        .collect();
    weighted.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
    weighted
        .into_iter()
        .take(10)
        .map(|(_, _, tag)| tag)
        .collect()
}

/// The entry of `map` for the first of `wanted` it has: the exact tag
/// (any case), else one of the same language (`fr-CA` finds `fr`, `pt`
/// finds `pt-BR`).
pub fn localized<'a, T>(map: &'a BTreeMap<String, T>, wanted: &[String]) -> Option<&'a T> {
    wanted
        .iter()
        .find_map(|want| find_locale(map.iter(), want))
        .map(|(_, value)| value)
}

/// The entry whose tag is `want` (any case), else the first of the same
/// primary language.
fn find_locale<'a, K, T>(
    entries: impl Iterator<Item = (&'a K, &'a T)> + Clone,
    want: &str,
) -> Option<(&'a K, &'a T)>
where
    K: AsRef<str> + ?Sized + 'a,
    T: 'a,
{
    entries
        .clone()
        .find(|(tag, _)| tag.as_ref().eq_ignore_ascii_case(want))
        .or_else(|| {
            let want = primary(want);
            entries
                .clone()
                .find(|(tag, _)| primary(tag.as_ref()) == want)
        })
}

/// A tag's primary language, lowercase.
fn primary(tag: &str) -> String {
    tag.split('-')
        .next()
        .unwrap_or_default()
        .to_ascii_lowercase()
}

/// The built-in texts of one language (all but the greetings).
#[derive(Debug)]
pub struct Translation {
    lang: &'static str,
    held_for_login: &'static str,
    login_request: &'static str,
    email_subject: &'static str,
    email_subject_many: &'static str,
    email_greeting: &'static str,
    email_greeting_anonymous: &'static str,
    email_intro: &'static str,
    email_intro_many: &'static str,
    email_names: &'static str,
    email_login: &'static str,
    email_link: &'static str,
    email_footer: &'static str,
}

impl Translation {
    fn get(&self, text: Text) -> Option<&'static str> {
        Some(match text {
            Text::GreetingTrusted | Text::GreetingIdentified | Text::GreetingAnonymous => {
                return None
            }
            Text::HeldForLogin => self.held_for_login,
            Text::LoginRequest => self.login_request,
            Text::EmailSubject => self.email_subject,
            Text::EmailSubjectMany => self.email_subject_many,
            Text::EmailGreeting => self.email_greeting,
            Text::EmailGreetingAnonymous => self.email_greeting_anonymous,
            Text::EmailIntro => self.email_intro,
            Text::EmailIntroMany => self.email_intro_many,
            Text::EmailNames => self.email_names,
            Text::EmailLogin => self.email_login,
            Text::EmailLink => self.email_link,
            Text::EmailFooter => self.email_footer,
        })
    }
}

/// The languages with built-in texts (the widget's), English first.
pub const LANGUAGES: [&str; 7] = ["en", "es", "fr", "de", "pt-BR", "ja", "ar"];

impl fmt::Display for Text {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.key())
    }
}

/// The built-in texts, in the order of [`LANGUAGES`]; English first, the
/// last resort of every text.
static TRANSLATIONS: [Translation; 7] = [
    Translation {
        lang: "en",
        held_for_login: "Please log in so we can verify it's you: an agent joins as soon as you do.",
        login_request: "Please log in so we can verify it's you.",
        email_subject: "New reply from {agent} — {app}",
        email_subject_many: "{count} new replies from {agent} — {app}",
        email_greeting: "Hi {first_name},",
        email_greeting_anonymous: "Hello,",
        email_intro: "{agent} replied to your chat with {app}:",
        email_intro_many: "{agent} replied to your chat with {app}:",
        email_names: "{names} and {last}",
        email_login: "Log in",
        email_link: "Continue the chat",
        email_footer: "You get this email because you gave this address in the chat with {app} and had not seen these replies. Answers to this email are not read: please reply in the chat.",
    },
    Translation {
        lang: "es",
        held_for_login: "Inicia sesión para que podamos verificar que eres tú: un agente se unirá en cuanto lo hagas.",
        login_request: "Inicia sesión para que podamos verificar que eres tú.",
        email_subject: "Nueva respuesta de {agent} — {app}",
        email_subject_many: "{count} respuestas nuevas de {agent} — {app}",
        email_greeting: "Hola, {first_name}:",
        email_greeting_anonymous: "Hola:",
        email_intro: "{agent} respondió a tu chat con {app}:",
        email_intro_many: "{agent} respondieron a tu chat con {app}:",
        email_names: "{names} y {last}",
        email_login: "Iniciar sesión",
        email_link: "Continuar el chat",
        email_footer: "Recibes este correo porque diste esta dirección en el chat con {app} y no habías visto estas respuestas. Las respuestas a este correo no se leen: responde en el chat.",
    },
    Translation {
        lang: "fr",
        held_for_login: "Veuillez vous connecter pour que nous puissions vérifier qu'il s'agit bien de vous\u{a0}: un conseiller vous rejoint dès que c'est fait.",
        login_request: "Veuillez vous connecter pour que nous puissions vérifier qu'il s'agit bien de vous.",
        email_subject: "Nouvelle réponse de {agent} — {app}",
        email_subject_many: "{count} nouvelles réponses de {agent} — {app}",
        email_greeting: "Bonjour {first_name},",
        email_greeting_anonymous: "Bonjour,",
        email_intro: "{agent} a répondu à votre conversation avec {app}\u{a0}:",
        email_intro_many: "{agent} ont répondu à votre conversation avec {app}\u{a0}:",
        email_names: "{names} et {last}",
        email_login: "Se connecter",
        email_link: "Reprendre la conversation",
        email_footer: "Vous recevez cet e-mail car vous avez donné cette adresse dans la conversation avec {app} et n'aviez pas vu ces réponses. Les réponses à cet e-mail ne sont pas lues\u{a0}: répondez dans la conversation.",
    },
    Translation {
        lang: "de",
        held_for_login: "Bitte melden Sie sich an, damit wir prüfen können, dass Sie es sind: Ein Mitarbeiter ist für Sie da, sobald Sie angemeldet sind.",
        login_request: "Bitte melden Sie sich an, damit wir prüfen können, dass Sie es sind.",
        email_subject: "Neue Antwort von {agent} — {app}",
        email_subject_many: "{count} neue Antworten von {agent} — {app}",
        email_greeting: "Hallo {first_name},",
        email_greeting_anonymous: "Hallo,",
        email_intro: "{agent} hat auf Ihren Chat mit {app} geantwortet:",
        email_intro_many: "{agent} haben auf Ihren Chat mit {app} geantwortet:",
        email_names: "{names} und {last}",
        email_login: "Anmelden",
        email_link: "Chat fortsetzen",
        email_footer: "Sie erhalten diese E-Mail, weil Sie diese Adresse im Chat mit {app} angegeben und diese Antworten noch nicht gesehen haben. Antworten auf diese E-Mail werden nicht gelesen: Bitte antworten Sie im Chat.",
    },
    Translation {
        lang: "pt-BR",
        held_for_login: "Entre na sua conta para que possamos confirmar que é você: um atendente entra na conversa assim que você fizer login.",
        login_request: "Entre na sua conta para que possamos confirmar que é você.",
        email_subject: "Nova resposta de {agent} — {app}",
        email_subject_many: "{count} novas respostas de {agent} — {app}",
        email_greeting: "Olá, {first_name},",
        email_greeting_anonymous: "Olá,",
        email_intro: "{agent} respondeu à sua conversa com {app}:",
        email_intro_many: "{agent} responderam à sua conversa com {app}:",
        email_names: "{names} e {last}",
        email_login: "Entrar",
        email_link: "Continuar a conversa",
        email_footer: "Você recebeu este e-mail porque informou este endereço na conversa com {app} e não tinha visto estas respostas. As respostas a este e-mail não são lidas: responda na conversa.",
    },
    Translation {
        lang: "ja",
        held_for_login: "ご本人確認のため、ログインしてください。ログインされるとすぐに担当者が対応します。",
        login_request: "ご本人確認のため、ログインしてください。",
        email_subject: "{agent}から新しい返信があります — {app}",
        email_subject_many: "{agent}から{count}件の新しい返信があります — {app}",
        email_greeting: "{first_name}様",
        email_greeting_anonymous: "こんにちは。",
        email_intro: "{app}とのチャットに{agent}が返信しました：",
        email_intro_many: "{app}とのチャットに{agent}が返信しました：",
        email_names: "{names}、{last}",
        email_login: "ログイン",
        email_link: "チャットを続ける",
        email_footer: "このメールは、{app}とのチャットでこのアドレスが入力され、これらの返信がまだ読まれていないためお送りしています。このメールへの返信は読まれません。チャットでご返信ください。",
    },
    Translation {
        lang: "ar",
        held_for_login: "يُرجى تسجيل الدخول لنتمكن من التحقق من هويتك: سينضم إليك أحد الموظفين فور تسجيل دخولك.",
        login_request: "يُرجى تسجيل الدخول لنتمكن من التحقق من هويتك.",
        email_subject: "رد جديد من {agent} — {app}",
        email_subject_many: "ردود جديدة ({count}) من {agent} — {app}",
        email_greeting: "مرحبًا {first_name}،",
        email_greeting_anonymous: "مرحبًا،",
        email_intro: "ردّ {agent} على محادثتك مع {app}:",
        email_intro_many: "ردّ {agent} على محادثتك مع {app}:",
        email_names: "{names} و{last}",
        email_login: "تسجيل الدخول",
        email_link: "متابعة المحادثة",
        email_footer: "تصلك هذه الرسالة لأنك أدخلت هذا العنوان في المحادثة مع {app} ولم تطّلع على هذه الردود بعد. لا تتم قراءة الردود على هذه الرسالة: يُرجى الرد في المحادثة.",
    },
];

#[cfg(test)]
mod tests {
    use super::*;

    fn tags(list: &[&str]) -> Vec<String> {
        list.iter().map(|t| t.to_string()).collect()
    }

    fn parse(toml_text: &str) -> MessagesConfig {
        toml::from_str(toml_text).unwrap()
    }

    #[test]
    fn the_built_in_languages_have_every_text_with_the_english_placeholders() {
        assert_eq!(
            TRANSLATIONS.iter().map(|t| t.lang).collect::<Vec<_>>(),
            LANGUAGES
        );
        for translation in &TRANSLATIONS {
            for text in Text::ALL {
                let Some(value) = translation.get(text) else {
                    assert!(text.is_greeting(), "{} {text}", translation.lang);
                    continue;
                };
                assert!(!value.trim().is_empty(), "{} {text}", translation.lang);
                let english: Vec<&str> = placeholders(TRANSLATIONS[0].get(text).unwrap()).collect();
                let mut ours: Vec<&str> = placeholders(value).collect();
                let mut theirs = english.clone();
                ours.sort_unstable();
                theirs.sort_unstable();
                assert_eq!(ours, theirs, "{} {text}: {value}", translation.lang);
            }
            // What the config check would say of it, as a table.
            let mut config = MessagesConfig::default();
            let mut texts = Texts::default();
            for text in Text::ALL {
                if let Some(value) = translation.get(text) {
                    texts.0.insert(text, value.to_owned());
                }
            }
            config.locales.insert(translation.lang.to_owned(), texts);
            config.check().unwrap();
        }
    }

    #[test]
    fn one_language_is_picked_first_the_customers_then_config_over_built_in() {
        let messages = parse(
            r#"
email_link = "Back to the chat"
[fr]
email_subject = "Du nouveau de {agent}"
[it]
email_subject = "Nuova risposta da {agent}"
"#,
        );
        let pick = |locales: &[&str]| messages.localize(&tags(locales), BuiltIn::Translated);
        // French: the table's subject, [apps.messages]'s link, the rest
        // built in French.
        let french = pick(&["fr-CA", "en"]);
        assert_eq!(french.tag(), "fr");
        assert_eq!(french.text(Text::EmailSubject), "Du nouveau de {agent}");
        assert_eq!(french.text(Text::EmailLink), "Back to the chat");
        assert_eq!(french.text(Text::EmailGreetingAnonymous), "Bonjour,");
        // A language with a table but no built-in texts: its table, then
        // [apps.messages], then English.
        let italian = pick(&["it"]);
        assert_eq!(italian.tag(), "it");
        assert_eq!(
            italian.text(Text::EmailSubject),
            "Nuova risposta da {agent}"
        );
        assert_eq!(italian.text(Text::EmailGreetingAnonymous), "Hello,");
        // The first language the server has, whole: never a mix.
        let german = pick(&["de", "fr"]);
        assert_eq!(german.tag(), "de");
        assert_eq!(
            german.text(Text::EmailSubject),
            "Neue Antwort von {agent} — {app}"
        );
        // Unknown languages, or none: English (and the config's texts).
        for locales in [&["sv", "zh-Hans"][..], &[]] {
            let english = pick(locales);
            assert_eq!(english.tag(), "en");
            assert_eq!(
                english.text(Text::EmailSubject),
                "New reply from {agent} — {app}"
            );
            assert_eq!(english.text(Text::EmailLink), "Back to the chat");
        }
        // Same language, another region; right to left.
        assert_eq!(pick(&["pt"]).tag(), "pt-BR");
        assert_eq!(pick(&["pt-PT"]).text(Text::EmailLogin), "Entrar");
        assert!(pick(&["ar-EG"]).right_to_left());
        assert!(!pick(&["fr"]).right_to_left());
        // English before French: English, though French has a table.
        assert_eq!(
            pick(&["en-GB", "fr"]).text(Text::EmailSubject),
            "New reply from {agent} — {app}"
        );
        // Greetings are built in English only: Spanish is not a language
        // they have, French (a table) is.
        let greeting = messages.localize(&tags(&["es", "fr"]), BuiltIn::English);
        assert_eq!(greeting.tag(), "fr");
    }

    #[test]
    fn placeholders_are_filled_once() {
        assert_eq!(
            fill(
                "{agent} of {app}: {x} {app",
                &[(AGENT, "Bea {app}"), (APP, "Acme")]
            ),
            "Bea {app} of Acme: {x} {app"
        );
        assert_eq!(fill("", &[(AGENT, "Bea")]), "");
        assert_eq!(fill("{}{{agent}}", &[(AGENT, "Bea")]), "{}{Bea}");
    }

    #[test]
    fn the_config_is_checked() {
        let problem = |toml_text: &str| parse(toml_text).check().unwrap_err();
        assert!(problem("email_subjct = \"x\"").starts_with(
            "[apps.messages] has an unknown key \"email_subjct\"; the keys are greeting_trusted,"
        ));
        assert!(problem("[fr]\nemail_subjct = \"x\"")
            .starts_with("[apps.messages.fr] has an unknown key \"email_subjct\"; the keys are greeting_trusted,"));
        assert_eq!(
            problem("email_subject = 3"),
            "[apps.messages] email_subject must be a string"
        );
        assert_eq!(
            problem("[fr]\nemail_link = [\"x\"]"),
            "[apps.messages.fr] email_link must be a string"
        );
        assert!(problem("[french]\nemail_link = \"x\"")
            .starts_with("[apps.messages.french] is not a language tag (such as fr or pt-BR)"));
        assert_eq!(
            problem("[de]\nemail_subject = \"Neu von {agnet}\""),
            "[apps.messages.de] email_subject: {agnet} is not a placeholder of this text; it may use {agent}, {app}"
        );
        assert_eq!(
            problem("login_request = \"Log in, {first_name}\""),
            "[apps.messages] login_request: {first_name} is not a placeholder of this text; it may use none"
        );
        assert_eq!(
            problem("email_names = \"{names}\""),
            "[apps.messages] email_names must use {last} (it needs {names}, {last})"
        );
        assert_eq!(
            problem("email_subject = \"a\\nb\""),
            "[apps.messages] email_subject must be one line"
        );
        // Greetings keep their free braces; good texts pass.
        parse("greeting_trusted = \"Hi {first_name} {:)}\"\nemail_footer = \"{app} — {x\"\n[pt-BR]\nemail_intro = \"{agent}: {app}\"")
            .check()
            .unwrap();
    }

    #[test]
    fn accept_language_is_read_best_first() {
        assert_eq!(
            accepted_locales("fr-CA,fr;q=0.9, en;q=0.8,*;q=0.1"),
            ["fr-CA", "fr", "en"]
        );
        assert_eq!(accepted_locales("en;q=0.2, de"), ["de", "en"]);
        assert_eq!(accepted_locales("es;q=0, pt-BR"), ["pt-BR"]);
        assert!(accepted_locales("").is_empty());
        assert!(accepted_locales("<script>, 12, x_y").is_empty());
        assert!(valid_locale("pt-BR") && valid_locale("zh-Hant-TW") && !valid_locale("french"));
    }
}
