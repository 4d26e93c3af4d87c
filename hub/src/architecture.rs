//! The hub's module graph, checked (STYLE.md §16): read from the sources' own `crate::` and `super::`
//! paths, it must have no circle, and the journey must import nothing of HTTP, pages, endpoints, the
//! store or the application state. `cargo test -p hub --lib architecture -- --nocapture` prints the
//! graph, one file and what it imports per line, bottom layer first; `HUB_SRC=<dir>` reads another tree
//! instead (an older checkout's `hub/src`, to compare).

#![allow(clippy::panic)]

use std::{
    collections::{BTreeMap, BTreeSet},
    path::{Path, PathBuf},
};

/// Every `.rs` file under `src`, by its module path (`journey::decide`, `lib` for the crate root).
fn modules(src: &Path) -> BTreeMap<String, PathBuf> {
    let mut out = BTreeMap::new();
    let mut stack = vec![src.to_path_buf()];
    while let Some(dir) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else { continue };
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() {
                stack.push(path);
                continue;
            }
            if path.extension().and_then(|e| e.to_str()) != Some("rs") {
                continue;
            }
            let rel = path.strip_prefix(src).unwrap_or(&path).with_extension("");
            let mut parts: Vec<String> = rel.iter().map(|p| p.to_string_lossy().to_string()).collect();
            if parts.last().is_some_and(|p| p == "mod") {
                parts.pop();
            }
            out.insert(parts.join("::"), path);
        }
    }
    out
}

/// The source without comments and without `#[cfg(test)]` modules (tests may import anything).
fn code_of(text: &str) -> String {
    let text = match text.find("#[cfg(test)]\nmod tests") {
        Some(at) => &text[..at],
        None => text,
    };
    text.lines()
        .filter(|l| !l.trim_start().starts_with("//"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// The module paths a file names: `crate::a::b` and `super::x` (resolved from the file's own module),
/// including those inside `use crate::{a::{b, c}, d}` groups.
fn named_paths(module: &str, code: &str) -> BTreeSet<Vec<String>> {
    let mut out = BTreeSet::new();
    let own: Vec<String> = if module == "lib" || module == "main" {
        Vec::new()
    } else {
        module.split("::").map(str::to_string).collect()
    };
    // Expand `use` groups into flat paths.
    let mut flat = String::new();
    for stmt in code.split(';') {
        let stmt = stmt.trim();
        if let Some(rest) = stmt
            .strip_prefix("use ")
            .or_else(|| stmt.strip_prefix("pub use "))
            .or_else(|| stmt.strip_prefix("pub(crate) use "))
        {
            for path in expand(rest.trim()) {
                flat.push_str(&path);
                flat.push('\n');
            }
        } else {
            flat.push_str(stmt);
            flat.push('\n');
        }
    }
    let bytes: Vec<char> = flat.chars().collect();
    let mut i = 0;
    while i < bytes.len() {
        let rest: String = bytes[i..bytes.len().min(i + 7)].iter().collect();
        let (base, skip) = if rest.starts_with("crate::") {
            (Vec::new(), 7)
        } else if rest.starts_with("super::") {
            (own[..own.len().saturating_sub(1)].to_vec(), 7)
        } else {
            i += 1;
            continue;
        };
        let before = if i == 0 { ' ' } else { bytes[i - 1] };
        if before.is_alphanumeric() || before == '_' || before == ':' {
            i += 1;
            continue;
        }
        let mut j = i + skip;
        let mut path = base;
        let mut word = String::new();
        while j < bytes.len() {
            let c = bytes[j];
            if c.is_alphanumeric() || c == '_' {
                word.push(c);
                j += 1;
            } else if c == ':' && bytes.get(j + 1) == Some(&':') {
                if word == "super" {
                    path.pop();
                } else {
                    path.push(std::mem::take(&mut word));
                }
                word.clear();
                j += 2;
            } else {
                break;
            }
        }
        if !word.is_empty() {
            path.push(word);
        }
        out.insert(path);
        i = j;
    }
    out
}

/// Flattens one `use` tree (`crate::{a::{b, c}, d}`) into its paths.
fn expand(tree: &str) -> Vec<String> {
    let tree = tree.trim();
    let Some(open) = tree.find('{') else {
        return vec![tree.split(" as ").next().unwrap_or(tree).trim().to_string()];
    };
    let prefix = &tree[..open];
    let inner = tree[open + 1..].trim_end().trim_end_matches('}');
    let mut parts = Vec::new();
    let (mut depth, mut start) = (0, 0);
    for (k, c) in inner.char_indices() {
        match c {
            '{' => depth += 1,
            '}' => depth -= 1,
            ',' if depth == 0 => {
                parts.push(&inner[start..k]);
                start = k + 1;
            }
            _ => {}
        }
    }
    parts.push(&inner[start..]);
    parts
        .into_iter()
        .filter(|p| !p.trim().is_empty())
        .flat_map(expand)
        .map(|p| {
            if p == "self" {
                prefix.trim_end_matches("::").to_string()
            } else {
                format!("{prefix}{p}")
            }
        })
        .collect()
}

/// The file-level import graph: module → the modules it imports (the longest existing prefix of each
/// path named), itself and its own ancestors left out.
fn graph(src: &Path) -> BTreeMap<String, BTreeSet<String>> {
    let mods = modules(src);
    let mut out = BTreeMap::new();
    for (module, path) in &mods {
        let code = code_of(&std::fs::read_to_string(path).unwrap_or_default());
        let mut deps = BTreeSet::new();
        for named in named_paths(module, &code) {
            let target = (1..=named.len())
                .rev()
                .map(|n| named[..n].join("::"))
                .find(|m| mods.contains_key(m));
            if let Some(target) = target {
                let ancestor = module.starts_with(&format!("{target}::"));
                if &target != module && !ancestor {
                    deps.insert(target);
                }
            }
        }
        out.insert(module.clone(), deps);
    }
    out
}

/// A circle of imports, if there is one.
fn find_circle(graph: &BTreeMap<String, BTreeSet<String>>) -> Option<Vec<String>> {
    fn visit(
        node: &str,
        graph: &BTreeMap<String, BTreeSet<String>>,
        state: &mut BTreeMap<String, u8>,
        stack: &mut Vec<String>,
    ) -> Option<Vec<String>> {
        state.insert(node.to_string(), 1);
        stack.push(node.to_string());
        for next in graph.get(node).into_iter().flatten() {
            match state.get(next.as_str()).copied().unwrap_or(0) {
                1 => {
                    let from = stack.iter().position(|n| n == next).unwrap_or(0);
                    let mut circle = stack[from..].to_vec();
                    circle.push(next.clone());
                    return Some(circle);
                }
                0 => {
                    if let Some(c) = visit(next, graph, state, stack) {
                        return Some(c);
                    }
                }
                _ => {}
            }
        }
        stack.pop();
        state.insert(node.to_string(), 2);
        None
    }
    let mut state = BTreeMap::new();
    for node in graph.keys() {
        if state.get(node.as_str()).copied().unwrap_or(0) == 0 {
            if let Some(c) = visit(node, graph, &mut state, &mut Vec::new()) {
                return Some(c);
            }
        }
    }
    None
}

/// Each module's layer: 1 + the highest layer it imports (0 for a module importing nothing).
fn layers(graph: &BTreeMap<String, BTreeSet<String>>) -> BTreeMap<String, usize> {
    let mut out: BTreeMap<String, usize> = BTreeMap::new();
    for _ in 0..graph.len() {
        for (m, deps) in graph {
            let layer = deps
                .iter()
                .map(|d| out.get(d).copied().unwrap_or(0) + 1)
                .max()
                .unwrap_or(0);
            out.insert(m.clone(), layer);
        }
    }
    out
}

#[test]
fn the_module_graph_has_no_circle_and_the_journey_knows_nothing_of_http() {
    let src = std::env::var_os("HUB_SRC")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("src"));
    let graph = graph(&src);
    assert!(graph.len() > 30, "read too few modules: {:?}", graph.keys());
    let layer = layers(&graph);
    let mut by_layer: Vec<(&String, &usize)> = layer.iter().collect();
    by_layer.sort_by_key(|(m, l)| (**l, (*m).clone()));
    for (module, l) in by_layer {
        let deps: Vec<&String> = graph[module].iter().collect();
        println!("{l:>2}  {module:<32} -> {deps:?}");
    }
    if let Some(circle) = find_circle(&graph) {
        panic!("the modules import each other in a circle: {}", circle.join(" -> "));
    }
    let forbidden = [
        "web",
        "provider",
        "upstream",
        "store",
        "state",
        "carry_out",
        "http",
        "error",
        "ops",
        "idp",
        "outbound",
    ];
    for (module, deps) in graph.iter().filter(|(m, _)| m.starts_with("journey")) {
        for dep in deps {
            let top = dep.split("::").next().unwrap_or_default();
            assert!(!forbidden.contains(&top), "{module} imports {dep}");
        }
        let code = code_of(&std::fs::read_to_string(modules(&src)[module].clone()).unwrap_or_default());
        for external in ["axum", "tower", "reqwest", "redis", "askama"] {
            assert!(!code.contains(&format!("{external}::")), "{module} uses {external}");
        }
    }
}

#[test]
fn the_reader_sees_groups_super_paths_and_circles() {
    let paths = named_paths(
        "web::consent",
        "use crate::{a::{b, c::d}, e}; use super::page::Page; x(crate::f::g());",
    );
    let want: BTreeSet<Vec<String>> = [
        vec!["a", "b"],
        vec!["a", "c", "d"],
        vec!["e"],
        vec!["web", "page", "Page"],
        vec!["f", "g"],
    ]
    .iter()
    .map(|v| v.iter().map(|s| s.to_string()).collect())
    .collect();
    assert_eq!(paths, want);
    let mut g = BTreeMap::new();
    g.insert("a".to_string(), BTreeSet::from(["b".to_string()]));
    g.insert("b".to_string(), BTreeSet::from(["a".to_string()]));
    assert!(find_circle(&g).is_some());
    g.insert("b".to_string(), BTreeSet::new());
    assert!(find_circle(&g).is_none());
}

/// For each `.route(path, handler)` in `router_src`, the row of `table` (a README section) for `path`
/// names the file of the handler's module, under `hub/src/<base>`.
fn check_url_table(router_src: &str, base: &str, table: &str, short: &[(&str, &str)], consts: &[(&str, &str)]) {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let routes = router_src.split(".route(").skip(1).collect::<Vec<_>>();
    assert!(routes.len() >= 8, "read too few routes");
    for route in routes {
        let (path, rest) = route.split_once(',').unwrap_or_default();
        let path = path.trim().trim_matches('"');
        let path = consts.iter().find(|(c, _)| *c == path).map(|(_, v)| *v).unwrap_or(path);
        let handler = rest.split(['(', ')']).nth(1).unwrap_or_default().trim().to_string();
        let handler = short
            .iter()
            .find(|(s, _)| handler.starts_with(s))
            .map(|(s, full)| handler.replacen(s, full, 1))
            .unwrap_or(handler);
        let module: Vec<&str> = handler.split("::").collect();
        let module = [base, &module[..module.len().saturating_sub(1)].join("/")]
            .iter()
            .filter(|p| !p.is_empty())
            .copied()
            .collect::<Vec<_>>()
            .join("/");
        let file = if root.join(format!("src/{module}/mod.rs")).exists() {
            format!("hub/src/{module}/mod.rs")
        } else {
            format!("hub/src/{module}.rs")
        };
        assert!(root.join("..").join(&file).exists(), "{path}: {file} does not exist");
        let row = table
            .lines()
            .find(|l| l.starts_with("| `") && l.contains(&format!(" {path}`")) && l.contains("hub/src/"))
            .unwrap_or_else(|| panic!("the README's table has no row for {path}"));
        assert!(
            row.contains(&format!("`{file}`")),
            "README says {row:?}, but {path} is served by {file}"
        );
    }
}

/// The README's section from `heading` to the next heading.
fn readme_section(heading: &str) -> String {
    let readme =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("../README.md")).unwrap_or_default();
    let at = readme
        .find(heading)
        .unwrap_or_else(|| panic!("the README has no {heading:?}"));
    let rest = &readme[at + heading.len()..];
    rest[..rest.find("\n#").unwrap_or(rest.len())].to_string()
}

/// The README's table of URLs names, for each route of `router`, the file whose module serves it.
#[test]
fn the_readme_says_where_each_urls_code_is() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let lib = std::fs::read_to_string(root.join("src/lib.rs")).unwrap_or_default();
    let consts = [
        ("idp::JWKS_PATH", crate::idp::JWKS_PATH),
        ("idp::CALLBACK_PATH", crate::idp::CALLBACK_PATH),
    ];
    let short = [
        ("discovery::", "provider::discovery::"),
        ("jwks::", "provider::jwks::"),
        ("did::", "provider::did::"),
        ("authorize::", "provider::authorize::"),
        ("token::", "provider::token::"),
        ("par::", "provider::par::"),
        ("userinfo::", "provider::userinfo::"),
        ("logout::", "provider::logout::"),
        ("trustmark::", "provider::trustmark::"),
    ];
    assert!(lib.split(".route(").count() > 17, "read too few routes");
    check_url_table(&lib, "", &readme_section("### Inside the hub"), &short, &consts);
    let auditor = std::fs::read_to_string(root.join("src/auditor/mod.rs")).unwrap_or_default();
    let auditor = &auditor[auditor.find("pub fn router(").unwrap_or(0)..];
    let auditor = &auditor[..auditor.find("\n}").unwrap_or(auditor.len())];
    check_url_table(
        auditor,
        "auditor",
        &readme_section("### The auditor view's URLs"),
        &[],
        &[],
    );
}

/// Timing-safe comparisons (attack suite): every secret a request presents is compared in constant time
/// (journey binding and token, upstream state, nonces, PKCE verifiers, logout tokens; client secrets by
/// Argon2id), and no plain `==` compares one anywhere in the hub.
#[test]
fn timing_safe_comparisons() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let read = |f: &str| code_of(&std::fs::read_to_string(src.join(f)).unwrap_or_default());
    let must = [
        (
            "carry_out.rs",
            "constant_time_eq(&b, &current.journey().binding.browser)",
        ),
        ("carry_out.rs", "constant_time_eq(c, token)"),
        (
            "journey/decide.rs",
            "constant_time_eq(attempt.secrets.state.as_str(), state)",
        ),
        ("idp/check.rs", "constant_time_eq(nonce, expected.nonce)"),
        (
            "ids.rs",
            "pkce_challenge(verifier).as_bytes().ct_eq(challenge.as_bytes())",
        ),
        ("provider/logout.rs", "constant_time_eq(t, &token_for(&session))"),
        ("provider/token.rs", "pkce_matches(verifier, challenge)"),
        ("provider/client_auth.rs", "verify_password(secret.as_bytes(), &parsed)"),
    ];
    for (file, call) in must {
        assert!(read(file).contains(call), "{file} no longer compares with {call}");
    }
    // The identifiers on either side of a `==` or `!=`, whole (so `permit_missing_nonce` is not `nonce`).
    let secret_words = [
        "csrf",
        "nonce",
        "verifier",
        "secret",
        "upstate",
        "browser",
        "code_challenge",
        "token",
    ];
    let operand_words = |side: &str, last: bool| -> Vec<String> {
        let words: Vec<&str> = side
            .split(|c: char| c.is_whitespace() || "(){}[],;&|!<>=".contains(c))
            .filter(|w| !w.is_empty())
            .collect();
        let operand = if last { words.last() } else { words.first() };
        operand
            .map(|o| o.split('.').map(str::to_string).collect())
            .unwrap_or_default()
    };
    for (module, path) in modules(&src) {
        if module == "architecture" {
            continue;
        }
        for line in read(path.strip_prefix(&src).unwrap_or(&path).to_str().unwrap_or_default()).lines() {
            for op in [" == ", " != "] {
                let Some((left, right)) = line.split_once(op) else {
                    continue;
                };
                let mut words = operand_words(left, true);
                words.extend(operand_words(right, false));
                if words.iter().any(|w| secret_words.contains(&w.as_str())) {
                    panic!("{module}: a secret compared with {op:?}: {}", line.trim());
                }
            }
        }
    }
}
