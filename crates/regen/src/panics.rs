//! Containing panics from other people's code: an image decoder that trips an assertion on
//! a malformed file must cost that file, with one line, not the whole batch.

use std::cell::Cell;
use std::panic::{self, AssertUnwindSafe};
use std::sync::Once;

thread_local! {
    /// Set while [`contain`] runs on this thread: its panics are reported as errors, so the
    /// default hook's message and backtrace note would only be noise.
    static CONTAINED: Cell<bool> = const { Cell::new(false) };
}

/// Runs `f`; a panic inside it comes back as `Err` with the panic's message, printing
/// nothing. Panics elsewhere, and on other threads, are reported as before.
pub fn contain<T>(f: impl FnOnce() -> T) -> Result<T, String> {
    static HOOK: Once = Once::new();
    HOOK.call_once(|| {
        let previous = panic::take_hook();
        panic::set_hook(Box::new(move |info| {
            if !CONTAINED.with(Cell::get) {
                previous(info);
            }
        }));
    });
    let outer = CONTAINED.with(|c| c.replace(true));
    let result = panic::catch_unwind(AssertUnwindSafe(f));
    CONTAINED.with(|c| c.set(outer));
    result.map_err(|payload| {
        payload
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| payload.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "it panicked".into())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_panic_becomes_its_message() {
        assert_eq!(contain(|| 7), Ok(7));
        let err = contain(|| -> u8 { panic!("bad tile {}", 3) }).unwrap_err();
        assert_eq!(err, "bad tile 3");
        // Nested: the inner panic is contained, the outer call still returns normally.
        assert_eq!(contain(|| contain(|| panic!("inner")).is_err()), Ok(true));
    }
}
