//! `trustchat-server loadtest`: a load generator run as its own process
//! against a running server.
//!
//! It opens `connections` anonymous customer sessions, and for each two
//! WebSockets: the *sender*, which sends `send` frames, and the *observer*,
//! a second socket of the same session that receives each message as a
//! `message` frame, the way another tab (and, from the agent-console issue
//! on, an agent) does. Sends are spread round-robin over the senders at
//! `rate` per second for `duration` seconds. Every body carries its send
//! time, so latency is measured without shared state:
//!
//! - *ack latency*: send → `ack` on the sender (the message is durably
//!   stored);
//! - *delivery latency*: send → `message` on the observer (stored and
//!   fanned out).
//!
//! After the run it waits up to `drain` seconds for stragglers; a message
//! not both acked and delivered by then counts as lost. It prints a report
//! and one JSON line `{"bench":"loadtest",...}`.

use std::collections::HashSet;
use std::time::{Duration, Instant};

use futures_util::{SinkExt as _, StreamExt as _};
use serde_json::json;
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::Message as WsMessage;
use trustchat_protocol::{ClientFrame, ServerFrame};

/// What to run.
#[derive(Debug, Clone)]
pub struct Options {
    /// The servers, `http://127.0.0.1:8080`; with several (on one
    /// database), session `i` opens on and sends to server `i mod n`, and
    /// its observer listens on the next one, so delivery crosses servers.
    pub urls: Vec<String>,
    /// The app to open sessions in.
    pub app: String,
    /// Customer sessions (each with a sender and an observer socket).
    pub connections: usize,
    /// Messages per second, over all connections.
    pub rate: u32,
    /// Seconds of sending.
    pub duration: u64,
    /// The server's process id, to read its resident memory.
    pub server_pid: Option<u32>,
    /// Seconds to wait after the run for acks and deliveries.
    pub drain: u64,
    /// Every this-many sessions get an observer socket on which delivery is
    /// measured (1: all). Fewer observers let 10,000 sessions fit in one
    /// process's open-file limit.
    pub observe_every: usize,
}

/// What one connection saw.
#[derive(Debug, Default)]
struct Tally {
    /// Sends made.
    sent: usize,
    /// Sends acknowledged.
    acked: usize,
    /// Own messages seen on the observer socket.
    delivered: usize,
    /// Sends answered with an `error` frame.
    errors: usize,
    /// Sends neither acked nor delivered at the end.
    lost: usize,
    /// Send → ack, microseconds.
    ack_us: Vec<u64>,
    /// Send → delivery, microseconds.
    delivery_us: Vec<u64>,
    /// (send time since the start, send → ack), microseconds: the tail
    /// second by second.
    ack_at: Vec<(u64, u64)>,
    /// Sockets that closed early.
    dropped: usize,
}

/// Runs the load test and prints the report.
pub async fn run(options: Options) -> anyhow::Result<()> {
    raise_fd_limit();
    let bases: Vec<String> = options
        .urls
        .iter()
        .map(|url| url.trim_end_matches('/').to_owned())
        .collect();
    anyhow::ensure!(!bases.is_empty(), "give at least one server URL");
    let ws_urls: Vec<String> = bases
        .iter()
        .map(|base| format!("{}/api/v1/ws", base.replacen("http", "ws", 1)))
        .collect();
    let servers = bases.len();
    let http = reqwest::Client::new();
    // The server's memory before any of our sessions exist.
    let base_rss = options.server_pid.and_then(|pid| memory_kib(pid, "VmRSS"));
    let every = options.observe_every.max(1);
    let observers = options.connections.div_ceil(every);
    eprintln!(
        "opening {} sessions and {} sockets...",
        options.connections,
        options.connections + observers
    );
    let setup_started = Instant::now();
    let tokens: Vec<String> = futures_util::stream::iter(0..options.connections)
        .map(|index| open_session(&http, &bases[index % servers], &options.app))
        .buffer_unordered(32)
        .collect::<Vec<_>>()
        .await
        .into_iter()
        .collect::<anyhow::Result<_>>()?;
    let sockets: Vec<(Socket, Option<Socket>)> =
        futures_util::stream::iter(tokens.into_iter().enumerate())
            .map(|(index, token)| {
                let own = ws_urls[index % servers].clone();
                let other = ws_urls[(index + 1) % servers].clone();
                async move {
                    let sender = connect(&own, &token).await?;
                    let observer = if index % every == 0 {
                        Some(connect(&other, &token).await?)
                    } else {
                        None
                    };
                    anyhow::Ok((sender, observer))
                }
            })
            .buffer_unordered(32)
            .collect::<Vec<_>>()
            .await
            .into_iter()
            .collect::<anyhow::Result<_>>()?;
    eprintln!(
        "connected in {:.1} s; sending {} msg/s for {} s",
        setup_started.elapsed().as_secs_f64(),
        options.rate,
        options.duration
    );
    // The server's memory with every socket open and idle.
    let idle_rss = options.server_pid.and_then(|pid| memory_kib(pid, "VmRSS"));

    let epoch = Instant::now();
    let drain = Duration::from_secs(options.drain);
    let mut commands = Vec::with_capacity(sockets.len());
    let mut tasks = Vec::with_capacity(sockets.len());
    for (sender, observer) in sockets {
        let (tx, rx) = mpsc::unbounded_channel();
        commands.push(tx);
        tasks.push(tokio::spawn(connection(sender, observer, rx, epoch, drain)));
    }
    let total = u64::from(options.rate) * options.duration;
    let mut ticker = tokio::time::interval(Duration::from_secs_f64(
        1.0 / f64::from(options.rate.max(1)),
    ));
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
    let started = Instant::now();
    for n in 0..total {
        ticker.tick().await;
        let index = usize::try_from(n).unwrap_or_default() % commands.len().max(1);
        let _ = commands[index].send(());
    }
    let send_secs = started.elapsed().as_secs_f64();
    drop(commands);
    let mut all = Tally::default();
    for task in tasks {
        let tally = task.await?;
        all.sent += tally.sent;
        all.acked += tally.acked;
        all.delivered += tally.delivered;
        all.errors += tally.errors;
        all.lost += tally.lost;
        all.dropped += tally.dropped;
        all.ack_us.extend(tally.ack_us);
        all.delivery_us.extend(tally.delivery_us);
        all.ack_at.extend(tally.ack_at);
    }
    let rss = options.server_pid.and_then(|pid| memory_kib(pid, "VmRSS"));
    let hwm = options.server_pid.and_then(|pid| memory_kib(pid, "VmHWM"));
    report(
        &options,
        observers,
        &mut all,
        send_secs,
        Memory {
            base_rss,
            idle_rss,
            rss,
            hwm,
        },
    );
    Ok(())
}

type Socket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

async fn open_session(http: &reqwest::Client, base: &str, app: &str) -> anyhow::Result<String> {
    let reply: serde_json::Value = http
        .post(format!("{base}/api/v1/apps/{app}/sessions"))
        .json(&json!({}))
        .send()
        .await?
        .error_for_status()?
        .json()
        .await?;
    reply["session_token"]
        .as_str()
        .map(str::to_owned)
        .ok_or_else(|| anyhow::anyhow!("no session_token in {reply}"))
}

/// A socket past its `ready` frame.
async fn connect(url: &str, token: &str) -> anyhow::Result<Socket> {
    let (mut socket, _) = tokio_tungstenite::connect_async(url).await?;
    let auth = serde_json::to_string(&ClientFrame::Auth {
        session_token: token.to_owned(),
    })?;
    socket.send(WsMessage::Text(auth.into())).await?;
    loop {
        match socket.next().await {
            Some(Ok(WsMessage::Text(text))) => match serde_json::from_str::<ServerFrame>(&text)? {
                ServerFrame::Ready { .. } => return Ok(socket),
                other => anyhow::bail!("expected ready, got {other:?}"),
            },
            Some(Ok(WsMessage::Close(frame))) => anyhow::bail!("closed before ready: {frame:?}"),
            Some(Ok(_)) => continue,
            Some(Err(error)) => return Err(error.into()),
            None => anyhow::bail!("socket ended before ready"),
        }
    }
}

/// One session: sends when told, reads acks and deliveries, and after the
/// commands end waits up to `drain` for the rest.
async fn connection(
    mut sender: Socket,
    mut observer: Option<Socket>,
    mut commands: mpsc::UnboundedReceiver<()>,
    epoch: Instant,
    drain: Duration,
) -> Tally {
    let mut tally = Tally::default();
    let mut unacked = HashSet::new();
    let mut undelivered = HashSet::new();
    let mut sending = true;
    let deadline = tokio::time::sleep(Duration::from_secs(365 * 24 * 3600));
    tokio::pin!(deadline);
    loop {
        if !sending && unacked.is_empty() && undelivered.is_empty() {
            break;
        }
        tokio::select! {
            command = commands.recv(), if sending => match command {
                Some(()) => {
                    let client_id = uuid::Uuid::new_v4().to_string();
                    // The send time travels in the body: micros since the epoch.
                    let body = format!("{}", epoch.elapsed().as_micros());
                    let frame = ClientFrame::Send { client_id: client_id.clone(), body };
                    let Ok(text) = serde_json::to_string(&frame) else { continue };
                    if sender.send(WsMessage::Text(text.into())).await.is_err() {
                        tally.dropped += 1;
                        break;
                    }
                    tally.sent += 1;
                    unacked.insert(client_id.clone());
                    if observer.is_some() {
                        undelivered.insert(client_id);
                    }
                }
                None => {
                    sending = false;
                    deadline.as_mut().reset(tokio::time::Instant::now() + drain);
                }
            },
            frame = sender.next() => match frame {
                Some(Ok(WsMessage::Text(text))) => match serde_json::from_str::<ServerFrame>(&text) {
                    Ok(ServerFrame::Ack { client_id, message }) if unacked.remove(&client_id) => {
                        tally.acked += 1;
                        let took = latency(epoch, &message.body);
                        tally.ack_us.push(took);
                        tally.ack_at.push((message.body.parse().unwrap_or(0), took));
                    }
                    Ok(ServerFrame::Error { client_id: Some(client_id), code, .. }) => {
                        tally.errors += 1;
                        if tally.errors <= 3 {
                            eprintln!("send refused: {code}");
                        }
                        unacked.remove(&client_id);
                        undelivered.remove(&client_id);
                    }
                    _ => {}
                },
                Some(Ok(WsMessage::Close(_))) | None | Some(Err(_)) => {
                    tally.dropped += 1;
                    break;
                }
                Some(Ok(_)) => {}
            },
            frame = next_frame(&mut observer) => match frame {
                Some(Ok(WsMessage::Text(text))) => {
                    if let Ok(ServerFrame::Message { message }) = serde_json::from_str::<ServerFrame>(&text) {
                        if message.client_id.as_ref().is_some_and(|id| undelivered.remove(id)) {
                            tally.delivered += 1;
                            tally.delivery_us.push(latency(epoch, &message.body));
                        }
                    }
                }
                Some(Ok(WsMessage::Close(_))) | None | Some(Err(_)) => {
                    tally.dropped += 1;
                    break;
                }
                Some(Ok(_)) => {}
            },
            () = &mut deadline => break,
        }
    }
    tally.lost = unacked.union(&undelivered).count();
    let _ = sender.close(None).await;
    if let Some(mut observer) = observer {
        let _ = observer.close(None).await;
    }
    tally
}

/// The next frame of the observer socket; never, for a session without one.
async fn next_frame(
    observer: &mut Option<Socket>,
) -> Option<Result<WsMessage, tokio_tungstenite::tungstenite::Error>> {
    match observer {
        Some(socket) => socket.next().await,
        None => std::future::pending().await,
    }
}

/// The server's resident memory (KiB): before the test, idle with every
/// socket open, at the end, and its peak.
struct Memory {
    base_rss: Option<u64>,
    idle_rss: Option<u64>,
    rss: Option<u64>,
    hwm: Option<u64>,
}

fn latency(epoch: Instant, body: &str) -> u64 {
    let sent: u64 = body.parse().unwrap_or(0);
    u64::try_from(epoch.elapsed().as_micros())
        .unwrap_or(u64::MAX)
        .saturating_sub(sent)
}

fn percentile(sorted: &[u64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let rank = (p / 100.0 * (sorted.len() - 1) as f64).round() as usize;
    sorted[rank.min(sorted.len() - 1)] as f64 / 1000.0
}

fn report(options: &Options, observers: usize, all: &mut Tally, send_secs: f64, memory: Memory) {
    let Memory {
        base_rss,
        idle_rss,
        rss,
        hwm,
    } = memory;
    let sockets = options.connections + observers;
    all.ack_us.sort_unstable();
    all.delivery_us.sort_unstable();
    let ms = |v: &[u64]| {
        (
            percentile(v, 50.0),
            percentile(v, 99.0),
            v.last().map_or(0.0, |m| *m as f64 / 1000.0),
        )
    };
    let (ack50, ack99, ackmax) = ms(&all.ack_us);
    let (del50, del99, delmax) = ms(&all.delivery_us);
    let throughput = all.acked as f64 / send_secs.max(f64::EPSILON);
    // The ack p99 of the messages sent in each second of the run.
    let mut seconds: Vec<Vec<u64>> =
        vec![Vec::new(); usize::try_from(options.duration).unwrap_or(0).max(1)];
    for (sent_us, took) in &all.ack_at {
        let second = usize::try_from(sent_us / 1_000_000)
            .unwrap_or(usize::MAX)
            .min(seconds.len() - 1);
        seconds[second].push(*took);
    }
    let by_second: Vec<f64> = seconds
        .iter_mut()
        .map(|v| {
            v.sort_unstable();
            (percentile(v, 99.0) * 10.0).round() / 10.0
        })
        .collect();
    println!(
        "connections   {} sessions, {sockets} sockets ({observers} observers)",
        options.connections
    );
    println!(
        "sent          {} in {send_secs:.1} s ({throughput:.0} acked msg/s)",
        all.sent
    );
    println!("acked         {}", all.acked);
    println!("delivered     {} (to the observer sockets)", all.delivered);
    println!("lost          {}", all.lost);
    println!(
        "errors        {}  dropped sockets {}",
        all.errors, all.dropped
    );
    println!("ack latency   p50 {ack50:.2} ms  p99 {ack99:.2} ms  max {ackmax:.2} ms");
    println!("delivery      p50 {del50:.2} ms  p99 {del99:.2} ms  max {delmax:.2} ms");
    println!("ack p99 by second of sending (ms): {by_second:?}");
    // What each open socket (with its session) adds to the server's memory.
    let per_socket = idle_rss
        .zip(base_rss)
        .map(|(idle, base)| idle.saturating_sub(base) as f64 / sockets.max(1) as f64);
    if let Some(idle) = idle_rss {
        println!(
            "server memory {:.1} MiB resident idle with all sockets open ({:.1} KiB per socket)",
            idle as f64 / 1024.0,
            per_socket.unwrap_or_default()
        );
    }
    if let Some(rss) = rss {
        println!(
            "              {:.1} MiB after the run (peak {:.1} MiB)",
            rss as f64 / 1024.0,
            hwm.unwrap_or(rss) as f64 / 1024.0
        );
    }
    let line = json!({
        "bench": "loadtest",
        "connections": options.connections,
        "sockets": sockets,
        "rate": options.rate,
        "duration_s": options.duration,
        "sent": all.sent,
        "acked": all.acked,
        "delivered": all.delivered,
        "lost": all.lost,
        "errors": all.errors,
        "dropped_sockets": all.dropped,
        "throughput_msg_s": (throughput * 10.0).round() / 10.0,
        "ack_ms": {"p50": ack50, "p99": ack99, "max": ackmax},
        "delivery_ms": {"p50": del50, "p99": del99, "max": delmax},
        "ack_p99_ms_by_second": by_second,
        "server_base_rss_kib": base_rss,
        "server_idle_rss_kib": idle_rss,
        "server_rss_kib_per_socket": per_socket.map(|v| (v * 10.0).round() / 10.0),
        "server_rss_kib": rss,
        "server_peak_rss_kib": hwm,
    });
    println!("{line}");
}

/// A `/proc/PID/status` memory line (`VmRSS`, `VmHWM`) in KiB.
fn memory_kib(pid: u32, field: &str) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|line| line.strip_prefix(field)?.strip_prefix(':'))
        .and_then(|rest| rest.split_whitespace().next()?.parse().ok())
}

/// Thousands of sockets need more than the usual 1,024 descriptors; the
/// server raises its own limit the same way.
pub fn raise_fd_limit() {
    if let Err(error) = rlimit::increase_nofile_limit(u64::MAX) {
        eprintln!("warning: cannot raise the open-files limit: {error}");
    }
}
