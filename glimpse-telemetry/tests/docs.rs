//! `docs/configuration.md` lists exactly the variables `config/` reads.

use std::collections::BTreeSet;

fn variables_in(text: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for (i, _) in text.match_indices('"') {
        let rest = &text[i + 1..];
        let Some(end) = rest.find('"') else { continue };
        let word = &rest[..end];
        let is_var = ["OTEL_", "GLIMPSE_", "SENTRY_"]
            .iter()
            .any(|p| word.starts_with(p))
            || word == "RUST_LOG";
        if is_var && word.bytes().all(|b| b.is_ascii_uppercase() || b == b'_') {
            out.insert(word.to_owned());
        }
    }
    out
}

#[test]
fn configuration_doc_lists_every_variable_read() {
    let root = concat!(env!("CARGO_MANIFEST_DIR"), "/..");
    let mut files: Vec<_> = std::fs::read_dir(format!("{root}/glimpse-telemetry/src/config"))
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.extension().is_some_and(|e| e == "rs"))
        .collect();
    files.sort();
    let code: String = files
        .iter()
        .map(|path| {
            let code = std::fs::read_to_string(path).unwrap();
            code[..code.find("#[cfg(test)]").unwrap_or(code.len())].to_owned()
        })
        .collect();
    let doc = std::fs::read_to_string(format!("{root}/docs/configuration.md")).unwrap();
    let read = variables_in(&code);
    assert!(read.len() > 20, "found {read:?}");
    let table: BTreeSet<String> = doc
        .lines()
        .filter(|l| l.starts_with("| `"))
        .filter_map(|l| l.split('`').nth(1).map(str::to_owned))
        .collect();
    let undocumented: Vec<_> = read.difference(&table).collect();
    let stale: Vec<_> = table.difference(&read).collect();
    assert!(
        undocumented.is_empty(),
        "read but not in docs/configuration.md: {undocumented:?}"
    );
    assert!(stale.is_empty(), "documented but not read: {stale:?}");
}
