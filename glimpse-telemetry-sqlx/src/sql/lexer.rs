//! The lexer under [`sanitize`](super::sanitize) and [`Summary`](super::Summary): one token at a
//! time, each dialect's strings, identifiers, numbers and comments (see the [module](super)).

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
pub(super) enum Kind {
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
pub(super) struct Token {
    pub(super) kind: Kind,
    pub(super) start: usize,
    pub(super) end: usize,
}

/// How a backslash inside a string behaves.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum Escapes {
    /// It is an ordinary character (SQLite, PostgreSQL standard strings read as such).
    None,
    /// It escapes the next character (PostgreSQL `E'..'`).
    Always,
    /// It depends on server settings: a quote after an odd run of backslashes is ambiguous.
    Ambiguous,
}

#[derive(Clone)]
pub(super) struct Lexer<'a> {
    pub(super) b: &'a [u8],
    pub(super) s: &'a str,
    pub(super) pos: usize,
    pub(super) dialect: Dialect,
    pub(super) done: bool,
}

pub(super) fn is_space(c: u8) -> bool {
    matches!(c, b' ' | b'\t' | b'\n' | b'\r' | 0x0b | 0x0c)
}

pub(super) fn is_word_start(c: u8) -> bool {
    c.is_ascii_alphabetic() || c == b'_' || c >= 0x80
}

pub(super) fn is_word(c: u8) -> bool {
    c.is_ascii_alphanumeric() || c == b'_' || c == b'$' || c >= 0x80
}

pub(super) fn is_tag(c: u8) -> bool {
    c.is_ascii_alphanumeric() || c == b'_' || c >= 0x80
}

impl<'a> Lexer<'a> {
    pub(super) fn new(s: &'a str, dialect: Dialect) -> Self {
        Lexer {
            b: s.as_bytes(),
            s,
            pos: 0,
            dialect,
            done: false,
        }
    }

    pub(super) fn at(&self, i: usize) -> u8 {
        self.b.get(i).copied().unwrap_or(0)
    }

    pub(super) fn text(&self, t: Token) -> &'a str {
        self.s.get(t.start..t.end).unwrap_or("")
    }

    /// Everything from here on is redacted.
    pub(super) fn opaque(&mut self) -> Kind {
        self.pos = self.b.len();
        self.done = true;
        Kind::Opaque
    }

    pub(super) fn string(&mut self, mut pos: usize, quote: u8, escapes: Escapes) -> Kind {
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

    pub(super) fn quoted_ident(&mut self, pos: usize, close: u8) -> Kind {
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

    pub(super) fn plain_string_escapes(&self) -> Escapes {
        match self.dialect {
            Dialect::Sqlite => Escapes::None,
            Dialect::Postgres | Dialect::MySql | Dialect::Generic => Escapes::Ambiguous,
        }
    }

    pub(super) fn dollar(&mut self, start: usize) -> Kind {
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

    pub(super) fn number(&mut self, start: usize) -> Kind {
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

    pub(super) fn next_token(&mut self) -> Option<Token> {
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

    pub(super) fn line_comment(&mut self, start: usize) -> Kind {
        self.pos = match self.b[start..].iter().position(|&c| c == b'\n') {
            Some(n) => start + n,
            None => self.b.len(),
        };
        Kind::Comment
    }

    /// The next token that is not space or a comment.
    pub(super) fn next_significant(&mut self) -> Option<Token> {
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
