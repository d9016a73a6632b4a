//! The client's own record of the watches it holds, kept as ZooKeeper's client keeps it: a watch is
//! registered when the reply of the request that set it arrives with a result that sets one,
//! one-shot watches are dropped when they fire, and the lists are re-sent with setWatches after a
//! reconnect. The application is the only watcher, so an event is delivered once however many
//! registrations it matches.

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};
use zab_tree::{
    AddWatchMode, ErrorCode, EventType, KeeperState, Request, SetWatches, WatchEvent, WatcherType, Zxid,
};

use crate::chroot::Chroot;

/// setWatches requests are split so that each carries at most about this many bytes of paths
/// (ZooKeeper's client uses the same bound, so one reconnect cannot exceed the server's frame
/// limit however many watches the session holds).
pub const SET_WATCHES_BATCH_BYTES_MAX: usize = 128 * 1024;

/// The watches a client holds, by kind, as client paths (chroot stripped).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Watches {
    /// One-shot data watches (getData, or exists on a node that existed).
    pub data: BTreeSet<String>,
    /// One-shot exist watches (exists on a missing node; fire on NodeCreated).
    pub exist: BTreeSet<String>,
    /// One-shot child watches (getChildren, getChildren2).
    pub child: BTreeSet<String>,
    /// Persistent watches (addWatch mode 0).
    pub persistent: BTreeSet<String>,
    /// Persistent recursive watches (addWatch mode 1).
    pub persistent_recursive: BTreeSet<String>,
}

impl Watches {
    /// True when the client holds no watch at all.
    pub fn is_empty(&self) -> bool {
        self.data.is_empty()
            && self.exist.is_empty()
            && self.child.is_empty()
            && self.persistent.is_empty()
            && self.persistent_recursive.is_empty()
    }

    /// Registers the watch `request` (client paths) asked for, given the reply's code: getData
    /// and getChildren only on success, exists on success (data watch) and on NoNode (exist
    /// watch), addWatch on success.
    pub(crate) fn register(&mut self, request: &Request, err: ErrorCode) {
        let ok = err == ErrorCode::Ok;
        match request {
            Request::GetData { path, watch: true } if ok => self.data.insert(path.clone()),
            Request::Exists { path, watch: true } if ok => self.data.insert(path.clone()),
            Request::Exists { path, watch: true } if err == ErrorCode::NoNode => {
                self.exist.insert(path.clone())
            }
            Request::GetChildren { path, watch: true } | Request::GetChildren2 { path, watch: true }
                if ok =>
            {
                self.child.insert(path.clone())
            }
            Request::AddWatch { path, mode: AddWatchMode::Persistent } if ok => {
                self.persistent.insert(path.clone())
            }
            Request::AddWatch { path, mode: AddWatchMode::PersistentRecursive } if ok => {
                self.persistent_recursive.insert(path.clone())
            }
            _ => false,
        };
    }

    /// Consumes the registrations a node event (client path) fires and says whether any matched.
    /// One-shot watches on the path are dropped; persistent ones stay. NodeChildrenChanged does not
    /// reach persistent recursive watches; the other node events reach them on the path and on
    /// every ancestor.
    pub(crate) fn fire(&mut self, event: &WatchEvent) -> bool {
        let path = event.path.as_str();
        let one_shot = match event.event_type {
            EventType::NodeCreated | EventType::NodeDataChanged => {
                // Both removals must run: `|` rather than `||`.
                self.data.remove(path) | self.exist.remove(path)
            }
            EventType::NodeChildrenChanged => self.child.remove(path),
            EventType::NodeDeleted => {
                self.data.remove(path) | self.exist.remove(path) | self.child.remove(path)
            }
            EventType::None
            | EventType::DataWatchRemoved
            | EventType::ChildWatchRemoved
            | EventType::PersistentWatchRemoved => return false,
        };
        let persistent = self.persistent.contains(path);
        let recursive = event.event_type != EventType::NodeChildrenChanged
            && ancestors_and_self(path).any(|p| self.persistent_recursive.contains(p));
        one_shot || persistent || recursive
    }

    /// True if a removeWatches/checkWatches of this type on `path` would find something.
    pub(crate) fn holds(&self, path: &str, watcher_type: WatcherType) -> bool {
        self.kinds(watcher_type).iter().any(|(set, _)| set.contains(path))
    }

    /// Drops the registrations of this type on `path` and returns the *WatchRemoved events to
    /// deliver, one per kind of event (data and exist watches both report DataWatchRemoved).
    pub(crate) fn remove(&mut self, path: &str, watcher_type: WatcherType) -> Vec<WatchEvent> {
        let mut events: Vec<WatchEvent> = Vec::new();
        for (set, event_type) in self.kinds_mut(watcher_type) {
            if set.remove(path) && !events.iter().any(|e| e.event_type == event_type) {
                events.push(WatchEvent {
                    event_type,
                    state: KeeperState::SyncConnected,
                    path: path.to_string(),
                });
            }
        }
        events
    }

    /// The setWatches requests that re-register everything after a reconnect, in server paths,
    /// each holding at most about [`SET_WATCHES_BATCH_BYTES_MAX`] bytes of paths. Empty when the
    /// client holds no watch.
    pub(crate) fn set_watches(&self, relative_zxid: Zxid, chroot: &Chroot) -> Vec<SetWatches> {
        let mut batches = Vec::new();
        let mut batch = SetWatches { relative_zxid, ..SetWatches::default() };
        let mut batch_bytes = 0;
        let lists: [(&BTreeSet<String>, ListOf); 5] = [
            (&self.data, |w| &mut w.data),
            (&self.exist, |w| &mut w.exist),
            (&self.child, |w| &mut w.child),
            (&self.persistent, |w| &mut w.persistent),
            (&self.persistent_recursive, |w| &mut w.persistent_recursive),
        ];
        for (set, list) in lists {
            for path in set {
                let server_path = chroot.to_server(path);
                batch_bytes += server_path.len();
                list(&mut batch).push(server_path);
                // A batch may overshoot by its last path; it closes as soon as it reaches the bound.
                if batch_bytes >= SET_WATCHES_BATCH_BYTES_MAX {
                    batches.push(std::mem::replace(
                        &mut batch,
                        SetWatches { relative_zxid, ..SetWatches::default() },
                    ));
                    batch_bytes = 0;
                }
            }
        }
        if batch_bytes > 0 {
            batches.push(batch);
        }
        batches
    }

    fn kinds(&self, watcher_type: WatcherType) -> Vec<(&BTreeSet<String>, EventType)> {
        let all = [
            (&self.data, EventType::DataWatchRemoved),
            (&self.exist, EventType::DataWatchRemoved),
            (&self.child, EventType::ChildWatchRemoved),
            (&self.persistent, EventType::PersistentWatchRemoved),
            (&self.persistent_recursive, EventType::PersistentWatchRemoved),
        ];
        let mask = kind_mask(watcher_type);
        all.into_iter().zip(mask).filter(|(_, keep)| *keep).map(|(kind, _)| kind).collect()
    }

    fn kinds_mut(&mut self, watcher_type: WatcherType) -> Vec<(&mut BTreeSet<String>, EventType)> {
        let all = [
            (&mut self.data, EventType::DataWatchRemoved),
            (&mut self.exist, EventType::DataWatchRemoved),
            (&mut self.child, EventType::ChildWatchRemoved),
            (&mut self.persistent, EventType::PersistentWatchRemoved),
            (&mut self.persistent_recursive, EventType::PersistentWatchRemoved),
        ];
        let mask = kind_mask(watcher_type);
        all.into_iter().zip(mask).filter(|(_, keep)| *keep).map(|(kind, _)| kind).collect()
    }
}

/// Picks one of the lists of a setWatches request.
type ListOf = fn(&mut SetWatches) -> &mut Vec<String>;

/// Which of (data, exist, child, persistent, persistent recursive) a watcher type addresses.
fn kind_mask(watcher_type: WatcherType) -> [bool; 5] {
    match watcher_type {
        WatcherType::Data => [true, true, false, false, false],
        WatcherType::Children => [false, false, true, false, false],
        WatcherType::Any => [true; 5],
        WatcherType::Persistent => [false, false, false, true, false],
        WatcherType::PersistentRecursive => [false, false, false, false, true],
    }
}

/// `path`, its parent, ..., "/".
fn ancestors_and_self(path: &str) -> impl Iterator<Item = &str> {
    let mut next = Some(path);
    std::iter::from_fn(move || {
        let current = next?;
        next = match current.rfind('/') {
            _ if current == "/" => None,
            Some(0) => Some("/"),
            Some(at) => Some(&current[..at]),
            None => None,
        };
        Some(current)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn get_data(path: &str) -> Request {
        Request::GetData { path: path.to_string(), watch: true }
    }

    #[test]
    fn ancestors_walk_up_to_the_root() {
        assert_eq!(ancestors_and_self("/a/b/c").collect::<Vec<_>>(), ["/a/b/c", "/a/b", "/a", "/"]);
        assert_eq!(ancestors_and_self("/").collect::<Vec<_>>(), ["/"]);
    }

    #[test]
    fn a_failed_read_registers_nothing_but_exists_on_a_missing_node_registers_an_exist_watch() {
        let mut w = Watches::default();
        w.register(&get_data("/a"), ErrorCode::NoNode);
        w.register(&Request::Exists { path: "/b".to_string(), watch: true }, ErrorCode::NoNode);
        w.register(&Request::Exists { path: "/c".to_string(), watch: false }, ErrorCode::NoNode);
        assert!(w.data.is_empty());
        assert_eq!(w.exist.iter().collect::<Vec<_>>(), ["/b"]);
    }

    #[test]
    fn one_shot_watches_fire_once_and_persistent_ones_keep_firing() {
        let mut w = Watches::default();
        w.register(&get_data("/a"), ErrorCode::Ok);
        w.register(
            &Request::AddWatch { path: "/p".to_string(), mode: AddWatchMode::Persistent },
            ErrorCode::Ok,
        );
        let changed = |p: &str| WatchEvent::node(EventType::NodeDataChanged, p);
        assert!(w.fire(&changed("/a")));
        assert!(!w.fire(&changed("/a")));
        assert!(w.fire(&changed("/p")));
        assert!(w.fire(&changed("/p")));
    }

    #[test]
    fn recursive_watches_see_descendants_but_not_child_list_changes() {
        let mut w = Watches::default();
        let add = Request::AddWatch { path: "/r".to_string(), mode: AddWatchMode::PersistentRecursive };
        w.register(&add, ErrorCode::Ok);
        assert!(w.fire(&WatchEvent::node(EventType::NodeCreated, "/r/x/y")));
        assert!(!w.fire(&WatchEvent::node(EventType::NodeChildrenChanged, "/r")));
        assert!(!w.fire(&WatchEvent::node(EventType::NodeCreated, "/rx")));
    }

    #[test]
    fn removing_any_reports_one_event_per_removed_kind() {
        let mut w = Watches::default();
        w.register(&get_data("/a"), ErrorCode::Ok);
        w.register(&Request::Exists { path: "/a".to_string(), watch: true }, ErrorCode::NoNode);
        w.register(&Request::GetChildren { path: "/a".to_string(), watch: true }, ErrorCode::Ok);
        let kinds: Vec<EventType> =
            w.remove("/a", WatcherType::Any).into_iter().map(|e| e.event_type).collect();
        assert_eq!(kinds, [EventType::DataWatchRemoved, EventType::ChildWatchRemoved]);
        assert!(w.is_empty());
    }

    #[test]
    fn set_watches_is_split_into_batches_of_bounded_size() {
        let mut w = Watches::default();
        let long = "x".repeat(1000);
        for i in 0..300 {
            w.data.insert(format!("/{long}{i:03}"));
        }
        let batches = w.set_watches(Zxid(7), &Chroot::default());
        assert_eq!(batches.len(), 3, "300 paths of 1004 bytes make 131-path batches");
        assert_eq!(batches.iter().map(|b| b.data.len()).sum::<usize>(), 300);
        assert!(batches.iter().all(|b| b.relative_zxid == Zxid(7)));
        assert_eq!(batches[0].data.len(), 131);
    }
}
