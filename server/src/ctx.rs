//! [`Ctx`]: what the domain works with, one seam per concern: the
//! database, this server's listeners, the other servers, and the agents
//! online among them.

use crate::bus::Bus;
use crate::config::Config;
use crate::email::Wake;
use crate::holds::Holds;
use crate::hub::Hub;
use crate::presence::Presence;
use crate::store::Store;

/// The domain's view of the server (borrowed from `AppState`).
#[derive(Clone, Copy)]
pub struct Ctx<'a> {
    /// The database.
    pub store: &'a dyn Store,
    /// This server's listeners: customer sockets and agent consoles.
    pub hub: &'a Hub,
    /// The other servers of the database.
    pub bus: &'a dyn Bus,
    /// The agents online on any server.
    pub presence: &'a Presence,
    /// The configuration: apps, their rules, teams.
    pub config: &'a Config,
    /// The deadlines of conversations held for a login.
    pub holds: &'a Holds,
    /// Wakes the email worker when a reply schedules an email.
    pub email: &'a Wake,
    /// Wakes the webhook worker when an event was enqueued.
    pub webhooks: &'a crate::webhooks::Wake,
}
