//! SQL text for telemetry: [`sanitize`] replaces every literal with `?` so that no value leaves
//! the process, and [`Summary::parse`] finds the operation (`SELECT`, `INSERT`...) and the
//! tables a statement touches, for span names and metric labels.
//!
//! ```
//! use glimpse_telemetry_sqlx::sql::{Dialect, Summary, sanitize};
//!
//! let sql = "SELECT id FROM users WHERE email = 'ann@example.com' AND age > 42 -- hi";
//! assert_eq!(
//!     sanitize(sql, Dialect::Postgres),
//!     "SELECT id FROM users WHERE email = ? AND age > ?"
//! );
//!
//! let s = Summary::parse(sql, Dialect::Postgres);
//! assert_eq!(s.operation(), Some("SELECT"));
//! assert_eq!(s.collection(), Some("users"));
//! assert_eq!(s.text(), "SELECT users");
//! ```
//!
//! Both work on a small lexer that knows each dialect's literals: standard strings with `''`,
//! PostgreSQL `E'..'` escape strings, dollar-quoted strings (`$$..$$`, `$tag$..$tag$`), MySQL
//! backslash escapes and double-quoted strings, `X'..'`/`B'..'`/`N'..'` literals, hex and
//! exponent numbers, and `--`, `#` (MySQL) and nested `/* */` comments. The rule throughout is
//! *when in doubt, redact*:
//!
//! - comments are dropped (they can carry anything);
//! - an unterminated string, identifier or comment swallows the rest of the statement;
//! - where the server's settings decide whether a backslash escapes a quote
//!   (`standard_conforming_strings`, `NO_BACKSLASH_ESCAPES`) and the text is read differently
//!   either way (`'..\'..'`), everything from that string on becomes one `?`;
//! - in MySQL and SQLite, double-quoted text is redacted too, since either may read it as a
//!   string; in PostgreSQL it is an identifier and kept.
//!
//! Neither function can panic, on any input (a property test feeds them arbitrary text), and
//! both run in one pass without allocating more than their output.
//!
//! The files: `lexer.rs` reads the text into tokens per dialect; `sanitize.rs` writes it back with
//! literals replaced; `summary.rs` finds the operation and tables. Hand-written on purpose: no SQL
//! parser crate reads every dialect's literals with the *when in doubt, redact* rule, and this one
//! runs in one pass, allocation-free but for its output, on every query.

mod lexer;
mod sanitize;
mod summary;

pub use lexer::Dialect;
pub use sanitize::{MAX_TEXT_LEN, sanitize};
pub use summary::{MAX_SUMMARY_LEN, OPERATIONS, Summary};
