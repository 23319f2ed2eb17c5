//! The `trustchat-server` command line.

use std::io::Read as _;
use std::path::PathBuf;
use std::process::ExitCode;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use clap::{Parser, Subcommand};
use rand::Rng as _;
use serde_json::{json, Value};
use trustchat_server::jwt::{KeyRing, MintIdentity, Policy, Verifier};
use trustchat_server::{server, Config};

/// TrustChat: customer-support chat whose customers are known, and trusted
/// when the website proves who they are.
#[derive(Debug, Parser)]
#[command(name = "trustchat-server", version, about)]
struct Cli {
    /// What to do.
    #[command(subcommand)]
    command: Command,
}

/// The subcommands. `jwt verify|mint` and `agent add|list|remove` join
/// these as nested enums.
#[derive(Debug, Subcommand)]
enum Command {
    /// Serve the API, the widget and the demo portal.
    Serve(ServeArgs),
    /// Identity tokens: check one (the token debugger) or mint one.
    #[command(subcommand)]
    Jwt(JwtCommand),
    /// API keys for server-to-server calls.
    #[command(subcommand, name = "api-key")]
    ApiKey(ApiKeyCommand),
    /// Agent accounts for the console at /agent/.
    #[command(subcommand)]
    Agent(AgentCommand),
    /// Load-test a running server: N customer WebSockets sending at a set
    /// rate; prints delivered, lost, latency percentiles and the server's
    /// memory, and one JSON line.
    Loadtest(LoadtestArgs),
    /// Apply the database's pending migrations and exit (`serve` applies
    /// them at start too).
    Migrate(MigrateArgs),
    /// Database tools.
    #[command(subcommand)]
    Db(DbCommand),
    /// Privacy requests: a customer's data exported or erased, and the
    /// audit log of both.
    #[command(subcommand)]
    Customer(CustomerCommand),
    /// Webhooks: the deliveries of an app's events and where each stands.
    #[command(subcommand)]
    Webhooks(WebhooksCommand),
    /// Print the API document (OpenAPI 3.1) that `GET
    /// /api/v1/openapi.json` serves, without a server or a config: for
    /// generating clients in a build.
    Openapi {
        /// Write it to this file instead of standard output.
        #[arg(long, value_name = "FILE")]
        out: Option<PathBuf>,
    },
}

/// `webhooks list`.
#[derive(Debug, Subcommand)]
enum WebhooksCommand {
    /// List an app's most recent webhook deliveries, newest first: when the
    /// event happened, its type, the webhook, the status (pending,
    /// delivered, failed), the attempts, and the last answer or error.
    List {
        /// The server's configuration file (for the database).
        #[arg(
            long,
            short,
            value_name = "FILE",
            default_value = "trustchat.toml",
            env = "TRUSTCHAT_CONFIG"
        )]
        config: PathBuf,
        /// The app.
        #[arg(long, value_name = "ID")]
        app: String,
        /// How many deliveries to show.
        #[arg(long, default_value_t = 20, value_parser = clap::value_parser!(i64).range(1..=1000))]
        limit: i64,
    },
}

/// Who a `customer` subcommand is about: exactly one of these.
#[derive(Debug, clap::Args)]
#[group(required = true, multiple = false)]
struct CustomerArgs {
    /// Every profile of the app with this email.
    #[arg(long)]
    email: Option<String>,
    /// Every profile of the app with this E.164 phone number.
    #[arg(long)]
    phone: Option<String>,
    /// The profile with this id.
    #[arg(long)]
    id: Option<String>,
}

/// `customer export|erase|audit`.
#[derive(Debug, Subcommand)]
enum CustomerCommand {
    /// Write everything held about a customer of an app as JSON (profile,
    /// sessions without their tokens, conversations, messages, ratings,
    /// read markers, pending emails). Works while the server runs.
    Export {
        /// The server's configuration file (for the database).
        #[arg(
            long,
            short,
            value_name = "FILE",
            default_value = "trustchat.toml",
            env = "TRUSTCHAT_CONFIG"
        )]
        config: PathBuf,
        /// The app.
        #[arg(long, value_name = "ID")]
        app: String,
        #[command(flatten)]
        who: CustomerArgs,
        /// Write the JSON to this new file (readable by its owner only)
        /// instead of stdout.
        #[arg(long, value_name = "FILE")]
        out: Option<PathBuf>,
    },
    /// Delete a customer of an app for good: profiles, sessions,
    /// conversations, messages, ratings, pending emails and webhooks; on
    /// SQLite no copy stays in the database files. Works while the server
    /// runs; without --yes, only says what would go.
    Erase {
        /// The server's configuration file (for the database).
        #[arg(
            long,
            short,
            value_name = "FILE",
            default_value = "trustchat.toml",
            env = "TRUSTCHAT_CONFIG"
        )]
        config: PathBuf,
        /// The app.
        #[arg(long, value_name = "ID")]
        app: String,
        #[command(flatten)]
        who: CustomerArgs,
        /// Erase; without it, nothing is deleted.
        #[arg(long)]
        yes: bool,
    },
    /// Show the audit log of exports, erasures and retention purges, newest
    /// first (ids and counts only).
    Audit {
        /// The server's configuration file (for the database).
        #[arg(
            long,
            short,
            value_name = "FILE",
            default_value = "trustchat.toml",
            env = "TRUSTCHAT_CONFIG"
        )]
        config: PathBuf,
        /// Only this app's entries.
        #[arg(long, value_name = "ID")]
        app: Option<String>,
        /// At most this many entries.
        #[arg(long, default_value_t = 50)]
        limit: i64,
    },
}

/// Options of `migrate`.
#[derive(Debug, clap::Args)]
struct MigrateArgs {
    /// The configuration file (for `server.database_url`, which
    /// `TRUSTCHAT_DATABASE_URL` overrides).
    #[arg(
        long,
        short,
        value_name = "FILE",
        default_value = "trustchat.toml",
        env = "TRUSTCHAT_CONFIG"
    )]
    config: PathBuf,
}

/// `db copy`.
#[derive(Debug, Subcommand)]
enum DbCommand {
    /// Copy every customer, session, conversation, message, agent and agent
    /// session (ids, token hashes and seqs kept) from one database into a
    /// new, empty one, e.g. from SQLite to Postgres. Stop the servers
    /// first; the target is migrated, and refused unless empty.
    Copy {
        /// The database to read, e.g. sqlite://data/trustchat.db.
        #[arg(long, value_name = "URL")]
        from: String,
        /// The database to fill, e.g. postgres://user@host/trustchat.
        #[arg(long, value_name = "URL")]
        to: String,
    },
    /// Copy the configured SQLite database into a new file, consistently,
    /// while the server runs (VACUUM INTO); checks the copy. On
    /// PostgreSQL, says how to use pg_dump instead.
    Backup {
        /// The server's configuration file (for `server.database_url`).
        #[arg(
            long,
            short,
            value_name = "FILE",
            default_value = "trustchat.toml",
            env = "TRUSTCHAT_CONFIG"
        )]
        config: PathBuf,
        /// The backup file to write; refused if it exists, unless --force.
        #[arg(long, value_name = "FILE")]
        to: PathBuf,
        /// Replace an existing file.
        #[arg(long)]
        force: bool,
    },
}

/// Options of `loadtest`.
#[derive(Debug, clap::Args)]
struct LoadtestArgs {
    /// The server's base URL; repeat it for several servers on one
    /// database (sessions are split across them, and each observer listens
    /// on another server than its session sends to).
    #[arg(long = "url", default_value = "http://127.0.0.1:8080")]
    urls: Vec<String>,
    /// The app to open customer sessions in.
    #[arg(long, default_value = "demo")]
    app: String,
    /// Customer sessions, each with a sending and an observing WebSocket.
    #[arg(long, default_value_t = 100)]
    connections: usize,
    /// Messages per second over all connections.
    #[arg(long, default_value_t = 100)]
    rate: u32,
    /// Seconds of sending.
    #[arg(long, default_value_t = 10)]
    duration: u64,
    /// The server's process id, to report its resident memory.
    #[arg(long)]
    server_pid: Option<u32>,
    /// Seconds to wait after sending for the last acks and deliveries;
    /// what has not arrived by then is lost.
    #[arg(long, default_value_t = 5)]
    drain: u64,
    /// Give every Nth session an observer socket (delivery is measured on
    /// those); 1 gives every session one.
    #[arg(long, default_value_t = 1)]
    observe_every: usize,
}

/// `jwt verify` and `jwt mint`.
#[derive(Debug, Subcommand)]
enum JwtCommand {
    /// Check a token as the server would and say exactly why it is refused.
    /// Exit 0 printing the decoded header and claims when valid; exit 1
    /// printing the reason code and an explanation when not.
    Verify(VerifyArgs),
    /// Mint a token for development with the app's HMAC or private key.
    Mint(MintArgs),
}

/// Options of `jwt verify`.
#[derive(Debug, clap::Args)]
struct VerifyArgs {
    /// The server's configuration file (with --app).
    #[arg(long, short, value_name = "FILE", conflicts_with = "jwks")]
    config: Option<PathBuf>,
    /// The app whose keys and policy apply; also the expected audience.
    #[arg(long, value_name = "ID")]
    app: Option<String>,
    /// A JWK set file to check against instead of a config.
    #[arg(long, value_name = "FILE")]
    jwks: Option<PathBuf>,
    /// With --jwks: the required issuer.
    #[arg(long, value_name = "ISS", requires = "jwks")]
    issuer: Option<String>,
    /// Check only the signature against the key set; skip every claim check
    /// (the payload need not be JSON).
    #[arg(long)]
    signature_only: bool,
    /// Check as if the time were this Unix time.
    #[arg(long, value_name = "UNIX_TIME")]
    at: Option<u64>,
    /// The token, or - to read it from standard input.
    token: String,
}

/// Options of `jwt mint`.
#[derive(Debug, clap::Args)]
struct MintArgs {
    /// The server's configuration file.
    #[arg(long, short, value_name = "FILE", default_value = "trustchat.toml")]
    config: PathBuf,
    /// The app to mint for (its key signs; its id is the audience).
    #[arg(long, value_name = "ID")]
    app: String,
    /// The customer's email.
    #[arg(long, required_unless_present = "phone")]
    email: Option<String>,
    /// The customer's phone number, E.164.
    #[arg(long)]
    phone: Option<String>,
    /// The customer's full name.
    #[arg(long)]
    name: Option<String>,
    /// The site's user id (default: the email, else the phone).
    #[arg(long)]
    sub: Option<String>,
    /// Lifetime in seconds (capped by the app's max_token_lifetime_secs).
    #[arg(long, default_value_t = 600)]
    ttl: u64,
}

/// `agent add|teams|list|remove`.
#[derive(Debug, Subcommand)]
enum AgentCommand {
    /// Add an agent. The password is read from stdin (one line) when stdin
    /// is not a terminal; otherwise one is generated and printed once.
    Add {
        /// The server's configuration file (for the database).
        #[arg(
            long,
            short,
            value_name = "FILE",
            default_value = "trustchat.toml",
            env = "TRUSTCHAT_CONFIG"
        )]
        config: PathBuf,
        /// Login email.
        #[arg(long)]
        email: String,
        /// Display name, shown to customers on replies.
        #[arg(long)]
        name: String,
        /// A team the agent belongs to (a `[[teams]]` id); repeat for more.
        #[arg(long = "team", value_name = "ID")]
        teams: Vec<String>,
    },
    /// Show an agent's teams, or set them with `--set`.
    Teams {
        /// The server's configuration file.
        #[arg(
            long,
            short,
            value_name = "FILE",
            default_value = "trustchat.toml",
            env = "TRUSTCHAT_CONFIG"
        )]
        config: PathBuf,
        /// The agent's email.
        email: String,
        /// The agent's teams from now on, comma-separated `[[teams]]` ids
        /// (empty: none).
        #[arg(long, value_name = "ID,...", value_delimiter = ',', num_args = 0..)]
        set: Option<Vec<String>>,
    },
    /// List the agents: email, name, status.
    List {
        /// The server's configuration file.
        #[arg(
            long,
            short,
            value_name = "FILE",
            default_value = "trustchat.toml",
            env = "TRUSTCHAT_CONFIG"
        )]
        config: PathBuf,
    },
    /// Remove an agent: their sessions end and their open conversations go
    /// back to the queue.
    Remove {
        /// The server's configuration file.
        #[arg(
            long,
            short,
            value_name = "FILE",
            default_value = "trustchat.toml",
            env = "TRUSTCHAT_CONFIG"
        )]
        config: PathBuf,
        /// The agent's email.
        #[arg(long)]
        email: String,
    },
}

/// `api-key new`.
#[derive(Debug, Subcommand)]
enum ApiKeyCommand {
    /// Generate an API key; prints it once, with the hash line for the config.
    New {
        /// Who holds the key, for people reading the config.
        #[arg(long, default_value = "backend")]
        name: String,
    },
}

/// Options of `serve`.
#[derive(Debug, clap::Args)]
struct ServeArgs {
    /// The configuration file.
    #[arg(
        long,
        short,
        value_name = "FILE",
        default_value = "trustchat.toml",
        env = "TRUSTCHAT_CONFIG"
    )]
    config: PathBuf,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Serve(args) => serve(args),
        Command::Jwt(JwtCommand::Verify(args)) => return jwt_verify(args),
        Command::Jwt(JwtCommand::Mint(args)) => jwt_mint(args),
        Command::ApiKey(ApiKeyCommand::New { name }) => {
            api_key_new(&name);
            Ok(())
        }
        Command::Loadtest(args) => loadtest(args),
        Command::Agent(command) => agent(command),
        Command::Migrate(args) => migrate(args),
        Command::Db(DbCommand::Copy { from, to }) => db_copy(&from, &to),
        Command::Db(DbCommand::Backup { config, to, force }) => db_backup(&config, &to, force),
        Command::Customer(command) => customer(command),
        Command::Webhooks(WebhooksCommand::List { config, app, limit }) => {
            webhooks_list(&config, &app, limit)
        }
        Command::Openapi { out } => openapi(out.as_deref()),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::FAILURE
        }
    }
}

/// `openapi`: the served document's very bytes, and a newline.
fn openapi(out: Option<&std::path::Path>) -> anyhow::Result<()> {
    let mut json = trustchat_server::http::api_json()?;
    json.push(b'\n');
    match out {
        Some(path) => std::fs::write(path, &json)
            .map_err(|error| anyhow::anyhow!("cannot write {}: {error}", path.display())),
        None => {
            use std::io::Write as _;
            match std::io::stdout().lock().write_all(&json) {
                // `| head`: the reader had what it wanted.
                Err(error) if error.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
                written => Ok(written?),
            }
        }
    }
}

fn serve(args: ServeArgs) -> anyhow::Result<()> {
    // Argon2's 19 MiB blocks go back to the OS after each login check.
    server::return_large_allocations();
    let config = Config::load(&args.config)?;
    init_tracing(&config.server.log, config.server.log_format)?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    // Each WebSocket is a file descriptor; 1,024 is not enough.
    trustchat_server::loadtest::raise_fd_limit();
    runtime.block_on(async {
        let listener = server::bind(&config).await?;
        server::run(config, listener, server::shutdown_signal()).await
    })
}

fn loadtest(args: LoadtestArgs) -> anyhow::Result<()> {
    anyhow::ensure!(
        args.connections > 0 && args.rate > 0 && args.duration > 0,
        "connections, rate and duration must be at least 1"
    );
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(trustchat_server::loadtest::run(
        trustchat_server::loadtest::Options {
            urls: args.urls,
            app: args.app,
            connections: args.connections,
            rate: args.rate,
            duration: args.duration,
            server_pid: args.server_pid,
            drain: args.drain,
            observe_every: args.observe_every,
        },
    ))
}

/// `migrate`: the config's database, brought up to date.
fn migrate(args: MigrateArgs) -> anyhow::Result<()> {
    let config = Config::load(&args.config)?;
    let url = &config.server.database_url;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let applied = runtime.block_on(trustchat_server::store::migrate(url))?;
    let shown = trustchat_server::store::postgres::redact(url);
    if applied.is_empty() {
        println!("{shown} is up to date");
    } else {
        let versions: Vec<String> = applied.iter().map(i64::to_string).collect();
        println!("{shown}: applied migration(s) {}", versions.join(", "));
    }
    Ok(())
}

/// `db copy --from URL --to URL`.
fn db_copy(from: &str, to: &str) -> anyhow::Result<()> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let counts = runtime.block_on(trustchat_server::store::copy::copy(
        from,
        to,
        &mut |table, rows| println!("{table}: {rows} row(s)"),
    ))?;
    let total: u64 = counts.iter().map(|(_, rows)| rows).sum();
    println!(
        "copied {total} row(s) from {} to {}",
        trustchat_server::store::postgres::redact(from),
        trustchat_server::store::postgres::redact(to)
    );
    Ok(())
}

/// `db backup --to FILE`.
fn db_backup(config: &std::path::Path, to: &std::path::Path, force: bool) -> anyhow::Result<()> {
    let config = Config::load(config)?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let report = runtime.block_on(trustchat_server::store::backup::backup(
        &config.server.database_url,
        to,
        force,
    ))?;
    let rows: Vec<String> = report
        .rows
        .iter()
        .map(|(table, count)| format!("{table}: {count}"))
        .collect();
    println!(
        "backed up {} to {} ({} bytes; integrity ok; {})",
        trustchat_server::store::postgres::redact(&config.server.database_url),
        report.path.display(),
        report.bytes,
        rows.join(", ")
    );
    Ok(())
}

/// Who runs a `customer` command, for the audit log: `cli`, with the
/// login name when the environment says it.
fn cli_actor() -> String {
    match std::env::var("USER").or_else(|_| std::env::var("LOGNAME")) {
        Ok(user) if !user.trim().is_empty() && user.len() <= 64 => format!("cli:{}", user.trim()),
        _ => "cli".to_owned(),
    }
}

/// The store's match for `--email|--phone|--id`.
fn customer_match(who: CustomerArgs) -> anyhow::Result<trustchat_server::store::CustomerMatch> {
    let selector = trustchat_protocol::privacy::CustomerSelector {
        email: who.email,
        phone: who.phone,
        id: who.id,
    };
    trustchat_server::privacy::matching(&selector).map_err(|bad| match bad.field {
        Some(field) => anyhow::anyhow!("--{field}: {}", bad.message),
        None => anyhow::anyhow!("{}", bad.message),
    })
}

/// A new file readable by its owner only; an existing one is refused.
fn create_private(path: &std::path::Path) -> anyhow::Result<std::fs::File> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        options.mode(0o600);
    }
    options.open(path).map_err(|e| {
        if e.kind() == std::io::ErrorKind::AlreadyExists {
            anyhow::anyhow!("{} exists; choose a new file name", path.display())
        } else {
            anyhow::anyhow!("cannot create {}: {e}", path.display())
        }
    })
}

/// `customer export|erase|audit`, against the config's database.
fn customer(command: CustomerCommand) -> anyhow::Result<()> {
    use trustchat_server::privacy;
    use trustchat_server::store::AuditActor;
    let config_path = match &command {
        CustomerCommand::Export { config, .. }
        | CustomerCommand::Erase { config, .. }
        | CustomerCommand::Audit { config, .. } => config,
    };
    let config = Config::load(config_path)?;
    if let CustomerCommand::Export { app, .. } | CustomerCommand::Erase { app, .. } = &command {
        if config.app(app).is_none() {
            eprintln!(
                "warning: app {app:?} is not in {}; looking in the database anyway",
                config_path.display()
            );
        }
    }
    let url = config.server.database_url.clone();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async {
        let store =
            trustchat_server::store::connect_with(&url, &config.server.store_options()).await?;
        let actor = AuditActor {
            actor: cli_actor(),
            at_ms: trustchat_server::clock::now_ms(),
        };
        let result = async {
            match command {
                CustomerCommand::Export { app, who, out, .. } => {
                    let matching = customer_match(who)?;
                    let by = privacy::matched_by(&matching);
                    // The file first: an export that cannot be written is
                    // not read (nor audit-logged).
                    let file = out
                        .as_ref()
                        .map(|path| create_private(path).map(|file| (path, file)))
                        .transpose()?;
                    let exported = privacy::export(store.as_ref(), &app, &matching, &actor).await;
                    let export = match exported {
                        Ok(Some(export)) => export,
                        failed => {
                            if let Some((path, _)) = &file {
                                let _ = std::fs::remove_file(path);
                            }
                            failed?;
                            anyhow::bail!("no customer of app {app} has this {by}");
                        }
                    };
                    let json = serde_json::to_string_pretty(&export)? + "\n";
                    match file {
                        Some((path, mut file)) => {
                            use std::io::Write as _;
                            file.write_all(json.as_bytes())?;
                            file.sync_all()?;
                            eprintln!(
                                "exported {} profile(s) of app {app} to {}",
                                export.profiles.len(),
                                path.display()
                            );
                        }
                        None => {
                            use std::io::Write as _;
                            let mut stdout = std::io::stdout().lock();
                            stdout.write_all(json.as_bytes())?;
                            stdout.flush()?;
                        }
                    }
                    Ok(())
                }
                CustomerCommand::Erase { app, who, yes, .. } => {
                    let matching = customer_match(who)?;
                    let by = privacy::matched_by(&matching);
                    if !yes {
                        let data = store.customer_data(&app, &matching).await?;
                        if data.customers.is_empty() {
                            anyhow::bail!("no customer of app {app} has this {by}");
                        }
                        println!(
                            "would erase {} profile(s) of app {app}: {} session(s), {} conversation(s), {} message(s)",
                            data.customers.len(),
                            data.sessions.len(),
                            data.conversations.len(),
                            data.messages.len()
                        );
                        anyhow::bail!("nothing was erased: run again with --yes to erase for good");
                    }
                    let Some(erased) = privacy::erase(store.as_ref(), &app, &matching, &actor).await?
                    else {
                        anyhow::bail!("no customer of app {app} has this {by}");
                    };
                    let report = privacy::erase_report(&erased);
                    println!(
                        "erased {} profile(s) of app {app} ({}): {} session(s), {} conversation(s), {} message(s), {} rating(s), {} pending email(s), {} webhook delivery(ies)",
                        report.profiles.len(),
                        report.profiles.join(", "),
                        report.sessions,
                        report.conversations,
                        report.messages,
                        report.ratings,
                        report.pending_emails,
                        report.webhook_deliveries
                    );
                    if !erased.wal_cleared {
                        eprintln!("warning: the database's -wal file could not be truncated (kept busy); older copies of the erased rows stay in it until the server's next quiet moment: run `trustchat-server customer erase` again later, or stop the server briefly");
                    }
                    // Servers on Postgres close the erased sessions' sockets
                    // at once; a SQLite server finds the tokens gone at their
                    // next use.
                    if trustchat_server::store::is_postgres(&url) {
                        let events = privacy::erased_events(&app, &erased);
                        if let Err(error) =
                            trustchat_server::bus::postgres::notify_once(&url, "cli", &events).await
                        {
                            eprintln!("warning: {error}; the customer's open chats end at their next request");
                        }
                    }
                    Ok(())
                }
                CustomerCommand::Audit { app, limit, .. } => {
                    let entries = store.audit_log(app.as_deref(), limit.clamp(1, 10_000)).await?;
                    for entry in entries {
                        println!(
                            "{}  {:<9}  {}  {}  {}  {}",
                            entry.at_ms,
                            entry.action.as_str(),
                            entry.app_id,
                            entry.customer_id.as_deref().unwrap_or("-"),
                            entry.actor,
                            entry.detail
                        );
                    }
                    Ok(())
                }
            }
        }
        .await;
        store.close().await;
        result
    })
}

/// `webhooks list --app ID`: the app's most recent deliveries.
fn webhooks_list(config: &std::path::Path, app: &str, limit: i64) -> anyhow::Result<()> {
    let config = Config::load(config)?;
    if config.app(app).is_none() {
        eprintln!("note: {app:?} is not an app of the config; showing what the database holds");
    }
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async {
        let store = trustchat_server::store::connect_with(
            &config.server.database_url,
            &config.server.store_options(),
        )
        .await?;
        let listed = store.webhook_deliveries(app, limit).await;
        store.close().await;
        let deliveries = listed?;
        if deliveries.is_empty() {
            println!("no webhook deliveries for app {app}");
            return Ok(());
        }
        let time = |ms: i64| {
            jiff::Timestamp::from_millisecond(ms)
                .map(|t| format!("{:.0}", t))
                .unwrap_or_else(|_| ms.to_string())
        };
        let url_width = deliveries
            .iter()
            .map(|d| d.url.chars().count())
            .max()
            .unwrap_or(0)
            .max(3);
        println!(
            "{:20}  {:20}  {:9}  {:>8}  {:url_width$}  {:36}  LAST",
            "CREATED", "EVENT", "STATUS", "ATTEMPTS", "URL", "DELIVERY"
        );
        for d in &deliveries {
            let last = match (&d.last_error, d.last_status, d.status) {
                (_, _, trustchat_server::store::DeliveryStatus::Delivered) => {
                    format!("HTTP {}", d.last_status.unwrap_or(200))
                }
                (Some(error), _, status) => {
                    let next = match status {
                        trustchat_server::store::DeliveryStatus::Pending => {
                            format!("; next attempt {}", time(d.next_attempt_at))
                        }
                        _ => String::new(),
                    };
                    format!("{error}{next}")
                }
                (None, Some(code), _) => format!("HTTP {code}"),
                (None, None, _) => String::from("-"),
            };
            println!(
                "{:20}  {:20}  {:9}  {:>8}  {:url_width$}  {:36}  {last}",
                time(d.created_at),
                d.event_type,
                d.status.as_str(),
                d.attempts,
                d.url,
                d.id,
            );
        }
        Ok(())
    })
}

/// `teams`, trimmed, without empty entries and repeats, each a
/// `[[teams]]` id of `config`; an error naming the known ones otherwise.
fn known_teams(config: &Config, teams: Vec<String>) -> anyhow::Result<Vec<String>> {
    let mut wanted: Vec<String> = teams
        .into_iter()
        .map(|team| team.trim().to_owned())
        .filter(|team| !team.is_empty())
        .collect();
    wanted.sort();
    wanted.dedup();
    if wanted.is_empty() {
        return Ok(wanted);
    }
    if config.teams.is_empty() {
        anyhow::bail!("the config has no [[teams]]: add them before putting agents in teams");
    }
    let known: Vec<&str> = config.teams.iter().map(|t| t.id.as_str()).collect();
    for team in &wanted {
        if !known.contains(&team.as_str()) {
            anyhow::bail!(
                "{team:?} is not a team of the config; its teams are: {}",
                known.join(", ")
            );
        }
    }
    Ok(wanted)
}

/// `agent add|teams|list|remove`, against the config's database.
fn agent(command: AgentCommand) -> anyhow::Result<()> {
    use trustchat_server::agents;
    let config_path = match &command {
        AgentCommand::Add { config, .. }
        | AgentCommand::Teams { config, .. }
        | AgentCommand::List { config }
        | AgentCommand::Remove { config, .. } => config,
    };
    let config = Config::load(config_path)?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async {
        let store = trustchat_server::store::connect_with(
            &config.server.database_url,
            &config.server.store_options(),
        )
        .await?;
        let result = match command {
            AgentCommand::Add {
                email, name, teams, ..
            } => {
                let teams = known_teams(&config, teams)?;
                let (password, generated) = agent_password()?;
                let agent = agents::add_agent(store.as_ref(), &email, &name, &password).await?;
                store.set_agent_teams(&agent.id, &teams).await?;
                println!("added agent {} ({})", agent.email, agent.name);
                if !teams.is_empty() {
                    println!("teams: {}", teams.join(", "));
                }
                if generated {
                    println!("password (shown once): {password}");
                }
                Ok(())
            }
            AgentCommand::Teams { email, set, .. } => {
                match store.agent_by_email(email.trim()).await? {
                    None => Err(anyhow::anyhow!("no agent has the email {}", email.trim())),
                    Some(agent) => {
                        if let Some(teams) = set {
                            let teams = known_teams(&config, teams)?;
                            store.set_agent_teams(&agent.id, &teams).await?;
                        }
                        let teams = store.agent_teams(&agent.id).await?;
                        if teams.is_empty() {
                            println!("{}: no team", agent.email);
                        } else {
                            println!("{}: {}", agent.email, teams.join(", "));
                        }
                        Ok(())
                    }
                }
            }
            AgentCommand::List { .. } => {
                let list = store.agents().await?;
                let width = list
                    .iter()
                    .map(|a| a.email.chars().count())
                    .max()
                    .unwrap_or(0)
                    .max(5);
                let name_width = list
                    .iter()
                    .map(|a| a.name.chars().count())
                    .max()
                    .unwrap_or(0)
                    .max(4);
                println!("{:width$}  {:name_width$}  STATUS", "EMAIL", "NAME");
                for agent in &list {
                    let status = trustchat_server::store::agent_status_str(agent.status);
                    println!(
                        "{:width$}  {:name_width$}  {status}",
                        agent.email, agent.name
                    );
                }
                Ok(())
            }
            AgentCommand::Remove { email, .. } => {
                match agents::remove_agent(store.as_ref(), &email).await? {
                    Some((agent, requeued)) => {
                        println!(
                            "removed agent {}; {} open conversation(s) went back to the queue",
                            agent.email,
                            requeued.len()
                        );
                        // Servers on Postgres hear it at once: the agent's
                        // consoles close, and the queue is handed out
                        // (otherwise at their next heartbeat).
                        if trustchat_server::store::is_postgres(&config.server.database_url) {
                            use trustchat_server::bus::{postgres::notify_once, Event};
                            let events = [
                                Event::AgentGone {
                                    agent_id: agent.id.clone(),
                                },
                                Event::Queue,
                            ];
                            if let Err(error) =
                                notify_once(&config.server.database_url, "cli", &events).await
                            {
                                eprintln!("warning: {error}; the servers notice within 5 s");
                            }
                        }
                        Ok(())
                    }
                    None => Err(anyhow::anyhow!("no agent has the email {}", email.trim())),
                }
            }
        };
        store.close().await;
        result
    })
}

/// The new agent's password: one line of stdin when it is not a terminal,
/// else a generated one (the bool says which).
fn agent_password() -> anyhow::Result<(String, bool)> {
    use std::io::{BufRead as _, IsTerminal as _};
    let stdin = std::io::stdin();
    if stdin.is_terminal() {
        return Ok((trustchat_server::agents::generate_password(), true));
    }
    let mut line = String::new();
    stdin
        .lock()
        .read_line(&mut line)
        .map_err(|e| anyhow::anyhow!("cannot read the password from stdin: {e}"))?;
    let password = line.trim_end_matches(['\r', '\n']).to_owned();
    trustchat_server::agents::check_password(&password).map_err(|why| {
        anyhow::anyhow!(
            "{why} (the password is read from stdin; run at a terminal to have one generated)"
        )
    })?;
    Ok((password, false))
}

/// Logs to stderr, filtered by `server.log` / `TRUSTCHAT_LOG`, as
/// `server.log_format` says.
fn init_tracing(filter: &str, format: trustchat_server::config::LogFormat) -> anyhow::Result<()> {
    let filter = tracing_subscriber::EnvFilter::try_new(filter).map_err(|e| {
        anyhow::anyhow!("invalid log filter {filter:?} (server.log or TRUSTCHAT_LOG): {e}")
    })?;
    let log = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match format {
        trustchat_server::config::LogFormat::Pretty => log.init(),
        // Every line of a request carries its span: the request id, the
        // method and the route.
        trustchat_server::config::LogFormat::Json => log
            .json()
            .with_current_span(true)
            .with_span_list(false)
            .init(),
    }
    Ok(())
}

/// The token debugger: exit 0 with the decoded token, exit 1 with the reason.
fn jwt_verify(args: VerifyArgs) -> ExitCode {
    match check_token(&args) {
        Ok(report) => {
            println!(
                "{}",
                serde_json::to_string_pretty(&report).unwrap_or_default()
            );
            ExitCode::SUCCESS
        }
        Err(message) => {
            println!("{message}");
            ExitCode::FAILURE
        }
    }
}

fn check_token(args: &VerifyArgs) -> Result<Value, String> {
    let token = if args.token == "-" {
        let mut text = String::new();
        std::io::stdin()
            .read_to_string(&mut text)
            .map_err(|e| format!("error: cannot read the token from stdin: {e}"))?;
        text.trim().to_owned()
    } else {
        args.token.trim().to_owned()
    };
    let verifier = verifier_for(args)?;
    let now = args.at.unwrap_or_else(trustchat_server::clock::now_unix);
    let refused = |r: trustchat_server::jwt::Refusal| {
        format!(
            "invalid: {}\n{}\n{}",
            r.reason.code(),
            r.message,
            advice(r.reason.code())
        )
    };
    if args.signature_only {
        let (header, payload) = verifier.verify_signature_only(&token).map_err(refused)?;
        let payload = serde_json::from_slice::<Value>(&payload)
            .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&payload).into_owned()));
        return Ok(
            json!({ "valid": true, "checked": "signature only", "header": header, "payload": payload }),
        );
    }
    let verified = verifier.verify(&token, now).map_err(refused)?;
    Ok(json!({
        "valid": true,
        "alg": verified.alg.name(),
        "kid": verified.kid,
        "header": verified.header(),
        "claims": verified.claims(),
    }))
}

/// The verifier `jwt verify` checks with: an app of a config, or a JWK set
/// file with a default policy.
fn verifier_for(args: &VerifyArgs) -> Result<Verifier, String> {
    if let Some(jwks) = &args.jwks {
        let bytes = std::fs::read(jwks)
            .map_err(|e| format!("error: cannot read {}: {e}", jwks.display()))?;
        let ring = KeyRing::from_jwks_json(&bytes, &jwks.display().to_string())
            .map_err(|e| format!("error: {e}"))?;
        let app_id =
            match (&args.app, args.signature_only) {
                (Some(app), _) => app.clone(),
                (None, true) => String::new(),
                (None, false) => return Err(
                    "error: pass --app ID (the audience the token must name) or --signature-only"
                        .into(),
                ),
            };
        let policy = Policy {
            app_id,
            issuer: args.issuer.clone(),
            max_lifetime_secs: trustchat_server::jwt::DEFAULT_MAX_LIFETIME_SECS,
            leeway_secs: trustchat_server::jwt::DEFAULT_LEEWAY_SECS,
            single_use: false,
            mint_kid: None,
        };
        return Ok(Verifier::new(policy, ring));
    }
    let config_path = args
        .config
        .clone()
        .unwrap_or_else(|| PathBuf::from("trustchat.toml"));
    let app_id = args
        .app
        .as_deref()
        .ok_or("error: pass --app ID with --config, or --jwks FILE")?;
    app_verifier(&config_path, app_id)
}

/// The verifier of one app of a config file, with its JWKS URL fetched once.
fn app_verifier(config_path: &std::path::Path, app_id: &str) -> Result<Verifier, String> {
    let config = Config::load(config_path).map_err(|e| format!("error: {e}"))?;
    let app = config
        .app(app_id)
        .ok_or_else(|| format!("error: no app {app_id:?} in {}", config_path.display()))?;
    let identity = app.identity.as_ref().ok_or_else(|| {
        format!("error: app {app_id} has no [apps.identity] table, so it accepts no token")
    })?;
    let verifier = identity
        .verifier(
            app_id,
            &config.base_dir,
            |name| std::env::var(name).ok(),
            identity.remote_options(),
        )
        .map_err(|e| format!("error: {e}"))?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| e.to_string())?;
    if let Err(e) = runtime.block_on(verifier.refresh_now()) {
        eprintln!(
            "warning: the JWKS URL could not be fetched ({e}); checking with the local keys only"
        );
    }
    Ok(verifier)
}

/// What a site developer can do about each refusal.
fn advice(reason: &str) -> &'static str {
    match reason {
        "malformed_token" => "hint: pass the compact token (header.payload.signature) exactly as minted; JWE is not accepted",
        "algorithm_not_allowed" => "hint: sign with the algorithm the key is configured for (its \"alg\"); \"none\" is never accepted",
        "forbidden_header" => "hint: remove jku, x5u, x5c, jwk and crit from the header; keys come from the server's config only",
        "unknown_key" => "hint: set the header's kid to a key of the app's JWK set (or publish the new key in the JWKS URL)",
        "bad_signature" => "hint: the token was signed with another key or altered; check the key your site signs with",
        "token_expired" => "hint: mint a fresh token; tokens are meant to be short-lived",
        "token_not_yet_valid" => "hint: check the clock of the machine that mints tokens (nbf/iat are in the future)",
        "wrong_audience" => "hint: set aud to the app id",
        "wrong_issuer" => "hint: set iss to the issuer configured for the app",
        "missing_claim" => "hint: add the claim named above (exp, aud, sub, and email or phone_number are required)",
        "invalid_claim" => "hint: fix the claim named above; times are integers of seconds, emails and E.164 phones are validated",
        "lifetime_too_long" => "hint: mint tokens with a shorter lifetime (exp - iat) than the app's max_token_lifetime_secs",
        "token_replayed" => "hint: single-use tokens work once; mint a new one with a new jti",
        _ => "",
    }
}

/// `jwt mint`: a token for development.
fn jwt_mint(args: MintArgs) -> anyhow::Result<()> {
    let verifier = app_verifier(&args.config, &args.app)
        .map_err(|e| anyhow::anyhow!(e.trim_start_matches("error: ").to_owned()))?;
    let now = trustchat_server::clock::now_unix();
    let who = MintIdentity {
        sub: args.sub,
        email: args.email,
        phone: args.phone,
        name: args.name,
        given_name: None,
    };
    let claims = verifier.identity_claims(&who, args.ttl, now)?;
    println!("{}", verifier.mint(&claims)?);
    Ok(())
}

/// `api-key new`: a random key, printed once, and its hash for the config.
fn api_key_new(name: &str) {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    let key = format!("tck_{}", URL_SAFE_NO_PAD.encode(bytes));
    let hash = trustchat_server::http::mint::api_key_hash(&key);
    println!("API key (shown once; keep it on your backend, never in a page):\n\n  {key}\n");
    println!("Add it to the app in the server's config:\n\n[[apps.api_keys]]\nname = {name:?}\nhash = \"{hash}\"");
}
