//! The top-level modules use each other in one direction only: read from
//! the sources, every `crate::<module>` a module names in code (comments
//! aside) is an edge, and the graph has no cycle. A cycle is named with the
//! lines that make it.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// Module → (module it uses → the first line that does).
type Graph = BTreeMap<String, BTreeMap<String, String>>;

fn rust_files(dir: &Path, into: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, into);
        } else if path.extension().is_some_and(|ext| ext == "rs") {
            into.push(path);
        }
    }
}

fn graph() -> Graph {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    let mut graph = Graph::new();
    for file in files {
        let relative = file.strip_prefix(&src).unwrap();
        let name = relative.to_string_lossy();
        // Tests may reach anywhere; lib.rs declares everything.
        if name.ends_with("_tests.rs") || name == "lib.rs" {
            continue;
        }
        let module = relative.iter().next().unwrap().to_string_lossy().trim_end_matches(".rs").to_owned();
        let edges = graph.entry(module.clone()).or_default();
        for (number, line) in std::fs::read_to_string(&file).unwrap().lines().enumerate() {
            let code = line.split("//").next().unwrap_or_default();
            for (index, _) in code.match_indices("crate::") {
                let used: String = code[index + 7..].chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '_').collect();
                if !used.is_empty() && used != module {
                    edges.entry(used).or_insert_with(|| format!("{name}:{}: {}", number + 1, line.trim()));
                }
            }
        }
    }
    graph
}

/// A cycle through `start`, as the lines that make it, if there is one.
fn cycle_from(graph: &Graph, start: &str) -> Option<Vec<String>> {
    fn visit(graph: &Graph, node: &str, start: &str, seen: &mut BTreeSet<String>, path: &mut Vec<String>) -> bool {
        for (next, line) in graph.get(node).into_iter().flatten() {
            path.push(line.clone());
            if next == start || (seen.insert(next.clone()) && visit(graph, next, start, seen, path)) {
                return true;
            }
            path.pop();
        }
        false
    }
    let mut path = Vec::new();
    visit(graph, start, start, &mut BTreeSet::new(), &mut path).then_some(path)
}

#[test]
fn the_top_level_modules_use_each_other_without_a_cycle() {
    let graph = graph();
    for module in ["channel", "room", "router", "rtp", "sctp", "shell", "transport", "worker"] {
        assert!(graph.contains_key(module), "no module {module} in {:?}", graph.keys());
    }
    for module in graph.keys() {
        if let Some(cycle) = cycle_from(&graph, module) {
            panic!("a cycle through {module}:\n  {}", cycle.join("\n  "));
        }
    }
}

#[test]
fn a_planted_cycle_is_found_and_named() {
    let mut graph = graph();
    graph.entry("rtp".into()).or_default().insert("worker".into(), "rtp/planted.rs:1: use crate::worker::Worker;".into());
    let cycle = cycle_from(&graph, "rtp").expect("the planted cycle");
    assert_eq!(cycle[0], "rtp/planted.rs:1: use crate::worker::Worker;");
}

#[test]
fn every_source_file_says_what_it_owns_and_stays_under_600_lines() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    for file in files {
        let name = file.strip_prefix(&src).unwrap().to_string_lossy().into_owned();
        let text = std::fs::read_to_string(&file).unwrap();
        assert!(text.starts_with("//!"), "{name} does not start with a comment saying what it owns");
        if !name.ends_with("_tests.rs") {
            let lines = text.lines().count();
            assert!(lines <= 600, "{name} has {lines} lines: split it by concept");
        }
    }
}
