//! Spin application variables, from the environment, as Spin's `env`
//! config provider resolves them: variable `jwt_secret` is
//! `SPIN_VARIABLE_JWT_SECRET`. The runtime configuration may add
//! `[[config_provider]] type = "env"` with a `prefix` of its own; Spin's
//! default provider (prefix `SPIN_VARIABLE`) always stays, last. The host
//! reads its own secrets through them, so a SpinApp passes them from
//! Kubernetes Secrets as `spec.variables`.
//!
//! Also the rules of Spin's `[variables]` (`crates/expressions` in Spin):
//! variable names, and the templates of `[component.<id>.variables]`
//! (`jwt_secret = "{{ jwt_secret }}"`), which the `variables` capability
//! resolves for each component.

/// The host's secrets: its own variable first, then the Spin variable.
const HOST_SECRETS: [(&str, &str); 2] = [("TODO_JWT_SECRET", "jwt_secret"), ("TODO_ADMIN_TOKEN", "admin_token")];

/// Spin's default `env` provider prefix.
pub const DEFAULT_PREFIX: &str = "SPIN_VARIABLE";

#[derive(Debug, Clone, PartialEq)]
pub struct EnvProvider {
    pub prefix: String,
}

impl EnvProvider {
    /// The environment variable holding `name`: Spin joins the prefix with
    /// `_`; a prefix that already ends with one (as spin-operator writes,
    /// `SPIN_VARIABLE_`) is used as it is.
    fn key(&self, name: &str) -> String {
        let name = name.to_ascii_uppercase();
        if self.prefix.is_empty() || self.prefix.ends_with('_') {
            format!("{}{name}", self.prefix)
        } else {
            format!("{}_{name}", self.prefix)
        }
    }
}

/// Where variables come from, in order.
#[derive(Debug, Clone, PartialEq)]
pub struct Variables {
    providers: Vec<EnvProvider>,
}

impl Default for Variables {
    fn default() -> Self {
        Self::new(Vec::new())
    }
}

impl Variables {
    /// The configured providers, then Spin's default one.
    pub fn new(mut providers: Vec<EnvProvider>) -> Self {
        let default = EnvProvider { prefix: DEFAULT_PREFIX.into() };
        if !providers.contains(&default) {
            providers.push(default);
        }
        Self { providers }
    }

    /// A variable's value from the first provider that has it (an empty
    /// value counts as unset).
    pub fn get(&self, name: &str) -> Option<String> {
        self.lookup(name, |key| std::env::var(key).ok())
    }

    fn lookup(&self, name: &str, env: impl Fn(&str) -> Option<String>) -> Option<String> {
        self.providers.iter().find_map(|p| env(&p.key(name)).filter(|v| !v.is_empty()))
    }

    /// The host's own secret `host_env` (`TODO_JWT_SECRET`, `TODO_ADMIN_TOKEN`),
    /// else the Spin variable of the same meaning.
    pub fn host_secret(&self, host_env: &str) -> Option<String> {
        let (_, variable) = HOST_SECRETS.iter().find(|(env, _)| *env == host_env).expect("a known host secret");
        std::env::var(host_env).ok().filter(|v| !v.is_empty()).or_else(|| self.get(variable))
    }
}

/// Checks a variable name as Spin does: lower-case ASCII letters, digits
/// and single underscores, starting with a letter and ending with a letter
/// or digit (so every name maps to one environment variable).
pub fn check_name(name: &str) -> Result<(), String> {
    let reason = if name.is_empty() {
        "must not be empty"
    } else if !name.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_') {
        "may contain only lower-case letters, digits and underscores"
    } else if !name.starts_with(|c: char| c.is_ascii_lowercase()) {
        "must start with a lower-case letter"
    } else if name.ends_with('_') {
        "must end with a letter or digit"
    } else if name.contains("__") {
        "must not contain consecutive underscores"
    } else {
        return Ok(());
    };
    Err(format!("variable name {name:?} {reason}"))
}

/// A component variable's value: literal text and `{{ name }}` references
/// to application variables.
#[derive(Debug, Clone, PartialEq)]
pub struct Template(Vec<Part>);

#[derive(Debug, Clone, PartialEq)]
enum Part {
    Text(String),
    Variable(String),
}

impl Template {
    pub fn parse(text: &str) -> Result<Self, String> {
        let mut parts = Vec::new();
        let mut rest = text;
        while let Some(start) = rest.find("{{") {
            let (before, after) = (&rest[..start], &rest[start + 2..]);
            let end = after.find("}}").ok_or_else(|| format!("template {text:?}: an unclosed '{{{{'"))?;
            let name = after[..end].trim();
            check_name(name).map_err(|e| format!("template {text:?}: {e}"))?;
            if !before.is_empty() {
                parts.push(Part::Text(before.to_owned()));
            }
            parts.push(Part::Variable(name.to_owned()));
            rest = &after[end + 2..];
        }
        if !rest.is_empty() {
            parts.push(Part::Text(rest.to_owned()));
        }
        Ok(Self(parts))
    }

    /// The application variables the template names.
    pub fn references(&self) -> impl Iterator<Item = &str> {
        self.0.iter().filter_map(|p| match p {
            Part::Variable(name) => Some(name.as_str()),
            Part::Text(_) => None,
        })
    }

    /// The value, with each reference replaced by `value(name)`.
    pub fn render(&self, value: impl Fn(&str) -> String) -> String {
        self.0
            .iter()
            .map(|p| match p {
                Part::Text(text) => text.clone(),
                Part::Variable(name) => value(name),
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_templates_as_spin() {
        for good in ["a", "jwt_secret", "a1_b2"] {
            check_name(good).unwrap();
        }
        for bad in ["", "aX", "1a", "_a", "a_", "a__b", "a-b", "a.b"] {
            assert!(check_name(bad).is_err(), "{bad}");
        }
        let t = Template::parse("Bearer {{ jwt_secret }}-{{x}}!").unwrap();
        assert_eq!(t.references().collect::<Vec<_>>(), ["jwt_secret", "x"]);
        assert_eq!(t.render(|name| name.to_uppercase()), "Bearer JWT_SECRET-X!");
        assert_eq!(Template::parse("plain").unwrap().render(|_| unreachable!()), "plain");
        assert!(Template::parse("{{ open").is_err());
        assert!(Template::parse("{{ Bad }}").is_err());
    }

    #[test]
    fn resolves_as_spins_env_provider() {
        let env = |key: &str| match key {
            "SPIN_VARIABLE_JWT_SECRET" => Some("from-spin".to_owned()),
            "MYAPP_ADMIN_TOKEN" => Some("from-prefix".to_owned()),
            "SPIN_VARIABLE_EMPTY" => Some(String::new()),
            _ => None,
        };
        let operator = Variables::new(vec![EnvProvider { prefix: "SPIN_VARIABLE_".into() }]);
        assert_eq!(operator.lookup("jwt_secret", env), Some("from-spin".into()));
        let custom = Variables::new(vec![EnvProvider { prefix: "MYAPP".into() }]);
        assert_eq!(custom.lookup("admin_token", env), Some("from-prefix".into()));
        assert_eq!(custom.lookup("jwt_secret", env), Some("from-spin".into()), "the default provider stays");
        assert_eq!(Variables::default().lookup("empty", env), None);
        assert_eq!(Variables::default().lookup("missing", env), None);
    }
}
