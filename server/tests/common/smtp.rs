//! A real SMTP receiver on 127.0.0.1 for the email tests: Python's
//! aiosmtpd running `tests/smtp_sink.py`, which writes each message it
//! accepts to a directory as JSON (decoded parts). `npm test` installs
//! aiosmtpd (`scripts/setup.mjs`); `TRUSTCHAT_TEST_PYTHON` names the
//! Python that has it when `python3` does not.

use std::io::{BufRead as _, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

/// The variable naming a Python with aiosmtpd.
pub const PYTHON_ENV: &str = "TRUSTCHAT_TEST_PYTHON";
/// How long a wait for mail may take.
pub const MAIL_PATIENCE: Duration = Duration::from_secs(20);

/// A running receiver; stopped when dropped.
pub struct SmtpSink {
    /// The port it listens on (127.0.0.1).
    pub port: u16,
    /// Where it writes what it receives.
    dir: tempfile::TempDir,
    /// The Python process.
    child: Child,
}

impl SmtpSink {
    /// A receiver that accepts every message.
    pub fn start() -> SmtpSink {
        SmtpSink::start_with(&[])
    }

    /// A receiver with `tests/smtp_sink.py`'s options (`--refuse N`,
    /// `--user U --password P`).
    pub fn start_with(options: &[&str]) -> SmtpSink {
        let dir = tempfile::tempdir().unwrap();
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/smtp_sink.py");
        let mut child = Command::new(python())
            .arg(script)
            .arg(dir.path())
            .args(options)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("cannot start the SMTP receiver");
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let port = line
            .trim()
            .strip_prefix("listening ")
            .and_then(|port| port.parse().ok())
            .unwrap_or_else(|| panic!("the SMTP receiver said {line:?}"));
        SmtpSink { port, dir, child }
    }

    /// Every message received so far, in order.
    pub fn messages(&self) -> Vec<Value> {
        let mut names: Vec<_> = std::fs::read_dir(self.dir.path())
            .unwrap()
            .map(|entry| entry.unwrap().file_name().into_string().unwrap())
            .filter(|name| name.ends_with(".json"))
            .collect();
        names.sort();
        names
            .iter()
            .map(|name| {
                let text = std::fs::read_to_string(self.dir.path().join(name)).unwrap();
                serde_json::from_str(&text).unwrap()
            })
            .collect()
    }

    /// How many messages it refused (`--refuse`).
    pub fn refused(&self) -> usize {
        std::fs::read_dir(self.dir.path())
            .unwrap()
            .filter(|entry| {
                let name = entry.as_ref().unwrap().file_name();
                name.to_string_lossy().starts_with("refused-")
                    && !name.to_string_lossy().ends_with(".tmp")
            })
            .count()
    }

    /// Waits until `count` messages arrived (failing after
    /// [`MAIL_PATIENCE`]) and returns them all.
    pub async fn wait_for(&self, count: usize) -> Vec<Value> {
        let deadline = Instant::now() + MAIL_PATIENCE;
        loop {
            let messages = self.messages();
            if messages.len() >= count {
                return messages;
            }
            assert!(
                Instant::now() < deadline,
                "{count} message(s) expected, {} arrived: {messages:#?}",
                messages.len()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

impl Drop for SmtpSink {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A Python with aiosmtpd: `TRUSTCHAT_TEST_PYTHON`, else `python3`, else
/// Debian's `/usr/bin/python3`.
fn python() -> String {
    let candidates: Vec<String> = std::env::var(PYTHON_ENV)
        .ok()
        .into_iter()
        .chain(["python3".to_owned(), "/usr/bin/python3".to_owned()])
        .collect();
    candidates
        .into_iter()
        .find(|python| {
            Command::new(python)
                .args(["-c", "import aiosmtpd"])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status()
                .is_ok_and(|status| status.success())
        })
        .unwrap_or_else(|| {
            panic!(
                "the email tests need Python's aiosmtpd: `python3 -m pip install aiosmtpd` or `apt-get install python3-aiosmtpd` (npm test installs it), or set {PYTHON_ENV} to a Python that has it"
            )
        })
}
