//! [`Interrupt`]: a flag another thread raises to stop a task while it runs.
//! [`Runtime::call_interruptible`](crate::Runtime::call_interruptible)
//! looks at it on every epoch tick (`RuntimeConfig::epoch_tick`), so a
//! raised flag stops the guest within about one tick, wherever it loops,
//! with [`TaskErrorKind::Interrupted`](crate::TaskErrorKind::Interrupted).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

/// A shared "stop now" flag for one task call. Cheap to clone; every clone
/// is the same flag.
#[derive(Debug, Clone, Default)]
pub struct Interrupt(Arc<AtomicBool>);

impl Interrupt {
    /// Asks the call to stop. It stops at its next epoch tick; a call that
    /// has not begun stops at its first.
    pub fn request(&self) {
        self.0.store(true, Ordering::Release);
    }

    /// Whether a stop was asked for.
    pub fn is_requested(&self) -> bool {
        self.0.load(Ordering::Acquire)
    }
}
