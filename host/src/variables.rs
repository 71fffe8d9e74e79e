//! Spin application variables, from the environment, as Spin's `env`
//! config provider resolves them: variable `jwt_secret` is
//! `SPIN_VARIABLE_JWT_SECRET`. The runtime configuration may add
//! `[[config_provider]] type = "env"` with a `prefix` of its own; Spin's
//! default provider (prefix `SPIN_VARIABLE`) always stays, last. The host
//! reads its own secrets through them, so a SpinApp passes them from
//! Kubernetes Secrets as `spec.variables`.

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

#[cfg(test)]
mod tests {
    use super::*;

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
