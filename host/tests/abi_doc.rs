//! docs/abi.md's tables of host functions against the host's one table
//! (`hostcalls::HOST_FUNCTIONS`), both ways: every function the host links is
//! documented under its import module with the right status, and every
//! documented function exists.

use std::collections::BTreeMap;

use proxy_wasm_host::hostcalls::HOST_FUNCTIONS;

const ABI_MD: &str = include_str!("../../docs/abi.md");

/// (module, function) → implemented, from the rows of the table under `heading`.
/// A row's first cell names one or more functions in backquotes; the env table's
/// second cell is "implemented" or "**unimplemented**"; the WASI table has no
/// status column (every WASI function is implemented).
fn documented(heading: &str, module: &str, out: &mut BTreeMap<(String, String), bool>) {
    let section = ABI_MD
        .split("\n## ")
        .find(|s| s.starts_with(heading))
        .unwrap_or_else(|| panic!("docs/abi.md has no section \"## {heading}\""));
    let rows = section
        .lines()
        .filter(|l| l.starts_with("| `"))
        .collect::<Vec<_>>();
    assert!(!rows.is_empty(), "no table rows under \"## {heading}\"");
    for row in rows {
        let cells: Vec<&str> = row.trim_matches('|').split('|').map(str::trim).collect();
        let implemented = match module {
            "env" => match cells.get(1).copied() {
                Some("implemented") => true,
                Some("**unimplemented**") => false,
                other => panic!("docs/abi.md: row {row:?} has status {other:?}"),
            },
            _ => true,
        };
        for name in cells[0].split(',').map(|n| n.trim().trim_matches('`')) {
            let previous = out.insert((module.to_owned(), name.to_owned()), implemented);
            assert!(
                previous.is_none(),
                "docs/abi.md lists {module}.{name} twice"
            );
        }
    }
}

#[test]
fn docs_abi_md_lists_exactly_the_host_function_table() {
    let mut doc = BTreeMap::new();
    documented("Host functions (module `env`)", "env", &mut doc);
    documented(
        "WASI functions (module `wasi_snapshot_preview1`)",
        "wasi_snapshot_preview1",
        &mut doc,
    );
    let table: BTreeMap<(String, String), bool> = HOST_FUNCTIONS
        .iter()
        .map(|f| ((f.module.to_owned(), f.name.to_owned()), f.implemented))
        .collect();

    let missing_from_doc: Vec<_> = table.keys().filter(|k| !doc.contains_key(*k)).collect();
    let not_in_host: Vec<_> = doc.keys().filter(|k| !table.contains_key(*k)).collect();
    let wrong_status: Vec<_> = table
        .iter()
        .filter(|(k, implemented)| doc.get(*k).is_some_and(|d| d != *implemented))
        .map(|(k, implemented)| {
            (
                k,
                if *implemented {
                    "implemented"
                } else {
                    "unimplemented"
                },
            )
        })
        .collect();
    // Every kind of drift at once, so that one run shows all of it.
    let mut drift = Vec::new();
    if !missing_from_doc.is_empty() {
        drift.push(format!(
            "in the host's table but not in docs/abi.md: {missing_from_doc:?}"
        ));
    }
    if !not_in_host.is_empty() {
        drift.push(format!(
            "in docs/abi.md but not in the host's table: {not_in_host:?}"
        ));
    }
    if !wrong_status.is_empty() {
        drift.push(format!(
            "docs/abi.md gives these another status (the host's is shown): {wrong_status:?}"
        ));
    }
    assert!(drift.is_empty(), "{}", drift.join("\n"));
    assert_eq!(doc.len(), HOST_FUNCTIONS.len());
}
