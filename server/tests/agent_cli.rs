//! `trustchat-server agent add|list|remove`, run as a user would.

// A test's unwrap is its assertion.
#![allow(clippy::unwrap_used)]

use std::io::Write as _;
use std::process::{Command, Output, Stdio};

fn run(config: &std::path::Path, args: &[&str], stdin: Option<&str>) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_trustchat-server"))
        .arg("agent")
        .args(args)
        .arg("--config")
        .arg(config)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    if let Some(text) = stdin {
        child
            .stdin
            .take()
            .unwrap()
            .write_all(text.as_bytes())
            .unwrap();
    }
    drop(child.stdin.take());
    child.wait_with_output().unwrap()
}

fn text(output: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

#[test]
fn agents_are_added_listed_and_removed() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("trustchat.toml");
    std::fs::write(
        &config,
        format!(
            "[server]\ndatabase_url = \"sqlite://{}\"\n",
            dir.path().join("t.db").display()
        ),
    )
    .unwrap();

    let added = run(
        &config,
        &[
            "add",
            "--email",
            "Alice@Support.example",
            "--name",
            "Alice Agent",
        ],
        Some("alice-password-1\n"),
    );
    assert!(added.status.success(), "{}", text(&added));
    assert!(text(&added).contains("added agent alice@support.example"));
    assert!(
        !text(&added).contains("alice-password-1"),
        "a piped password is never printed"
    );

    let short = run(
        &config,
        &["add", "--email", "bob@support.example", "--name", "Bob"],
        Some("short\n"),
    );
    assert!(!short.status.success());
    assert!(
        text(&short).contains("at least 10 characters"),
        "{}",
        text(&short)
    );

    let duplicate = run(
        &config,
        &["add", "--email", "ALICE@support.example", "--name", "Other"],
        Some("another-password\n"),
    );
    assert!(!duplicate.status.success());
    assert!(
        text(&duplicate).contains("exists already"),
        "{}",
        text(&duplicate)
    );

    let bad_email = run(
        &config,
        &["add", "--email", "not-an-email", "--name", "X"],
        Some("another-password\n"),
    );
    assert!(!bad_email.status.success());
    assert!(text(&bad_email).contains("--email"), "{}", text(&bad_email));

    let listed = run(&config, &["list"], None);
    assert!(listed.status.success());
    let lines: Vec<String> = String::from_utf8_lossy(&listed.stdout)
        .lines()
        .map(|l| l.split_whitespace().collect::<Vec<_>>().join(" "))
        .collect();
    assert_eq!(
        lines,
        [
            "EMAIL NAME STATUS",
            "alice@support.example Alice Agent available"
        ]
    );

    let removed = run(
        &config,
        &["remove", "--email", "alice@support.example"],
        None,
    );
    assert!(removed.status.success(), "{}", text(&removed));
    assert_eq!(
        String::from_utf8_lossy(&run(&config, &["list"], None).stdout)
            .lines()
            .count(),
        1
    );
    let again = run(
        &config,
        &["remove", "--email", "alice@support.example"],
        None,
    );
    assert!(!again.status.success());
    assert!(text(&again).contains("no agent has the email"));
}

#[test]
fn agents_are_put_in_teams_and_moved_between_them() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("trustchat.toml");
    let database = format!(
        "[server]\ndatabase_url = \"sqlite://{}\"\n",
        dir.path().join("t.db").display()
    );
    let apps = r#"
[[apps]]
id = "shop"
allowed_origins = ["https://shop.example"]
[[apps]]
id = "bank"
allowed_origins = ["https://bank.example"]
"#;
    let teams = r#"
[[teams]]
id = "frontline"
apps = ["shop", "bank"]
[[teams]]
id = "verified"
apps = ["shop"]
"#;
    // Without [[teams]], --team is refused and nobody is added.
    std::fs::write(&config, format!("{database}{apps}")).unwrap();
    let refused = run(
        &config,
        &[
            "add",
            "--email",
            "ann@support.example",
            "--name",
            "Ann",
            "--team",
            "frontline",
        ],
        Some("ann-password-12\n"),
    );
    assert!(!refused.status.success());
    assert!(
        text(&refused).contains("the config has no [[teams]]"),
        "{}",
        text(&refused)
    );

    std::fs::write(&config, format!("{database}{apps}{teams}")).unwrap();
    let unknown = run(
        &config,
        &[
            "add",
            "--email",
            "ann@support.example",
            "--name",
            "Ann",
            "--team",
            "vip",
        ],
        Some("ann-password-12\n"),
    );
    assert!(!unknown.status.success());
    assert!(
        text(&unknown)
            .contains("\"vip\" is not a team of the config; its teams are: frontline, verified"),
        "{}",
        text(&unknown)
    );
    let added = run(
        &config,
        &[
            "add",
            "--email",
            "ann@support.example",
            "--name",
            "Ann",
            "--team",
            "verified",
            "--team",
            "frontline",
        ],
        Some("ann-password-12\n"),
    );
    assert!(added.status.success(), "{}", text(&added));
    assert!(
        text(&added).contains("teams: frontline, verified"),
        "{}",
        text(&added)
    );

    let shown = run(&config, &["teams", "ann@support.example"], None);
    assert!(shown.status.success(), "{}", text(&shown));
    assert_eq!(
        text(&shown).trim(),
        "ann@support.example: frontline, verified"
    );

    let moved = run(
        &config,
        &["teams", "ann@support.example", "--set", "verified"],
        None,
    );
    assert_eq!(text(&moved).trim(), "ann@support.example: verified");
    let wrong = run(
        &config,
        &["teams", "ann@support.example", "--set", "verified,vip"],
        None,
    );
    assert!(!wrong.status.success());
    let unchanged = run(&config, &["teams", "ann@support.example"], None);
    assert_eq!(
        text(&unchanged).trim(),
        "ann@support.example: verified",
        "a refused set changes nothing"
    );
    let none = run(&config, &["teams", "ann@support.example", "--set"], None);
    assert_eq!(text(&none).trim(), "ann@support.example: no team");
    let nobody = run(&config, &["teams", "bob@support.example"], None);
    assert!(!nobody.status.success());
    assert!(text(&nobody).contains("no agent has the email bob@support.example"));
}
