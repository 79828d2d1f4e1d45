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

use std::borrow::Cow;

/// The longest text [`sanitize`] returns, in bytes; longer statements are cut and end with `…`.
pub const MAX_TEXT_LEN: usize = 2048;

/// The longest summary [`Summary::parse`] builds, in bytes.
pub const MAX_SUMMARY_LEN: usize = 255;

/// Which SQL dialect a text is written in: it decides how strings, identifiers and comments
/// are read.
///
/// ```
/// use glimpse_telemetry_sqlx::sql::{Dialect, sanitize};
/// // A double-quoted identifier in PostgreSQL, a string in MySQL.
/// assert_eq!(sanitize(r#"SELECT "name" FROM t"#, Dialect::Postgres), r#"SELECT "name" FROM t"#);
/// assert_eq!(sanitize(r#"SELECT "name" FROM t"#, Dialect::MySql), "SELECT ? FROM t");
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Dialect {
    /// PostgreSQL: `"ident"`, `E'..'`, `$tag$..$tag$`, nested comments.
    Postgres,
    /// MySQL and MariaDB: `` `ident` ``, `"string"`, backslash escapes, `#` comments.
    MySql,
    /// SQLite: `"ident"` (redacted: SQLite may read it as a string), `` `ident` ``, `[ident]`.
    Sqlite,
    /// Unknown: the most cautious reading of each construct.
    Generic,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Space,
    Comment,
    /// A keyword or an unquoted identifier.
    Word,
    /// A quoted identifier, kept in the text.
    Ident,
    /// A string, dollar-quoted string or `X'..'` literal.
    Str,
    Num,
    /// `$1`, `?`, `?1`, `$name`.
    Param,
    Punct,
    /// Text that cannot be read with certainty: it and everything after it are redacted.
    Opaque,
}

#[derive(Clone, Copy, Debug)]
struct Token {
    kind: Kind,
    start: usize,
    end: usize,
}

/// How a backslash inside a string behaves.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Escapes {
    /// It is an ordinary character (SQLite, PostgreSQL standard strings read as such).
    None,
    /// It escapes the next character (PostgreSQL `E'..'`).
    Always,
    /// It depends on server settings: a quote after an odd run of backslashes is ambiguous.
    Ambiguous,
}

#[derive(Clone)]
struct Lexer<'a> {
    b: &'a [u8],
    s: &'a str,
    pos: usize,
    dialect: Dialect,
    done: bool,
}

fn is_space(c: u8) -> bool {
    matches!(c, b' ' | b'\t' | b'\n' | b'\r' | 0x0b | 0x0c)
}

fn is_word_start(c: u8) -> bool {
    c.is_ascii_alphabetic() || c == b'_' || c >= 0x80
}

fn is_word(c: u8) -> bool {
    c.is_ascii_alphanumeric() || c == b'_' || c == b'$' || c >= 0x80
}

fn is_tag(c: u8) -> bool {
    c.is_ascii_alphanumeric() || c == b'_' || c >= 0x80
}

impl<'a> Lexer<'a> {
    fn new(s: &'a str, dialect: Dialect) -> Self {
        Lexer {
            b: s.as_bytes(),
            s,
            pos: 0,
            dialect,
            done: false,
        }
    }

    fn at(&self, i: usize) -> u8 {
        self.b.get(i).copied().unwrap_or(0)
    }

    fn text(&self, t: Token) -> &'a str {
        self.s.get(t.start..t.end).unwrap_or("")
    }

    /// Everything from here on is redacted.
    fn opaque(&mut self) -> Kind {
        self.pos = self.b.len();
        self.done = true;
        Kind::Opaque
    }

    fn string(&mut self, mut pos: usize, quote: u8, escapes: Escapes) -> Kind {
        let b = self.b;
        while pos < b.len() {
            let c = b[pos];
            if c == quote {
                if self.at(pos + 1) == quote {
                    pos += 2;
                    continue;
                }
                self.pos = pos + 1;
                return Kind::Str;
            }
            if c == b'\\' {
                match escapes {
                    Escapes::None => {}
                    Escapes::Always => {
                        pos += 2;
                        continue;
                    }
                    Escapes::Ambiguous => {
                        let mut after = pos;
                        while after < b.len() && b[after] == b'\\' {
                            after += 1;
                        }
                        if (after - pos) % 2 == 1 && self.at(after) == quote {
                            return self.opaque();
                        }
                        pos = after;
                        continue;
                    }
                }
            }
            pos += 1;
        }
        // Unterminated: the rest is part of the string.
        self.pos = b.len();
        Kind::Str
    }

    fn quoted_ident(&mut self, pos: usize, close: u8) -> Kind {
        let b = self.b;
        let mut pos = pos;
        while pos < b.len() {
            if b[pos] == close {
                if close != b']' && self.at(pos + 1) == close {
                    pos += 2;
                    continue;
                }
                self.pos = pos + 1;
                return Kind::Ident;
            }
            pos += 1;
        }
        // Unterminated: it may have been a string after all.
        self.pos = b.len();
        Kind::Str
    }

    fn plain_string_escapes(&self) -> Escapes {
        match self.dialect {
            Dialect::Sqlite => Escapes::None,
            Dialect::Postgres | Dialect::MySql | Dialect::Generic => Escapes::Ambiguous,
        }
    }

    fn dollar(&mut self, start: usize) -> Kind {
        let b = self.b;
        let mut i = start + 1;
        if self.at(i).is_ascii_digit() {
            while i < b.len() && b[i].is_ascii_digit() {
                i += 1;
            }
            self.pos = i;
            return Kind::Param;
        }
        while i < b.len() && is_tag(b[i]) {
            i += 1;
        }
        if self.at(i) == b'$' && self.dialect != Dialect::Sqlite {
            // `$$` or `$tag$`: a dollar-quoted string up to the same tag.
            let tag = self.s.get(start..=i).unwrap_or("$$");
            let body = i + 1;
            match self.s.get(body..).and_then(|rest| rest.find(tag)) {
                Some(at) => self.pos = body + at + tag.len(),
                None => self.pos = b.len(),
            }
            return Kind::Str;
        }
        self.pos = i;
        if i > start + 1 {
            Kind::Param
        } else {
            Kind::Punct
        }
    }

    fn number(&mut self, start: usize) -> Kind {
        let b = self.b;
        let hex = b[start] == b'0' && matches!(self.at(start + 1), b'x' | b'X');
        let mut i = start;
        while i < b.len() {
            let c = b[i];
            let part = c.is_ascii_alphanumeric() || c == b'_' || c == b'.';
            // The sign of an exponent: 1e-5.
            let sign =
                (c == b'+' || c == b'-') && !hex && i > start && matches!(b[i - 1], b'e' | b'E');
            if !(part || sign) {
                break;
            }
            i += 1;
        }
        self.pos = i;
        Kind::Num
    }

    fn next_token(&mut self) -> Option<Token> {
        if self.done || self.pos >= self.b.len() {
            return None;
        }
        let b = self.b;
        let start = self.pos;
        let c = b[start];
        let next = self.at(start + 1);
        let kind = match c {
            c if is_space(c) => {
                let mut i = start;
                while i < b.len() && is_space(b[i]) {
                    i += 1;
                }
                self.pos = i;
                Kind::Space
            }
            b'-' if next == b'-' => self.line_comment(start),
            b'#' if self.dialect == Dialect::MySql => self.line_comment(start),
            b'/' if next == b'*' => {
                let mut depth = 1usize;
                let mut i = start + 2;
                while i < b.len() {
                    if b[i] == b'/' && self.at(i + 1) == b'*' {
                        depth += 1;
                        i += 2;
                    } else if b[i] == b'*' && self.at(i + 1) == b'/' {
                        depth -= 1;
                        i += 2;
                        if depth == 0 {
                            break;
                        }
                    } else {
                        i += 1;
                    }
                }
                self.pos = i.min(b.len());
                Kind::Comment
            }
            b'\'' => self.string(start + 1, b'\'', self.plain_string_escapes()),
            b'"' => match self.dialect {
                Dialect::Postgres => self.quoted_ident(start + 1, b'"'),
                Dialect::MySql | Dialect::Generic => {
                    self.string(start + 1, b'"', Escapes::Ambiguous)
                }
                Dialect::Sqlite => self.string(start + 1, b'"', Escapes::None),
            },
            b'`' => self.quoted_ident(start + 1, b'`'),
            b'[' if self.dialect == Dialect::Sqlite => self.quoted_ident(start + 1, b']'),
            b'$' => self.dollar(start),
            b'?' => {
                let mut i = start + 1;
                while i < b.len() && b[i].is_ascii_digit() {
                    i += 1;
                }
                self.pos = i;
                Kind::Param
            }
            b'0'..=b'9' => self.number(start),
            b'.' if next.is_ascii_digit() => self.number(start),
            // Prefixed strings: E'..' (escapes), X'..', B'..', N'..', U&'..'.
            b'E' | b'e' if next == b'\'' => {
                let escapes = match self.dialect {
                    Dialect::Postgres | Dialect::Generic => Escapes::Always,
                    _ => self.plain_string_escapes(),
                };
                self.string(start + 2, b'\'', escapes)
            }
            b'X' | b'x' | b'B' | b'b' | b'N' | b'n' if next == b'\'' => {
                self.string(start + 2, b'\'', self.plain_string_escapes())
            }
            b'U' | b'u' if next == b'&' && self.at(start + 2) == b'\'' => {
                self.string(start + 3, b'\'', self.plain_string_escapes())
            }
            c if is_word_start(c) => {
                let mut i = start + 1;
                while i < b.len() && is_word(b[i]) {
                    i += 1;
                }
                self.pos = i;
                Kind::Word
            }
            _ => {
                self.pos = start + 1;
                Kind::Punct
            }
        };
        Some(Token {
            kind,
            start,
            end: self.pos,
        })
    }

    fn line_comment(&mut self, start: usize) -> Kind {
        self.pos = match self.b[start..].iter().position(|&c| c == b'\n') {
            Some(n) => start + n,
            None => self.b.len(),
        };
        Kind::Comment
    }

    /// The next token that is not space or a comment.
    fn next_significant(&mut self) -> Option<Token> {
        loop {
            let t = self.next_token()?;
            if !matches!(t.kind, Kind::Space | Kind::Comment) {
                return Some(t);
            }
        }
    }
}

impl Iterator for Lexer<'_> {
    type Item = Token;
    fn next(&mut self) -> Option<Token> {
        self.next_token()
    }
}

/// `sql` with every literal (strings, numbers, dollar-quoted and hex/bit strings) replaced by
/// `?`, comments removed, runs of whitespace collapsed to one space, lists of values after `IN`
/// collapsed to `(?)`, and cut at [`MAX_TEXT_LEN`] bytes. Placeholders (`$1`, `?`) and
/// identifiers stay.
///
/// ```
/// use glimpse_telemetry_sqlx::sql::{Dialect, sanitize};
///
/// assert_eq!(
///     sanitize("UPDATE users SET name = 'O''Brien', card = $$4111 1111$$ WHERE id IN (1, 2, 3)", Dialect::Postgres),
///     "UPDATE users SET name = ?, card = ? WHERE id IN (?)"
/// );
/// assert_eq!(sanitize("SELECT x'DEADBEEF', 0x1F, 1.5e-3 # note", Dialect::MySql), "SELECT ?, ?, ?");
/// ```
pub fn sanitize(sql: &str, dialect: Dialect) -> String {
    let mut out = String::with_capacity(sql.len().min(MAX_TEXT_LEN) + 4);
    let mut lexer = Lexer::new(sql, dialect);
    let mut space = false;
    while let Some(t) = lexer.next_token() {
        match t.kind {
            Kind::Space | Kind::Comment => {
                space = !out.is_empty();
                continue;
            }
            _ => {}
        }
        if space {
            out.push(' ');
            space = false;
        }
        match t.kind {
            Kind::Str | Kind::Num | Kind::Opaque => out.push('?'),
            Kind::Word => {
                let word = lexer.text(t);
                out.push_str(word);
                if word.eq_ignore_ascii_case("IN") {
                    let mut look = lexer.clone();
                    if collapse_list(&mut look) {
                        out.push_str(" (?)");
                        lexer = look;
                    }
                }
            }
            _ => out.push_str(lexer.text(t)),
        }
        if out.len() > MAX_TEXT_LEN {
            let mut cut = MAX_TEXT_LEN;
            while !out.is_char_boundary(cut) {
                cut -= 1;
            }
            out.truncate(cut);
            out.push('…');
            break;
        }
    }
    out
}

/// After `IN`: `( value [, value]... )` where every value is a literal or a placeholder.
/// Advances `look` past the `)` and returns true when it is one.
fn collapse_list(look: &mut Lexer<'_>) -> bool {
    match look.next_significant() {
        Some(t) if t.kind == Kind::Punct && look.b[t.start] == b'(' => {}
        _ => return false,
    }
    loop {
        match look.next_significant() {
            Some(t) if matches!(t.kind, Kind::Str | Kind::Num | Kind::Param) => {}
            _ => return false,
        }
        match look.next_significant() {
            Some(t) if t.kind == Kind::Punct && look.b[t.start] == b',' => {}
            Some(t) if t.kind == Kind::Punct && look.b[t.start] == b')' => return true,
            _ => return false,
        }
    }
}

/// A keyword candidate in upper case, on the stack (`""` for words too long to be one).
struct Upper {
    buf: [u8; 12],
    len: usize,
}

impl Upper {
    fn new(word: &str) -> Upper {
        let mut up = Upper {
            buf: [0; 12],
            len: 0,
        };
        if let Some(dst) = up.buf.get_mut(..word.len()) {
            dst.copy_from_slice(word.as_bytes());
            dst.make_ascii_uppercase();
            up.len = word.len();
        }
        up
    }

    fn as_str(&self) -> &str {
        // Only ASCII letters changed, so the bytes are still the word's UTF-8.
        self.buf
            .get(..self.len)
            .and_then(|b| std::str::from_utf8(b).ok())
            .unwrap_or("")
    }
}

/// The operation names reported in `db_operation_name`: a fixed set, so the label stays
/// bounded whatever the application sends.
macro_rules! operations {
    ($($op:literal),* $(,)?) => {
        /// Every operation name [`Summary::operation`] can return.
        pub const OPERATIONS: &[&str] = &[$($op),*];

        fn operation_of(up: &str) -> Option<&'static str> {
            match up {
                $($op => Some($op),)*
                _ => None,
            }
        }
    };
}

operations!(
    "SELECT",
    "INSERT",
    "UPDATE",
    "DELETE",
    "MERGE",
    "REPLACE",
    "UPSERT",
    "VALUES",
    "TABLE",
    "CALL",
    "EXEC",
    "EXECUTE",
    "DO",
    "BEGIN",
    "START",
    "COMMIT",
    "END",
    "ROLLBACK",
    "ABORT",
    "SAVEPOINT",
    "RELEASE",
    "SET",
    "SHOW",
    "RESET",
    "CREATE",
    "ALTER",
    "DROP",
    "TRUNCATE",
    "RENAME",
    "COMMENT",
    "GRANT",
    "REVOKE",
    "EXPLAIN",
    "ANALYZE",
    "DESCRIBE",
    "VACUUM",
    "REINDEX",
    "CLUSTER",
    "REFRESH",
    "COPY",
    "LOCK",
    "UNLOCK",
    "PRAGMA",
    "ATTACH",
    "DETACH",
    "LISTEN",
    "NOTIFY",
    "UNLISTEN",
    "USE",
    "PREPARE",
    "DEALLOCATE",
    "DECLARE",
    "FETCH",
    "CLOSE",
    "CHECKPOINT",
    "DISCARD",
    "LOAD",
    "OPTIMIZE",
);

fn is(word: &str, kw: &str) -> bool {
    word.len() == kw.len() && word.eq_ignore_ascii_case(kw)
}

/// Words after which a FROM list (or a statement's target list) ends.
fn ends_from_list(up: &str) -> bool {
    matches!(
        up,
        "WHERE"
            | "GROUP"
            | "ORDER"
            | "HAVING"
            | "LIMIT"
            | "OFFSET"
            | "FETCH"
            | "FOR"
            | "UNION"
            | "INTERSECT"
            | "EXCEPT"
            | "RETURNING"
            | "WINDOW"
            | "ON"
            | "USING"
            | "SET"
            | "VALUES"
            | "SELECT"
            | "QUALIFY"
            | "INTO"
            | "LOCK"
    )
}

/// Words that can follow FROM/JOIN/TABLE/UPDATE but are not a table.
fn is_table_modifier(up: &str) -> bool {
    matches!(
        up,
        "ONLY" | "IF" | "NOT" | "EXISTS" | "LOW_PRIORITY" | "IGNORE" | "TEMPORARY" | "TEMP"
    )
}

/// What [`Summary::parse`] learned about a statement.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Summary<'q> {
    operation: Option<&'static str>,
    collection: Option<Cow<'q, str>>,
    text: String,
}

/// What the parser expects next.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Expect {
    Nothing,
    /// A table name after FROM / JOIN / `,` in a FROM list (a `(` after it makes it a
    /// function call, not a table).
    FromItem,
    /// A table name after INTO / UPDATE / TABLE.
    Target,
}

/// A small stack of paren depths (no allocation per statement).
#[derive(Default)]
struct Depths {
    items: [i32; 16],
    len: usize,
}

impl Depths {
    fn push(&mut self, d: i32) -> bool {
        match self.items.get_mut(self.len) {
            Some(slot) => {
                *slot = d;
                self.len += 1;
                true
            }
            None => false,
        }
    }

    fn last(&self) -> Option<&i32> {
        self.len.checked_sub(1).and_then(|i| self.items.get(i))
    }

    fn pop(&mut self) {
        self.len = self.len.saturating_sub(1);
    }
}

struct Parser<'q> {
    lexer: Lexer<'q>,
    summary: Summary<'q>,
    tables: usize,
    nested_ops: usize,
    uncertain: bool,
    depth: i32,
    /// Paren depths of the queries (SELECT / DELETE ...) being read, innermost last; FROM only
    /// counts at the depth of the innermost query, not inside `EXTRACT(x FROM y)`.
    queries: Depths,
    /// The depth at which a FROM list is being read.
    from_list: Option<i32>,
    expect: Expect,
    prev: [Option<Token>; 2],
}

impl<'q> Summary<'q> {
    /// Reads `sql` once: the operation is the statement's first keyword from a fixed list
    /// (for `WITH ...`, the main statement's), the summary is the operation followed by the
    /// tables (and nested operations) in order of appearance, as OpenTelemetry's
    /// `db.query.summary`, and the collection is set only when certain: one statement, one
    /// table, no subquery, no join.
    ///
    /// ```
    /// use glimpse_telemetry_sqlx::sql::{Dialect, Summary};
    ///
    /// let s = Summary::parse("INSERT INTO audit.events (kind) SELECT kind FROM staging", Dialect::Postgres);
    /// assert_eq!(s.operation(), Some("INSERT"));
    /// assert_eq!(s.text(), "INSERT audit.events SELECT staging");
    /// assert_eq!(s.collection(), None); // two tables: not certain
    ///
    /// let s = Summary::parse("delete from `Orders` where id = ?", Dialect::MySql);
    /// assert_eq!((s.operation(), s.collection()), (Some("DELETE"), Some("Orders")));
    /// ```
    pub fn parse(sql: &'q str, dialect: Dialect) -> Summary<'q> {
        let mut p = Parser {
            lexer: Lexer::new(sql, dialect),
            summary: Summary::default(),
            tables: 0,
            nested_ops: 0,
            uncertain: false,
            depth: 0,
            queries: Depths::default(),
            from_list: None,
            expect: Expect::Nothing,
            prev: [None, None],
        };
        p.run();
        let mut s = p.summary;
        if p.tables != 1 || p.nested_ops != 0 || p.uncertain {
            s.collection = None;
        }
        s
    }

    /// The operation, from a fixed set of upper-case keywords (`SELECT`, `INSERT`, `UPDATE`,
    /// `DELETE`, `BEGIN`, `CREATE`...); `None` when the statement starts with something else.
    pub fn operation(&self) -> Option<&'static str> {
        self.operation
    }

    /// The one table the statement reads or writes, when that is certain (quotes removed,
    /// schema kept: `public.users`).
    pub fn collection(&self) -> Option<&str> {
        self.collection.as_deref()
    }

    /// The summary: `SELECT users`, `INSERT audit.events SELECT staging`; empty when the
    /// operation is unknown.
    pub fn text(&self) -> &str {
        &self.text
    }

    fn push(&mut self, part: &str) {
        let extra = part.len() + usize::from(!self.text.is_empty());
        if self.text.len() + extra > MAX_SUMMARY_LEN {
            return;
        }
        if !self.text.is_empty() {
            self.text.push(' ');
        }
        self.text.push_str(part);
    }
}

impl<'q> Parser<'q> {
    fn run(&mut self) {
        let mut first = true;
        let mut with = false;
        while let Some(t) = self.lexer.next_significant() {
            if t.kind == Kind::Opaque {
                self.uncertain = true;
                return;
            }
            if t.kind == Kind::Punct {
                match self.lexer.b[t.start] {
                    b'(' => self.depth += 1,
                    b')' => {
                        self.depth -= 1;
                        while self.queries.last().is_some_and(|&d| d > self.depth) {
                            self.queries.pop();
                        }
                        if self.from_list.is_some_and(|d| d > self.depth) {
                            self.from_list = None;
                        }
                    }
                    b',' if self.from_list == Some(self.depth) => {
                        self.expect = Expect::FromItem;
                        self.shift(t);
                        continue;
                    }
                    b';' if self.depth <= 0 => {
                        // A second statement: the summary describes the first only.
                        if self.lexer.next_significant().is_some() {
                            self.uncertain = true;
                        }
                        return;
                    }
                    _ => {}
                }
                self.expect = Expect::Nothing;
                self.shift(t);
                first = false;
                continue;
            }
            if first {
                first = false;
                if t.kind == Kind::Word {
                    let up = Upper::new(self.lexer.text(t));
                    if up.as_str() == "WITH" {
                        with = true;
                        self.uncertain = true;
                    } else if let Some(op) = operation_of(up.as_str()) {
                        self.start_operation(op, t, true);
                        continue;
                    }
                }
                self.shift(t);
                continue;
            }
            match t.kind {
                Kind::Word => self.word(t, &mut with),
                Kind::Ident => self.table(t),
                _ => {
                    self.expect = Expect::Nothing;
                    self.shift(t);
                }
            }
        }
    }

    fn shift(&mut self, t: Token) {
        self.prev = [Some(t), self.prev[0]];
    }

    fn prev_word(&self, i: usize) -> &'q str {
        match self.prev[i] {
            Some(t) if t.kind == Kind::Word => self.lexer.text(t),
            _ => "",
        }
    }

    fn prev_is_open_paren(&self) -> bool {
        matches!(self.prev[0], Some(t) if t.kind == Kind::Punct && self.lexer.b[t.start] == b'(')
    }

    fn start_operation(&mut self, op: &'static str, t: Token, main: bool) {
        if main {
            self.summary.operation = Some(op);
        } else {
            self.nested_ops += 1;
        }
        self.summary.push(op);
        if !self.queries.push(self.depth) {
            self.uncertain = true; // nested deeper than anything a summary should describe
        }
        self.expect = match op {
            "UPDATE" | "TABLE" => Expect::Target,
            _ => Expect::Nothing,
        };
        self.from_list = None;
        self.shift(t);
    }

    fn word(&mut self, t: Token, with: &mut bool) {
        let upper = Upper::new(self.lexer.text(t));
        let up = upper.as_str();
        let op = operation_of(up);
        // The main statement of a WITH: the first operation at depth 0.
        if *with && self.depth == 0 {
            if let Some(op) = op {
                if matches!(op, "SELECT" | "INSERT" | "UPDATE" | "DELETE" | "MERGE") {
                    *with = false;
                    self.start_operation(op, t, true);
                    return;
                }
            }
        }
        // Inside a WITH's definitions every operation is nested.
        let main = self.summary.operation.is_none() && !*with;
        if up == "SELECT" {
            self.start_operation("SELECT", t, main);
            return;
        }
        if self.prev_is_open_paren() {
            // A data-modifying statement inside parentheses (a CTE body).
            if let Some(op @ ("INSERT" | "UPDATE" | "DELETE" | "MERGE")) = op {
                self.start_operation(op, t, main);
                return;
            }
        }
        let at_query_depth = self.queries.last() == Some(&self.depth);
        if up == "FROM" {
            // `a IS [NOT] DISTINCT FROM b` compares values.
            let distinct_from = is(self.prev_word(0), "DISTINCT")
                && (is(self.prev_word(1), "IS") || is(self.prev_word(1), "NOT"));
            if at_query_depth && !distinct_from {
                self.from_list = Some(self.depth);
                self.expect = Expect::FromItem;
            } else {
                self.expect = Expect::Nothing;
            }
            self.shift(t);
            return;
        }
        if up == "JOIN" && at_query_depth {
            self.from_list = Some(self.depth);
            self.expect = Expect::FromItem;
            self.shift(t);
            return;
        }
        if up == "INTO" && at_query_depth {
            self.from_list = None;
            self.expect = Expect::Target;
            self.shift(t);
            return;
        }
        if up == "TABLE" && at_query_depth && self.tables == 0 {
            self.expect = Expect::Target;
            self.shift(t);
            return;
        }
        if up == "USING" && self.from_list == Some(self.depth) {
            // DELETE .. USING other / MERGE .. USING source: more tables.
            if matches!(self.summary.operation, Some("DELETE" | "MERGE")) {
                self.uncertain = true;
            }
        }
        if self.expect != Expect::Nothing {
            if up == "LATERAL" {
                self.uncertain = true;
                self.expect = Expect::Nothing;
            } else if is_table_modifier(up) {
                // FROM ONLY t, DROP TABLE IF EXISTS t: keep waiting for the table.
            } else if ends_from_list(up) || op.is_some() && up != "TABLE" {
                self.expect = Expect::Nothing;
                if self.from_list == Some(self.depth) {
                    self.from_list = None;
                }
            } else {
                self.table(t);
                return;
            }
            self.shift(t);
            return;
        }
        if self.from_list == Some(self.depth) && ends_from_list(up) {
            self.from_list = None;
        }
        self.shift(t);
    }

    /// `t` starts a table name where one is expected: read `a`, `a.b`, `"A"."B"`.
    fn table(&mut self, t: Token) {
        let expect = self.expect;
        self.expect = Expect::Nothing;
        if expect == Expect::Nothing {
            self.shift(t);
            return;
        }
        // At most `catalog.schema.table`.
        let mut parts = [t; 3];
        let mut len = 1;
        while len < parts.len() {
            let mut look = self.lexer.clone();
            match look.next_token() {
                Some(dot) if dot.kind == Kind::Punct && look.b[dot.start] == b'.' => {
                    match look.next_token() {
                        Some(n) if matches!(n.kind, Kind::Word | Kind::Ident) => {
                            parts[len] = n;
                            len += 1;
                            self.lexer = look;
                        }
                        _ => break,
                    }
                }
                _ => break,
            }
        }
        let parts = &parts[..len];
        self.shift(parts[len - 1]);
        if expect == Expect::FromItem {
            // `FROM f(..)`: a function, not a table.
            let mut look = self.lexer.clone();
            if matches!(look.next_significant(), Some(n) if n.kind == Kind::Punct && look.b[n.start] == b'(')
            {
                self.uncertain = true;
                return;
            }
        }
        let Some(name) = self.name(parts) else {
            self.uncertain = true;
            return;
        };
        if self.summary.collection.as_deref() == Some(name.as_ref()) {
            return; // the same table again (a self-reference): still one table
        }
        self.tables += 1;
        self.summary.push(&name);
        if self.summary.collection.is_none() {
            self.summary.collection = Some(name);
        }
    }

    /// The table name without quotes; `None` when it cannot be written plainly (an escaped
    /// quote inside, or too long to be a real name).
    fn name(&self, parts: &[Token]) -> Option<Cow<'q, str>> {
        let first = parts.first()?;
        let last = parts.last()?;
        let all_plain = parts.iter().all(|p| p.kind == Kind::Word);
        let name: Cow<'q, str> = if all_plain {
            Cow::Borrowed(self.lexer.s.get(first.start..last.end)?)
        } else {
            let mut s = String::new();
            for (i, p) in parts.iter().enumerate() {
                if i > 0 {
                    s.push('.');
                }
                let text = self.lexer.text(*p);
                if p.kind == Kind::Ident {
                    let inner = text.get(1..text.len().checked_sub(1)?)?;
                    let q = *text.as_bytes().first()?;
                    if inner
                        .bytes()
                        .any(|c| c == q || c == b'"' || c == b'`' || c == b']')
                    {
                        return None;
                    }
                    s.push_str(inner);
                } else {
                    s.push_str(text);
                }
            }
            Cow::Owned(s)
        };
        (!name.is_empty() && name.len() <= 128).then_some(name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pg(s: &str) -> String {
        sanitize(s, Dialect::Postgres)
    }

    #[test]
    fn strings_numbers_and_comments() {
        assert_eq!(
            pg("SELECT * FROM t WHERE a = 'x''y' AND b = 12 AND c = -3.5e+10 /* c */ -- d"),
            "SELECT * FROM t WHERE a = ? AND b = ? AND c = -?"
        );
        assert_eq!(pg("select\n\t1"), "select ?");
        assert_eq!(pg("SELECT .5, 0x1F, 1_000"), "SELECT ?, ?, ?");
        assert_eq!(pg("SELECT t1.c2 FROM t1"), "SELECT t1.c2 FROM t1");
    }

    #[test]
    fn postgres_specials() {
        assert_eq!(pg("SELECT $$a'b$$, $x$ $$ $x$, $1"), "SELECT ?, ?, $1");
        assert_eq!(pg(r"SELECT E'it\'s', 'plain'"), "SELECT ?, ?");
        assert_eq!(pg(r"SELECT '\xDEADBEEF'::bytea"), "SELECT ?::bytea");
        assert_eq!(
            pg(r#"SELECT "Weird""Name" FROM "T""#),
            r#"SELECT "Weird""Name" FROM "T""#
        );
        assert_eq!(pg("SELECT B'0101', X'ff', U&'d\\0061t'"), "SELECT ?, ?, ?");
        assert_eq!(pg("/* a /* nested */ still */ SELECT 1"), "SELECT ?");
    }

    #[test]
    fn ambiguous_backslash_quote_redacts_the_rest() {
        // PostgreSQL with standard strings: 'a\' then 'secret'; with escapes: one string.
        assert_eq!(pg(r"SELECT 'a\', 'secret' FROM t"), "SELECT ?");
        assert_eq!(
            sanitize(r"SELECT 'a\'b', 'secret'", Dialect::MySql),
            "SELECT ?"
        );
        // An even run is read the same either way.
        assert_eq!(pg(r"SELECT 'a\\', b FROM t"), r"SELECT ?, b FROM t");
        // SQLite has no escapes.
        assert_eq!(sanitize(r"SELECT 'a\', b", Dialect::Sqlite), "SELECT ?, b");
    }

    #[test]
    fn mysql_specials() {
        let my = |s| sanitize(s, Dialect::MySql);
        assert_eq!(
            my("SELECT \"v\", `col` FROM t # x"),
            "SELECT ?, `col` FROM t"
        );
        assert_eq!(
            my("SELECT _utf8mb4'x', N'y', @a, @@sql_mode"),
            "SELECT _utf8mb4?, ?, @a, @@sql_mode"
        );
    }

    #[test]
    fn sqlite_specials() {
        let lite = |s| sanitize(s, Dialect::Sqlite);
        assert_eq!(
            lite("SELECT [a b], \"v\", ?1, :n, $n FROM t"),
            "SELECT [a b], ?, ?1, :n, $n FROM t"
        );
    }

    #[test]
    fn in_lists_collapse() {
        assert_eq!(
            pg("SELECT 1 FROM t WHERE id IN (1, 2,3) AND x in ('a')"),
            "SELECT ? FROM t WHERE id IN (?) AND x in (?)"
        );
        assert_eq!(pg("WHERE id IN ($1, $2)"), "WHERE id IN (?)");
        assert_eq!(pg("WHERE id IN (SELECT 1)"), "WHERE id IN (SELECT ?)");
        assert_eq!(pg("WHERE id IN (a, 2)"), "WHERE id IN (a, ?)");
    }

    #[test]
    fn unterminated_things_swallow_the_rest() {
        assert_eq!(pg("SELECT 'abc"), "SELECT ?");
        assert_eq!(pg("SELECT $q$ abc"), "SELECT ?");
        assert_eq!(pg("SELECT /* abc"), "SELECT");
        assert_eq!(pg("SELECT \"abc"), "SELECT ?");
        assert_eq!(pg("SELECT E'abc\\"), "SELECT ?");
    }

    #[test]
    fn long_text_is_cut() {
        let sql = format!("SELECT {}", "a, ".repeat(2000));
        let out = pg(&sql);
        assert!(out.len() <= MAX_TEXT_LEN + '…'.len_utf8());
        assert!(out.ends_with('…'));
    }

    fn summary(sql: &str) -> (Option<&'static str>, Option<String>, String) {
        let s = Summary::parse(sql, Dialect::Postgres);
        (
            s.operation(),
            s.collection().map(str::to_owned),
            s.text().to_owned(),
        )
    }

    #[test]
    fn summaries() {
        let cases: &[(&str, Option<&str>, Option<&str>, &str)] = &[
            (
                "SELECT * FROM users WHERE id = $1",
                Some("SELECT"),
                Some("users"),
                "SELECT users",
            ),
            (
                "select count(*) from public.users u where u.a = 1",
                Some("SELECT"),
                Some("public.users"),
                "SELECT public.users",
            ),
            ("SELECT 1", Some("SELECT"), None, "SELECT"),
            ("SELECT pg_sleep(0.6)", Some("SELECT"), None, "SELECT"),
            (
                "INSERT INTO orders (a, b) VALUES (1, 2) RETURNING id",
                Some("INSERT"),
                Some("orders"),
                "INSERT orders",
            ),
            (
                "UPDATE ONLY \"Users\" SET a = 1",
                Some("UPDATE"),
                Some("Users"),
                "UPDATE Users",
            ),
            (
                "DELETE FROM sessions WHERE expires < now()",
                Some("DELETE"),
                Some("sessions"),
                "DELETE sessions",
            ),
            (
                "SELECT * FROM a JOIN b ON a.id = b.id",
                Some("SELECT"),
                None,
                "SELECT a b",
            ),
            ("SELECT * FROM a, b", Some("SELECT"), None, "SELECT a b"),
            (
                "SELECT * FROM a WHERE x IN (SELECT y FROM b)",
                Some("SELECT"),
                None,
                "SELECT a SELECT b",
            ),
            (
                "SELECT EXTRACT(YEAR FROM ts) FROM events",
                Some("SELECT"),
                Some("events"),
                "SELECT events",
            ),
            (
                "SELECT * FROM generate_series(1, 10)",
                Some("SELECT"),
                None,
                "SELECT",
            ),
            (
                "WITH x AS (SELECT * FROM a) SELECT * FROM x",
                Some("SELECT"),
                None,
                "SELECT a SELECT x",
            ),
            (
                "UPDATE t SET a = 1 FROM u WHERE t.id = u.id",
                Some("UPDATE"),
                None,
                "UPDATE t u",
            ),
            (
                "SELECT * FROM t WHERE a IS DISTINCT FROM b",
                Some("SELECT"),
                Some("t"),
                "SELECT t",
            ),
            (
                "SELECT * FROM t; DELETE FROM t",
                Some("SELECT"),
                None,
                "SELECT t",
            ),
            (
                "CREATE TABLE IF NOT EXISTS items (id int)",
                Some("CREATE"),
                Some("items"),
                "CREATE items",
            ),
            ("BEGIN", Some("BEGIN"), None, "BEGIN"),
            ("hello world", None, None, ""),
            (
                "SELECT * FROM t FOR UPDATE",
                Some("SELECT"),
                Some("t"),
                "SELECT t",
            ),
            (
                "INSERT INTO t (a) VALUES (1) ON CONFLICT (a) DO UPDATE SET a = 2",
                Some("INSERT"),
                Some("t"),
                "INSERT t",
            ),
            ("SELECT 'x FROM y'", Some("SELECT"), None, "SELECT"),
            (
                "SELECT * FROM t1 UNION SELECT * FROM t2",
                Some("SELECT"),
                None,
                "SELECT t1 SELECT t2",
            ),
        ];
        for (sql, op, coll, text) in cases {
            let (o, c, t) = summary(sql);
            assert_eq!((o, c.as_deref(), t.as_str()), (*op, *coll, *text), "{sql}");
        }
    }
}
