//! Recovery is total: arbitrary file maps and arbitrary damage to a valid image never panic, and
//! damage never invents, reorders or revives txns.

mod persist_common;

use std::collections::BTreeMap;

use persist_common::{history, image, Layout};
use proptest::prelude::*;
use zab_core::persist::{recover_disk_with, DiskImage, RecoverOptions};
use zab_tree::Txn;

/// File names recovery looks at, plus noise.
fn file_name() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("version-2/acceptedEpoch".to_string()),
        Just("version-2/currentEpoch".to_string()),
        Just("version-2/currentEpoch.tmp".to_string()),
        Just("initialize".to_string()),
        "[0-9a-f]{1,17}".prop_map(|hex| format!("version-2/log.{hex}")),
        "[0-9a-f]{1,17}".prop_map(|hex| format!("version-2/snapshot.{hex}")),
        ".{0,12}",
    ]
}

#[derive(Clone, Debug)]
enum Damage {
    /// XOR one byte.
    Flip { file: prop::sample::Index, at: prop::sample::Index, mask: u8 },
    /// Cut a file.
    Cut { file: prop::sample::Index, at: prop::sample::Index },
    /// Remove a file.
    Remove { file: prop::sample::Index },
    /// Overwrite a range with zeros.
    Zero { file: prop::sample::Index, at: prop::sample::Index, len: usize },
    /// Copy one file's content over another's.
    Swap { from: prop::sample::Index, to: prop::sample::Index },
}

fn damage() -> impl Strategy<Value = Damage> {
    prop_oneof![
        (any::<prop::sample::Index>(), any::<prop::sample::Index>(), 1..=255u8)
            .prop_map(|(file, at, mask)| Damage::Flip { file, at, mask }),
        (any::<prop::sample::Index>(), any::<prop::sample::Index>())
            .prop_map(|(file, at)| Damage::Cut { file, at }),
        any::<prop::sample::Index>().prop_map(|file| Damage::Remove { file }),
        (any::<prop::sample::Index>(), any::<prop::sample::Index>(), 1..64usize)
            .prop_map(|(file, at, len)| Damage::Zero { file, at, len }),
        (any::<prop::sample::Index>(), any::<prop::sample::Index>())
            .prop_map(|(from, to)| Damage::Swap { from, to }),
    ]
}

fn inflict(disk: &mut DiskImage, damage: &Damage) {
    let names: Vec<String> = disk.files.keys().cloned().collect();
    if names.is_empty() {
        return;
    }
    match damage {
        Damage::Flip { file, at, mask } => {
            let bytes = disk.files.get_mut(&names[file.index(names.len())]).expect("listed");
            if !bytes.is_empty() {
                let at = at.index(bytes.len());
                bytes[at] ^= mask;
            }
        }
        Damage::Cut { file, at } => {
            let bytes = disk.files.get_mut(&names[file.index(names.len())]).expect("listed");
            let at = at.index(bytes.len() + 1);
            bytes.truncate(at);
        }
        Damage::Remove { file } => {
            disk.files.remove(&names[file.index(names.len())]);
        }
        Damage::Zero { file, at, len } => {
            let bytes = disk.files.get_mut(&names[file.index(names.len())]).expect("listed");
            if !bytes.is_empty() {
                let start = at.index(bytes.len());
                let end = (start + len).min(bytes.len());
                bytes[start..end].fill(0);
            }
        }
        Damage::Swap { from, to } => {
            let content = disk.files[&names[from.index(names.len())]].clone();
            disk.files.insert(names[to.index(names.len())].clone(), content);
        }
    }
}

/// True when `part` appears in `whole` in the same order (not necessarily contiguously).
fn is_subsequence(part: &[Txn], whole: &[Txn]) -> bool {
    let mut rest = whole.iter();
    part.iter().all(|p| rest.any(|w| w == p))
}

proptest! {
    #[test]
    fn recovering_an_arbitrary_file_map_never_panics(
        files in prop::collection::btree_map(file_name(), prop::collection::vec(any::<u8>(), 0..64), 0..8),
        autocreate in any::<bool>(),
    ) {
        let disk = DiskImage { files: files.into_iter().collect::<BTreeMap<_, _>>() };
        let options = RecoverOptions { db_autocreate: autocreate, ..RecoverOptions::default() };
        let _ = recover_disk_with(&disk, &options);
    }

    #[test]
    fn damage_to_a_valid_image_never_panics_nor_invents_txns(
        n in 1..30usize,
        seed in any::<u64>(),
        snapshot_at in any::<prop::sample::Index>(),
        split in any::<prop::sample::Index>(),
        damages in prop::collection::vec(damage(), 1..4),
    ) {
        let txns = history(n, seed);
        let layout = Layout {
            snapshots_after: vec![0, snapshot_at.index(n + 1)],
            log_splits: vec![split.index(n)],
            epoch_files: true,
        };
        let mut disk = image(&txns, &layout);
        for d in &damages {
            inflict(&mut disk, d);
        }
        if let Ok(r) = recover_disk_with(&disk, &RecoverOptions::default()) {
            prop_assert!(is_subsequence(&r.replayed, &txns), "replayed txns not from the history");
            let logged: Vec<Txn> = r.log.iter().map(|l| l.txn.clone()).collect();
            prop_assert!(is_subsequence(&logged, &txns), "logged txns not from the history");
            if let Some(zxid) = r.last_logged_zxid {
                prop_assert!(zxid <= txns[n - 1].zxid);
            }
        }
    }
}
