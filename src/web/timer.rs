//! [`Clock`] over `Date.now()` and `setTimeout`. The armed timers (trust
//! and chat) are [`Timeout`]s, which clear themselves when dropped:
//! re-arming, `clearUser` and tearing the widget down are all dropping them.

use wasm_bindgen::closure::Closure;
use wasm_bindgen::JsCast;

use super::Browser;
use crate::platform::Clock;

/// A `setTimeout` that lives exactly as long as this value.
pub struct Timeout {
    /// The handle for `clearTimeout`.
    id: i32,
    /// The callback; JavaScript holds a reference until it is cleared.
    _callback: Closure<dyn FnMut()>,
}

impl Timeout {
    /// Calls `callback` once, `delay` milliseconds from now.
    pub fn new(delay: u32, callback: impl FnMut() + 'static) -> Option<Timeout> {
        let callback = Closure::<dyn FnMut()>::new(callback);
        let id = web_sys::window()?
            .set_timeout_with_callback_and_timeout_and_arguments_0(
                callback.as_ref().unchecked_ref(),
                i32::try_from(delay).unwrap_or(i32::MAX),
            )
            .ok()?;
        Some(Timeout {
            id,
            _callback: callback,
        })
    }
}

impl Drop for Timeout {
    fn drop(&mut self) {
        if let Some(window) = web_sys::window() {
            window.clear_timeout_with_handle(self.id);
        }
    }
}

impl Clock for Browser {
    fn now(&self) -> i64 {
        js_sys::Date::now() as i64
    }

    fn set_timer(&self, delay: Option<u32>) {
        // The old timer is cleared (dropped) before the new one is armed.
        self.timer.borrow_mut().take();
        // The callback only schedules the driver: the driver may re-arm,
        // which drops this very timer, and that must not happen while its
        // callback runs.
        let timeout = delay.and_then(|delay| {
            Timeout::new(delay, || {
                wasm_bindgen_futures::spawn_local(async { super::driver().timer_fired() })
            })
        });
        *self.timer.borrow_mut() = timeout;
    }

    fn set_wake(&self, delay: Option<u32>) {
        self.wake.borrow_mut().take();
        let timeout = delay.and_then(|delay| {
            Timeout::new(delay, || {
                wasm_bindgen_futures::spawn_local(async { super::driver().wake() })
            })
        });
        *self.wake.borrow_mut() = timeout;
    }
}
