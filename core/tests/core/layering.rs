//! The core's modules depend on each other one way: no circle among the top-level modules
//! (`engine` uses `risk`, `order` and `market`; `risk` uses `order` and `market` but never
//! `engine`), and no circle among the files inside `engine` and `risk`. Read from the source:
//! every `crate::<module>` (and, inside a module, `super::<file>`) path counts as a use.
//!
//! The workspace's crate graph is checked in the same way from the manifests: `exec` must not
//! depend on `feeds` (both sit on `tickwire-net`).

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};

fn src() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

/// Every `.rs` file under `dir`, recursively.
fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let mut entries: Vec<_> = fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .filter_map(Result::ok)
        .map(|e| e.path())
        .collect();
    entries.sort();
    for p in entries {
        if p.is_dir() {
            rust_files(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
}

/// The identifiers that follow `prefix` in `text` (`crate::engine::x` → `engine`). Comment
/// lines are skipped: doc links describe, they do not depend.
fn uses_after(text: &str, prefix: &str) -> BTreeSet<String> {
    let mut found = BTreeSet::new();
    for line in text.lines() {
        let code = line.trim_start();
        if code.starts_with("//") {
            continue;
        }
        let mut rest = code;
        while let Some(i) = rest.find(prefix) {
            rest = &rest[i + prefix.len()..];
            let name: String = rest
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                .collect();
            if !name.is_empty() {
                found.insert(name);
            }
        }
    }
    found
}

/// A cycle in `graph`, if there is one (as the path around it).
fn find_cycle(graph: &BTreeMap<String, BTreeSet<String>>) -> Option<Vec<String>> {
    fn visit(
        n: &str,
        graph: &BTreeMap<String, BTreeSet<String>>,
        state: &mut BTreeMap<String, u8>,
        path: &mut Vec<String>,
    ) -> Option<Vec<String>> {
        match state.get(n) {
            Some(2) => return None,
            Some(1) => {
                let start = path.iter().position(|p| p == n).unwrap_or(0);
                let mut cycle = path[start..].to_vec();
                cycle.push(n.to_owned());
                return Some(cycle);
            }
            _ => {}
        }
        state.insert(n.to_owned(), 1);
        path.push(n.to_owned());
        for m in graph.get(n).into_iter().flatten() {
            if let Some(c) = visit(m, graph, state, path) {
                return Some(c);
            }
        }
        path.pop();
        state.insert(n.to_owned(), 2);
        None
    }
    let mut state = BTreeMap::new();
    for n in graph.keys() {
        let mut path = Vec::new();
        if let Some(c) = visit(n, graph, &mut state, &mut path) {
            return Some(c);
        }
    }
    None
}

/// The top-level module a file under `src/` belongs to (`engine/mod.rs` → `engine`).
fn top_module(file: &Path) -> String {
    let rel = file.strip_prefix(src()).unwrap_or(file);
    let first = rel
        .components()
        .next()
        .map(|c| c.as_os_str().to_string_lossy());
    first.unwrap_or_default().trim_end_matches(".rs").to_owned()
}

#[test]
fn top_level_modules_form_no_circle() {
    let mut files = Vec::new();
    rust_files(&src(), &mut files);
    let mut graph: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for f in &files {
        let m = top_module(f);
        if m == "lib" {
            continue;
        }
        let text = fs::read_to_string(f).unwrap_or_else(|e| panic!("{}: {e}", f.display()));
        let deps = graph.entry(m.clone()).or_default();
        for d in uses_after(&text, "crate::") {
            if d != m {
                deps.insert(d);
            }
        }
    }
    assert!(graph.len() > 10, "read the modules: {graph:?}");
    assert!(
        graph["engine"].contains("risk"),
        "the check sees real uses: {graph:?}"
    );
    assert!(
        !graph["risk"].contains("engine"),
        "risk must not use the engine: {:?}",
        graph["risk"]
    );
    if let Some(c) = find_cycle(&graph) {
        panic!("module circle in core: {}", c.join(" → "));
    }
}

#[test]
fn files_inside_engine_and_risk_form_no_circle() {
    for module in ["engine", "risk"] {
        let dir = src().join(module);
        let mut files = Vec::new();
        rust_files(&dir, &mut files);
        let names: BTreeSet<String> = files
            .iter()
            .filter_map(|f| f.file_stem().map(|s| s.to_string_lossy().into_owned()))
            .collect();
        let mut graph: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
        for f in &files {
            let me = f
                .file_stem()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_default();
            // Unit tests may reach anything; they are not part of the layering.
            if me == "tests" || me == "mod" {
                continue;
            }
            let text = fs::read_to_string(f).unwrap_or_else(|e| panic!("{}: {e}", f.display()));
            // A file's uses of its siblings: `super::file` and `crate::module::file`. Uses
            // through the module root's re-exports name no file and are not counted.
            let mut deps = uses_after(&text, &format!("crate::{module}::"));
            deps.extend(uses_after(&text, "super::"));
            let deps = deps
                .into_iter()
                .filter(|d| names.contains(d) && *d != me && d != "tests" && d != "mod")
                .collect();
            graph.insert(me, deps);
        }
        // The root (mod.rs) declares and uses every file; it is the top of the module.
        graph.remove("mod");
        if let Some(c) = find_cycle(&graph) {
            panic!("file circle in core::{module}: {}", c.join(" → "));
        }
    }
}

/// True if the manifest text declares `krate` as a dependency of any kind (a line whose key
/// is the crate's name; comments do not count).
fn declares(manifest: &str, krate: &str) -> bool {
    manifest.lines().any(|l| {
        let l = l.trim_start();
        l.strip_prefix(krate)
            .is_some_and(|rest| rest.starts_with('.') || rest.trim_start().starts_with('='))
    })
}

#[test]
fn exec_does_not_depend_on_feeds() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let manifest = |krate: &str| {
        fs::read_to_string(root.join(krate).join("Cargo.toml"))
            .unwrap_or_else(|e| panic!("{krate}/Cargo.toml: {e}"))
    };
    let exec = manifest("exec");
    assert!(
        declares(&exec, "tickwire-net"),
        "exec uses the network crate"
    );
    assert!(
        !declares(&exec, "tickwire-feeds"),
        "exec must not depend on feeds (not even for tests)"
    );
    assert!(declares(&manifest("feeds"), "tickwire-net"));
    assert!(
        !declares(&manifest("net"), "tickwire-feeds"),
        "net sits below feeds"
    );
    let sim = manifest("tools/sim");
    assert!(
        declares(&sim, "tickwire-core"),
        "the check reads the simulator's manifest"
    );
    for client in ["tickwire-net", "tickwire-feeds", "tickwire-exec"] {
        assert!(
            !declares(&sim, client),
            "the simulator shares no protocol code with its clients ({client})"
        );
    }
}
