//! The disk: durable bytes per file plus a queue of pending write requests.
//!
//! A server asks for a list of file operations to be made durable ([`Disk::submit`]); the request
//! completes after a drawn latency, never before an earlier request (completions come in issue
//! order). Only completed requests are durable. A crash ([`Disk::crash`]) loses the pending
//! requests, except that the operating system may already have written some of them: a drawn
//! number of whole requests survive and the next one is *torn* — a prefix of its operations, the
//! last one cut at a sector (512 B) boundary.
//!
//! Faults: latency spikes and stalls, EIO (the request fails; a torn prefix may have reached the
//! platters anyway), ENOSPC (a capacity in bytes), misdirected appends (the bytes land at another
//! sector of the same file, the intended place stays zero), read corruption (a flipped byte in
//! what a restarting server reads back), and wipes (everything gone).

use std::collections::{BTreeMap, VecDeque};

use rand::Rng;
use serde::{Deserialize, Serialize};

use crate::rng::{Latency, Ratio};
use crate::time::SimTime;

/// Torn writes are cut at multiples of this many bytes.
pub const SECTOR_BYTES: usize = 512;
/// The largest file the model holds (1 GiB), as in the server core's disk image.
pub const MAX_FILE_BYTES: u64 = 1 << 30;

/// File contents by name.
pub type Files = BTreeMap<String, Vec<u8>>;

/// One file operation, in the order the server issued it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum FileOp {
    /// Append bytes to a file (created if missing).
    Append { file: String, bytes: Vec<u8> },
    /// Cut a file to `len` bytes (or extend it with zeros).
    Truncate { file: String, len: u64 },
    /// Replace a file's whole content.
    WriteFile { file: String, bytes: Vec<u8> },
    /// Atomically rename `from` to `to`, replacing `to`.
    Rename { from: String, to: String },
    /// Remove a file.
    Delete { file: String },
    /// fsync a file (a no-op for the model: durability is per request).
    Sync { file: String },
}

/// Why a request failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum DiskFailure {
    Io,
    NoSpace,
}

/// Fault knobs of one disk.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DiskKnobs {
    pub latency: Latency,
    /// Chance that a request fails with EIO.
    pub eio: Ratio,
    /// Chance that an append is misdirected.
    pub misdirect: Ratio,
    /// Total bytes the disk holds; `None` for unlimited.
    pub capacity_bytes: Option<u64>,
}

impl DiskKnobs {
    /// A healthy disk with the given latency.
    pub fn healthy(latency: Latency) -> DiskKnobs {
        DiskKnobs { latency, eio: Ratio::NEVER, misdirect: Ratio::NEVER, capacity_bytes: None }
    }
}

/// A request finished.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Completion<T> {
    pub token: T,
    pub result: Result<(), DiskFailure>,
    /// The request's appends were misdirected (for the trace).
    pub misdirected: bool,
}

/// What `poll` found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Poll<T> {
    Done { completion: Completion<T>, next: Option<SimTime> },
    Wait { next: Option<SimTime> },
}

/// Counters.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct DiskStats {
    pub requests: u64,
    pub bytes_written: u64,
    pub failed: u64,
    pub torn: u64,
}

/// One server's disk.
pub struct Disk<T> {
    files: BTreeMap<String, Vec<u8>>,
    pending: VecDeque<Pending<T>>,
    pub knobs: DiskKnobs,
    extra: Option<(SimTime, Latency)>,
    stalled_until: SimTime,
    pub stats: DiskStats,
}

struct Pending<T> {
    token: T,
    ops: Vec<FileOp>,
    done_at: SimTime,
}

impl<T: Clone> Disk<T> {
    /// An empty disk.
    pub fn new(knobs: DiskKnobs) -> Disk<T> {
        Disk::with_files(knobs, BTreeMap::new())
    }

    /// A disk that already holds `files` durably.
    pub fn with_files(knobs: DiskKnobs, files: BTreeMap<String, Vec<u8>>) -> Disk<T> {
        Disk {
            files,
            pending: VecDeque::new(),
            knobs,
            extra: None,
            stalled_until: SimTime::ZERO,
            stats: DiskStats::default(),
        }
    }

    /// Queues a request; returns when to poll for it if it is now at the head of the queue.
    pub fn submit(
        &mut self,
        now: SimTime,
        token: T,
        ops: Vec<FileOp>,
        rng: &mut impl Rng,
    ) -> Option<SimTime> {
        self.stats.requests += 1;
        let mut lat = self.knobs.latency.sample(rng);
        if let Some((until, extra)) = self.extra {
            if until > now {
                lat = lat.saturating_add(extra.sample(rng));
            }
        }
        let floor = self.pending.back().map_or(self.stalled_until, |p| p.done_at.max(self.stalled_until));
        let done_at = now.plus_ns(lat).max(floor);
        self.pending.push_back(Pending { token, ops, done_at });
        (self.pending.len() == 1).then_some(done_at)
    }

    /// Completes the head request if it is due.
    pub fn poll(&mut self, now: SimTime, rng: &mut impl Rng) -> Poll<T> {
        match self.pending.front() {
            None => return Poll::Wait { next: None },
            Some(p) if p.done_at > now => return Poll::Wait { next: Some(p.done_at) },
            Some(_) => {}
        }
        let p = self.pending.pop_front().expect("head exists");
        let next = self.pending.front().map(|n| n.done_at.max(now));
        let eio = self.knobs.eio.chance(rng);
        let misdirect = self.knobs.misdirect.chance(rng);
        let completion = if eio {
            self.stats.failed += 1;
            // What reached the platters before the error is unknown: tear at a random point.
            self.apply_torn(&p.ops, rng);
            self.fail_stop();
            Completion { token: p.token, result: Err(DiskFailure::Io), misdirected: false }
        } else if self.would_overflow(&p.ops) {
            self.stats.failed += 1;
            self.fail_stop();
            Completion { token: p.token, result: Err(DiskFailure::NoSpace), misdirected: false }
        } else {
            let misdirected = misdirect && p.ops.iter().any(|op| matches!(op, FileOp::Append { .. }));
            for op in p.ops {
                self.apply(op, misdirected, rng);
            }
            Completion { token: p.token, result: Ok(()), misdirected }
        };
        let next = if completion.result.is_err() { None } else { next };
        Poll::Done { completion, next }
    }

    /// A server stops at its first failed disk request (the real one exits), so the requests it
    /// had queued behind it never reach the disk: drop them. Without this a later, smaller
    /// append could land after a failed one and leave a hole in the log.
    fn fail_stop(&mut self) {
        self.pending.clear();
    }

    /// The process crashed: pending requests are lost, except that a drawn number of them reached
    /// the disk whole and the one after that is torn (when `tear` is set). Returns how many
    /// requests were lost entirely or in part.
    pub fn crash(&mut self, tear: bool, rng: &mut impl Rng) -> usize {
        let pending: Vec<Pending<T>> = self.pending.drain(..).collect();
        if !tear || pending.is_empty() {
            return pending.len();
        }
        let survivors = rng.gen_range(0..=pending.len());
        let lost = pending.len() - survivors;
        let mut pending = pending.into_iter();
        for p in pending.by_ref().take(survivors) {
            for op in p.ops {
                self.apply(op, false, rng);
            }
        }
        if let Some(p) = pending.next() {
            self.stats.torn += 1;
            self.apply_torn(&p.ops, rng);
        }
        lost
    }

    /// What a restarting server reads: the durable files, with one flipped byte in a random
    /// non-empty log or snapshot file when `corrupt` is set. Returns the image and the corrupted spot, if any.
    pub fn read_back(&self, corrupt: bool, rng: &mut impl Rng) -> (Files, Option<(String, usize)>) {
        let mut files = self.files.clone();
        if !corrupt {
            return (files, None);
        }
        // Only checksummed files: the epoch files are a bare decimal number, as in ZooKeeper, so a
        // flipped bit there is undetectable by design (and would just be a different epoch).
        let candidates: Vec<&String> = self
            .files
            .iter()
            .filter(|(n, b)| !b.is_empty() && (n.contains("/log.") || n.contains("/snapshot.")))
            .map(|(n, _)| n)
            .collect();
        if candidates.is_empty() {
            return (files, None);
        }
        let name = candidates[rng.gen_range(0..candidates.len())].clone();
        let bytes = files.get_mut(&name).expect("candidate exists");
        let at = rng.gen_range(0..bytes.len());
        bytes[at] ^= 1 << rng.gen_range(0..8);
        (files, Some((name, at)))
    }

    /// Erases every file and pending request (a replaced or reformatted disk).
    pub fn wipe(&mut self) {
        self.files.clear();
        self.pending.clear();
    }

    /// Adds latency to requests submitted before `until`.
    pub fn add_delay(&mut self, until: SimTime, latency: Latency) {
        self.extra = Some((until, latency));
    }

    /// No request completes before `until`. Returns the new head completion time, if any.
    pub fn stall(&mut self, until: SimTime) -> Option<SimTime> {
        self.stalled_until = self.stalled_until.max(until);
        for p in &mut self.pending {
            p.done_at = p.done_at.max(until);
        }
        self.pending.front().map(|p| p.done_at)
    }

    /// The durable files.
    pub fn files(&self) -> &BTreeMap<String, Vec<u8>> {
        &self.files
    }

    /// Requests issued and not yet completed.
    pub fn pending(&self) -> usize {
        self.pending.len()
    }

    pub fn used_bytes(&self) -> u64 {
        self.files.values().map(|b| b.len() as u64).sum()
    }

    fn would_overflow(&self, ops: &[FileOp]) -> bool {
        let Some(cap) = self.knobs.capacity_bytes else { return false };
        let mut sizes: BTreeMap<&str, u64> = BTreeMap::new();
        for (name, b) in &self.files {
            sizes.insert(name, b.len() as u64);
        }
        for op in ops {
            match op {
                FileOp::Append { file, bytes } => *sizes.entry(file).or_default() += bytes.len() as u64,
                FileOp::WriteFile { file, bytes } => {
                    sizes.insert(file, bytes.len() as u64);
                }
                FileOp::Truncate { file, len } => {
                    if let Some(s) = sizes.get_mut(file.as_str()) {
                        *s = (*s).min(*len);
                    }
                }
                FileOp::Rename { from, to } => {
                    let s = sizes.remove(from.as_str()).unwrap_or(0);
                    sizes.insert(to, s);
                }
                FileOp::Delete { file } => {
                    sizes.remove(file.as_str());
                }
                FileOp::Sync { .. } => {}
            }
        }
        sizes.values().sum::<u64>() > cap
    }

    /// Performs one operation on the durable files (it takes the operation by value so that a
    /// file's name and bytes move into the map instead of being copied).
    fn apply(&mut self, op: FileOp, misdirect: bool, rng: &mut impl Rng) {
        match op {
            FileOp::Append { file, bytes } => {
                self.stats.bytes_written += bytes.len() as u64;
                // Look up by reference first: appending to an existing file is the common case and
                // must not copy its name.
                let f = match self.files.get_mut(&file) {
                    Some(f) => f,
                    None => self.files.entry(file).or_default(),
                };
                if misdirect && !f.is_empty() {
                    // The intended range stays unwritten (zeros); the bytes overwrite an earlier,
                    // sector-aligned spot of the same file.
                    let start = f.len();
                    f.resize(start + bytes.len(), 0);
                    let sectors = start.div_ceil(SECTOR_BYTES);
                    let at = rng.gen_range(0..sectors) * SECTOR_BYTES;
                    let end = (at + bytes.len()).min(f.len());
                    f[at..end].copy_from_slice(&bytes[..end - at]);
                } else if f.is_empty() {
                    *f = bytes;
                } else {
                    f.extend_from_slice(&bytes);
                }
            }
            FileOp::Truncate { file, len } => {
                // Like ftruncate: shorter cuts, longer extends with zeros (bounded so that a bad
                // request cannot exhaust the host's memory).
                if let Some(f) = self.files.get_mut(&file) {
                    f.resize(usize::try_from(len.min(MAX_FILE_BYTES)).unwrap_or(0), 0);
                }
            }
            FileOp::WriteFile { file, bytes } => {
                self.stats.bytes_written += bytes.len() as u64;
                self.files.insert(file, bytes);
            }
            FileOp::Rename { from, to } => {
                if let Some(b) = self.files.remove(&from) {
                    self.files.insert(to, b);
                }
            }
            FileOp::Delete { file } => {
                self.files.remove(&file);
            }
            FileOp::Sync { .. } => {}
        }
    }

    /// Applies a random prefix of `ops`; the last applied data operation is cut at a sector
    /// boundary (possibly to nothing).
    fn apply_torn(&mut self, ops: &[FileOp], rng: &mut impl Rng) {
        let whole = rng.gen_range(0..=ops.len());
        for op in &ops[..whole] {
            // Rare (EIO or a crash with writes pending): a copy is fine here.
            self.apply(op.clone(), false, rng);
        }
        match ops.get(whole) {
            Some(FileOp::Append { file, bytes }) => {
                let f = self.files.entry(file.clone()).or_default();
                let start = f.len();
                // The sector boundary is on the file's offsets, not the write's.
                let keep = rng.gen_range(0..=bytes.len());
                let end = (start + keep) / SECTOR_BYTES * SECTOR_BYTES;
                if end > start {
                    f.extend_from_slice(&bytes[..end - start]);
                }
            }
            Some(FileOp::WriteFile { file, bytes }) => {
                let sectors = bytes.len().div_ceil(SECTOR_BYTES);
                let keep = (rng.gen_range(0..=sectors) * SECTOR_BYTES).min(bytes.len());
                self.files.insert(file.clone(), bytes[..keep].to_vec());
            }
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    fn append(file: &str, bytes: &[u8]) -> FileOp {
        FileOp::Append { file: file.to_string(), bytes: bytes.to_vec() }
    }

    fn disk(latency: Latency) -> Disk<u32> {
        Disk::new(DiskKnobs::healthy(latency))
    }

    fn run_to_idle(d: &mut Disk<u32>, rng: &mut ChaCha8Rng) -> Vec<(SimTime, Completion<u32>)> {
        let mut out = Vec::new();
        let mut now = SimTime(0);
        loop {
            match d.poll(now, rng) {
                Poll::Done { completion, .. } => out.push((now, completion)),
                Poll::Wait { next: Some(t) } => now = t,
                Poll::Wait { next: None } => return out,
            }
        }
    }

    #[test]
    fn requests_complete_in_issue_order_after_their_latency() {
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        let mut d = disk(Latency::Uniform { min_ns: 10, max_ns: 10_000 });
        assert!(d.submit(SimTime(0), 0, vec![append("log", b"a")], &mut rng).is_some());
        for i in 1..50 {
            assert_eq!(d.submit(SimTime(u64::from(i)), i, vec![append("log", b"b")], &mut rng), None);
        }
        let done = run_to_idle(&mut d, &mut rng);
        assert_eq!(done.iter().map(|(_, c)| c.token).collect::<Vec<_>>(), (0..50).collect::<Vec<_>>());
        assert!(done.windows(2).all(|w| w[0].0 <= w[1].0));
        assert_eq!(d.files()["log"].len(), 50);
    }

    #[test]
    fn nothing_is_durable_before_completion() {
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        let mut d = disk(Latency::Fixed { ns: 100 });
        d.submit(SimTime(0), 0, vec![append("log", b"abc")], &mut rng);
        assert_eq!(d.poll(SimTime(99), &mut rng), Poll::Wait { next: Some(SimTime(100)) });
        assert!(d.files().is_empty());
        assert_eq!(d.pending(), 1);
    }

    #[test]
    fn a_crash_without_tearing_loses_every_pending_request() {
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        let mut d = disk(Latency::Fixed { ns: 100 });
        d.submit(SimTime(0), 0, vec![append("log", &[1; 2000])], &mut rng);
        d.submit(SimTime(0), 1, vec![append("log", &[2; 2000])], &mut rng);
        assert_eq!(d.crash(false, &mut rng), 2);
        assert!(d.files().is_empty());
        assert_eq!(d.poll(SimTime(1_000), &mut rng), Poll::Wait { next: None });
    }

    #[test]
    fn a_torn_crash_keeps_a_prefix_cut_at_sector_boundaries() {
        for seed in 0..200 {
            let mut rng = ChaCha8Rng::seed_from_u64(seed);
            let mut d = disk(Latency::Fixed { ns: 100 });
            d.submit(SimTime(0), 0, vec![append("log", &[7; 100])], &mut rng);
            run_to_idle(&mut d, &mut rng);
            d.submit(SimTime(0), 1, vec![append("log", &[8; 3000])], &mut rng);
            d.submit(SimTime(0), 2, vec![append("log", &[9; 3000])], &mut rng);
            d.crash(true, &mut rng);
            let log = &d.files()["log"];
            assert!(log.starts_with(&[7; 100]), "durable data survives a crash");
            let complete_lengths = [100, 3100, 6100];
            assert!(
                complete_lengths.contains(&log.len()) || log.len().is_multiple_of(SECTOR_BYTES),
                "seed {seed}: length {} is neither a request boundary nor a sector boundary",
                log.len()
            );
            let expected: Vec<u8> = [vec![7; 100], vec![8; 3000], vec![9; 3000]].concat();
            assert_eq!(log[..], expected[..log.len()], "seed {seed}: a torn write is a prefix");
        }
    }

    #[test]
    fn eio_fails_the_request() {
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        let mut d: Disk<u32> =
            Disk::new(DiskKnobs { eio: Ratio::ALWAYS, ..DiskKnobs::healthy(Latency::Fixed { ns: 1 }) });
        d.submit(SimTime(0), 5, vec![append("log", b"x")], &mut rng);
        let done = run_to_idle(&mut d, &mut rng);
        assert_eq!(done[0].1.result, Err(DiskFailure::Io));
        assert_eq!(d.stats.failed, 1);
    }

    #[test]
    fn a_full_disk_refuses_a_write_that_does_not_fit_and_drops_what_was_queued_behind_it() {
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        let knobs = DiskKnobs { capacity_bytes: Some(10), ..DiskKnobs::healthy(Latency::Fixed { ns: 1 }) };
        let mut d: Disk<u32> = Disk::new(knobs);
        d.submit(SimTime(0), 0, vec![append("log", &[0; 8])], &mut rng);
        d.submit(SimTime(0), 1, vec![append("log", &[0; 8])], &mut rng);
        // Queued behind the failing request: a stopped server never issued it.
        d.submit(SimTime(0), 2, vec![append("log", &[0; 1])], &mut rng);
        let results: Vec<_> = run_to_idle(&mut d, &mut rng).into_iter().map(|(_, c)| c.result).collect();
        assert_eq!(results, vec![Ok(()), Err(DiskFailure::NoSpace)]);
        assert_eq!(d.used_bytes(), 8);
        // A restarted server's requests that fit are accepted again.
        d.submit(
            SimTime(10),
            3,
            vec![FileOp::Truncate { file: "log".into(), len: 2 }, append("log", &[0; 8])],
            &mut rng,
        );
        let results: Vec<_> = run_to_idle(&mut d, &mut rng).into_iter().map(|(_, c)| c.result).collect();
        assert_eq!(results, vec![Ok(())]);
        assert_eq!(d.used_bytes(), 10);
    }

    #[test]
    fn a_misdirected_append_leaves_zeros_where_it_belonged() {
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        let knobs = DiskKnobs { misdirect: Ratio::ALWAYS, ..DiskKnobs::healthy(Latency::Fixed { ns: 1 }) };
        let mut d: Disk<u32> = Disk::with_files(knobs, BTreeMap::from([("log".to_string(), vec![1; 1024])]));
        d.submit(SimTime(0), 0, vec![append("log", &[2; 100])], &mut rng);
        let done = run_to_idle(&mut d, &mut rng);
        assert!(done[0].1.misdirected);
        let log = &d.files()["log"];
        assert_eq!(log.len(), 1124);
        assert_eq!(&log[1024..], &[0; 100]);
        assert_eq!(log.iter().filter(|&&b| b == 2).count(), 100);
    }

    #[test]
    fn read_corruption_flips_exactly_one_bit_of_one_checksummed_file() {
        let mut rng = ChaCha8Rng::seed_from_u64(4);
        let files = BTreeMap::from([
            ("version-2/log.1".to_string(), vec![0u8; 64]),
            ("version-2/snapshot.0".to_string(), vec![]),
            ("version-2/acceptedEpoch".to_string(), b"1\n".to_vec()),
        ]);
        let d: Disk<u32> = Disk::with_files(DiskKnobs::healthy(Latency::Fixed { ns: 1 }), files.clone());
        for _ in 0..20 {
            let (read, spot) = d.read_back(true, &mut rng);
            let (name, at) = spot.expect("a non-empty log exists");
            // Never the empty snapshot, never the epoch file (it has no checksum to catch it).
            assert_eq!(name, "version-2/log.1");
            assert_eq!(read["version-2/log.1"][at].count_ones(), 1);
        }
        assert_eq!(d.files(), &files, "corruption is in what is read, not on the disk");
        assert_eq!(d.read_back(false, &mut rng).0, files);
    }

    #[test]
    fn a_stall_delays_every_pending_completion() {
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        let mut d = disk(Latency::Fixed { ns: 10 });
        d.submit(SimTime(0), 0, vec![append("log", b"a")], &mut rng);
        assert_eq!(d.stall(SimTime(5_000)), Some(SimTime(5_000)));
        assert_eq!(d.submit(SimTime(1), 1, vec![], &mut rng), None);
        let done = run_to_idle(&mut d, &mut rng);
        assert!(done.iter().all(|(t, _)| *t >= SimTime(5_000)));
    }

    #[test]
    fn rename_and_delete_act_on_whole_files() {
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        let mut d = disk(Latency::Fixed { ns: 1 });
        let ops = vec![
            FileOp::WriteFile { file: "epoch.tmp".into(), bytes: b"5".to_vec() },
            FileOp::Sync { file: "epoch.tmp".into() },
            FileOp::Rename { from: "epoch.tmp".into(), to: "epoch".into() },
            append("gone", b"x"),
            FileOp::Delete { file: "gone".into() },
        ];
        d.submit(SimTime(0), 0, ops, &mut rng);
        run_to_idle(&mut d, &mut rng);
        assert_eq!(d.files(), &BTreeMap::from([("epoch".to_string(), b"5".to_vec())]));
    }
}
