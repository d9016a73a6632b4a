//! Watches (reference §3.9): what fires, in which order, once; persistent and recursive watches;
//! removal; ACL filtering; setWatches on reconnect.

mod common;

use common::{create, create_acl, delete, set, watcher_events, world, Leader};
use zab_tree::proto::CreateKind;
use zab_tree::{
    AddWatchMode, AuthIds, ErrorCode, EventType, Perms, Request, SessionId, SetWatches, WatchEvent,
    WatchManager, WatcherType,
};

fn ev(w: u32, t: &str, p: &str) -> (u32, String, String) {
    (w, t.to_string(), p.to_string())
}

#[test]
fn a_data_watch_fires_once_on_set_data() {
    let mut l = Leader::default();
    l.write(create("/w")).expect("w");
    let mut w = WatchManager::new();
    w.add_data_watch("/w", 1);
    w.add_data_watch("/w", 1); // asking twice still gives one event
    let a = l.write_as(SessionId(1), &AuthIds::new(), set("/w", b"1"));
    assert_eq!(watcher_events(&mut w, &a), [ev(1, "NodeDataChanged", "/w")]);
    let a = l.write_as(SessionId(1), &AuthIds::new(), set("/w", b"2"));
    assert!(watcher_events(&mut w, &a).is_empty());
    assert_eq!(w.watch_count(), 0);
}

#[test]
fn an_exists_watch_on_a_missing_node_fires_node_created_and_get_data_on_a_missing_node_sets_nothing() {
    let mut l = Leader::default();
    let mut w = WatchManager::new();
    let anon = AuthIds::new();
    let exists = Request::Exists { path: "/x".into(), watch: true };
    w.register_for_read(1, &exists, &l.tree.read(&exists, SessionId(1), &anon));
    let get = Request::GetData { path: "/y".into(), watch: true };
    w.register_for_read(2, &get, &l.tree.read(&get, SessionId(1), &anon));
    let children = Request::GetChildren { path: "/y".into(), watch: true };
    w.register_for_read(2, &children, &l.tree.read(&children, SessionId(1), &anon));
    assert_eq!(w.watch_count(), 1);
    let a = l.write_as(SessionId(1), &anon, create("/x"));
    let b = l.write_as(SessionId(1), &anon, create("/y"));
    assert_eq!(watcher_events(&mut w, &a), [ev(1, "NodeCreated", "/x")]);
    assert!(watcher_events(&mut w, &b).is_empty());
}

#[test]
fn deleting_a_child_fires_node_deleted_then_the_parents_children_changed() {
    let mut l = Leader::default();
    l.write(create("/p")).expect("p");
    l.write(create("/p/c")).expect("c");
    let mut w = WatchManager::new();
    w.add_child_watch("/p", 1);
    w.add_data_watch("/p/c", 1);
    w.add_data_watch("/p", 1);
    let a = l.write_as(SessionId(1), &AuthIds::new(), delete("/p/c"));
    assert_eq!(
        watcher_events(&mut w, &a),
        [ev(1, "NodeDeleted", "/p/c"), ev(1, "NodeChildrenChanged", "/p")]
    );
    let a = l.write_as(SessionId(1), &AuthIds::new(), set("/p", b"x"));
    assert_eq!(watcher_events(&mut w, &a), [ev(1, "NodeDataChanged", "/p")]);
}

#[test]
fn a_watcher_with_data_and_child_watches_on_a_deleted_node_gets_one_event_and_loses_both() {
    let mut l = Leader::default();
    l.write(create("/d")).expect("d");
    let mut w = WatchManager::new();
    w.add_data_watch("/d", 1);
    w.add_child_watch("/d", 1);
    w.add_child_watch("/d", 2);
    let a = l.write_as(SessionId(1), &AuthIds::new(), delete("/d"));
    assert_eq!(watcher_events(&mut w, &a), [ev(1, "NodeDeleted", "/d"), ev(2, "NodeDeleted", "/d")]);
    assert_eq!(w.watch_count(), 0);
}

#[test]
fn watchers_are_told_in_watcher_order_and_set_acl_fires_nothing() {
    let mut l = Leader::default();
    l.write(create("/w")).expect("w");
    let mut w = WatchManager::new();
    for id in [3, 1, 2] {
        w.add_data_watch("/w", id);
    }
    let acl = zab_tree::OPEN_ACL_UNSAFE.clone();
    let a =
        l.write_as(SessionId(1), &AuthIds::new(), Request::SetAcl { path: "/w".into(), acl, version: -1 });
    assert!(watcher_events(&mut w, &a).is_empty());
    let a = l.write_as(SessionId(1), &AuthIds::new(), set("/w", b""));
    let ids: Vec<u32> = watcher_events(&mut w, &a).into_iter().map(|e| e.0).collect();
    assert_eq!(ids, [1, 2, 3]);
}

#[test]
fn a_persistent_recursive_watch_sees_the_whole_subtree_but_no_children_changed() {
    let mut l = Leader::default();
    l.write(create("/pr")).expect("pr");
    let mut w = WatchManager::new();
    w.add_watch("/pr", AddWatchMode::PersistentRecursive, 1);
    let mut events = Vec::new();
    for req in [
        create("/pr/x"),
        set("/pr/x", b"1"),
        create("/pr/x/y"),
        delete("/pr/x/y"),
        set("/pr/x", b"2"),
        create("/other"),
    ] {
        let a = l.write_as(SessionId(1), &AuthIds::new(), req);
        events.extend(watcher_events(&mut w, &a));
    }
    assert_eq!(
        events,
        [
            ev(1, "NodeCreated", "/pr/x"),
            ev(1, "NodeDataChanged", "/pr/x"),
            ev(1, "NodeCreated", "/pr/x/y"),
            ev(1, "NodeDeleted", "/pr/x/y"),
            ev(1, "NodeDataChanged", "/pr/x"),
        ]
    );
    assert_eq!(w.remove_watches("/pr", WatcherType::Any, 1), Ok(()));
    let a = l.write_as(SessionId(1), &AuthIds::new(), set("/pr/x", b"3"));
    assert!(watcher_events(&mut w, &a).is_empty());
    assert_eq!(w.remove_watches("/pr", WatcherType::Data, 1), Err(ErrorCode::NoWatcher));
}

#[test]
fn a_persistent_watch_fires_for_the_node_and_its_children_list_and_stays() {
    let mut l = Leader::default();
    l.write(create("/p")).expect("p");
    let mut w = WatchManager::new();
    w.add_watch("/p", AddWatchMode::Persistent, 1);
    let mut events = Vec::new();
    for req in [
        create("/p/c"),
        set("/p/c", b"x"),
        set("/p", b"1"),
        set("/p", b"2"),
        delete("/p/c"),
        delete("/p"),
        create("/p"),
    ] {
        let a = l.write_as(SessionId(1), &AuthIds::new(), req);
        events.extend(watcher_events(&mut w, &a));
    }
    assert_eq!(
        events,
        [
            ev(1, "NodeChildrenChanged", "/p"),
            ev(1, "NodeDataChanged", "/p"),
            ev(1, "NodeDataChanged", "/p"),
            ev(1, "NodeChildrenChanged", "/p"),
            ev(1, "NodeDeleted", "/p"),
            ev(1, "NodeCreated", "/p"),
        ]
    );
}

#[test]
fn remove_and_check_watches_address_the_requested_kind_and_report_no_watcher() {
    let mut w = WatchManager::new();
    w.add_data_watch("/a", 1);
    w.add_child_watch("/a", 1);
    w.add_watch("/b", AddWatchMode::Persistent, 1);
    assert_eq!(w.check_watches("/a", WatcherType::Data, 1), Ok(()));
    assert_eq!(w.check_watches("/a", WatcherType::Data, 2), Err(ErrorCode::NoWatcher));
    assert_eq!(w.check_watches("/a", WatcherType::Persistent, 1), Err(ErrorCode::NoWatcher));
    assert_eq!(w.remove_watches("/a", WatcherType::Children, 1), Ok(()));
    assert_eq!(w.check_watches("/a", WatcherType::Children, 1), Err(ErrorCode::NoWatcher));
    assert_eq!(w.check_watches("/a", WatcherType::Any, 1), Ok(()), "the data watch is still there");
    assert_eq!(w.remove_watches("/a", WatcherType::Children, 1), Err(ErrorCode::NoWatcher));
    assert_eq!(w.remove_watches("/b", WatcherType::PersistentRecursive, 1), Err(ErrorCode::NoWatcher));
    assert_eq!(w.remove_watches("/b", WatcherType::Persistent, 1), Ok(()));
    assert_eq!(w.watch_count(), 1);
    w.remove_watcher(1);
    assert_eq!(w.watch_count(), 0);
}

#[test]
fn notifications_need_read_on_the_node_and_a_filtered_one_shot_watch_is_used_up() {
    let mut l = Leader::default();
    l.write(create_acl("/secret", world(Perms::WRITE))).expect("secret");
    let mut w = WatchManager::new();
    w.add_data_watch("/secret", 1);
    let a = l.write_as(SessionId(1), &AuthIds::new(), set("/secret", b"x"));
    let told = w.trigger(&a.triggers, |_, acl| zab_tree::check_acl(acl, &AuthIds::new(), Perms::READ));
    assert!(told.is_empty());
    assert_eq!(w.watch_count(), 0, "the filtered watch is gone");
}

#[test]
fn children_changed_is_filtered_by_the_parents_acl() {
    let mut l = Leader::default();
    l.write(create_acl("/p", world(Perms::CREATE | Perms::WRITE))).expect("p");
    let mut w = WatchManager::new();
    w.add_child_watch("/p", 1);
    let a = l.write_as(SessionId(1), &AuthIds::new(), create("/p/c"));
    let readable = |_: u32, acl: &[zab_tree::Acl]| zab_tree::check_acl(acl, &AuthIds::new(), Perms::READ);
    assert!(w.trigger(&a.triggers, readable).is_empty());
}

#[test]
fn closing_a_session_fires_node_deleted_and_the_parents_children_changed() {
    let mut l = Leader::default();
    let s2 = SessionId(2);
    l.open_session(s2);
    l.write(create("/p")).expect("p");
    l.write_as(s2, &AuthIds::new(), common::create_with("/p/eph", 1, CreateKind::Create));
    let mut w = WatchManager::new();
    w.add_data_watch("/p/eph", 1);
    w.add_child_watch("/p", 1);
    let a = l.write_as(s2, &AuthIds::new(), Request::CloseSession);
    assert_eq!(
        watcher_events(&mut w, &a),
        [ev(1, "NodeDeleted", "/p/eph"), ev(1, "NodeChildrenChanged", "/p")]
    );
}

#[test]
fn set_watches_fires_what_changed_since_the_relative_zxid_and_rearms_the_rest() {
    let mut l = Leader::default();
    for p in ["/same", "/changed", "/kids", "/kids2"] {
        l.write(create(p)).expect("create");
    }
    let rel = l.tree.last_processed_zxid();
    l.write(set("/changed", b"x")).expect("set");
    l.write(create("/kids2/c")).expect("child");
    l.write(create("/born")).expect("born");
    let mut w = WatchManager::new();
    let req = SetWatches {
        relative_zxid: rel,
        data: vec!["/same".into(), "/changed".into(), "/gone".into()],
        exist: vec!["/born".into(), "/unborn".into()],
        child: vec!["/kids".into(), "/kids2".into(), "/gone".into()],
        persistent: vec!["/same".into()],
        persistent_recursive: vec!["/kids".into()],
    };
    let events = w.set_watches(9, &req, &l.tree, |_| true);
    let expected = [
        (EventType::NodeDataChanged, "/changed"),
        (EventType::NodeDeleted, "/gone"),
        (EventType::NodeCreated, "/born"),
        (EventType::NodeChildrenChanged, "/kids2"),
        (EventType::NodeDeleted, "/gone"),
    ]
    .map(|(t, p)| WatchEvent::node(t, p));
    assert_eq!(events, expected);
    assert_eq!(w.check_watches("/same", WatcherType::Data, 9), Ok(()));
    assert_eq!(w.check_watches("/unborn", WatcherType::Data, 9), Ok(()));
    assert_eq!(w.check_watches("/kids", WatcherType::Children, 9), Ok(()));
    assert_eq!(w.check_watches("/same", WatcherType::Persistent, 9), Ok(()));
    assert_eq!(w.check_watches("/kids", WatcherType::PersistentRecursive, 9), Ok(()));
    assert_eq!(w.check_watches("/changed", WatcherType::Data, 9), Err(ErrorCode::NoWatcher));
}
