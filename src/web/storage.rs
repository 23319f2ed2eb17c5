//! [`Storage`] over `localStorage`, and `sessionStorage` for what belongs
//! to the tab (unacknowledged messages); `clearUser` sweeps both. Storage may be missing or refuse writes (privacy modes,
//! sandboxed iframes): the widget then simply forgets on reload.

use super::Browser;
use crate::platform::Storage;

fn local() -> Option<web_sys::Storage> {
    web_sys::window()?.local_storage().ok()?
}

fn session() -> Option<web_sys::Storage> {
    web_sys::window()?.session_storage().ok()?
}

impl Storage for Browser {
    fn get(&self, key: &str) -> Option<String> {
        local()?.get_item(key).ok()?
    }

    fn set(&self, key: &str, value: &str) {
        if let Some(storage) = local() {
            let _ = storage.set_item(key, value);
        }
    }

    fn remove(&self, key: &str) {
        if let Some(storage) = local() {
            let _ = storage.remove_item(key);
        }
    }

    fn tab_get(&self, key: &str) -> Option<String> {
        session()?.get_item(key).ok()?
    }

    fn tab_set(&self, key: &str, value: Option<&str>) {
        if let Some(storage) = session() {
            let _ = match value {
                Some(value) => storage.set_item(key, value),
                None => storage.remove_item(key),
            };
        }
    }

    fn remove_prefixed(&self, prefix: &str) {
        for storage in [local(), session()].into_iter().flatten() {
            let length = storage.length().unwrap_or(0);
            let keys: Vec<String> = (0..length)
                .filter_map(|i| storage.key(i).ok().flatten())
                .filter(|key| key.starts_with(prefix))
                .collect();
            for key in keys {
                let _ = storage.remove_item(&key);
            }
        }
    }
}
