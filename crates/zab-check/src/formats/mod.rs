//! Readers for recorded histories, with the conventions that reproduce their known verdicts
//! (see `histories/README.md` in the shared reference material).
//!
//! Every reader takes the text and a file name (used only in error messages) and returns a
//! [`History`](crate::History) or a [`ParseError`] naming the file, the line and what was
//! expected. Positions (`call_at`, `return_at`) are line numbers for the line-based formats
//! and Knossos' operation indices (every map counted from 0, in file order) for EDN files.

mod jepsen;
mod knossos;
mod porcupine_kv;

use std::fmt;

pub use jepsen::parse_jepsen_etcd;
pub use knossos::{
    parse_knossos_cas_register, parse_knossos_multi_register, parse_knossos_mutex, MultiRegisterHistory,
};
pub use porcupine_kv::parse_porcupine_kv;

use crate::edn::{Edn, EdnError};
use crate::history::HistoryError;

/// A history file that cannot be read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ParseError {
    /// The file name given to the reader.
    pub file: String,
    /// 1-based line of the problem.
    pub line: usize,
    /// What was expected and what was found.
    pub message: String,
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}: {}", self.file, self.line, self.message)
    }
}

impl std::error::Error for ParseError {}

/// Where in a file an error is reported.
#[derive(Clone, Copy)]
struct At<'a> {
    file: &'a str,
    line: usize,
}

impl At<'_> {
    fn error(self, message: impl Into<String>) -> ParseError {
        ParseError { file: self.file.to_string(), line: self.line, message: message.into() }
    }

    fn history(self, e: HistoryError) -> ParseError {
        self.error(e.to_string())
    }

    fn edn(self, e: EdnError) -> ParseError {
        // EDN lines are relative to the text the reader was given.
        ParseError { file: self.file.to_string(), line: self.line + e.line - 1, message: e.message }
    }

    /// The value under keyword `key` of an operation map.
    fn field<'e>(self, map: &'e Edn, key: &str) -> Result<&'e Edn, ParseError> {
        if !matches!(map, Edn::Map(_)) {
            return Err(self.error(format!("expected an operation map, found {}", map.kind())));
        }
        map.get(key).ok_or_else(|| self.error(format!("operation map has no :{key}")))
    }

    fn keyword<'e>(self, map: &'e Edn, key: &str) -> Result<&'e str, ParseError> {
        match self.field(map, key)? {
            Edn::Keyword(k) => Ok(k),
            other => Err(self.error(format!("expected a keyword for :{key}, found {other}"))),
        }
    }
}
