//! A string key-value map: get, put, append. Keys are independent, so histories are checked
//! one key at a time.

use std::collections::BTreeMap;
use std::fmt;
use std::rc::Rc;

use crate::model::Model;

/// A key-value operation.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum KvOp {
    /// Read `key`; `value` is what it returned (`None`: unknown).
    Get {
        /// The key.
        key: String,
        /// The value returned.
        value: Option<String>,
    },
    /// Replace `key`'s value.
    Put {
        /// The key.
        key: String,
        /// The new value.
        value: String,
    },
    /// Concatenate to `key`'s value.
    Append {
        /// The key.
        key: String,
        /// The suffix.
        value: String,
    },
}

impl KvOp {
    /// The key the operation touches.
    pub fn key(&self) -> &str {
        match self {
            KvOp::Get { key, .. } | KvOp::Put { key, .. } | KvOp::Append { key, .. } => key,
        }
    }
}

impl fmt::Display for KvOp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            KvOp::Get { key, value: Some(v) } => write!(f, "get {key:?} -> {v:?}"),
            KvOp::Get { key, value: None } => write!(f, "get {key:?} -> ?"),
            KvOp::Put { key, value } => write!(f, "put {key:?} {value:?}"),
            KvOp::Append { key, value } => write!(f, "append {key:?} {value:?}"),
        }
    }
}

/// A map from string keys to string values in which every key starts as `""`.
///
/// The state is a list of (key, value) sorted by key that holds only non-empty values, so
/// "absent" and `""` are the same state. Checked one key at a time it has at most one entry,
/// which keeps steps cheap.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Kv {
    /// Check the whole history at once instead of one key at a time (slower; same verdict).
    pub unpartitioned: bool,
}

impl Model for Kv {
    type Op = KvOp;
    type State = Vec<(Rc<str>, String)>;

    fn init(&self) -> Self::State {
        Vec::new()
    }

    fn is_noop(&self, op: &KvOp) -> bool {
        matches!(op, KvOp::Get { value: None, .. })
    }

    fn is_read_only(&self, op: &KvOp) -> bool {
        matches!(op, KvOp::Get { .. })
    }

    fn read_is_legal(&self, state: &Self::State, op: &KvOp) -> bool {
        let current =
            state.binary_search_by(|(k, _)| (**k).cmp(op.key())).map_or("", |i| state[i].1.as_str());
        match op {
            KvOp::Get { value, .. } => value.as_deref().is_none_or(|v| v == current),
            _ => true,
        }
    }

    fn step(&self, state: &Self::State, op: &KvOp, next: &mut Vec<Self::State>) {
        let slot = state.binary_search_by(|(k, _)| (**k).cmp(op.key()));
        let current = slot.map_or("", |i| state[i].1.as_str());
        let new_value = match op {
            KvOp::Get { value, .. } => {
                if value.as_deref().is_none_or(|v| v == current) {
                    next.push(state.clone());
                }
                return;
            }
            KvOp::Put { value, .. } => value.clone(),
            KvOp::Append { value, .. } => {
                let mut joined = String::with_capacity(current.len() + value.len());
                joined.push_str(current);
                joined.push_str(value);
                joined
            }
        };
        let mut s = state.clone();
        match (slot, new_value.is_empty()) {
            (Ok(i), true) => {
                s.remove(i);
            }
            (Ok(i), false) => s[i].1 = new_value,
            (Err(_), true) => {}
            (Err(i), false) => s.insert(i, (Rc::from(op.key()), new_value)),
        }
        next.push(s);
    }

    fn partition(&self, ops: &[KvOp]) -> Option<Vec<Vec<usize>>> {
        if self.unpartitioned {
            return None;
        }
        let mut by_key: BTreeMap<&str, Vec<usize>> = BTreeMap::new();
        for (i, op) in ops.iter().enumerate() {
            by_key.entry(op.key()).or_default().push(i);
        }
        Some(by_key.into_values().collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn get(key: &str, value: &str) -> KvOp {
        KvOp::Get { key: key.into(), value: Some(value.into()) }
    }

    fn run(ops: &[KvOp]) -> Option<Vec<(Rc<str>, String)>> {
        let mut state = Kv::default().init();
        for op in ops {
            let mut next = Vec::new();
            Kv::default().step(&state, op, &mut next);
            state = next.pop()?;
        }
        Some(state)
    }

    #[test]
    fn keys_start_empty_and_append_concatenates() {
        let append = |v: &str| KvOp::Append { key: "k".into(), value: v.into() };
        assert!(run(&[get("k", ""), append("a"), append("b"), get("k", "ab")]).is_some());
        assert!(run(&[append("a"), get("k", "")]).is_none());
    }

    #[test]
    fn putting_the_empty_string_is_the_same_state_as_never_writing() {
        let put = |v: &str| KvOp::Put { key: "k".into(), value: v.into() };
        assert_eq!(run(&[put("x"), put("")]), Some(Vec::new()));
        let other = KvOp::Put { key: "a".into(), value: "y".into() };
        assert_eq!(run(&[put("x"), other]), Some(vec![("a".into(), "y".into()), ("k".into(), "x".into())]));
    }

    #[test]
    fn the_fast_get_check_agrees_with_the_step() {
        let append = KvOp::Append { key: "k".into(), value: "ab".into() };
        let state = run(&[append]).expect("legal");
        for value in [None, Some(""), Some("ab"), Some("a")] {
            let op = KvOp::Get { key: "k".into(), value: value.map(String::from) };
            let mut next = Vec::new();
            Kv::default().step(&state, &op, &mut next);
            assert_eq!(Kv::default().read_is_legal(&state, &op), !next.is_empty(), "{op}");
        }
    }

    #[test]
    fn histories_split_per_key_in_history_order() {
        let ops = [get("b", ""), get("a", ""), get("b", "")];
        assert_eq!(Kv::default().partition(&ops), Some(vec![vec![1], vec![0, 2]]));
        assert_eq!(Kv { unpartitioned: true }.partition(&ops), None);
    }
}
