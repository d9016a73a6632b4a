//! The client workload: a seeded mix of ZooKeeper operations over a small key space.
//!
//! Keys are `/k0 .. /k{keys-1}` directly under the root, so a few keys give contention: creates
//! race with deletes, conditional writes race with each other, sequential children pile up under
//! the same parents. Every written value is unique (`c{client}-{n}`), so a checker can tell which
//! write a read saw.

use rand::Rng;
use zab_tree::proto::{CreateKind, Request};
use zab_tree::OPEN_ACL_UNSAFE;

use crate::plan::{OpMix, Workload};
use crate::rng::Ratio;

/// Draws the next request of `client`, whose `n`-th request this is.
pub fn next_request(w: &Workload, client: u32, n: u64, rng: &mut impl Rng) -> Request {
    let value = Some(format!("c{client}-{n}").into_bytes());
    let reader;
    let mix = if client < w.readers {
        reader = OpMix {
            get_data: w.mix.get_data,
            exists: w.mix.exists,
            get_children: w.mix.get_children,
            sync: w.mix.sync,
            ..OpMix::default()
        };
        &reader
    } else {
        &w.mix
    };
    match pick(mix, rng) {
        OpKind::Create => create(&key(w, rng), value, rng),
        OpKind::SetData => Request::SetData { path: key(w, rng), data: value, version: version(rng) },
        OpKind::Delete => Request::Delete { path: key(w, rng), version: version(rng) },
        OpKind::GetData => Request::GetData { path: key(w, rng), watch: w.watch.chance(rng) },
        OpKind::Exists => Request::Exists { path: key(w, rng), watch: w.watch.chance(rng) },
        OpKind::GetChildren => Request::GetChildren { path: key(w, rng), watch: w.watch.chance(rng) },
        OpKind::Multi => {
            let a = key(w, rng);
            let b = key(w, rng);
            Request::Multi(vec![
                Request::Check { path: a.clone(), version: version(rng) },
                Request::SetData { path: a, data: value.clone(), version: -1 },
                create(&b, value, rng),
            ])
        }
        OpKind::Sync => Request::Sync { path: key(w, rng) },
    }
}

fn key(w: &Workload, rng: &mut impl Rng) -> String {
    format!("/k{}", rng.gen_range(0..w.keys))
}

/// Half of the conditional operations name a version (small, so that some match).
fn version(rng: &mut impl Rng) -> i32 {
    if Ratio::new(1, 2).chance(rng) {
        -1
    } else {
        rng.gen_range(0..4)
    }
}

/// Whether a request changes state (goes through the leader and gets a zxid).
pub fn is_write(r: &Request) -> bool {
    matches!(r, Request::Create { .. } | Request::SetData { .. } | Request::Delete { .. } | Request::Multi(_))
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum OpKind {
    Create,
    SetData,
    Delete,
    GetData,
    Exists,
    GetChildren,
    Multi,
    Sync,
}

fn pick(mix: &OpMix, rng: &mut impl Rng) -> OpKind {
    let table = [
        (mix.create, OpKind::Create),
        (mix.set_data, OpKind::SetData),
        (mix.delete, OpKind::Delete),
        (mix.get_data, OpKind::GetData),
        (mix.exists, OpKind::Exists),
        (mix.get_children, OpKind::GetChildren),
        (mix.multi, OpKind::Multi),
        (mix.sync, OpKind::Sync),
    ];
    let mut x = rng.gen_range(0..mix.total().max(1));
    for (w, k) in table {
        if x < w {
            return k;
        }
        x -= w;
    }
    OpKind::GetData
}

/// A create in a drawn mode: persistent, ephemeral, sequential (as a child of the key), ephemeral
/// sequential, container, or TTL (refused unless the server enables extended types).
fn create(key: &str, data: Option<Vec<u8>>, rng: &mut impl Rng) -> Request {
    let flags = rng.gen_range(0..6);
    let (path, kind) = match flags {
        2 | 3 => (format!("{key}/s-"), CreateKind::Create2),
        4 => (key.to_string(), CreateKind::Container),
        5 => (key.to_string(), CreateKind::Ttl(10_000)),
        _ => (
            key.to_string(),
            if Ratio::new(1, 2).chance(rng) { CreateKind::Create } else { CreateKind::Create2 },
        ),
    };
    Request::Create { path, data, acl: OPEN_ACL_UNSAFE.clone(), flags, kind }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    #[test]
    fn the_mix_weights_choose_the_operations() {
        let w = Workload { mix: OpMix { set_data: 1, ..OpMix::default() }, ..Workload::default() };
        let mut rng = ChaCha8Rng::seed_from_u64(0);
        assert!((0..100).all(|n| matches!(next_request(&w, 0, n, &mut rng), Request::SetData { .. })));
    }

    #[test]
    fn reader_clients_only_read_and_sync_while_the_others_draw_the_whole_mix() {
        let w = Workload { readers: 2, ..Workload::default() };
        let mut rng = ChaCha8Rng::seed_from_u64(0);
        let reads = |r: &Request| {
            matches!(
                r,
                Request::GetData { .. }
                    | Request::Exists { .. }
                    | Request::GetChildren { .. }
                    | Request::Sync { .. }
            )
        };
        for client in 0..2 {
            let reqs: Vec<Request> = (0..500).map(|n| next_request(&w, client, n, &mut rng)).collect();
            assert!(reqs.iter().all(reads), "client {client}");
            assert!(reqs.iter().any(|r| matches!(r, Request::Sync { .. })), "client {client}");
        }
        let writer: Vec<Request> = (0..500).map(|n| next_request(&w, 2, n, &mut rng)).collect();
        assert!(writer.iter().any(is_write));
    }

    #[test]
    fn the_standard_mix_produces_every_operation_and_create_mode() {
        let w = Workload::default();
        let mut rng = ChaCha8Rng::seed_from_u64(0);
        let reqs: Vec<Request> = (0..2_000).map(|n| next_request(&w, 1, n, &mut rng)).collect();
        let has = |f: &dyn Fn(&Request) -> bool| reqs.iter().any(f);
        assert!(has(&|r| matches!(r, Request::Multi(_))));
        assert!(has(&|r| matches!(r, Request::Sync { .. })));
        assert!(has(&|r| matches!(r, Request::GetData { watch: true, .. })));
        assert!(has(&|r| matches!(r, Request::SetData { version: -1, .. })));
        assert!(has(&|r| matches!(r, Request::SetData { version: 0..=3, .. })));
        for flags in 0..6 {
            assert!(has(&|r| matches!(r, Request::Create { flags: f, .. } if *f == flags)), "mode {flags}");
        }
    }

    #[test]
    fn every_key_is_within_the_key_space() {
        let w = Workload { keys: 3, ..Workload::default() };
        let mut rng = ChaCha8Rng::seed_from_u64(5);
        for n in 0..500 {
            if let Request::SetData { path, .. } | Request::GetData { path, .. } =
                next_request(&w, 0, n, &mut rng)
            {
                assert!(["/k0", "/k1", "/k2"].contains(&path.as_str()), "{path}");
            }
        }
    }

    #[test]
    fn written_values_are_unique_per_client_and_request() {
        let w = Workload { mix: OpMix { set_data: 1, ..OpMix::default() }, ..Workload::default() };
        let mut rng = ChaCha8Rng::seed_from_u64(0);
        let Request::SetData { data, .. } = next_request(&w, 7, 42, &mut rng) else { panic!("a setData") };
        assert_eq!(data.as_deref(), Some(&b"c7-42"[..]));
    }
}
