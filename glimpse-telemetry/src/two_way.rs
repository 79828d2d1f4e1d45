//! The replacement rule of the SDK's small per-thread caches (the log field cache, the
//! `RUST_LOG` decision cache): two ways per set, so two hot keys that meet in a set both stay.
//! With one way, which keys meet depends on where the linker put their statics, and a build
//! where two of one log line's met missed on every line.
//!
//! A cache is a slice of `Option<T>`; a set is two consecutive slots starting at an even index.

/// The entry of the set starting at `set` that `hit` accepts.
#[inline]
pub(crate) fn find<T>(slots: &[Option<T>], set: usize, hit: impl Fn(&T) -> bool) -> Option<&T> {
    slots[set..set + 2].iter().flatten().find(|e| hit(e))
}

/// Puts `entry` in the first way of the set starting at `set`; the entry it displaces moves to
/// the second, and the second's is dropped.
#[inline]
pub(crate) fn insert<T>(slots: &mut [Option<T>], set: usize, entry: T) {
    slots[set + 1] = slots[set].take();
    slots[set] = Some(entry);
}

/// The first slot of the set of `hash` in a cache of `slots` slots.
#[inline]
pub(crate) fn set_of(hash: usize, slots: usize) -> usize {
    hash % (slots / 2) * 2
}
