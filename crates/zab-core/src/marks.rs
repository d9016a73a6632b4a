//! Coverage marks: prove that a test reached the branch it is about.
//!
//! Production code calls [`hit`] with a static name on an interesting path (a rare protocol branch,
//! a refusal, a recovery step). A test wraps the scenario in [`expect`] (or [`expect_not`]) naming
//! the mark, and fails if the closure did not (or did) pass through that branch. A test that
//! silently stops exercising its branch after a refactor therefore fails instead of passing for
//! the wrong reason.
//!
//! Recording happens only in builds with debug assertions (every `cargo test` build by default);
//! in release builds [`hit`] compiles to nothing and [`expect`]/[`expect_not`] only run the closure.
//! Marks are kept per thread, so tests running in parallel do not see each other's hits.

use std::cell::RefCell;

/// Records that the code path named `name` was taken, if a test on this thread is watching it.
#[inline(always)]
pub fn hit(name: &'static str) {
    #[cfg(debug_assertions)]
    WATCHED.with(|watched| {
        for entry in watched.borrow_mut().iter_mut() {
            if entry.name == name {
                entry.hits += 1;
            }
        }
    });
    #[cfg(not(debug_assertions))]
    let _ = name;
}

/// Runs `f` and asserts that it hit the mark `name` at least once; returns what `f` returned.
///
/// # Panics
/// If `f` finished without hitting `name` (debug-assertion builds only).
pub fn expect<T>(name: &'static str, f: impl FnOnce() -> T) -> T {
    let (value, hits) = watch(name, f);
    if cfg!(debug_assertions) {
        assert!(hits > 0, "coverage mark `{name}` was not hit");
    }
    value
}

/// Runs `f` and asserts that it never hit the mark `name`; returns what `f` returned.
///
/// # Panics
/// If `f` hit `name` (debug-assertion builds only).
pub fn expect_not<T>(name: &'static str, f: impl FnOnce() -> T) -> T {
    let (value, hits) = watch(name, f);
    assert_eq!(hits, 0, "coverage mark `{name}` was hit {hits} time(s) but should not have been");
    value
}

/// Runs `f` and returns its value together with how often it hit `name` (always 0 in release).
pub fn count<T>(name: &'static str, f: impl FnOnce() -> T) -> (T, u64) {
    watch(name, f)
}

struct Watched {
    /// Read only by `hit`, which counts nothing in release builds.
    #[cfg_attr(not(debug_assertions), allow(dead_code))]
    name: &'static str,
    hits: u64,
}

thread_local! {
    static WATCHED: RefCell<Vec<Watched>> = const { RefCell::new(Vec::new()) };
}

/// Pops the watch entry even when `f` panics, so a caught panic (proptest shrinking runs many
/// cases on one thread) leaves no stale watcher behind.
struct Unwatch {
    depth: usize,
}

impl Drop for Unwatch {
    fn drop(&mut self) {
        WATCHED.with(|watched| watched.borrow_mut().truncate(self.depth));
    }
}

fn watch<T>(name: &'static str, f: impl FnOnce() -> T) -> (T, u64) {
    let depth = WATCHED.with(|watched| {
        let mut watched = watched.borrow_mut();
        watched.push(Watched { name, hits: 0 });
        watched.len() - 1
    });
    let guard = Unwatch { depth };
    let value = f();
    let hits = WATCHED.with(|watched| watched.borrow()[depth].hits);
    drop(guard);
    (value, hits)
}

// Marks record nothing without debug assertions, so their own tests need them.
#[cfg(all(test, debug_assertions))]
mod tests {
    use super::*;

    #[test]
    fn expect_passes_when_the_mark_is_hit() {
        let value = expect("marks: probe", || {
            hit("marks: probe");
            7
        });
        assert_eq!(value, 7);
    }

    #[test]
    #[should_panic(expected = "coverage mark `marks: probe` was not hit")]
    fn expect_fails_when_the_mark_is_missed() {
        expect("marks: probe", || hit("marks: other"));
    }

    #[test]
    #[should_panic(expected = "was hit 1 time(s)")]
    fn expect_not_fails_when_the_mark_is_hit() {
        expect_not("marks: probe", || hit("marks: probe"));
    }

    #[test]
    fn nested_watches_count_independently() {
        let ((_, inner), outer) = count("marks: a", || {
            hit("marks: a");
            count("marks: b", || {
                hit("marks: a");
                hit("marks: b");
                hit("marks: b");
            })
        });
        assert_eq!(inner, 2);
        assert_eq!(outer, 2);
    }

    #[test]
    fn hits_outside_a_watch_are_not_recorded() {
        hit("marks: probe");
        let (_, hits) = count("marks: probe", || ());
        assert_eq!(hits, 0);
    }
}
