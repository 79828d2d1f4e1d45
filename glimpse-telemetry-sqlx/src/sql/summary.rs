//! [`Summary`]: a statement's operation and the tables it touches, for span names and metric
//! labels (`SELECT users`).

use std::borrow::Cow;

use super::lexer::{Dialect, Kind, Lexer, Token};

/// The longest summary [`Summary::parse`] builds, in bytes.
pub const MAX_SUMMARY_LEN: usize = 255;

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
