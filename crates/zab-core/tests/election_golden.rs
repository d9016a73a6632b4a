//! Golden transcripts of elections, step by step, from `tests/testdata/election/*.txt`.
//!
//! Each file starts with a `#` paragraph saying what it shows, then a sequence of blocks:
//!
//! ```text
//! <command> [args]
//! ----
//! <expected output, one line per send, delivery or decision>
//! <blank line>
//! ```
//!
//! Commands (the `match` in `Env::run` documents each with an example):
//! `ensemble`, `start`, `deliver`, `stabilize`, `drop`, `advance`, `sync`, `status`.
//! Messages wait in one FIFO queue until a `deliver`/`stabilize` moves them; nothing is ever
//! delivered implicitly, so a transcript shows every interleaving decision explicitly.
//!
//! `REWRITE=1 cargo test -p zab-core --test election_golden` rewrites the expected outputs from the
//! current behaviour; read the diff before committing it, because that diff is the behaviour change.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use zab_core::election::{Decision, Election, ElectionSend, Notification, Outcome, PeerState, Vote};
use zab_core::{Epoch, ServerId};
use zab_tree::Zxid;

#[test]
fn golden_election_transcripts() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/testdata/election");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", dir.display()))
        .map(|entry| entry.expect("directory entry").path())
        .filter(|p| p.extension().is_some_and(|x| x == "txt"))
        .collect();
    files.sort();
    assert!(!files.is_empty(), "no transcripts in {}", dir.display());
    let rewrite = std::env::var_os("REWRITE").is_some();
    let mut failures = Vec::new();
    for file in &files {
        let text = std::fs::read_to_string(file).expect("readable transcript");
        let (rewritten, mismatches) = run_file(&text, &file.display().to_string());
        if rewrite {
            std::fs::write(file, rewritten).expect("writable transcript");
        } else {
            failures.extend(mismatches);
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

/// Runs every block of one file; returns the file with actual outputs and the mismatches.
fn run_file(text: &str, name: &str) -> (String, Vec<String>) {
    let mut env = Env::default();
    let mut rewritten = String::new();
    let mut mismatches = Vec::new();
    let mut lines = text.lines().enumerate().peekable();
    while let Some((index, line)) = lines.next() {
        if line.starts_with('#') || line.trim().is_empty() {
            rewritten.push_str(line);
            rewritten.push('\n');
            continue;
        }
        let command = line.trim();
        let separator = lines.next().map(|(_, l)| l);
        assert_eq!(separator, Some("----"), "{name}:{}: expected `----` after `{command}`", index + 1);
        let mut expected = String::new();
        while let Some((_, l)) = lines.peek() {
            if l.trim().is_empty() {
                break;
            }
            expected.push_str(l);
            expected.push('\n');
            lines.next();
        }
        let actual = match env.run(command) {
            Ok(out) if out.is_empty() => "ok\n".to_string(),
            Ok(out) => out,
            Err(e) => panic!("{name}:{}: {e}", index + 1),
        };
        if actual != expected {
            mismatches.push(format!(
                "{name}:{}: `{command}`\n--- expected\n{expected}--- actual\n{actual}",
                index + 1
            ));
        }
        let _ = write!(rewritten, "{command}\n----\n{actual}");
    }
    (rewritten, mismatches)
}

#[derive(Default)]
struct Env {
    now_ms: u64,
    voters: BTreeSet<ServerId>,
    nodes: BTreeMap<ServerId, Node>,
    queue: Vec<(ServerId, ElectionSend)>,
}

struct Node {
    election: Election,
    role: PeerState,
    last_logged: Option<Zxid>,
    epoch: Epoch,
}

impl Env {
    fn run(&mut self, command: &str) -> Result<String, String> {
        let mut words = command.split_whitespace();
        let verb = words.next().ok_or("empty command")?;
        let args: Vec<&str> = words.collect();
        let mut out = String::new();
        match verb {
            // ensemble voters=1,2,3 observers=9
            // Creates the servers (not yet started).
            "ensemble" => {
                let voters = ids(arg(&args, "voters")?)?;
                let observers = arg(&args, "observers").map_or(Ok(Vec::new()), ids)?;
                self.voters = voters.iter().copied().collect();
                for (&id, observer) in
                    voters.iter().map(|i| (i, false)).chain(observers.iter().map(|i| (i, true)))
                {
                    let election = Election::new(id, self.voters.clone(), observer);
                    let node =
                        Node { election, role: PeerState::Looking, last_logged: None, epoch: Epoch(0) };
                    self.nodes.insert(id, node);
                }
            }
            // start 1 zxid=1.5 epoch=1     (zxid=-1: uninitialized database)
            // Starts a round on server 1 with that disk state; queues its sends.
            "start" => {
                let id = id(args.first().ok_or("start needs a server")?)?;
                let last_logged = parse_zxid(arg(&args, "zxid")?)?;
                let epoch = Epoch(arg(&args, "epoch")?.parse().map_err(|e| format!("epoch: {e}"))?);
                let now = self.now_ms;
                let node = self.node(id)?;
                node.last_logged = last_logged;
                node.epoch = epoch;
                node.role = PeerState::Looking;
                let mut sends = Vec::new();
                node.election.start_round(now, last_logged, epoch, &mut sends);
                self.queue_sends(id, sends, &mut out);
            }
            // deliver [from=1] [to=2]
            // Delivers every queued message (matching the filters) that was queued before this
            // command, in queue order; what they cause is queued, not delivered.
            "deliver" => {
                let batch = self.take(&args)?;
                for (from, send) in batch {
                    self.deliver(from, send, &mut out);
                }
            }
            // stabilize
            // Delivers until the queue is empty.
            "stabilize" => {
                for _ in 0..10_000 {
                    if self.queue.is_empty() {
                        return Ok(out);
                    }
                    let (from, send) = self.queue.remove(0);
                    self.deliver(from, send, &mut out);
                }
                return Err("stabilize: still busy after 10000 deliveries".into());
            }
            // drop [from=1] [to=2]
            // Loses the matching queued messages.
            "drop" => {
                for (from, send) in self.take(&args)? {
                    let _ = writeln!(out, "dropped {}", describe(from, &send));
                }
            }
            // advance 200
            // Moves time forward and fires every due election deadline, in server id order.
            "advance" => {
                let ms: u64 =
                    args.first().ok_or("advance needs milliseconds")?.parse().map_err(|e| format!("{e}"))?;
                self.now_ms += ms;
                let _ = writeln!(out, "now {} ms", self.now_ms);
                let ids: Vec<ServerId> = self.nodes.keys().copied().collect();
                for id in ids {
                    let now = self.now_ms;
                    let node = self.node(id)?;
                    if node.role != PeerState::Looking
                        || node.election.next_deadline().is_none_or(|d| d > now)
                    {
                        continue;
                    }
                    let mut sends = Vec::new();
                    let outcome = node.election.on_timeout(now, &mut sends);
                    let _ = writeln!(out, "{id} timeout");
                    self.queue_sends(id, sends, &mut out);
                    if let Some(outcome) = outcome {
                        self.decided(id, outcome, &mut out)?;
                    }
                }
            }
            // sync 1 epoch=2
            // Server 1 finished synchronizing into epoch 2 (`update_peer_epoch`).
            "sync" => {
                let id = id(args.first().ok_or("sync needs a server")?)?;
                let epoch = Epoch(arg(&args, "epoch")?.parse().map_err(|e| format!("epoch: {e}"))?);
                let node = self.node(id)?;
                node.epoch = epoch;
                node.election.update_peer_epoch(epoch);
            }
            // status
            // One line per server: role, round, proposal, deadline.
            "status" => {
                for (id, node) in &self.nodes {
                    let proposal = node.election.proposal().map_or("nobody".to_string(), |v| vote_text(&v));
                    let deadline =
                        node.election.next_deadline().map_or("-".to_string(), |d| format!("{d} ms"));
                    let _ = writeln!(
                        out,
                        "{id}: {:?} round {} proposal {proposal} deadline {deadline}{}",
                        node.role,
                        node.election.round(),
                        if node.election.is_finalizing() { " finalizing" } else { "" }
                    );
                }
                let _ = writeln!(out, "queued {}", self.queue.len());
            }
            other => return Err(format!("unknown command `{other}`")),
        }
        Ok(out)
    }

    fn deliver(&mut self, from: ServerId, send: ElectionSend, out: &mut String) {
        let _ = writeln!(out, "{}", describe(from, &send));
        let now = self.now_ms;
        let to = send.to;
        let Some(node) = self.nodes.get_mut(&to) else { return };
        let bytes = send.n.encode();
        let n = Notification::decode(from, &bytes).expect("round trip");
        let role = node.role;
        let mut sends = Vec::new();
        let outcome = node.election.on_notification(now, from, n, role, &mut sends);
        for s in &sends {
            let _ = writeln!(out, "  {}", describe(to, s));
        }
        self.queue.extend(sends.into_iter().map(|s| (to, s)));
        if let Some(outcome) = outcome {
            let _ = self.decided(to, outcome, out);
        }
    }

    fn decided(&mut self, id: ServerId, outcome: Outcome, out: &mut String) -> Result<(), String> {
        let _ = writeln!(
            out,
            "  {id} decides {} on {} in round {}",
            match outcome.decision {
                Decision::Lead => "Lead".to_string(),
                Decision::Follow(leader) => format!("Follow({leader})"),
                Decision::Observe(leader) => format!("Observe({leader})"),
            },
            vote_text(&outcome.vote),
            outcome.round
        );
        let node = self.node(id)?;
        node.role = match outcome.decision {
            Decision::Lead => PeerState::Leading,
            Decision::Follow(_) => PeerState::Following,
            Decision::Observe(_) => PeerState::Observing,
        };
        Ok(())
    }

    fn queue_sends(&mut self, from: ServerId, sends: Vec<ElectionSend>, out: &mut String) {
        for s in &sends {
            let _ = writeln!(out, "  {}", describe(from, s));
        }
        self.queue.extend(sends.into_iter().map(|s| (from, s)));
    }

    /// Removes and returns the queued messages matching `from=`/`to=` filters.
    fn take(&mut self, args: &[&str]) -> Result<Vec<(ServerId, ElectionSend)>, String> {
        let from = arg(args, "from").ok().map(id).transpose()?;
        let to = arg(args, "to").ok().map(id).transpose()?;
        let (taken, kept) = std::mem::take(&mut self.queue)
            .into_iter()
            .partition(|(f, s)| from.is_none_or(|x| x == *f) && to.is_none_or(|x| x == s.to));
        self.queue = kept;
        Ok(taken)
    }

    fn node(&mut self, id: ServerId) -> Result<&mut Node, String> {
        self.nodes.get_mut(&id).ok_or_else(|| format!("no server {id}"))
    }
}

fn arg<'a>(args: &[&'a str], key: &str) -> Result<&'a str, String> {
    args.iter()
        .find_map(|a| a.strip_prefix(key).and_then(|rest| rest.strip_prefix('=')))
        .ok_or_else(|| format!("missing `{key}=`"))
}

fn id(text: &str) -> Result<ServerId, String> {
    text.parse().map(ServerId).map_err(|e| format!("server id `{text}`: {e}"))
}

fn ids(text: &str) -> Result<Vec<ServerId>, String> {
    text.split(',').map(id).collect()
}

fn parse_zxid(text: &str) -> Result<Option<Zxid>, String> {
    if text == "-1" {
        return Ok(None);
    }
    let (epoch, counter) =
        text.split_once('.').ok_or_else(|| format!("zxid `{text}`: expected EPOCH.COUNTER"))?;
    let epoch = epoch.parse().map_err(|e| format!("zxid epoch: {e}"))?;
    let counter = counter.parse().map_err(|e| format!("zxid counter: {e}"))?;
    Ok(Some(Zxid::new(epoch, counter)))
}

fn vote_text(v: &Vote) -> String {
    match v.zxid {
        Some(z) => format!("({} {}.{} e{})", v.leader, z.epoch(), z.counter(), v.peer_epoch),
        None => format!("({} -1 e{})", v.leader, v.peer_epoch),
    }
}

fn describe(from: ServerId, s: &ElectionSend) -> String {
    let vote = s.n.vote.map_or("nobody".to_string(), |v| vote_text(&v));
    format!("{from}->{} {:?} {vote} r{}", s.to, s.n.state, s.n.round)
}
