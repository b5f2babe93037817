//! The top-level module graph, read from the `crate::` paths in src/**.rs: printed (run with
//! `--nocapture` to see it), and refused when it has a cycle or an edge that goes up the declared
//! layers, so the layering the README shows stays true as code lands.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// Top to bottom; a module may use modules in its own layer (the cycle check keeps those
/// acyclic) or in any layer below. The last layer's leaves use nothing else in the crate.
const LAYERS: &[&[&str]] = &[
    &["cmd"],
    &["cli"],
    &["http"],
    &["slack"],
    &["health"],
    &["operator", "status", "notify", "docs"],
    &["patch"],
    &["store", "config"],
    &["exit", "output", "parallel", "subprocess", "glob", "sign", "time"],
];

/// Edges known to break the layering, each with the change that removes it. The test fails when
/// one of them is gone, so the list only shrinks. Empty: every use goes down the layers.
const KNOWN: &[(&str, &str, &str)] = &[];

type Graph = BTreeMap<String, BTreeMap<String, String>>;

#[test]
fn the_module_graph_follows_the_layers_without_cycles() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let graph = graph(&src);
    for (from, to) in &graph {
        let targets: Vec<&str> = to.keys().map(String::as_str).collect();
        println!("{from:<11} -> {}", targets.join(", "));
    }
    let modules: BTreeSet<&str> = graph.keys().map(String::as_str).collect();
    let layered: BTreeSet<&str> = LAYERS.iter().flat_map(|l| l.iter().copied()).collect();
    let unplaced: Vec<_> = modules.difference(&layered).collect();
    assert!(unplaced.is_empty(), "put these modules in LAYERS (and the README's source layout): {unplaced:?}");

    if let Some(cycle) = find_cycle(&graph) {
        panic!("the modules form a cycle: {}", cycle.join(" -> "));
    }
    let mut violations = Vec::new();
    for (from, to) in &graph {
        for (target, at) in to {
            let known = KNOWN.iter().any(|(a, b, _)| a == from && b == target);
            if layer(target) < layer(from) && !known {
                violations.push(format!("{from} -> {target} ({at})"));
            }
        }
    }
    assert!(violations.is_empty(), "these uses go up the layers:\n{}", violations.join("\n"));
    for (from, to, why) in KNOWN {
        assert!(graph[*from].contains_key(*to), "{from} -> {to} is gone: remove it from KNOWN ({why})");
    }
}

#[test]
fn paths_are_read_from_uses_groups_and_code_but_not_comments() {
    let text = "use crate::{store::{self, x}, operator, output};\nuse crate::time::age;\n\
                // crate::http is only named here\nfn f() { crate::exit::code(); }\n";
    let found: Vec<_> = targets(text).into_iter().map(|(m, _)| m).collect();
    assert_eq!(found, ["store", "operator", "output", "time", "exit"]);
}

#[test]
fn a_cycle_is_found_with_its_path() {
    let edge = |to: &str| BTreeMap::from([(to.to_string(), String::new())]);
    let mut graph: Graph = [("a", "b"), ("b", "c"), ("c", "a")].map(|(f, t)| (f.to_string(), edge(t))).into();
    assert_eq!(find_cycle(&graph).unwrap(), ["a", "b", "c", "a"]);
    graph.insert("c".into(), BTreeMap::new());
    assert_eq!(find_cycle(&graph), None);
}

fn layer(module: &str) -> usize {
    LAYERS.iter().position(|l| l.contains(&module)).unwrap_or(usize::MAX)
}

/// Module → the modules it names, each with the first place it does.
fn graph(src: &Path) -> Graph {
    let mut graph = Graph::new();
    for entry in walkdir::WalkDir::new(src).sort_by_file_name() {
        let entry = entry.expect("read src");
        let path = entry.path();
        if path.extension().is_none_or(|e| e != "rs") {
            continue;
        }
        let rel = path.strip_prefix(src).unwrap();
        let top = rel.components().next().unwrap().as_os_str().to_string_lossy();
        let module = top.trim_end_matches(".rs").to_string();
        if module == "lib" || module == "main" {
            continue; // the crate root wires everything together
        }
        let text = std::fs::read_to_string(path).expect("read a source file");
        let uses = graph.entry(module.clone()).or_default();
        for (target, line) in targets(&text) {
            if target != module {
                uses.entry(target).or_insert_with(|| format!("src/{}:{line}", rel.display()));
            }
        }
    }
    graph
}

/// The top-level module each `crate::` path names, with its line: `crate::a::…` gives `a`,
/// `crate::{a::…, b}` gives `a` and `b`. Comment lines are skipped.
fn targets(text: &str) -> Vec<(String, usize)> {
    let code: Vec<&str> = text.lines().map(|l| if l.trim_start().starts_with("//") { "" } else { l }).collect();
    let code = code.join("\n");
    let mut out = Vec::new();
    for (at, _) in code.match_indices("crate::") {
        let before = code[..at].chars().next_back();
        if before.is_some_and(|c| c.is_alphanumeric() || c == '_' || c == '$') {
            continue;
        }
        let line = code[..at].matches('\n').count() + 1;
        let rest = &code[at + "crate::".len()..];
        if let Some(group) = rest.strip_prefix('{') {
            let mut depth = 1;
            let mut start = true;
            let mut word = String::new();
            for c in group.chars() {
                let ident = c.is_alphanumeric() || c == '_';
                if depth == 1 && start && !word.is_empty() && !ident {
                    out.push((std::mem::take(&mut word), line));
                    start = false;
                }
                match c {
                    '{' => depth += 1,
                    '}' if depth == 1 => break,
                    '}' => depth -= 1,
                    ',' if depth == 1 => start = true,
                    _ if depth == 1 && start && ident => word.push(c),
                    _ => {}
                }
            }
            if !word.is_empty() {
                out.push((word, line));
            }
        } else {
            let word: String = rest.chars().take_while(|c| c.is_alphanumeric() || *c == '_').collect();
            if !word.is_empty() {
                out.push((word, line));
            }
        }
    }
    out
}

/// A cycle as the modules along it, first repeated at the end.
fn find_cycle(graph: &Graph) -> Option<Vec<String>> {
    fn visit(node: &str, graph: &Graph, path: &mut Vec<String>, done: &mut BTreeSet<String>) -> Option<Vec<String>> {
        if let Some(i) = path.iter().position(|n| n == node) {
            let mut cycle = path[i..].to_vec();
            cycle.push(node.to_string());
            return Some(cycle);
        }
        if done.contains(node) {
            return None;
        }
        path.push(node.to_string());
        for next in graph.get(node).into_iter().flat_map(|m| m.keys()) {
            if let Some(cycle) = visit(next, graph, path, done) {
                return Some(cycle);
            }
        }
        path.pop();
        done.insert(node.to_string());
        None
    }
    let mut done = BTreeSet::new();
    graph.keys().find_map(|node| visit(node, graph, &mut Vec::new(), &mut done))
}
