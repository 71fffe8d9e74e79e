//! Spin's application variables for components: `fermyon:spin/variables@2.0.0`.
//! A component reads only what its `[component.<id>.variables]` declares
//! (anything else is `undefined`, as in Spin), each a template over the
//! application's `[variables]`. Every value is resolved once, when the app
//! loads, so a required variable nobody set stops the host at start, naming
//! it; values are never logged (a secret's least of all).

use crate::manifest::Manifest;
use crate::variables::Template;
use std::{collections::BTreeMap, sync::Arc};

wasmtime::component::bindgen!({
    path: "../wit/deps/spin",
    inline: "package todo:host-variables; world variables { import fermyon:spin/variables@2.0.0; }",
    world: "todo:host-variables/variables",
});

pub use fermyon::spin::variables::{add_to_linker, Error};

/// Why the application's variables cannot be resolved.
#[derive(Debug, thiserror::Error)]
pub enum VariablesError {
    #[error(
        "variable {0:?} is required and has no value: set SPIN_VARIABLE_{upper} (or the prefix of a \
         [[config_provider]] in the runtime configuration)",
        upper = .0.to_ascii_uppercase()
    )]
    Missing(String),
}

/// Every component's resolved variables, by component id.
#[derive(Debug, Default)]
pub struct VariablesCapability {
    components: BTreeMap<String, Arc<BTreeMap<String, String>>>,
}

impl VariablesCapability {
    /// Resolves each component's variables: an application variable's value
    /// is `provide(name)` (the providers), else its default.
    pub fn resolve(manifest: &Manifest, provide: impl Fn(&str) -> Option<String>) -> Result<Self, VariablesError> {
        let mut values = BTreeMap::new();
        for (name, variable) in &manifest.variables {
            let value = provide(name).or_else(|| variable.default.clone());
            values.insert(name.as_str(), value.ok_or_else(|| VariablesError::Missing(name.clone()))?);
        }
        let components = manifest
            .component
            .iter()
            .map(|(id, spec)| {
                let resolved = spec
                    .variables
                    .iter()
                    .map(|(key, text)| {
                        // The manifest checked each template and what it names.
                        let template = Template::parse(text).expect("a template the manifest checked");
                        (key.clone(), template.render(|name| values[name].clone()))
                    })
                    .collect();
                (id.clone(), Arc::new(resolved))
            })
            .collect();
        Ok(Self { components })
    }

    /// The variables context of one instance of `component`.
    pub fn instance(&self, component: &str) -> VariablesCtx {
        VariablesCtx {
            component: component.into(),
            values: self.components.get(component).cloned().unwrap_or_default(),
        }
    }
}

/// What one instance may read.
pub struct VariablesCtx {
    component: Arc<str>,
    values: Arc<BTreeMap<String, String>>,
}

impl fermyon::spin::variables::Host for VariablesCtx {
    fn get(&mut self, name: String) -> Result<String, Error> {
        crate::variables::check_name(&name).map_err(Error::InvalidName)?;
        self.values
            .get(&name)
            .cloned()
            .ok_or_else(|| Error::Undefined(format!("no variable for {:?}.{name:?}", self.component)))
    }
}

/// `add_to_linker`'s view of an instance: its variables context.
pub struct VariablesData;

impl wasmtime::component::HasData for VariablesData {
    type Data<'a> = &'a mut VariablesCtx;
}

#[cfg(test)]
mod tests {
    use super::*;
    use fermyon::spin::variables::Host;

    #[test]
    fn components_get_only_what_they_declare() {
        let dir = tempfile::tempdir().unwrap();
        let text = r#"
            spin_manifest_version = 2
            [application]
            name = "t"
            [variables]
            secret = { required = true, secret = true }
            flag = { default = "false" }
            [component.a]
            source = "a.wasm"
            [component.a.variables]
            key = "k-{{ secret }}"
            flag = "{{ flag }}"
            [component.b]
            source = "b.wasm"
        "#;
        std::fs::write(dir.path().join("spin.toml"), text).unwrap();
        let manifest = Manifest::load(&dir.path().join("spin.toml")).unwrap();
        let err = VariablesCapability::resolve(&manifest, |_| None).unwrap_err();
        assert!(err.to_string().contains("\"secret\" is required") && err.to_string().contains("SPIN_VARIABLE_SECRET"));
        let provided = VariablesCapability::resolve(&manifest, |n| (n == "secret").then(|| "s3".into())).unwrap();
        let mut a = provided.instance("a");
        assert_eq!(a.get("key".into()).unwrap(), "k-s3");
        assert_eq!(a.get("flag".into()).unwrap(), "false", "the default");
        assert!(
            matches!(a.get("secret".into()), Err(Error::Undefined(_))),
            "an application variable is not the component's"
        );
        assert!(matches!(provided.instance("b").get("key".into()), Err(Error::Undefined(_))));
        assert!(matches!(a.get("Key".into()), Err(Error::InvalidName(_))));
    }
}
