//! [`AppState`]: what every request handler can reach.

use std::sync::Arc;

use crate::config::{AppConfig, Config};
use crate::store::Store;

/// Shared, cheaply cloned state of the HTTP server.
#[derive(Clone)]
pub struct AppState {
    /// The validated configuration.
    pub config: Arc<Config>,
    /// The database.
    pub store: Arc<dyn Store>,
}

impl AppState {
    /// State over a validated config and an open store.
    pub fn new(config: Config, store: Arc<dyn Store>) -> AppState {
        AppState {
            config: Arc::new(config),
            store,
        }
    }

    /// The app with this id.
    pub fn app(&self, id: &str) -> Option<AppRef> {
        let index = self.config.apps.iter().position(|app| app.id == id)?;
        Some(AppRef {
            config: Arc::clone(&self.config),
            index,
        })
    }
}

/// A handle on one app of the config, cheap to pass around.
#[derive(Clone)]
pub struct AppRef {
    /// The config the app belongs to.
    config: Arc<Config>,
    /// The app's position in `config.apps`.
    index: usize,
}

impl std::ops::Deref for AppRef {
    type Target = AppConfig;

    fn deref(&self) -> &AppConfig {
        &self.config.apps[self.index]
    }
}

impl std::fmt::Debug for AppRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("AppRef").field(&self.id).finish()
    }
}
