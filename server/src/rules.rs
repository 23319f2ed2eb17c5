//! The first message a customer sees, chosen by the app's rules.
//!
//! Per app, the config holds default texts by the customer's status and,
//! optionally, a list of rules matched in order (first match wins) by
//! status and by page URL prefix:
//!
//! ```toml
//! [apps.messages]
//! greeting_trusted = "Hi {first_name}! How can we help?"
//! greeting_identified = "Hi {first_name}! Log in to verify it's you: {login_url}"
//! greeting_anonymous = "Hi there! Log in for faster help: {login_url}"
//!
//! [[apps.rules]]
//! status = ["anonymous", "identified"]    # absent: every status
//! page_prefix = "https://shop.example.com/checkout"   # absent: every page
//! greeting = "Log in to see your order: {login_url}"
//! ```
//!
//! `{first_name}` becomes the customer's first name (`there` when none is
//! known) and `{login_url}` the app's `login_url`; a text that uses
//! `{login_url}` in an app without one is refused when the config loads.
//! Without a `login_url`, the defaults of identified and anonymous
//! customers drop the link. The `[apps.messages]` table, its languages and
//! the other server texts are [`crate::texts`]'.
//!
//! Pure: no IO, tested by data.

use std::collections::BTreeMap;

use serde::Deserialize;

pub use crate::texts::MessagesConfig;
use crate::texts::{self, localized, BuiltIn, Text};

/// Where a customer stands, as far as the first message cares.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CustomerStatus {
    /// Nobody said who they are.
    Anonymous,
    /// Named by `setUser` or the onboarding form: not proven.
    Identified,
    /// Proven by a verified, unexpired identity token.
    Trusted,
}

/// One `[[apps.rules]]` table. The first rule that matches a customer
/// decides everything it sets; what it leaves out takes the app's default.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RuleConfig {
    /// What the console shows as the rule that routed a conversation;
    /// `rule N` (counting from 1) when absent.
    #[serde(default)]
    pub name: Option<String>,
    /// The statuses it applies to; empty or absent: all.
    #[serde(default)]
    pub status: Vec<CustomerStatus>,
    /// The page URLs it applies to, by prefix; absent: all pages.
    #[serde(default)]
    pub page_prefix: Option<String>,
    /// The first message; absent: `[apps.messages]`'s (or the built-in)
    /// text for the customer's status.
    #[serde(default)]
    pub greeting: Option<String>,
    /// The first message by language (`greetings = { fr = "…" }`), over
    /// `greeting` for customers who ask for one of them.
    #[serde(default)]
    pub greetings: BTreeMap<String, String>,
    /// The team its conversations are routed to (a `[[teams]]` id).
    #[serde(default)]
    pub team: Option<String>,
    /// Its conversations' place in the queue.
    #[serde(default)]
    pub priority: Option<Priority>,
    /// How long its conversations wait for the customer to log in before
    /// they are routed.
    #[serde(default)]
    pub hold_for_login_secs: Option<u64>,
}

pub use trustchat_protocol::Priority;

impl RuleConfig {
    /// Whether the rule applies to a customer of `status` on `page`.
    pub fn matches(&self, status: CustomerStatus, page: Option<&str>) -> bool {
        (self.status.is_empty() || self.status.contains(&status))
            && self
                .page_prefix
                .as_deref()
                .is_none_or(|prefix| page.is_some_and(|page| page.starts_with(prefix)))
    }

    /// Whether some customer status can match the rule only when trusted:
    /// a rule for trusted customers alone.
    pub fn only_trusted(&self) -> bool {
        !self.status.is_empty() && self.status.iter().all(|s| *s == CustomerStatus::Trusted)
    }
}

/// The first rule that applies to a customer of `status` on `page`.
pub fn matching<'a>(
    rules: &'a [RuleConfig],
    status: CustomerStatus,
    page: Option<&str>,
) -> Option<&'a RuleConfig> {
    rules.iter().find(|rule| rule.matches(status, page))
}

impl RuleConfig {
    /// Whether every customer this rule matches is matched by `earlier`
    /// too, which comes first: this one can never apply.
    pub fn shadowed_by(&self, earlier: &RuleConfig) -> bool {
        let statuses = earlier.status.is_empty()
            || (!self.status.is_empty() && self.status.iter().all(|s| earlier.status.contains(s)));
        let pages = match (&earlier.page_prefix, &self.page_prefix) {
            (None, _) => true,
            (Some(earlier), Some(this)) => this.starts_with(earlier.as_str()),
            (Some(_), None) => false,
        };
        statuses && pages
    }
}

/// How a conversation that opens (or waits) is routed: what the first
/// matching rule says, the defaults for the rest.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Routing {
    /// The team it goes to; `None`: any team serving its app.
    pub team: Option<String>,
    /// Its place in the queue.
    pub priority: Priority,
    /// The rule's name (`rule N` when it has none); `None`: no rule.
    pub rule: Option<String>,
    /// How long it waits for a login before it is routed; never for a
    /// trusted customer, who is logged in already.
    pub hold_for_login_secs: Option<u64>,
}

/// The routing of a conversation of a customer of `status` on `page`.
pub fn routing(rules: &[RuleConfig], status: CustomerStatus, page: Option<&str>) -> Routing {
    let Some((index, rule)) = rules
        .iter()
        .enumerate()
        .find(|(_, rule)| rule.matches(status, page))
    else {
        return Routing::default();
    };
    Routing {
        team: rule.team.clone(),
        priority: rule.priority.unwrap_or_default(),
        rule: Some(rule.label(index)),
        hold_for_login_secs: rule
            .hold_for_login_secs
            .filter(|_| status != CustomerStatus::Trusted),
    }
}

impl RuleConfig {
    /// The rule's name, or `rule N` for the rule at `index` (N = index + 1).
    pub fn label(&self, index: usize) -> String {
        match self.name.as_deref().map(str::trim) {
            Some(name) if !name.is_empty() => name.to_owned(),
            _ => format!("rule {}", index + 1),
        }
    }
}

/// The chosen first message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FirstMessage {
    /// The text, placeholders filled in.
    pub text: String,
    /// The app's login URL when the text carries it.
    pub link: Option<String>,
}

/// The placeholder for the first name.
pub const FIRST_NAME: &str = "{first_name}";
/// The placeholder for the app's login URL.
pub const LOGIN_URL: &str = "{login_url}";

const TRUSTED: &str = "Hi {first_name}!";
const IDENTIFIED: &str = "Hi {first_name}! Log in to verify it's you: {login_url}";
const ANONYMOUS: &str = "Hi there! Log in for faster help: {login_url}";
const IDENTIFIED_NO_LINK: &str = "Hi {first_name}!";
const ANONYMOUS_NO_LINK: &str = "Hi there! How can we help?";

/// [`first_message`] for a customer who asks for `locales` (best first):
/// the matching rule's `greetings` in the first of them it has, else its
/// `greeting`; else `[apps.messages]` in the customer's language (see
/// [`crate::texts`]: greetings are built in English only, so the first of
/// `locales` that is English or has an `[apps.messages.LOCALE]` table),
/// falling back to the unlocalized text, then the built-in one.
#[allow(clippy::too_many_arguments)]
pub fn first_message_in(
    rules: &[RuleConfig],
    messages: &MessagesConfig,
    login_url: Option<&str>,
    status: CustomerStatus,
    first_name: Option<&str>,
    page: Option<&str>,
    locales: &[String],
) -> FirstMessage {
    let rule = matching(rules, status, page);
    let from_rule = rule.and_then(|rule| {
        localized(&rule.greetings, locales)
            .map(String::as_str)
            .or(rule.greeting.as_deref())
    });
    let template = match from_rule {
        Some(greeting) => greeting,
        None => messages
            .localize(locales, BuiltIn::English)
            .configured(greeting_text(status))
            .unwrap_or_else(|| default_text(login_url.is_some(), status)),
    };
    fill(template, first_name, login_url)
}

/// The first message for a customer of `status` on `page` (the page URL,
/// when known), in an app with these rules, messages and login URL.
pub fn first_message(
    rules: &[RuleConfig],
    messages: &MessagesConfig,
    login_url: Option<&str>,
    status: CustomerStatus,
    first_name: Option<&str>,
    page: Option<&str>,
) -> FirstMessage {
    first_message_in(rules, messages, login_url, status, first_name, page, &[])
}

/// Fills the placeholders of `template`.
pub fn fill(template: &str, first_name: Option<&str>, login_url: Option<&str>) -> FirstMessage {
    let first_name = first_name.unwrap_or("there");
    let mut values = vec![(texts::FIRST_NAME, first_name)];
    let mut link = None;
    if let Some(url) = login_url.filter(|_| template.contains(LOGIN_URL)) {
        values.push(("login_url", url));
        link = Some(url.to_owned());
    }
    FirstMessage {
        text: texts::fill(template, &values),
        link,
    }
}

/// Every configured first message of an app, for validation at load.
pub fn texts<'a>(
    rules: &'a [RuleConfig],
    messages: &'a MessagesConfig,
) -> impl Iterator<Item = &'a str> {
    rules
        .iter()
        .flat_map(|rule| rule.greeting.iter().chain(rule.greetings.values()))
        .map(String::as_str)
        .chain(messages.greetings())
}

/// The text of `[apps.messages]` that greets a customer of `status`.
fn greeting_text(status: CustomerStatus) -> Text {
    match status {
        CustomerStatus::Trusted => Text::GreetingTrusted,
        CustomerStatus::Identified => Text::GreetingIdentified,
        CustomerStatus::Anonymous => Text::GreetingAnonymous,
    }
}

/// The built-in first message of a customer of `status`.
fn default_text(has_login_url: bool, status: CustomerStatus) -> &'static str {
    match (status, has_login_url) {
        (CustomerStatus::Trusted, _) => TRUSTED,
        (CustomerStatus::Identified, true) => IDENTIFIED,
        (CustomerStatus::Identified, false) => IDENTIFIED_NO_LINK,
        (CustomerStatus::Anonymous, true) => ANONYMOUS,
        (CustomerStatus::Anonymous, false) => ANONYMOUS_NO_LINK,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use CustomerStatus::{Anonymous, Identified, Trusted};

    const LOGIN: &str = "https://shop.example/login";

    fn rule(status: &[CustomerStatus], page_prefix: Option<&str>, greeting: &str) -> RuleConfig {
        RuleConfig {
            name: None,
            greetings: BTreeMap::new(),
            status: status.to_vec(),
            page_prefix: page_prefix.map(str::to_owned),
            greeting: Some(greeting.to_owned()),
            team: None,
            priority: None,
            hold_for_login_secs: None,
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn check(
        rules: &[RuleConfig],
        messages: &MessagesConfig,
        login_url: Option<&str>,
        status: CustomerStatus,
        first_name: Option<&str>,
        page: Option<&str>,
        text: &str,
        link: Option<&str>,
    ) {
        let got = first_message(rules, messages, login_url, status, first_name, page);
        assert_eq!(
            got,
            FirstMessage {
                text: text.to_owned(),
                link: link.map(str::to_owned)
            },
            "{status:?} {first_name:?} {page:?}"
        );
    }

    #[test]
    fn texts_follow_the_customers_language_with_fallbacks() {
        let messages: MessagesConfig = toml::from_str(
            r#"
greeting_anonymous = "Hello! {login_url}"
[fr]
greeting_anonymous = "Bonjour ! {login_url}"
[pt-BR]
greeting_trusted = "Olá, {first_name}!"
"#,
        )
        .unwrap();
        let mut checkout = rule(&[Identified], None, "Checkout help");
        checkout
            .greetings
            .insert("de".into(), "Hilfe beim Bezahlen".into());
        let rules = [checkout];
        let say = |status, locales: &[&str]| {
            let locales: Vec<String> = locales.iter().map(|l| l.to_string()).collect();
            first_message_in(
                &rules,
                &messages,
                Some(LOGIN),
                status,
                Some("Ada"),
                None,
                &locales,
            )
            .text
        };
        assert_eq!(
            say(Anonymous, &["fr-CA", "en"]),
            "Bonjour ! https://shop.example/login"
        );
        assert_eq!(
            say(Anonymous, &["ja", "FR"]),
            "Bonjour ! https://shop.example/login"
        );
        assert_eq!(say(Anonymous, &["es"]), "Hello! https://shop.example/login");
        assert_eq!(say(Anonymous, &[]), "Hello! https://shop.example/login");
        assert_eq!(say(Trusted, &["pt"]), "Olá, Ada!");
        // What a locale leaves out comes from the table above, then the
        // built-in text.
        assert_eq!(say(Trusted, &["fr"]), "Hi Ada!");
        // A rule's own greeting by language, else its greeting.
        assert_eq!(say(Identified, &["de-AT"]), "Hilfe beim Bezahlen");
        assert_eq!(say(Identified, &["fr"]), "Checkout help");
    }

    #[test]
    fn defaults_by_status() {
        let none = MessagesConfig::default();
        check(
            &[],
            &none,
            Some(LOGIN),
            Trusted,
            Some("Ada"),
            None,
            "Hi Ada!",
            None,
        );
        check(
            &[],
            &none,
            Some(LOGIN),
            Trusted,
            None,
            None,
            "Hi there!",
            None,
        );
        check(
            &[],
            &none,
            Some(LOGIN),
            Identified,
            Some("Ada"),
            None,
            "Hi Ada! Log in to verify it's you: https://shop.example/login",
            Some(LOGIN),
        );
        check(
            &[],
            &none,
            Some(LOGIN),
            Anonymous,
            None,
            None,
            "Hi there! Log in for faster help: https://shop.example/login",
            Some(LOGIN),
        );
        // No login URL: no link, and the texts still read well.
        check(
            &[],
            &none,
            None,
            Identified,
            Some("Ada"),
            None,
            "Hi Ada!",
            None,
        );
        check(
            &[],
            &none,
            None,
            Anonymous,
            None,
            None,
            "Hi there! How can we help?",
            None,
        );
    }

    #[test]
    fn configured_texts_and_rules_first_match_wins() {
        let messages: MessagesConfig = toml::from_str(
            "greeting_trusted = \"Welcome back, {first_name}.\"\ngreeting_anonymous = \"Hello! {login_url}\"",
        )
        .unwrap();
        let rules = [
            rule(
                &[Anonymous, Identified],
                Some("https://shop.example/checkout"),
                "Checkout help: {login_url}",
            ),
            rule(
                &[Trusted],
                Some("https://shop.example/vip"),
                "VIP {first_name}",
            ),
            rule(&[], Some("https://shop.example/vip"), "VIP guest"),
        ];
        check(
            &rules,
            &messages,
            Some(LOGIN),
            Trusted,
            Some("Ada"),
            None,
            "Welcome back, Ada.",
            None,
        );
        check(
            &rules,
            &messages,
            Some(LOGIN),
            Anonymous,
            None,
            None,
            "Hello! https://shop.example/login",
            Some(LOGIN),
        );
        check(
            &rules,
            &messages,
            Some(LOGIN),
            Identified,
            Some("Ada"),
            Some("https://shop.example/checkout/step-2"),
            "Checkout help: https://shop.example/login",
            Some(LOGIN),
        );
        check(
            &rules,
            &messages,
            Some(LOGIN),
            Trusted,
            Some("Ada"),
            Some("https://shop.example/checkout"),
            "Welcome back, Ada.",
            None,
        );
        check(
            &rules,
            &messages,
            Some(LOGIN),
            Trusted,
            Some("Ada"),
            Some("https://shop.example/vip/"),
            "VIP Ada",
            None,
        );
        check(
            &rules,
            &messages,
            Some(LOGIN),
            Anonymous,
            None,
            Some("https://shop.example/vip/"),
            "VIP guest",
            None,
        );
        // A page rule never matches when the page is unknown.
        check(
            &rules[2..],
            &messages,
            Some(LOGIN),
            Anonymous,
            None,
            None,
            "Hello! https://shop.example/login",
            Some(LOGIN),
        );
    }
}
