//! What an agent may read and act on: the apps their teams serve.
//!
//! Agents belong to teams (`agent_teams`), and `[[teams]]` in the config
//! say which apps each team serves. An agent reads and acts only on the
//! conversations, customers and reports of those apps; anything else is
//! answered exactly like something that does not exist (404). With no
//! `[[teams]]` configured there is one implicit team, [`IMPLICIT_TEAM`],
//! serving every app, so configs from before teams keep working.
//!
//! Pure but for [`of`], which reads the agent's teams from the store.

use std::collections::BTreeSet;

use trustchat_protocol::Team;

use crate::config::Config;
use crate::store::{Store, StoreResult};

/// The id of the one team there is when the config has no `[[teams]]`.
pub const IMPLICIT_TEAM: &str = "all";

/// The apps an agent may read and act on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Scope {
    /// Every app (no `[[teams]]` configured).
    All,
    /// These apps only (possibly none: an agent in no team).
    Apps(BTreeSet<String>),
}

impl Scope {
    /// The scope of an agent in `teams` (their team ids).
    pub fn of_teams(config: &Config, teams: &[String]) -> Scope {
        if config.teams.is_empty() {
            return Scope::All;
        }
        Scope::Apps(
            config
                .teams
                .iter()
                .filter(|team| teams.contains(&team.id))
                .flat_map(|team| team.apps.iter().cloned())
                .collect(),
        )
    }

    /// Whether conversations of `app_id` are the agent's business.
    pub fn allows(&self, app_id: &str) -> bool {
        match self {
            Scope::All => true,
            Scope::Apps(apps) => apps.contains(app_id),
        }
    }

    /// The app ids in scope, in the config's order.
    pub fn apps(&self, config: &Config) -> Vec<String> {
        config
            .apps
            .iter()
            .filter(|app| self.allows(&app.id))
            .map(|app| app.id.clone())
            .collect()
    }
}

/// The agent's scope, from their stored teams.
pub async fn of(config: &Config, store: &dyn Store, agent_id: &str) -> StoreResult<Scope> {
    if config.teams.is_empty() {
        return Ok(Scope::All);
    }
    Ok(Scope::of_teams(config, &store.agent_teams(agent_id).await?))
}

/// The teams an agent in `teams` belongs to, as the console shows them
/// (the implicit team when none are configured).
pub fn teams_view(config: &Config, teams: &[String]) -> Vec<Team> {
    if config.teams.is_empty() {
        return vec![Team {
            id: IMPLICIT_TEAM.to_owned(),
            name: "Everyone".to_owned(),
            apps: config.apps.iter().map(|app| app.id.clone()).collect(),
        }];
    }
    config
        .teams
        .iter()
        .filter(|team| teams.contains(&team.id))
        .map(|team| Team {
            id: team.id.clone(),
            name: team.name.clone(),
            apps: team.apps.clone(),
        })
        .collect()
}

/// The teams that may take a conversation of `app_id`: the rule's
/// `team` when it names one, else every team serving the app (`None`:
/// no `[[teams]]`, everybody).
pub fn routing_teams(config: &Config, app_id: &str, team: Option<&str>) -> Option<Vec<String>> {
    if config.teams.is_empty() {
        return None;
    }
    Some(match team {
        Some(team) => vec![team.to_owned()],
        None => config
            .teams
            .iter()
            .filter(|t| t.apps.iter().any(|a| a == app_id))
            .map(|t| t.id.clone())
            .collect(),
    })
}
