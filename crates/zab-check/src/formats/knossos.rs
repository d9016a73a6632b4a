//! Knossos EDN histories: a vector (or list, or bare sequence) of operation maps.

use std::collections::BTreeMap;

use super::{At, ParseError};
use crate::edn::{Edn, Reader};
use crate::history::{History, HistoryBuilder};
use crate::models::{Micro, MultiRegister, MultiRegisterOp, MutexOp, RegisterOp, Value};

/// Reads a Knossos cas-register history (`:read`, `:write v`, `:cas [from to]`).
///
/// Knossos' conventions: operations of non-integer processes (`:nemesis`) are ignored; a
/// `:fail` completion means the operation did not happen (dropped); an `:info` completion or
/// none at all leaves it open; a read's value comes from its `:ok` completion, and `nil` there
/// constrains nothing. Positions are operation indices: every map counts, from 0.
pub fn parse_knossos_cas_register(text: &str, file: &str) -> Result<History<RegisterOp>, ParseError> {
    build(text, file, &mut CasRegister)
}

/// Reads a Knossos mutex history (`:acquire`, `:release`), with the conventions of
/// [`parse_knossos_cas_register`].
pub fn parse_knossos_mutex(text: &str, file: &str) -> Result<History<MutexOp>, ParseError> {
    build(text, file, &mut MutexOps)
}

/// A multi-register history with the names of its registers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MultiRegisterHistory {
    /// The transactions; `Micro` keys index `keys`.
    pub history: History<MultiRegisterOp>,
    /// Register names (keywords without `:`), in order of first appearance.
    pub keys: Vec<String>,
}

impl MultiRegisterHistory {
    /// The model Knossos checks these files against: every register starts at `initial`.
    pub fn model(&self, initial: i64) -> MultiRegister {
        MultiRegister { initial: vec![initial; self.keys.len()] }
    }
}

/// Reads a Knossos multi-register history: `:txn` operations whose value is a list of
/// `[:read k v]` and `[:write k v]`. Read values come from the `:ok` completion; `nil` is
/// unconstrained. Other conventions as in [`parse_knossos_cas_register`].
pub fn parse_knossos_multi_register(text: &str, file: &str) -> Result<MultiRegisterHistory, ParseError> {
    let mut ops = Txns { keys: BTreeMap::new() };
    let history = build(text, file, &mut ops)?;
    let mut keys = vec![String::new(); ops.keys.len()];
    for (name, index) in ops.keys {
        keys[index] = name;
    }
    Ok(MultiRegisterHistory { history, keys })
}

/// How one model's operations are read from invocation and completion maps.
trait Ops {
    type Op;
    fn invoke(&mut self, at: At<'_>, f: &str, value: &Edn) -> Result<Self::Op, ParseError>;
    fn ok(&mut self, at: At<'_>, op: &mut Self::Op, f: &str, value: &Edn) -> Result<(), ParseError>;
}

fn build<O: Ops>(text: &str, file: &str, ops: &mut O) -> Result<History<O::Op>, ParseError> {
    let mut builder = HistoryBuilder::new();
    for (index, (line, map)) in read_maps(text, file)?.into_iter().enumerate() {
        let at = At { file, line };
        let process = match at.field(&map, "process")? {
            Edn::Int(p) => *p as u64,
            Edn::Keyword(_) => continue,
            other => return Err(at.error(format!("expected an integer or keyword :process, found {other}"))),
        };
        let kind = at.keyword(&map, "type")?;
        let f = at.keyword(&map, "f")?;
        let value = map.get("value").unwrap_or(&Edn::Nil);
        let position = index as u64;
        match kind {
            "invoke" => {
                let op = ops.invoke(at, f, value)?;
                builder.invoke(process, op, position).map_err(|e| at.history(e))?;
            }
            "ok" => {
                let op = builder.complete(process, position).map_err(|e| at.history(e))?;
                ops.ok(at, op, f, value)?;
            }
            "fail" => {
                builder.discard(process).map_err(|e| at.history(e))?;
            }
            "info" => {
                builder.abandon(process).map_err(|e| at.history(e))?;
            }
            other => {
                return Err(at.error(format!("expected :type :invoke, :ok, :fail or :info, found :{other}")))
            }
        }
    }
    Ok(builder.finish())
}

/// The operation maps of a file with the line each starts on.
fn read_maps(text: &str, file: &str) -> Result<Vec<(usize, Edn)>, ParseError> {
    let at = |line| At { file, line };
    let mut reader = Reader::new(text);
    let mut out = Vec::new();
    let first = reader.peek_after_whitespace().map_err(|e| at(1).edn(e))?;
    let close = match first {
        Some('[') => Some(']'),
        Some('(') => Some(')'),
        _ => None,
    };
    if let Some(close) = close {
        reader.eat(first.unwrap_or(close)).map_err(|e| at(1).edn(e))?;
        loop {
            if reader.eat(close).map_err(|e| at(1).edn(e))? {
                break;
            }
            let line = reader.line();
            match reader.read().map_err(|e| at(1).edn(e))? {
                Some(value) => out.push((line, value)),
                None => {
                    return Err(at(reader.line()).error(format!("expected {close:?} closing the history")))
                }
            }
        }
        if let Some(extra) = reader.read().map_err(|e| at(1).edn(e))? {
            return Err(
                at(reader.line()).error(format!("expected the end of the file, found {}", extra.kind()))
            );
        }
    } else {
        loop {
            reader.peek_after_whitespace().map_err(|e| at(1).edn(e))?;
            let line = reader.line();
            match reader.read().map_err(|e| at(1).edn(e))? {
                Some(value) => out.push((line, value)),
                None => break,
            }
        }
    }
    Ok(out)
}

fn register_value(at: At<'_>, value: &Edn) -> Result<Value, ParseError> {
    match value {
        Edn::Nil => Ok(Value::Nil),
        Edn::Int(v) => Ok(Value::Int(*v)),
        other => Err(at.error(format!("expected nil or an integer value, found {other}"))),
    }
}

fn check_same_f(at: At<'_>, invoked: &str, completed: &str) -> Result<(), ParseError> {
    if invoked == completed {
        Ok(())
    } else {
        Err(at.error(format!("completion :f :{completed} does not match the invocation's :{invoked}")))
    }
}

struct CasRegister;

impl Ops for CasRegister {
    type Op = RegisterOp;

    fn invoke(&mut self, at: At<'_>, f: &str, value: &Edn) -> Result<RegisterOp, ParseError> {
        match f {
            "read" => Ok(RegisterOp::Read { value: None }),
            "write" => Ok(RegisterOp::Write { value: register_value(at, value)? }),
            // A cas that is not dropped as `:fail` either swapped or crashed; if a crashed one
            // took effect, it swapped.
            "cas" => match value.as_seq() {
                Some([from, to]) => Ok(RegisterOp::Cas {
                    from: register_value(at, from)?,
                    to: register_value(at, to)?,
                    succeeded: Some(true),
                }),
                _ => Err(at.error(format!("expected :value [from to] for a cas, found {value}"))),
            },
            other => Err(at.error(format!("expected :f :read, :write or :cas, found :{other}"))),
        }
    }

    fn ok(&mut self, at: At<'_>, op: &mut RegisterOp, f: &str, value: &Edn) -> Result<(), ParseError> {
        match op {
            RegisterOp::Read { value: read } => {
                check_same_f(at, "read", f)?;
                *read = match register_value(at, value)? {
                    Value::Nil => None,
                    v => Some(v),
                };
            }
            RegisterOp::Write { .. } => check_same_f(at, "write", f)?,
            RegisterOp::Cas { .. } => check_same_f(at, "cas", f)?,
        }
        Ok(())
    }
}

struct MutexOps;

impl Ops for MutexOps {
    type Op = MutexOp;

    fn invoke(&mut self, at: At<'_>, f: &str, _value: &Edn) -> Result<MutexOp, ParseError> {
        match f {
            "acquire" => Ok(MutexOp::Acquire),
            "release" => Ok(MutexOp::Release),
            other => Err(at.error(format!("expected :f :acquire or :release, found :{other}"))),
        }
    }

    fn ok(&mut self, at: At<'_>, op: &mut MutexOp, f: &str, _value: &Edn) -> Result<(), ParseError> {
        check_same_f(at, &op.to_string(), f)
    }
}

struct Txns {
    keys: BTreeMap<String, usize>,
}

impl Txns {
    /// Splits `[:read :x 1]` into (`read`, `x`, value).
    fn micro<'e>(at: At<'_>, micro: &'e Edn) -> Result<(&'e str, &'e str, &'e Edn), ParseError> {
        match micro.as_seq() {
            Some([Edn::Keyword(f), Edn::Keyword(key), value]) => Ok((f, key, value)),
            _ => {
                Err(at
                    .error(format!("expected a micro-operation [:read k v] or [:write k v], found {micro}")))
            }
        }
    }
}

impl Ops for Txns {
    type Op = MultiRegisterOp;

    fn invoke(&mut self, at: At<'_>, f: &str, value: &Edn) -> Result<MultiRegisterOp, ParseError> {
        check_same_f(at, "txn", f)?;
        let Some(micros) = value.as_seq() else {
            return Err(at.error(format!("expected a list of micro-operations, found {value}")));
        };
        let mut out = Vec::with_capacity(micros.len());
        for micro in micros {
            let (f, name, v) = Self::micro(at, micro)?;
            let next = self.keys.len();
            let key = *self.keys.entry(name.to_string()).or_insert(next);
            out.push(match (f, v) {
                ("read", _) => Micro::Read { key, value: None },
                ("write", Edn::Int(value)) => Micro::Write { key, value: *value },
                _ => {
                    return Err(at.error(format!("expected [:read k v] or [:write k integer], found {micro}")))
                }
            });
        }
        Ok(MultiRegisterOp { micros: out })
    }

    fn ok(&mut self, at: At<'_>, op: &mut MultiRegisterOp, f: &str, value: &Edn) -> Result<(), ParseError> {
        check_same_f(at, "txn", f)?;
        let completed = value.as_seq().unwrap_or(&[]);
        if completed.len() != op.micros.len() {
            return Err(at.error(format!(
                "completion has {} micro-operations, the invocation {}",
                completed.len(),
                op.micros.len()
            )));
        }
        for (micro, done) in op.micros.iter_mut().zip(completed) {
            let (f, name, v) = Self::micro(at, done)?;
            let key = self.keys.get(name).copied();
            match (micro, f) {
                (Micro::Read { key: k, value }, "read") if key == Some(*k) => {
                    *value = match v {
                        Edn::Nil => None,
                        Edn::Int(x) => Some(*x),
                        other => {
                            return Err(at.error(format!("expected an integer read value, found {other}")))
                        }
                    };
                }
                (Micro::Write { key: k, .. }, "write") if key == Some(*k) => {}
                _ => return Err(at.error(format!("completed {done} does not match the invocation"))),
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failed_ops_are_dropped_crashed_ones_stay_open_and_nemesis_is_ignored_but_counted() {
        let text = "; a comment\n[{:process 0 :type :invoke :f :write :value 1}\n\
                    {:process :nemesis :type :info :f :start}\n\
                    {:process 0 :type :ok :f :write :value 1}\n\
                    {:process 1 :type :invoke :f :cas :value [1 2]}\n\
                    {:process 1 :type :fail :f :cas :value [1 2]}\n\
                    {:process 2 :type :invoke :f :read :value nil}\n\
                    {:process 2 :type :ok :f :read :value 1}\n\
                    {:process 3 :type :invoke :f :write :value 4}\n\
                    {:process 3 :type :info :f :write :value 4}]";
        let h = parse_knossos_cas_register(text, "k.edn").unwrap();
        assert_eq!(h.ops.len(), 3);
        assert_eq!((h.ops[0].call_at, h.ops[0].return_at), (0, Some(2)));
        assert_eq!(
            (h.ops[1].op, h.ops[1].call_at, h.ops[1].return_at),
            (RegisterOp::Read { value: Some(Value::Int(1)) }, 5, Some(6))
        );
        assert_eq!(h.ops[2].return_at, None);
    }

    #[test]
    fn a_bare_sequence_of_maps_and_a_list_are_accepted() {
        let bare = "{:process 0 :type :invoke :f :acquire}\n{:process 0 :type :ok :f :acquire}";
        assert_eq!(parse_knossos_mutex(bare, "m.edn").unwrap().ops.len(), 1);
        let list = format!("({bare})");
        assert_eq!(parse_knossos_mutex(&list, "m.edn").unwrap().ops.len(), 1);
    }

    #[test]
    fn multi_register_reads_take_their_values_from_the_completion() {
        let text = "[{:process 0 :type :invoke :f :txn :value [[:read :x nil] [:write :y 2]]}\n\
                    {:process 0 :type :ok :f :txn :value [[:read :x 0] [:write :y 2]]}]";
        let h = parse_knossos_multi_register(text, "t.edn").unwrap();
        assert_eq!(h.keys, ["x", "y"]);
        assert_eq!(
            h.history.ops[0].op.micros,
            [Micro::Read { key: 0, value: Some(0) }, Micro::Write { key: 1, value: 2 }]
        );
    }

    #[test]
    fn errors_name_the_line_of_the_offending_map() {
        let text = "[{:process 0 :type :invoke :f :read}\n {:process 0 :type :bogus :f :read}]";
        let e = parse_knossos_cas_register(text, "x.edn").unwrap_err();
        assert_eq!((e.file.as_str(), e.line), ("x.edn", 2));
        assert!(e.message.contains(":bogus"), "{e}");
        let e = parse_knossos_cas_register("[{:process 0 :type :ok :f :read}]", "x.edn").unwrap_err();
        assert!(e.message.contains("never invoked"), "{e}");
        let e = parse_knossos_cas_register("[{:process 0}\n]", "x.edn").unwrap_err();
        assert!(e.message.contains("no :type"), "{e}");
        let e = parse_knossos_cas_register("[1 2]", "x.edn").unwrap_err();
        assert!(e.message.contains("operation map"), "{e}");
        let e = parse_knossos_cas_register("[]\n[3]", "x.edn").unwrap_err();
        assert!(e.message.contains("end of the file"), "{e}");
        let e = parse_knossos_cas_register("[{:a 1}\n\n{:b", "x.edn").unwrap_err();
        assert_eq!(e.line, 3, "{e}");
    }

    proptest::proptest! {
        #[test]
        fn arbitrary_text_never_panics(text in "[\\[\\]{}():; a-z0-9\\n]{0,300}") {
            let _ = parse_knossos_cas_register(&text, "p.edn");
            let _ = parse_knossos_mutex(&text, "p.edn");
            let _ = parse_knossos_multi_register(&text, "p.edn");
        }

        #[test]
        fn shuffled_operation_maps_never_panic(ops in proptest::collection::vec((
            0u8..3,
            proptest::sample::select(vec!["invoke", "ok", "fail", "info", "x"]),
            proptest::sample::select(vec!["read", "write", "cas", "txn", "acquire"]),
            proptest::sample::select(vec!["nil", "1", "[1 2]", "[[:read :x 1]]", "[[:write :y nil]]", "\"s\""]),
        ), 0..30)) {
            let text: String = ops
                .iter()
                .map(|(p, t, f, v)| format!("{{:process {p}, :type :{t}, :f :{f}, :value {v}}}\n"))
                .collect();
            let _ = parse_knossos_cas_register(&text, "p.edn");
            let _ = parse_knossos_mutex(&text, "p.edn");
            let _ = parse_knossos_multi_register(&text, "p.edn");
        }
    }
}
