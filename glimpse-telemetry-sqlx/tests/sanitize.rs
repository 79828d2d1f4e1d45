//! The SQL sanitizer and summary, on fixed cases and on generated ones: no input makes them
//! panic, and no literal, however it is quoted or escaped, survives sanitizing.

use glimpse_telemetry_sqlx::sql::{Dialect, MAX_TEXT_LEN, Summary, sanitize};
use proptest::prelude::*;

const DIALECTS: [Dialect; 4] = [
    Dialect::Postgres,
    Dialect::MySql,
    Dialect::Sqlite,
    Dialect::Generic,
];

#[test]
fn fixed_cases() {
    let pg = |s| sanitize(s, Dialect::Postgres);
    let my = |s| sanitize(s, Dialect::MySql);
    let lite = |s| sanitize(s, Dialect::Sqlite);
    // Escaped quotes.
    assert_eq!(pg("SELECT 'it''s' AS x"), "SELECT ? AS x");
    assert_eq!(pg(r"SELECT E'it\'s \\ ok', 1"), "SELECT ?, ?");
    assert_eq!(my(r"SELECT 'it''s', 'a\\b', c"), "SELECT ?, ?, c");
    assert_eq!(lite("SELECT 'it''s', \"x\"\"y\""), "SELECT ?, ?");
    // Dollar quotes.
    assert_eq!(
        pg("SELECT $$ it's $$, $body$ $$ nested $$ $body$, $1"),
        "SELECT ?, ?, $1"
    );
    // Numbers of every shape.
    assert_eq!(
        pg("SELECT 42, -7, 3.14, .5, 1e10, 2.5E-3, 0x1F, 1_000_000"),
        "SELECT ?, -?, ?, ?, ?, ?, ?, ?"
    );
    assert_eq!(
        pg("SELECT col1, t2.c3 FROM t4"),
        "SELECT col1, t2.c3 FROM t4"
    );
    // Comments.
    assert_eq!(
        pg("SELECT a -- secret\nFROM t /* secret */ WHERE /* a /* b */ c */ x = 1"),
        "SELECT a FROM t WHERE x = ?"
    );
    assert_eq!(my("SELECT a # secret\nFROM t"), "SELECT a FROM t");
    // IN lists.
    assert_eq!(
        pg("SELECT * FROM t WHERE id IN (1, 2, 3, 4) AND s IN ('a','b')"),
        "SELECT * FROM t WHERE id IN (?) AND s IN (?)"
    );
    // Hex, bit and bytea literals.
    assert_eq!(
        pg(r"SELECT '\xDEADBEEF'::bytea, X'1F', B'1010'"),
        "SELECT ?::bytea, ?, ?"
    );
    assert_eq!(
        my("SELECT 0xDEADBEEF, x'CAFE', b'01', _binary'raw'"),
        "SELECT ?, ?, ?, _binary?"
    );
    assert_eq!(lite("SELECT X'DEADBEEF'"), "SELECT ?");
    // Whitespace is normalized.
    assert_eq!(pg("  SELECT\n\t a  ,b\r\n FROM t  "), "SELECT a ,b FROM t");
}

#[test]
fn fixed_summaries() {
    let s = Summary::parse(
        "SELECT u.id FROM users u JOIN orders o ON o.user_id = u.id",
        Dialect::Postgres,
    );
    assert_eq!(
        (s.operation(), s.collection(), s.text()),
        (Some("SELECT"), None, "SELECT users orders")
    );
    let s = Summary::parse("insert into `shop`.`orders` (a) values (?)", Dialect::MySql);
    assert_eq!(
        (s.operation(), s.collection(), s.text()),
        (Some("INSERT"), Some("shop.orders"), "INSERT shop.orders")
    );
    let s = Summary::parse("UPDATE [my table] SET a = 1", Dialect::Sqlite);
    assert_eq!(
        (s.operation(), s.collection()),
        (Some("UPDATE"), Some("my table"))
    );
    let s = Summary::parse(
        "WITH moved AS (DELETE FROM a RETURNING *) INSERT INTO b SELECT * FROM moved",
        Dialect::Postgres,
    );
    assert_eq!(
        (s.operation(), s.collection(), s.text()),
        (Some("INSERT"), None, "DELETE a INSERT b SELECT moved")
    );
}

/// Text in which every letter of a secret is `z` or `q`, so that any leaked fragment shows.
fn secret() -> impl Strategy<Value = String> {
    let piece = prop_oneof![
        Just("zq"),
        Just("qz"),
        Just("z"),
        Just("'"),
        Just("''"),
        Just("\""),
        Just("\\"),
        Just("\\\\"),
        Just("$"),
        Just("$$"),
        Just("*/"),
        Just("/*"),
        Just("--"),
        Just("#"),
        Just("\n"),
        Just(" "),
        Just(";"),
        Just("("),
        Just(")"),
        Just("`"),
        Just("]"),
        Just("é"),
        Just("7"),
        Just("?"),
    ];
    proptest::collection::vec(piece, 1..12).prop_map(|p| format!("zq{}", p.concat()))
}

/// `secret` written as a literal (or comment) the dialect reads back as exactly `secret`.
fn literals(dialect: Dialect, secret: &str) -> Vec<String> {
    let doubled = |q: char| format!("{q}{}{q}", secret.replace(q, &format!("{q}{q}")));
    let backslashed = |q: char| {
        format!(
            "{q}{}{q}",
            secret.replace('\\', "\\\\").replace(q, &format!("\\{q}"))
        )
    };
    let mut out = Vec::new();
    if !secret.contains('\n') {
        out.push(format!("-- {secret}\n"));
    }
    if !secret.contains("*/") && !secret.contains("/*") {
        out.push(format!("/* {secret} */"));
    }
    match dialect {
        Dialect::Postgres | Dialect::Generic => {
            out.push(doubled('\''));
            out.push(format!("E{}", backslashed('\'')));
            for tag in ["$$", "$zz$", "$q1$"] {
                // Only when the tag first appears where it closes the string: a secret ending
                // in `$zz` would close `$zz$...$zz$` early (`zq$zz` + `$zz$`).
                let closed = format!("{secret}{tag}");
                if closed.find(tag) == Some(secret.len()) {
                    out.push(format!("{tag}{closed}"));
                }
            }
        }
        Dialect::MySql => {
            out.push(backslashed('\''));
            out.push(backslashed('"'));
            out.push(doubled('\''));
            if !secret.contains('\n') {
                out.push(format!("# {secret}\n"));
            }
        }
        Dialect::Sqlite => {
            out.push(doubled('\''));
            out.push(doubled('"'));
        }
        _ => {}
    }
    out
}

fn dialect() -> impl Strategy<Value = Dialect> {
    prop_oneof![
        Just(Dialect::Postgres),
        Just(Dialect::MySql),
        Just(Dialect::Sqlite),
        Just(Dialect::Generic),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

    /// Arbitrary text: no panic, bounded output, and a summary from the fixed set.
    #[test]
    fn never_panics(text in any::<String>()) {
        for d in DIALECTS {
            let out = sanitize(&text, d);
            prop_assert!(out.len() <= MAX_TEXT_LEN + 3);
            let s = Summary::parse(&text, d);
            prop_assert!(s.collection().is_none_or(|c| c.len() <= 128));
            prop_assert!(s.text().len() <= 255);
        }
    }

    /// SQL-like text, dense in quotes, comments and escapes: no panic either.
    #[test]
    fn never_panics_on_sql_like_text(text in "[ a-zA-Z0-9_'\"`$\\\\/*#;().,\\[\\]?:@=\n-]{0,120}") {
        for d in DIALECTS {
            let _ = sanitize(&text, d);
            let _ = Summary::parse(&text, d);
        }
    }

    /// Every literal, however escaped, and every comment disappears from the text.
    #[test]
    fn literals_never_survive(d in dialect(), secret in secret(), which in 0usize..8, shape in 0usize..4) {
        let all = literals(d, &secret);
        let lit = &all[which % all.len()];
        let sql = match shape {
            0 => format!("SELECT a FROM t WHERE b = {lit} AND c = 1"),
            1 => format!("INSERT INTO t (a, b) VALUES ({lit}, {lit})"),
            2 => format!("UPDATE t SET a = {lit}\nWHERE b IN ({lit}, 2)"),
            _ => format!("{lit} DELETE FROM t WHERE a = {lit}"),
        };
        let out = sanitize(&sql, d);
        prop_assert!(!out.contains('z') && !out.contains('q'), "{sql:?} -> {out:?}");
        let s = Summary::parse(&sql, d);
        prop_assert!(!s.text().contains('z') && !s.text().contains('q'), "{sql:?} -> {:?}", s.text());
    }

    /// Numbers are never kept, whatever their shape.
    #[test]
    fn numbers_never_survive(d in dialect(), n in 10_000u64.., frac in 0u32..1000, exp in -20i32..20) {
        for lit in [n.to_string(), format!("{n}.{frac}"), format!("{n}e{exp}"), format!("0x{n:X}")] {
            let out = sanitize(&format!("SELECT a FROM t WHERE b = {lit}"), d);
            prop_assert_eq!(&out, "SELECT a FROM t WHERE b = ?");
        }
    }
}
