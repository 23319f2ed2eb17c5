//! Whether an app's support can answer now: `closed` outside its office
//! hours ([`crate::hours`]), else `available` with an agent of the app
//! (their teams serve it) online and available on any server, else
//! `busy`.
//!
//! `GET /api/v1/apps/{id}` reads it through [`Availabilities`], which
//! computes every app's at once and keeps the answer for a second. The
//! presence heartbeat recomputes it (every 5 s, and as soon as this
//! server's agents come, go or change status) and pushes an
//! `availability` frame to the customer sockets of each app whose
//! availability changed ([`push_changes`]).

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use jiff::Timestamp;
use trustchat_protocol::{AgentStatus, Availability, ServerFrame};

use crate::config::{AppConfig, Config};
use crate::ctx::Ctx;
use crate::hours::Hours;
use crate::scope::Scope;
use crate::store::StoreResult;

/// How long a computed answer is served again.
const FRESH: Duration = Duration::from_secs(1);

/// An app's availability and, when closed, its next opening.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AppAvailability {
    /// Now.
    pub availability: Availability,
    /// When closed: when support opens next, Unix milliseconds.
    pub next_open_at: Option<i64>,
}

/// The availability of an app with these `hours` (none: always open)
/// when `staffed` (an agent of it online and available) at `now`.
pub fn decide(hours: Option<&Hours>, staffed: bool, now: Timestamp) -> AppAvailability {
    if let Some(hours) = hours {
        if !hours.is_open(now) {
            return AppAvailability {
                availability: Availability::Closed,
                next_open_at: hours.next_open(now).map(Timestamp::as_millisecond),
            };
        }
    }
    AppAvailability {
        availability: if staffed {
            Availability::Available
        } else {
            Availability::Busy
        },
        next_open_at: None,
    }
}

/// Every app's availability now, from the store and presence.
pub async fn compute(ctx: Ctx<'_>) -> StoreResult<HashMap<String, AppAvailability>> {
    let online = ctx.presence.online_now().await?;
    let available: Vec<String> = ctx
        .store
        .agents()
        .await?
        .into_iter()
        .filter(|agent| agent.status == AgentStatus::Available && online.contains(&agent.id))
        .map(|agent| agent.id)
        .collect();
    let mut teams: HashMap<String, Vec<String>> = HashMap::new();
    if !ctx.config.teams.is_empty() && !available.is_empty() {
        for (agent, team) in ctx.store.agent_memberships().await? {
            teams.entry(agent).or_default().push(team);
        }
    }
    let scopes: Vec<Scope> = available
        .iter()
        .map(|agent| Scope::of_teams(ctx.config, teams.get(agent).map_or(&[][..], Vec::as_slice)))
        .collect();
    let now = Timestamp::now();
    Ok(ctx
        .config
        .apps
        .iter()
        .map(|app| {
            let staffed = scopes.iter().any(|scope| scope.allows(&app.id));
            (
                app.id.clone(),
                decide(app.open_hours.as_ref(), staffed, now),
            )
        })
        .collect())
}

/// The last computed answer, and the last one pushed to sockets.
#[derive(Debug, Default)]
pub struct Availabilities {
    fresh: Mutex<Option<(Instant, HashMap<String, AppAvailability>)>>,
    pushed: Mutex<HashMap<String, AppAvailability>>,
}

impl Availabilities {
    /// An app's availability, computed at most [`FRESH`] ago.
    pub async fn of(&self, ctx: Ctx<'_>, app: &AppConfig) -> StoreResult<AppAvailability> {
        {
            let fresh = self
                .fresh
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            if let Some((at, all)) = fresh.as_ref() {
                if at.elapsed() < FRESH {
                    if let Some(found) = all.get(&app.id) {
                        return Ok(*found);
                    }
                }
            }
        }
        let all = compute(ctx).await?;
        let found = all
            .get(&app.id)
            .copied()
            .unwrap_or_else(|| decide(app.open_hours.as_ref(), false, Timestamp::now()));
        *self
            .fresh
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = Some((Instant::now(), all));
        Ok(found)
    }

    /// Recomputes every app's availability and pushes an `availability`
    /// frame to this server's customer sockets of each app whose
    /// availability changed since the last computation (the first only
    /// records it).
    pub async fn push_changes(&self, ctx: Ctx<'_>, config: &Config) -> StoreResult<()> {
        let all = compute(ctx).await?;
        let changed: Vec<(String, AppAvailability)> = {
            let mut pushed = self
                .pushed
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            let changed = config
                .apps
                .iter()
                .filter_map(|app| {
                    // Sockets learn the first answer from `GET /apps`;
                    // only a change from a pushed one is pushed.
                    let now = all.get(&app.id)?;
                    let before = pushed.get(&app.id)?;
                    (before != now).then(|| (app.id.clone(), *now))
                })
                .collect();
            pushed.clone_from(&all);
            changed
        };
        *self
            .fresh
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = Some((Instant::now(), all));
        for (app_id, now) in changed {
            ctx.hub.publish_app(
                &app_id,
                ServerFrame::Availability {
                    availability: now.availability,
                    next_open_at: now.next_open_at,
                },
            );
        }
        Ok(())
    }
}
