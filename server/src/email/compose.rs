//! What an email of unread replies says: its subject, plain text and HTML,
//! in the customer's language ([`crate::texts`]: `email_*` of
//! `[apps.messages]`, per locale, else built in). Pure: no SMTP, no store.
//!
//! Every string that came from an agent, a customer or the config (names,
//! reply bodies, links, the texts) is escaped in the HTML
//! ([`escape_html`]); the only markup is this file's own.

use std::fmt::Write as _;

use crate::texts::{fill, Localized, Text, AGENT, APP, COUNT, FIRST_NAME, LAST, NAMES};

/// One reply to put in the email.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Reply<'a> {
    /// The agent's name as the customer saw it.
    pub author: &'a str,
    /// The text.
    pub body: &'a str,
    /// A login request's link (the app's `login_url`).
    pub login_link: Option<&'a str>,
}

/// Who the email is for, where it leads, and in which language.
#[derive(Debug, Clone, Copy)]
pub struct Envelope<'a> {
    /// The app's name.
    pub app_name: &'a str,
    /// The customer's first name, when they gave one.
    pub first_name: Option<&'a str>,
    /// The app's `chat_url` with `?trustchat=open`.
    pub chat_link: &'a str,
    /// The texts in the customer's language.
    pub texts: Localized<'a>,
}

/// A composed email.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Letter {
    /// The subject line.
    pub subject: String,
    /// The `text/plain` part.
    pub text: String,
    /// The `text/html` part.
    pub html: String,
    /// Its language's tag, for `Content-Language`.
    pub language: String,
}

/// The email telling the customer of `replies` (in order; at least one).
pub fn compose(envelope: &Envelope<'_>, replies: &[Reply<'_>]) -> Letter {
    let texts = &envelope.texts;
    let app = envelope.app_name;
    let (authors, several) = names(replies, texts.text(Text::EmailNames));
    let count = replies.len().to_string();
    let about = [
        (AGENT, authors.as_str()),
        (APP, app),
        (COUNT, count.as_str()),
    ];
    let subject = match replies.len() {
        1 => fill(texts.text(Text::EmailSubject), &about),
        _ => fill(texts.text(Text::EmailSubjectMany), &about),
    };
    let greeting = match envelope.first_name {
        Some(name) => fill(
            texts.text(Text::EmailGreeting),
            &[(FIRST_NAME, name), (APP, app)],
        ),
        None => fill(texts.text(Text::EmailGreetingAnonymous), &[(APP, app)]),
    };
    let intro = match several {
        false => fill(texts.text(Text::EmailIntro), &about),
        true => fill(texts.text(Text::EmailIntroMany), &about),
    };
    let log_in = fill(texts.text(Text::EmailLogin), &[(APP, app)]);
    let continue_chat = fill(texts.text(Text::EmailLink), &[(APP, app)]);
    let footer = fill(texts.text(Text::EmailFooter), &[(APP, app)]);

    let mut text = format!("{greeting}\n\n{intro}\n\n");
    for reply in replies {
        let _ = writeln!(text, "{}:", reply.author);
        for line in reply.body.lines() {
            let _ = writeln!(text, "    {line}");
        }
        if let Some(link) = reply.login_link {
            let _ = writeln!(text, "    {log_in}: {link}");
        }
        text.push('\n');
    }
    let _ = write!(
        text,
        "{continue_chat}: {}\n\n-- \n{footer}\n",
        envelope.chat_link
    );

    let language = texts.tag().to_owned();
    let (dir, border) = if texts.right_to_left() {
        (" dir=\"rtl\"", "border-right")
    } else {
        ("", "border-left")
    };
    let mut html = String::new();
    let _ = write!(
        html,
        "<!DOCTYPE html>\n<html lang=\"{}\"{dir}><head><meta charset=\"utf-8\"><title>{}</title></head>\n\
         <body style=\"margin:0;padding:24px;font-family:-apple-system,'Segoe UI',Helvetica,Arial,sans-serif;font-size:15px;line-height:1.5;color:#1f2328\">\n\
         <p>{}</p>\n<p>{}</p>\n",
        escape_html(&language),
        escape_html(&subject),
        escape_html(&greeting),
        escape_html(&intro),
    );
    for reply in replies {
        let _ = write!(
            html,
            "<div style=\"margin:16px 0;padding:8px 16px;{border}:3px solid #0969da;background:#f6f8fa\">\n\
             <p style=\"margin:0;font-weight:bold\">{}</p>\n<p style=\"margin:4px 0 0\">{}</p>\n",
            escape_html(reply.author),
            lines_html(reply.body),
        );
        if let Some(link) = reply.login_link {
            let _ = writeln!(
                html,
                "<p style=\"margin:4px 0 0\"><a href=\"{}\">{}</a></p>",
                escape_html(link),
                escape_html(&log_in),
            );
        }
        html.push_str("</div>\n");
    }
    let _ = write!(
        html,
        "<p><a href=\"{}\" style=\"display:inline-block;padding:10px 18px;background:#0969da;color:#ffffff;text-decoration:none;border-radius:6px\">{}</a></p>\n\
         <p style=\"color:#656d76;font-size:12px\">{}</p>\n</body></html>\n",
        escape_html(envelope.chat_link),
        escape_html(&continue_chat),
        escape_html(&footer),
    );
    Letter {
        subject,
        text,
        html,
        language,
    }
}

/// `text` with `& < > " '` escaped, safe in HTML text and in quoted
/// attribute values.
pub fn escape_html(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + text.len() / 8);
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// A body's lines, escaped, joined by `<br>`.
fn lines_html(body: &str) -> String {
    body.lines()
        .map(escape_html)
        .collect::<Vec<_>>()
        .join("<br>\n")
}

/// The authors of `replies`, each once, in order, the last joined to the
/// others by `template` (`email_names`, "{names} and {last}"): "Bea",
/// "Bea and Carl", "Bea, Carl and Dan"; and whether there are several.
fn names(replies: &[Reply<'_>], template: &str) -> (String, bool) {
    let mut authors: Vec<&str> = Vec::new();
    for reply in replies {
        if !authors.contains(&reply.author) {
            authors.push(reply.author);
        }
    }
    match authors.split_last() {
        None => (String::new(), false),
        Some((last, [])) => ((*last).to_owned(), false),
        Some((last, rest)) => (
            fill(template, &[(NAMES, &rest.join(", ")), (LAST, last)]),
            true,
        ),
    }
}

#[cfg(test)]
mod tests {
    use std::sync::LazyLock;

    use super::*;
    use crate::texts::{BuiltIn, MessagesConfig};

    /// An app that configures no text.
    static NO_CONFIG: LazyLock<MessagesConfig> = LazyLock::new(MessagesConfig::default);

    /// Ada, in English.
    fn envelope() -> Envelope<'static> {
        Envelope {
            app_name: "Acme Support",
            first_name: Some("Ada"),
            chat_link: "https://acme.example/help?trustchat=open",
            texts: NO_CONFIG.localize(&[], BuiltIn::Translated),
        }
    }

    fn in_language<'a>(messages: &'a MessagesConfig, locales: &[&str]) -> Envelope<'a> {
        let locales: Vec<String> = locales.iter().map(|l| l.to_string()).collect();
        Envelope {
            texts: messages.localize(&locales, BuiltIn::Translated),
            ..envelope()
        }
    }

    fn reply<'a>(author: &'a str, body: &'a str) -> Reply<'a> {
        Reply {
            author,
            body,
            login_link: None,
        }
    }

    #[test]
    fn subjects_name_the_agents_and_the_app() {
        let check = |replies: &[Reply<'_>], expected: &str| {
            assert_eq!(compose(&envelope(), replies).subject, expected);
        };
        check(&[reply("Bea", "hi")], "New reply from Bea — Acme Support");
        check(
            &[reply("Bea", "hi"), reply("Bea", "still there?")],
            "2 new replies from Bea — Acme Support",
        );
        check(
            &[reply("Bea", "a"), reply("Carl", "b"), reply("Bea", "c")],
            "3 new replies from Bea and Carl — Acme Support",
        );
        check(
            &[reply("Bea", "a"), reply("Carl", "b"), reply("Dan", "c")],
            "3 new replies from Bea, Carl and Dan — Acme Support",
        );
    }

    #[test]
    fn both_parts_hold_every_reply_in_order_and_the_link() {
        let letter = compose(
            &envelope(),
            &[
                reply("Bea", "First line\nsecond line"),
                Reply {
                    author: "Bea",
                    body: "Please log in.",
                    login_link: Some("https://acme.example/login?next=/help&x=1"),
                },
            ],
        );
        let first = letter.text.find("First line").unwrap();
        let second = letter.text.find("Please log in.").unwrap();
        assert!(first < second, "{}", letter.text);
        assert!(letter.text.starts_with("Hi Ada,\n"));
        assert!(letter.text.contains("    second line\n"));
        assert!(letter
            .text
            .contains("Log in: https://acme.example/login?next=/help&x=1"));
        assert!(letter
            .text
            .contains("Continue the chat: https://acme.example/help?trustchat=open"));
        assert!(letter.html.contains("First line<br>\nsecond line"));
        assert!(letter
            .html
            .contains("href=\"https://acme.example/login?next=/help&amp;x=1\""));
        assert!(letter
            .html
            .contains("href=\"https://acme.example/help?trustchat=open\""));
    }

    #[test]
    fn everything_supplied_is_escaped_in_the_html() {
        let letter = compose(
            &Envelope {
                app_name: "A&B <Shop>",
                first_name: Some("<script>alert(1)</script>"),
                chat_link: "https://acme.example/?a=\"b\"",
                ..envelope()
            },
            &[reply("Bea <b>", "<b>&\"x\"</b> it's")],
        );
        assert!(!letter.html.contains("<script>"), "{}", letter.html);
        assert!(!letter.html.contains("<b>"), "{}", letter.html);
        assert!(letter
            .html
            .contains("&lt;b&gt;&amp;&quot;x&quot;&lt;/b&gt; it&#39;s"));
        assert!(letter.html.contains("A&amp;B &lt;Shop&gt;"));
        assert!(letter
            .html
            .contains("href=\"https://acme.example/?a=&quot;b&quot;\""));
        // The plain part is text: as written.
        assert!(letter.text.contains("<b>&\"x\"</b> it's"));
    }

    #[test]
    fn without_a_name_the_greeting_is_plain() {
        let letter = compose(
            &Envelope {
                first_name: None,
                ..envelope()
            },
            &[reply("Bea", "hi")],
        );
        assert!(letter.text.starts_with("Hello,\n"));
        assert!(letter.html.contains("<p>Hello,</p>"));
    }

    #[test]
    fn the_customers_language_is_the_emails_with_its_direction() {
        let english = compose(&envelope(), &[reply("Bea", "hi")]);
        assert_eq!(english.language, "en");
        assert!(english
            .html
            .starts_with("<!DOCTYPE html>\n<html lang=\"en\"><head>"));
        assert!(english.text.contains("Continue the chat: https://"));

        let french = compose(
            &in_language(&NO_CONFIG, &["fr-CA", "en"]),
            &[
                reply("Bea", "a"),
                Reply {
                    author: "Carl",
                    body: "b",
                    login_link: Some("https://acme.example/login"),
                },
            ],
        );
        assert_eq!(french.language, "fr");
        assert_eq!(
            french.subject,
            "2 nouvelles réponses de Bea et Carl — Acme Support"
        );
        assert!(
            french
                .text
                .starts_with("Bonjour Ada,\n\nBea et Carl ont répondu"),
            "{}",
            french.text
        );
        assert!(french
            .text
            .contains("    Se connecter: https://acme.example/login"));
        assert!(french.text.contains("Reprendre la conversation: https://"));
        assert!(french.html.contains("<html lang=\"fr\"><head>"));
        assert!(french.html.contains(">Reprendre la conversation</a>"));

        let arabic = compose(&in_language(&NO_CONFIG, &["ar-EG"]), &[reply("Bea", "hi")]);
        assert_eq!(arabic.language, "ar");
        assert!(arabic.html.contains("<html lang=\"ar\" dir=\"rtl\">"));
        assert!(arabic.html.contains("border-right:3px"));
        assert_eq!(arabic.subject, "رد جديد من Bea — Acme Support");
    }

    #[test]
    fn configured_texts_win_and_are_escaped_in_the_html() {
        let messages: MessagesConfig = toml::from_str(
            r#"
email_footer = "<b>{app}</b> & co"
[fr]
email_subject = "Réponse de {agent} <{app}>"
"#,
        )
        .unwrap();
        let letter = compose(&in_language(&messages, &["fr"]), &[reply("Bea", "hi")]);
        assert_eq!(letter.subject, "Réponse de Bea <Acme Support>");
        assert!(
            letter.text.ends_with("-- \n<b>Acme Support</b> & co\n"),
            "{}",
            letter.text
        );
        assert!(letter
            .html
            .contains("<title>Réponse de Bea &lt;Acme Support&gt;</title>"));
        assert!(letter
            .html
            .contains("&lt;b&gt;Acme Support&lt;/b&gt; &amp; co"));
        assert!(!letter.html.contains("<b>"));
        // The rest in French, built in.
        assert!(letter.text.starts_with("Bonjour Ada,"));
    }
}
