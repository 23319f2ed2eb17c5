//! Which agent gets a conversation: a pure decision over the agents' load.
//!
//! A conversation goes to an agent who is **available** (their status) and
//! **online** (the console is open: a live agent WebSocket), the one with
//! the fewest open conversations; among equals, the one who was routed a
//! conversation longest ago (never beats any time), then the lowest id, so
//! the choice is deterministic. With nobody eligible the conversation
//! waits in the queue (no assigned agent), and [`plan`] hands the queue out,
//! oldest first, when an agent comes online or becomes available again.
//!
//! An agent who goes offline or away keeps their open conversations: they
//! are not bounced back to the queue (a reload of the console would
//! otherwise reshuffle them). Reassigning is explicit; removing an agent
//! (`trustchat-server agent remove`) puts theirs back in the queue.
//!
//! With `[[teams]]` configured, only the agents of the teams that may take
//! a conversation are candidates for it: the team its rule names, else
//! every team serving its app ([`Waiting::teams`]). The queue is handed
//! out in routing order: high priority first, then oldest (the store's
//! order), each conversation to the best of its own candidates.
//!
//! [`crate::console`] reads the facts (store, hub) and applies the choice.

use trustchat_protocol::AgentStatus;

/// One agent as routing sees them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Candidate {
    /// Agent id.
    pub id: String,
    /// Available or away.
    pub status: AgentStatus,
    /// Whether the console is open.
    pub online: bool,
    /// Open conversations routed to them.
    pub open: i64,
    /// When a conversation was last routed to them, Unix milliseconds.
    pub last_assigned_at: Option<i64>,
    /// The teams they belong to.
    pub teams: Vec<String>,
}

impl Candidate {
    fn eligible(&self, teams: Option<&[String]>) -> bool {
        self.status == AgentStatus::Available
            && self.online
            && teams.is_none_or(|teams| self.teams.iter().any(|t| teams.contains(t)))
    }
}

/// A conversation waiting to be routed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Waiting {
    /// Conversation id.
    pub id: String,
    /// The teams whose agents may take it; `None`: any agent (no
    /// `[[teams]]`).
    pub teams: Option<Vec<String>>,
}

/// The agent a new conversation goes to, among the agents of `teams`
/// (`None`: everybody); `None`: it waits in the queue.
pub fn choose<'a>(candidates: &'a [Candidate], teams: Option<&[String]>) -> Option<&'a Candidate> {
    candidates
        .iter()
        .filter(|c| c.eligible(teams))
        .min_by(|a, b| {
            a.open
                .cmp(&b.open)
                .then(
                    a.last_assigned_at
                        .unwrap_or(i64::MIN)
                        .cmp(&b.last_assigned_at.unwrap_or(i64::MIN)),
                )
                .then(a.id.cmp(&b.id))
        })
}

/// Hands out `queue` (in routing order), one at a time, each to
/// [`choose`]'s agent among its teams given the conversations handed out
/// before it. Returns (conversation, agent) pairs; what is left over keeps
/// waiting.
pub fn plan(queue: &[Waiting], candidates: &[Candidate], now_ms: i64) -> Vec<(String, String)> {
    let mut candidates = candidates.to_vec();
    let mut assignments = Vec::new();
    for conversation in queue {
        let Some(agent) = choose(&candidates, conversation.teams.as_deref()).map(|c| c.id.clone())
        else {
            continue;
        };
        if let Some(chosen) = candidates.iter_mut().find(|c| c.id == agent) {
            chosen.open += 1;
            chosen.last_assigned_at = Some(now_ms);
        }
        assignments.push((conversation.id.clone(), agent));
    }
    assignments
}

#[cfg(test)]
mod tests {
    use super::*;
    use AgentStatus::{Available, Away};

    fn agent(
        id: &str,
        status: AgentStatus,
        online: bool,
        open: i64,
        last: Option<i64>,
    ) -> Candidate {
        Candidate {
            id: id.into(),
            status,
            online,
            open,
            last_assigned_at: last,
            teams: Vec::new(),
        }
    }

    fn in_teams(mut candidate: Candidate, teams: &[&str]) -> Candidate {
        candidate.teams = teams.iter().map(|t| t.to_string()).collect();
        candidate
    }

    fn check(candidates: &[Candidate], expected: Option<&str>) {
        assert_eq!(
            choose(candidates, None).map(|c| c.id.as_str()),
            expected,
            "{candidates:#?}"
        );
    }

    #[test]
    fn choose_the_least_loaded_available_online_agent() {
        // Fewest open wins.
        check(
            &[
                agent("a", Available, true, 2, None),
                agent("b", Available, true, 1, None),
            ],
            Some("b"),
        );
        // Away agents are skipped, however idle.
        check(
            &[
                agent("a", Available, true, 5, None),
                agent("b", Away, true, 0, None),
            ],
            Some("a"),
        );
        // Offline agents are skipped.
        check(
            &[
                agent("a", Available, true, 5, None),
                agent("b", Available, false, 0, None),
            ],
            Some("a"),
        );
        // Nobody eligible: the queue.
        check(
            &[
                agent("a", Away, true, 0, None),
                agent("b", Available, false, 0, None),
            ],
            None,
        );
        check(&[], None);
        // Ties: routed to longest ago (never first), then the lowest id.
        check(
            &[
                agent("a", Available, true, 1, Some(200)),
                agent("b", Available, true, 1, Some(100)),
            ],
            Some("b"),
        );
        check(
            &[
                agent("a", Available, true, 1, Some(200)),
                agent("b", Available, true, 1, None),
            ],
            Some("b"),
        );
        check(
            &[
                agent("b", Available, true, 1, None),
                agent("a", Available, true, 1, None),
            ],
            Some("a"),
        );
    }

    #[test]
    fn plan_spreads_the_queue_oldest_first() {
        let queue: Vec<Waiting> = ["q1", "q2", "q3", "q4"]
            .map(|id| Waiting {
                id: id.into(),
                teams: None,
            })
            .to_vec();
        let agents = [
            agent("a", Available, true, 1, Some(10)),
            agent("b", Available, true, 0, Some(20)),
            agent("c", Away, true, 0, None),
        ];
        let pairs = |v: Vec<(String, String)>| {
            v.into_iter()
                .map(|(q, a)| format!("{q}->{a}"))
                .collect::<Vec<_>>()
        };
        assert_eq!(
            pairs(plan(&queue, &agents, 1000)),
            ["q1->b", "q2->a", "q3->b", "q4->a"]
        );
        assert!(
            plan(&queue, &agents[2..], 1000).is_empty(),
            "an away agent takes nothing"
        );
        assert_eq!(pairs(plan(&queue[..1], &agents, 1000)), ["q1->b"]);
    }

    #[test]
    fn teams_decide_who_may_take_a_conversation() {
        let agents = [
            in_teams(agent("a", Available, true, 0, None), &["billing"]),
            in_teams(agent("b", Available, true, 3, None), &["verified"]),
            in_teams(
                agent("c", Available, true, 1, None),
                &["billing", "verified"],
            ),
        ];
        let teams = |t: &[&str]| t.iter().map(|t| t.to_string()).collect::<Vec<_>>();
        let pick = |allowed: Option<Vec<String>>| {
            choose(&agents, allowed.as_deref()).map(|c| c.id.clone())
        };
        // Anyone without teams; the least loaded of the team otherwise.
        assert_eq!(pick(None).as_deref(), Some("a"));
        assert_eq!(pick(Some(teams(&["verified"]))).as_deref(), Some("c"));
        assert_eq!(pick(Some(teams(&["billing"]))).as_deref(), Some("a"));
        // A team with nobody in it: the queue, however idle the others.
        assert_eq!(pick(Some(teams(&["sales"]))), None);
        assert_eq!(pick(Some(Vec::new())), None);

        // The queue in routing order: a conversation nobody of its team
        // can take waits, and the ones after it still go out.
        let queue = [
            Waiting {
                id: "q1".into(),
                teams: Some(teams(&["sales"])),
            },
            Waiting {
                id: "q2".into(),
                teams: Some(teams(&["verified"])),
            },
            Waiting {
                id: "q3".into(),
                teams: Some(teams(&["verified"])),
            },
        ];
        let planned: Vec<String> = plan(&queue, &agents, 5)
            .into_iter()
            .map(|(q, a)| format!("{q}->{a}"))
            .collect();
        assert_eq!(planned, ["q2->c", "q3->c"]);
    }
}
