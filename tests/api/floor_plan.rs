//! The floor plan, checked on the source itself (ARCHITECTURE.md): the modules of `src/`
//! import each other without cycles, the core of every domain knows nothing of HTTP, and
//! only the command line builds the server. The graph is read with a Rust parser (`syn`): every
//! `use` and every path starting with `crate::`, `super::`, `self::` or a child module's
//! name is an edge from the file's module to the longest module its path names.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use syn::visit::Visit;

type Module = Vec<String>;

fn src_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

/// Every module file of the library (main.rs is the binary and imports only `app`).
fn modules() -> BTreeMap<Module, PathBuf> {
    fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                walk(&path, out);
            } else if path.extension().is_some_and(|e| e == "rs") {
                out.push(path);
            }
        }
    }
    let mut files = Vec::new();
    walk(&src_dir(), &mut files);
    let mut map = BTreeMap::new();
    for file in files {
        let rel = file.strip_prefix(src_dir()).unwrap().with_extension("");
        let mut parts: Vec<String> = rel.iter().map(|p| p.to_string_lossy().into_owned()).collect();
        match parts.last().map(String::as_str) {
            Some("main") if parts.len() == 1 => continue,
            Some("lib") if parts.len() == 1 => parts.clear(),
            Some("mod") => {
                parts.pop();
            }
            _ => {}
        }
        map.insert(parts, file);
    }
    map
}

struct Uses<'a> {
    here: &'a Module,
    known: &'a BTreeMap<Module, PathBuf>,
    targets: BTreeSet<Module>,
    /// First segments of every path and `use`, to find frameworks by name.
    roots: BTreeSet<String>,
}

impl Uses<'_> {
    fn resolve(&mut self, segments: &[String]) {
        let Some(first) = segments.first() else { return };
        self.roots.insert(first.clone());
        let mut base: Module = match first.as_str() {
            "crate" => Vec::new(),
            "self" => self.here.clone(),
            "super" => {
                let mut m = self.here.clone();
                m.pop();
                m
            }
            name => {
                let mut child = self.here.clone();
                child.push(name.to_string());
                if !self.known.contains_key(&child) {
                    return;
                }
                self.here.clone()
            }
        };
        let rest = if matches!(first.as_str(), "crate" | "self" | "super") { &segments[1..] } else { segments };
        let mut rest = rest.iter().peekable();
        while rest.peek().is_some_and(|s| s.as_str() == "super") {
            base.pop();
            rest.next();
        }
        let mut target = base.clone();
        let mut longest = base;
        for seg in rest {
            target.push(seg.clone());
            if self.known.contains_key(&target) {
                longest = target.clone();
            }
        }
        if &longest != self.here && self.known.contains_key(&longest) {
            self.targets.insert(longest);
        }
    }

    fn use_tree(&mut self, prefix: &mut Vec<String>, tree: &syn::UseTree) {
        match tree {
            syn::UseTree::Path(p) => {
                prefix.push(p.ident.to_string());
                self.use_tree(prefix, &p.tree);
                prefix.pop();
            }
            syn::UseTree::Name(n) => {
                prefix.push(n.ident.to_string());
                self.resolve(&prefix.clone());
                prefix.pop();
            }
            syn::UseTree::Rename(r) => {
                prefix.push(r.ident.to_string());
                self.resolve(&prefix.clone());
                prefix.pop();
            }
            syn::UseTree::Glob(_) => self.resolve(&prefix.clone()),
            syn::UseTree::Group(g) => {
                for t in &g.items {
                    self.use_tree(prefix, t);
                }
            }
        }
    }
}

impl<'ast> Visit<'ast> for Uses<'_> {
    /// Unit-test modules (`#[cfg(test)]`) are not part of the floor plan.
    fn visit_item_mod(&mut self, m: &'ast syn::ItemMod) {
        let is_test =
            m.attrs.iter().any(|a| a.path().is_ident("cfg") && a.parse_args::<syn::Ident>().is_ok_and(|i| i == "test"));
        if !is_test {
            syn::visit::visit_item_mod(self, m);
        }
    }

    fn visit_item_use(&mut self, u: &'ast syn::ItemUse) {
        self.use_tree(&mut Vec::new(), &u.tree);
    }

    fn visit_path(&mut self, p: &'ast syn::Path) {
        let segments: Vec<String> = p.segments.iter().map(|s| s.ident.to_string()).collect();
        if segments.len() > 1 {
            self.resolve(&segments);
        }
        syn::visit::visit_path(self, p);
    }
}

struct Graph {
    edges: BTreeMap<Module, BTreeSet<Module>>,
    roots: BTreeMap<Module, BTreeSet<String>>,
}

fn graph() -> Graph {
    let known = modules();
    let mut edges = BTreeMap::new();
    let mut roots = BTreeMap::new();
    for (module, file) in &known {
        let text = std::fs::read_to_string(file).unwrap();
        let ast = syn::parse_file(&text).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
        let mut uses = Uses { here: module, known: &known, targets: BTreeSet::new(), roots: BTreeSet::new() };
        uses.visit_file(&ast);
        edges.insert(module.clone(), uses.targets);
        roots.insert(module.clone(), uses.roots);
    }
    Graph { edges, roots }
}

fn name(m: &Module) -> String {
    if m.is_empty() { "crate".to_string() } else { m.join("::") }
}

/// Strongly connected components with more than one module (Tarjan).
fn cycles(edges: &BTreeMap<Module, BTreeSet<Module>>) -> Vec<Vec<String>> {
    struct State<'a> {
        edges: &'a BTreeMap<Module, BTreeSet<Module>>,
        index: BTreeMap<&'a Module, usize>,
        low: BTreeMap<&'a Module, usize>,
        stack: Vec<&'a Module>,
        on_stack: BTreeSet<&'a Module>,
        next: usize,
        out: Vec<Vec<String>>,
    }
    fn visit<'a>(s: &mut State<'a>, v: &'a Module) {
        s.index.insert(v, s.next);
        s.low.insert(v, s.next);
        s.next += 1;
        s.stack.push(v);
        s.on_stack.insert(v);
        for w in s.edges.get(v).into_iter().flatten() {
            if !s.index.contains_key(w) {
                visit(s, w);
                let low = s.low[v].min(s.low[w]);
                s.low.insert(v, low);
            } else if s.on_stack.contains(w) {
                let low = s.low[v].min(s.index[w]);
                s.low.insert(v, low);
            }
        }
        if s.low[v] == s.index[v] {
            let mut component = Vec::new();
            while let Some(w) = s.stack.pop() {
                s.on_stack.remove(w);
                component.push(name(w));
                if w == v {
                    break;
                }
            }
            if component.len() > 1 {
                component.sort();
                s.out.push(component);
            }
        }
    }
    let mut s = State {
        edges,
        index: BTreeMap::new(),
        low: BTreeMap::new(),
        stack: Vec::new(),
        on_stack: BTreeSet::new(),
        next: 0,
        out: Vec::new(),
    };
    for v in edges.keys() {
        if !s.index.contains_key(v) {
            visit(&mut s, v);
        }
    }
    s.out
}

/// The layer a module belongs to: the HTTP layer (the `http` folder, which also builds and
/// starts the service, `web`, and every domain's `handlers`), or the core below it.
fn is_http_layer(m: &Module) -> bool {
    matches!(m.first().map(String::as_str), Some("http" | "web")) || m.last().is_some_and(|last| last == "handlers")
}

#[test]
fn the_modules_of_src_import_each_other_without_cycles() {
    let g = graph();
    let found = cycles(&g.edges);
    assert!(found.is_empty(), "import cycles among the modules of src/: {found:#?}");
}

#[test]
fn the_core_imports_nothing_from_http_or_actix() {
    let g = graph();
    let mut offences = Vec::new();
    for (module, targets) in &g.edges {
        if module.is_empty() || is_http_layer(module) {
            continue;
        }
        for t in targets {
            if is_http_layer(t) {
                offences.push(format!("{} uses {}", name(module), name(t)));
            }
        }
        for root in &g.roots[module] {
            if root.starts_with("actix") {
                offences.push(format!("{} uses {root}", name(module)));
            }
        }
    }
    assert!(offences.is_empty(), "the core must not know HTTP: {offences:#?}");
}

#[test]
fn only_the_command_line_starts_the_server() {
    let g = graph();
    let server: Module = vec!["http".into(), "server".into()];
    let cli: Module = vec!["http".into(), "cli".into()];
    let users: Vec<String> =
        g.edges.iter().filter(|(m, targets)| **m != cli && targets.contains(&server)).map(|(m, _)| name(m)).collect();
    assert!(users.is_empty(), "http::server is imported by {users:?}");
}

#[test]
fn every_domain_keeps_its_handlers_in_handlers_rs() {
    // A handler is an async fn carrying a route attribute; outside `handlers.rs` only the
    // operations probes (`http::ops`) may have one.
    let route_attrs = ["get", "post", "patch", "put", "delete"];
    let mut offences = Vec::new();
    for (module, file) in modules() {
        if is_http_layer(&module) {
            continue;
        }
        let ast = syn::parse_file(&std::fs::read_to_string(&file).unwrap()).unwrap();
        for item in ast.items {
            if let syn::Item::Fn(f) = item
                && f.attrs
                    .iter()
                    .any(|a| a.path().get_ident().is_some_and(|i| route_attrs.contains(&i.to_string().as_str())))
            {
                offences.push(format!("{}::{}", name(&module), f.sig.ident));
            }
        }
    }
    assert!(offences.is_empty(), "handlers outside handlers.rs: {offences:?}");
}
