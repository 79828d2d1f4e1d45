//! [`sanitize`]: the statement with every literal replaced by `?`, comments dropped, `IN` lists
//! collapsed, cut at [`MAX_TEXT_LEN`].

use super::lexer::{Dialect, Kind, Lexer};

/// The longest text [`sanitize`] returns, in bytes; longer statements are cut and end with `…`.
pub const MAX_TEXT_LEN: usize = 2048;

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
}
