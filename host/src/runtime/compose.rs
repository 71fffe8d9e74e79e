//! Spin's component dependencies (`[component.<id>.dependencies]`), composed
//! in as Spin composes them (`crates/compose` in Spin, with `wac-graph`):
//! each dependency is instantiated once and satisfies every import of the
//! component its name matches — a package name (`"todo:platform"`) every
//! interface of the package, an interface name (`"todo:platform/sql"`) that
//! one, a version only that version, a plain name the import of that name.
//! What neither satisfies stays an import of the composition, which the host
//! links as usual. `todo-host` provides `todo:platform` natively, so this
//! runs only with `up --compose-dependencies`.

use crate::manifest::{ComponentSpec, Dependency, Manifest};
use sha2::{Digest, Sha256};
use std::{
    collections::{btree_map::Entry, BTreeMap},
    path::Path,
};
use wac_graph::{
    types::{Package, SubtypeChecker, WorldId},
    CompositionGraph, EncodeOptions, NodeId,
};

/// Why a component could not be composed with its dependencies.
#[derive(Debug, thiserror::Error)]
pub enum ComposeError {
    #[error(
        "component {component:?}: dependency {name:?} names component {target:?}, which has no [component.{target}]"
    )]
    NoSuchComponent { component: String, name: String, target: String },
    #[error(
        "component {component:?}: dependency {name:?} is {form}, which this host does not fetch; use \
         {{ component = \"<id>\" }} or {{ path = \"<file>.wasm\" }}"
    )]
    Unsupported { component: String, name: String, form: String },
    #[error("component {component:?}: reading dependency {name:?} from {path}: {source}")]
    Read { component: String, name: String, path: String, source: std::io::Error },
    #[error("component {component:?}: dependency {name:?} matches none of its imports")]
    Unmatched { component: String, name: String },
    #[error("component {component:?}: import {import} is matched by several dependencies: {names}")]
    Conflict { component: String, import: String, names: String },
    #[error("component {component:?}: dependency {name:?} does not export {export} for the import {import}")]
    MissingExport { component: String, name: String, export: String, import: String },
    #[error("component {component:?}: composing it with its dependencies: {source:#}")]
    Graph { component: String, source: anyhow::Error },
}

/// One dependency, read.
struct Source {
    name: String,
    export: Option<String>,
    bytes: Vec<u8>,
}

/// `bytes` (component `id`) composed with its dependencies, or `bytes` as
/// they are without any. Compositions are cached in `cache_dir` by the
/// digests of their inputs.
pub fn compose(
    manifest: &Manifest,
    id: &str,
    spec: &ComponentSpec,
    bytes: Vec<u8>,
    cache_dir: &Path,
) -> Result<Vec<u8>, ComposeError> {
    if spec.dependencies.is_empty() {
        return Ok(bytes);
    }
    let sources = spec
        .dependencies
        .iter()
        .map(|(name, dependency)| read(manifest, id, name, dependency))
        .collect::<Result<Vec<_>, _>>()?;
    let cached = cache_dir.join("composed").join(format!("{}.wasm", digest(&bytes, &sources)));
    if let Ok(composed) = std::fs::read(&cached) {
        return Ok(composed);
    }
    let composed = compose_bytes(id, bytes, sources)?;
    // A cache that cannot be written only costs the next start a composition.
    let written = std::fs::create_dir_all(cached.parent().expect("a cache dir")).and_then(|()| {
        let partial = cached.with_extension("partial");
        std::fs::write(&partial, &composed)?;
        std::fs::rename(&partial, &cached)
    });
    if let Err(e) = written {
        tracing::warn!(component = %id, error = %e, "caching a composition");
    }
    Ok(composed)
}

fn read(manifest: &Manifest, id: &str, name: &str, dependency: &Dependency) -> Result<Source, ComposeError> {
    let (path, export) = match dependency {
        Dependency::Component { component, export } => {
            let target = manifest.component.get(component).ok_or_else(|| ComposeError::NoSuchComponent {
                component: id.to_owned(),
                name: name.to_owned(),
                target: component.clone(),
            })?;
            (manifest.source_path(target), export)
        }
        Dependency::Path { path, export } => (manifest.dir.join(path), export),
        Dependency::Other(value) => {
            let form = match value {
                toml::Value::String(version) => format!("a registry version ({version:?})"),
                toml::Value::Table(t) if t.contains_key("url") => "a URL dependency".to_owned(),
                toml::Value::Table(t) if t.contains_key("version") => "a registry dependency".to_owned(),
                other => format!("not a dependency Spin knows ({other})"),
            };
            return Err(ComposeError::Unsupported { component: id.to_owned(), name: name.to_owned(), form });
        }
    };
    let bytes = std::fs::read(&path).map_err(|source| ComposeError::Read {
        component: id.to_owned(),
        name: name.to_owned(),
        path: path.display().to_string(),
        source,
    })?;
    Ok(Source { name: name.to_owned(), export: export.clone(), bytes })
}

/// What this composer makes of the same inputs; changed whenever that
/// changes, so that no cache holds compositions of an earlier composer
/// (2: only the component's own exports, as Spin).
const COMPOSER: &[u8] = b"todo-compose-2";

/// The cache key: the composer, the component's digest and each
/// dependency's name, export and digest.
fn digest(bytes: &[u8], sources: &[Source]) -> String {
    let mut hasher = Sha256::new();
    hasher.update(COMPOSER);
    hasher.update([0]);
    hasher.update(Sha256::digest(bytes));
    for s in sources {
        hasher.update(s.name.as_bytes());
        hasher.update([0]);
        hasher.update(s.export.as_deref().unwrap_or("").as_bytes());
        hasher.update([0]);
        hasher.update(Sha256::digest(&s.bytes));
    }
    hex::encode(hasher.finalize())
}

/// Whether the dependency name (Spin's forms: `ns:pkg[/iface][@version]`,
/// or a plain name) matches the import `import`.
fn matches(dependency: &str, import: &str) -> bool {
    let split = |name: &str| -> (String, Option<String>, Option<String>) {
        let (name, version) = match name.split_once('@') {
            Some((n, v)) => (n, Some(v.to_owned())),
            None => (name, None),
        };
        match name.split_once('/') {
            Some((package, interface)) => (package.to_owned(), Some(interface.to_owned()), version),
            None => (name.to_owned(), None, version),
        }
    };
    if !dependency.contains(':') || !import.contains(':') {
        return dependency == import;
    }
    let (package, interface, version) = split(dependency);
    let (import_package, import_interface, import_version) = split(import);
    package == import_package
        && interface.is_none_or(|i| import_interface.as_ref() == Some(&i))
        && version.is_none_or(|v| import_version.as_ref() == Some(&v))
}

/// Each matched import, and the dependency that satisfies it.
fn plan(id: &str, imports: &[String], sources: &[Source]) -> Result<BTreeMap<String, usize>, ComposeError> {
    let mut plan: BTreeMap<String, Vec<usize>> = BTreeMap::new();
    for (index, source) in sources.iter().enumerate() {
        let matched: Vec<&String> = imports.iter().filter(|import| matches(&source.name, import)).collect();
        if matched.is_empty() {
            return Err(ComposeError::Unmatched { component: id.to_owned(), name: source.name.clone() });
        }
        for import in matched {
            plan.entry(import.clone()).or_default().push(index);
        }
    }
    plan.into_iter()
        .map(|(import, by)| match by.as_slice() {
            [one] => Ok((import, *one)),
            _ => Err(ComposeError::Conflict {
                component: id.to_owned(),
                names: by.iter().map(|i| format!("{:?}", sources[*i].name)).collect::<Vec<_>>().join(", "),
                import,
            }),
        })
        .collect()
}

fn compose_bytes(id: &str, bytes: Vec<u8>, sources: Vec<Source>) -> Result<Vec<u8>, ComposeError> {
    let graph_error = |source: anyhow::Error| ComposeError::Graph { component: id.to_owned(), source };
    let mut graph = CompositionGraph::new();
    let (world, main) = register(&mut graph, "root:component", bytes).map_err(graph_error)?;
    let imports: Vec<String> = graph.types()[world].imports.keys().cloned().collect();
    let plan = plan(id, &imports, &sources)?;
    let mut instances = BTreeMap::new();
    for (import, index) in plan {
        let source = &sources[index];
        let (dependency_world, instance) = match instances.entry(index) {
            Entry::Occupied(registered) => *registered.get(),
            Entry::Vacant(new) => {
                let name = format!("dependency:{index}");
                *new.insert(register(&mut graph, &name, source.bytes.clone()).map_err(graph_error)?)
            }
        };
        let export = source.export.clone().unwrap_or_else(|| import.clone());
        let missing = || ComposeError::MissingExport {
            component: id.to_owned(),
            name: source.name.clone(),
            export: export.clone(),
            import: import.clone(),
        };
        let export_ty = *graph.types()[dependency_world].exports.get(&export).ok_or_else(missing)?;
        let import_ty = graph.types()[world].imports[&import];
        let mut cache = Default::default();
        SubtypeChecker::new(&mut cache).is_subtype(export_ty, graph.types(), import_ty, graph.types()).map_err(
            |e| graph_error(e.context(format!("{export} of {:?} does not fit the import {import}", source.name))),
        )?;
        let node = graph.alias_instance_export(instance, &export).map_err(|e| graph_error(e.into()))?;
        graph.set_instantiation_argument(main, &import, node).map_err(|e| graph_error(e.into()))?;
    }
    // Exactly the component's own exports, as Spin exports them: an export
    // using a type of a plugged interface fails here as it fails under Spin.
    let exports: Vec<String> = graph.types()[world].exports.keys().cloned().collect();
    for export in exports {
        let node = graph.alias_instance_export(main, &export).map_err(|e| graph_error(e.into()))?;
        graph.export(node, &export).map_err(|e| graph_error(e.into()))?;
    }
    graph.encode(EncodeOptions::default()).map_err(|e| graph_error(e.into()))
}

fn register(graph: &mut CompositionGraph, name: &str, bytes: Vec<u8>) -> anyhow::Result<(WorldId, NodeId)> {
    let package = Package::from_bytes(name, None, bytes, graph.types_mut())?;
    let world = package.ty();
    let id = graph.register_package(package)?;
    Ok((world, graph.instantiate(id)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dependency_names_match_imports_as_in_spin() {
        for (dependency, import) in [
            ("todo:platform", "todo:platform/sql@0.2.0"),
            ("todo:platform/sql", "todo:platform/sql@0.2.0"),
            ("todo:platform@0.2.0", "todo:platform/outbox@0.2.0"),
            ("todo:platform/sql@0.2.0", "todo:platform/sql@0.2.0"),
            ("plain-name", "plain-name"),
        ] {
            assert!(matches(dependency, import), "{dependency} should match {import}");
        }
        for (dependency, import) in [
            ("todo:platform", "todo:platforms/sql@0.2.0"),
            ("todo:platform/sql", "todo:platform/state@0.2.0"),
            ("todo:platform/sql", "todo:platform/sql-extra@0.2.0"),
            ("todo:platform@0.1.0", "todo:platform/sql@0.2.0"),
            ("todo:platform", "wasi:clocks/wall-clock@0.2.12"),
            ("plain-name", "todo:platform/sql@0.2.0"),
        ] {
            assert!(!matches(dependency, import), "{dependency} should not match {import}");
        }
    }

    #[test]
    fn refuses_unmatched_and_conflicting_dependencies() {
        let source = |name: &str| Source { name: name.into(), export: None, bytes: vec![] };
        let imports = vec!["todo:platform/sql@0.2.0".to_owned(), "todo:platform/state@0.2.0".to_owned()];
        let plan = plan("c", &imports, &[source("todo:platform")]).unwrap();
        assert_eq!(plan.len(), 2);
        let err = plan_err(&imports, &[source("todo:platform"), source("todo:platform/sql")]);
        assert!(err.contains("import todo:platform/sql@0.2.0 is matched by several"), "{err}");
        let err = plan_err(&imports, &[source("wasi:keyvalue")]);
        assert!(err.contains("matches none of its imports"), "{err}");
    }

    fn plan_err(imports: &[String], sources: &[Source]) -> String {
        plan("c", imports, sources).unwrap_err().to_string()
    }
}
