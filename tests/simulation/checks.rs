//! The checks after everything the world does: the core's own `validate`
//! (after everything the core handled), and what ties
//! the core to the simulated world, seen from the world (never through the
//! implementation's helpers): what the core believes a live, registered
//! worker holds, that worker holds. (That every value held is the right
//! one for its key is checked as it is stored, in `workers.rs`.)

use crate::world::World;
use weft_worker::state::Values;

/// Checks the world; the core's own books only if it handled something
/// since the last check (`core_touched`).
pub(crate) fn check(world: &mut World) {
    if std::mem::take(&mut world.core_touched)
        && let Err(error) = world.core.validate()
    {
        panic!("step {}: the core is inconsistent: {error}", world.step);
    }
    for (id, sim) in &world.workers {
        if !world.core.has_worker(*id) {
            continue;
        }
        for (key, _) in world.core.has_what(*id) {
            assert!(
                sim.state.values().contains(&key),
                "step {}: the core believes {id} holds {key}, which it does not; story {:?}",
                world.step,
                world.core.story(&key)
            );
        }
    }
}
