//! Watches (reference §3.9): one-shot data/exist and child watches, persistent and
//! persistent-recursive watches, removal, and the order in which a committed txn's triggers
//! turn into notifications.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use crate::path::parent_of;
use crate::{
    Acl, AddWatchMode, DataTree, ErrorCode, EventType, Request, Response, SetWatches, WatchEvent,
    WatcherType, Zxid,
};

/// One change that may fire watches, produced by [`DataTree::apply`] in firing order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WatchTrigger {
    /// The node the event is about.
    pub path: String,
    /// NodeCreated, NodeDeleted, NodeDataChanged or NodeChildrenChanged.
    pub event_type: EventType,
    /// The txn that caused it.
    pub zxid: Zxid,
    /// The ACL a watcher needs READ on to be told: the node's own ACL, or for
    /// NodeChildrenChanged the parent's (which is `path` then).
    pub acl: Arc<[Acl]>,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct Modes {
    standard: bool,
    persistent: bool,
    recursive: bool,
}

impl Modes {
    fn is_empty(self) -> bool {
        !(self.standard || self.persistent || self.recursive)
    }
}

/// The watch tables of one server. `W` names a watcher (the server's connection id); each
/// `(path, watcher)` pair holds at most one watch of each mode, so a watcher is told at most
/// once per event however many times it asked.
#[derive(Clone, Debug)]
pub struct WatchManager<W> {
    data: BTreeMap<String, BTreeMap<W, Modes>>,
    child: BTreeMap<String, BTreeMap<W, Modes>>,
    recursive_count: usize,
}

impl<W: Ord + Copy> Default for WatchManager<W> {
    fn default() -> Self {
        WatchManager { data: BTreeMap::new(), child: BTreeMap::new(), recursive_count: 0 }
    }
}

impl<W: Ord + Copy> WatchManager<W> {
    /// No watches.
    pub fn new() -> Self {
        Self::default()
    }

    /// A one-shot data watch (getData, or exists — also on a missing node).
    pub fn add_data_watch(&mut self, path: &str, watcher: W) {
        self.data.entry(path.to_string()).or_default().entry(watcher).or_default().standard = true;
    }

    /// A one-shot child watch (getChildren).
    pub fn add_child_watch(&mut self, path: &str, watcher: W) {
        self.child.entry(path.to_string()).or_default().entry(watcher).or_default().standard = true;
    }

    /// addWatch: a persistent watch sits in both tables; a persistent-recursive one only in the
    /// data table and also matches every descendant.
    pub fn add_watch(&mut self, path: &str, mode: AddWatchMode, watcher: W) {
        match mode {
            AddWatchMode::Persistent => {
                self.data.entry(path.to_string()).or_default().entry(watcher).or_default().persistent = true;
                self.child.entry(path.to_string()).or_default().entry(watcher).or_default().persistent = true;
            }
            AddWatchMode::PersistentRecursive => {
                let modes = self.data.entry(path.to_string()).or_default().entry(watcher).or_default();
                if !modes.recursive {
                    modes.recursive = true;
                    self.recursive_count += 1;
                }
            }
        }
    }

    /// Registers the watch a read asked for, given the read's result: exists leaves a data watch
    /// when the node exists and when it is missing (`NoNode`); getData and getChildren* only on
    /// success. Other requests and failures register nothing.
    pub fn register_for_read(&mut self, watcher: W, req: &Request, result: &Result<Response, ErrorCode>) {
        match (req, result) {
            (Request::Exists { path, watch: true }, Ok(_) | Err(ErrorCode::NoNode))
            | (Request::GetData { path, watch: true }, Ok(_)) => self.add_data_watch(path, watcher),
            (Request::GetChildren { path, watch: true }, Ok(_))
            | (Request::GetChildren2 { path, watch: true }, Ok(_)) => self.add_child_watch(path, watcher),
            _ => {}
        }
    }

    /// removeWatches: drops the watcher's watches of that type on `path`; `NoWatcher` if there was
    /// none. Data/Children remove every mode in that table, Any both tables, Persistent and
    /// PersistentRecursive only that mode.
    pub fn remove_watches(
        &mut self,
        path: &str,
        watcher_type: WatcherType,
        watcher: W,
    ) -> Result<(), ErrorCode> {
        self.check_watches(path, watcher_type, watcher)?;
        let (in_data, in_child) = tables_for(watcher_type);
        let mut recursive_removed = 0;
        let mut edit = |table: &mut BTreeMap<String, BTreeMap<W, Modes>>| {
            let Some(watchers) = table.get_mut(path) else { return };
            if let Some(modes) = watchers.get_mut(&watcher) {
                let before = *modes;
                match watcher_type {
                    WatcherType::Persistent => modes.persistent = false,
                    WatcherType::PersistentRecursive => modes.recursive = false,
                    _ => *modes = Modes::default(),
                }
                if before.recursive && !modes.recursive {
                    recursive_removed += 1;
                }
                if modes.is_empty() {
                    watchers.remove(&watcher);
                }
            }
            if watchers.is_empty() {
                table.remove(path);
            }
        };
        if in_data {
            edit(&mut self.data);
        }
        if in_child {
            edit(&mut self.child);
        }
        self.recursive_count -= recursive_removed;
        Ok(())
    }

    /// checkWatches: `Ok` if the watcher has a watch of that type on `path`, else `NoWatcher`.
    pub fn check_watches(&self, path: &str, watcher_type: WatcherType, watcher: W) -> Result<(), ErrorCode> {
        let (in_data, in_child) = tables_for(watcher_type);
        let has = |table: &BTreeMap<String, BTreeMap<W, Modes>>| {
            table.get(path).and_then(|w| w.get(&watcher)).is_some_and(|m| match watcher_type {
                WatcherType::Persistent => m.persistent,
                WatcherType::PersistentRecursive => m.recursive,
                _ => !m.is_empty(),
            })
        };
        if (in_data && has(&self.data)) || (in_child && has(&self.child)) {
            Ok(())
        } else {
            Err(ErrorCode::NoWatcher)
        }
    }

    /// Forgets every watch of a watcher (its connection closed).
    pub fn remove_watcher(&mut self, watcher: W) {
        for table in [&mut self.data, &mut self.child] {
            table.retain(|_, watchers| {
                watchers.remove(&watcher);
                !watchers.is_empty()
            });
        }
        self.recursive_count = self.data.values().flat_map(|w| w.values()).filter(|m| m.recursive).count();
    }

    /// Number of (path, watcher) registrations in the data and child tables together.
    pub fn watch_count(&self) -> usize {
        self.data.values().chain(self.child.values()).map(BTreeMap::len).sum()
    }

    /// Turns triggers into notifications, in trigger order; within one trigger watchers are told
    /// in watcher order. Created/DataChanged go to data watches on the node and recursive
    /// watches on its ancestors; Deleted to those and then to child watches on the node, at most
    /// one event per watcher; ChildrenChanged to child watches on the node. One-shot watches are
    /// used up when they match. A watcher is only told if `can_read(watcher, acl)` (READ on the
    /// trigger's ACL); a filtered one-shot watch is used up silently.
    pub fn trigger(
        &mut self,
        triggers: &[WatchTrigger],
        mut can_read: impl FnMut(W, &[Acl]) -> bool,
    ) -> Vec<(W, WatchEvent)> {
        let mut out = Vec::new();
        for t in triggers {
            let mut told: BTreeSet<W> = BTreeSet::new();
            match t.event_type {
                EventType::NodeCreated | EventType::NodeDataChanged | EventType::NodeDeleted => {
                    self.fire_data(&t.path, &mut told);
                    if t.event_type == EventType::NodeDeleted {
                        fire_table(&mut self.child, &t.path, &mut told);
                    }
                }
                EventType::NodeChildrenChanged => fire_table(&mut self.child, &t.path, &mut told),
                _ => {}
            }
            let event = WatchEvent::node(t.event_type, &t.path);
            out.extend(told.into_iter().filter(|w| can_read(*w, &t.acl)).map(|w| (w, event.clone())));
        }
        out
    }

    /// setWatches on reconnect: for each listed path, either an immediate event (data watch:
    /// node gone → NodeDeleted, changed after `relative_zxid` → NodeDataChanged; exist watch:
    /// node present → NodeCreated; child watch: gone → NodeDeleted, children changed after
    /// `relative_zxid` → NodeChildrenChanged) or the watch is registered again. Persistent
    /// watches are re-added. Events for nodes the watcher may not read (`can_read` on the node's
    /// ACL) are dropped.
    pub fn set_watches(
        &mut self,
        watcher: W,
        req: &SetWatches,
        tree: &DataTree,
        mut can_read: impl FnMut(&[Acl]) -> bool,
    ) -> Vec<WatchEvent> {
        let rel = req.relative_zxid;
        let mut events = Vec::new();
        let mut emit = |event: EventType, path: &str, acl: Option<&[Acl]>| {
            if acl.is_none_or(&mut can_read) {
                events.push(WatchEvent::node(event, path));
            }
        };
        for path in &req.data {
            match tree.node(path) {
                None => emit(EventType::NodeDeleted, path, None),
                Some(n) if n.stat.mzxid > rel => emit(EventType::NodeDataChanged, path, Some(n.acl)),
                Some(_) => self.add_data_watch(path, watcher),
            }
        }
        for path in &req.exist {
            match tree.node(path) {
                Some(n) => emit(EventType::NodeCreated, path, Some(n.acl)),
                None => self.add_data_watch(path, watcher),
            }
        }
        for path in &req.child {
            match tree.node(path) {
                None => emit(EventType::NodeDeleted, path, None),
                Some(n) if n.stat.pzxid > rel => emit(EventType::NodeChildrenChanged, path, Some(n.acl)),
                Some(_) => self.add_child_watch(path, watcher),
            }
        }
        for path in &req.persistent {
            self.add_watch(path, AddWatchMode::Persistent, watcher);
        }
        for path in &req.persistent_recursive {
            self.add_watch(path, AddWatchMode::PersistentRecursive, watcher);
        }
        events
    }

    fn fire_data(&mut self, path: &str, told: &mut BTreeSet<W>) {
        fire_table(&mut self.data, path, told);
        if self.recursive_count == 0 {
            return;
        }
        let mut ancestor = parent_of(path).filter(|_| path != "/");
        while let Some(a) = ancestor {
            if let Some(watchers) = self.data.get(a) {
                told.extend(watchers.iter().filter(|(_, m)| m.recursive).map(|(w, _)| *w));
            }
            ancestor = parent_of(a).filter(|_| a != "/");
        }
    }
}

/// Fires every watch on `path` in `table`: standard watches are used up, persistent ones stay.
fn fire_table<W: Ord + Copy>(
    table: &mut BTreeMap<String, BTreeMap<W, Modes>>,
    path: &str,
    told: &mut BTreeSet<W>,
) {
    let Some(watchers) = table.get_mut(path) else { return };
    watchers.retain(|w, modes| {
        told.insert(*w);
        modes.standard = false;
        !modes.is_empty()
    });
    if watchers.is_empty() {
        table.remove(path);
    }
}

fn tables_for(watcher_type: WatcherType) -> (bool, bool) {
    match watcher_type {
        WatcherType::Children => (false, true),
        WatcherType::Data => (true, false),
        WatcherType::Any | WatcherType::Persistent => (true, true),
        WatcherType::PersistentRecursive => (true, false),
    }
}
