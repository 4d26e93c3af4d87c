//! Keeps the README's "Conformance" table true: every module row says `passed` with the test that
//! reproduces it, or `not applicable` with why; every test it names exists in this binary under
//! `conformance::` and is named after its module; every conformance test of this binary is in the table.

use anyhow::{anyhow, ensure, Context, Result};
use std::{collections::BTreeSet, path::PathBuf};

/// The rows of the README's conformance section: (module, outcome cell).
fn rows(readme: &str) -> Result<Vec<(String, String)>> {
    let start = readme
        .find("\n## Conformance")
        .ok_or_else(|| anyhow!("the README has no \"## Conformance\" section"))?;
    let section = &readme[start + 1..];
    let section = section[1..].find("\n## ").map_or(section, |end| &section[..end + 1]);
    let mut rows = Vec::new();
    for line in section.lines() {
        let cells: Vec<&str> = line.split('|').map(str::trim).collect();
        // | `module` | outcome |
        if cells.len() < 4 || !cells[1].starts_with('`') {
            continue;
        }
        let module = cells[1].trim_matches('`').to_string();
        if module.starts_with("oidcc-") || module.starts_with("fapi2-") {
            rows.push((module, cells[2].to_string()));
        }
    }
    Ok(rows)
}

/// The tests of this binary (`--list`).
fn listed_tests() -> Result<BTreeSet<String>> {
    let exe = std::env::current_exe()?;
    let out = std::process::Command::new(exe)
        .args(["--list", "--format", "terse"])
        .output()
        .context("listing this binary's tests")?;
    ensure!(out.status.success(), "--list failed");
    Ok(String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| l.strip_suffix(": test"))
        .map(str::to_string)
        .collect())
}

#[test]
fn the_readme_conformance_table_names_a_test_for_every_module_or_why_not() -> Result<()> {
    let readme_path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../README.md");
    let readme = std::fs::read_to_string(&readme_path)?;
    let rows = rows(&readme)?;
    ensure!(
        rows.len() > 100,
        "only {} module rows in the README's table",
        rows.len()
    );
    let tests = listed_tests()?;
    let mut named = BTreeSet::new();
    for (module, outcome) in &rows {
        if let Some(rest) = outcome.strip_prefix("passed") {
            let test = rest
                .split('`')
                .nth(1)
                .ok_or_else(|| anyhow!("{module}: passed, but no test named"))?;
            ensure!(tests.contains(test), "{module}: the test {test} does not exist");
            ensure!(
                test.starts_with("conformance::"),
                "{module}: {test} is not a conformance test"
            );
            let leaf = test.rsplit("::").next().unwrap_or_default();
            ensure!(
                leaf.eq_ignore_ascii_case(&module.replace('-', "_")),
                "{module}: the test {test} is not named after it"
            );
            named.insert(test.to_string());
        } else {
            ensure!(
                outcome.starts_with("not applicable") && outcome.len() > "not applicable".len() + 10,
                "{module}: the outcome must be `passed` with a test, or `not applicable` with why: {outcome:?}"
            );
        }
    }
    let module_tests: BTreeSet<&String> = tests
        .iter()
        .filter(|t| t.starts_with("conformance::") && !t.starts_with("conformance::table::"))
        .collect();
    for t in module_tests {
        ensure!(
            named.contains(t),
            "the test {t} is not in the README's conformance table"
        );
    }
    Ok(())
}
