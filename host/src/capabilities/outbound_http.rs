//! The outbound-HTTP policy: a component may reach only what its
//! `allowed_outbound_hosts` lists, with Spin's syntax and meaning
//! (`scheme://host[:port]`, `*` for any scheme, host or port, `*.example.com`
//! for its subdomains; a missing port is the scheme's default; nothing
//! listed means nothing allowed). A denied request never leaves the host:
//! the guest gets wasi-http's `HTTP-request-denied`, and the host logs the
//! component and the URL.

use anyhow::{bail, Context};
use http_body_util::BodyExt;
use std::{future::Future, sync::Arc};
use wasmtime_wasi_http::{RequestOptions, WasiBody, WasiHttpHooks};

/// One `allowed_outbound_hosts` entry.
#[derive(Debug, Clone, PartialEq)]
struct Allowed {
    /// None: any scheme.
    scheme: Option<String>,
    host: HostPattern,
    /// None: any port.
    port: Option<u16>,
}

#[derive(Debug, Clone, PartialEq)]
enum HostPattern {
    Any,
    Exact(String),
    /// `*.example.com`: any name ending in `.example.com`.
    Subdomains(String),
}

/// A component's parsed `allowed_outbound_hosts`.
#[derive(Debug, Clone, Default)]
pub struct AllowedHosts(Vec<Allowed>);

fn default_port(scheme: &str) -> Option<u16> {
    match scheme {
        "http" => Some(80),
        "https" => Some(443),
        _ => None,
    }
}

impl AllowedHosts {
    /// Parses the entries, refusing any Spin would refuse (a path, a
    /// malformed port, a template this host does not expand).
    pub fn parse(entries: &[String]) -> anyhow::Result<Self> {
        entries
            .iter()
            .map(|e| parse_entry(e).with_context(|| format!("allowed_outbound_hosts entry {e:?}")))
            .collect::<anyhow::Result<_>>()
            .map(Self)
    }

    /// Whether a request to `uri` is allowed.
    pub fn allows(&self, uri: &http::Uri) -> bool {
        let (Some(scheme), Some(host)) = (uri.scheme_str(), uri.host()) else { return false };
        let scheme = scheme.to_ascii_lowercase();
        let host = host.trim_start_matches('[').trim_end_matches(']').to_ascii_lowercase();
        let Some(port) = uri.port_u16().or_else(|| default_port(&scheme)) else { return false };
        self.0.iter().any(|a| {
            a.scheme.as_ref().is_none_or(|s| *s == scheme)
                && a.port.is_none_or(|p| p == port)
                && match &a.host {
                    HostPattern::Any => true,
                    HostPattern::Exact(h) => *h == host,
                    HostPattern::Subdomains(suffix) => host.ends_with(&format!(".{suffix}")),
                }
        })
    }
}

fn parse_entry(entry: &str) -> anyhow::Result<Allowed> {
    if entry.contains("{{") {
        bail!("templates ({{{{ ... }}}}) are not supported by this host: write the address out");
    }
    let (scheme, rest) = entry.split_once("://").context("expected scheme://host[:port]")?;
    let rest = rest.strip_suffix('/').unwrap_or(rest);
    if rest.contains('/') {
        bail!("an entry names a host, not a path");
    }
    let scheme = scheme.to_ascii_lowercase();
    let (host, port) = match rest.rsplit_once(':') {
        Some((host, port)) if !host.ends_with(']') || rest.starts_with('[') => (host, Some(port)),
        _ => (rest, None),
    };
    let host = host.trim_start_matches('[').trim_end_matches(']').to_ascii_lowercase();
    if host.is_empty() {
        bail!("the host is empty");
    }
    let host = match host.as_str() {
        "*" => HostPattern::Any,
        h => match h.strip_prefix("*.") {
            Some(suffix) if !suffix.is_empty() && !suffix.contains('*') => HostPattern::Subdomains(suffix.to_owned()),
            _ if h.contains('*') => bail!("a host wildcard is `*` or `*.domain`"),
            _ => HostPattern::Exact(h.to_owned()),
        },
    };
    let port = match port {
        Some("*") => None,
        Some(p) => Some(p.parse::<u16>().with_context(|| format!("port {p:?}"))?),
        None if scheme == "*" => None,
        None => {
            Some(default_port(&scheme).with_context(|| format!("scheme {scheme:?} has no default port: give one"))?)
        }
    };
    Ok(Allowed { scheme: (scheme != "*").then_some(scheme), host, port })
}

/// One instance's outbound-HTTP hooks: the policy of its component.
pub struct OutboundHttp {
    pub component: Arc<str>,
    pub allowed: Arc<AllowedHosts>,
}

type Sent = Box<
    dyn Future<
            Output = Result<
                (http::Response<WasiBody>, Box<dyn Future<Output = Result<(), wasmtime_wasi_http::Error>> + Send>),
                wasmtime_wasi_http::Error,
            >,
        > + Send,
>;

impl WasiHttpHooks for OutboundHttp {
    fn send_request(
        &mut self,
        request: http::Request<WasiBody>,
        options: Option<RequestOptions>,
        fut: Box<dyn Future<Output = Result<(), wasmtime_wasi_http::Error>> + Send>,
    ) -> Sent {
        drop(fut);
        if !self.allowed.allows(request.uri()) {
            tracing::warn!(
                component = %self.component, url = %request.uri(),
                "denied an outbound request: not in the component's allowed_outbound_hosts"
            );
            return Box::new(async { Err(wasmtime_wasi_http::Error::HttpRequestDenied) });
        }
        Box::new(async move {
            let (response, io) = wasmtime_wasi_http::default_send_request(request, options).await?;
            Ok((response.map(BodyExt::boxed_unsync), Box::new(io) as Box<dyn Future<Output = _> + Send>))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn allows(entries: &[&str], url: &str) -> bool {
        let entries: Vec<String> = entries.iter().map(|e| (*e).to_owned()).collect();
        AllowedHosts::parse(&entries).unwrap().allows(&url.parse().unwrap())
    }

    #[test]
    fn follows_spins_syntax_and_meaning() {
        assert!(!allows(&[], "http://127.0.0.1:8080/x"));
        assert!(allows(&["https://api.example.com"], "https://api.example.com/v1"));
        assert!(!allows(&["https://api.example.com"], "https://api.example.com:8443/"));
        assert!(!allows(&["https://api.example.com"], "http://api.example.com/"));
        assert!(allows(&["http://127.0.0.1:8080"], "http://127.0.0.1:8080/a?b"));
        assert!(!allows(&["http://127.0.0.1:8080"], "http://127.0.0.1:8081/"));
        assert!(allows(&["http://*:*"], "http://10.1.2.3:9/"));
        assert!(!allows(&["http://*:*"], "https://example.com/"));
        assert!(allows(&["https://*.example.com"], "https://a.b.example.com/"));
        assert!(!allows(&["https://*.example.com"], "https://example.com/"));
        assert!(!allows(&["https://*.example.com"], "https://badexample.com/"));
        assert!(allows(&["*://localhost:*"], "http://localhost:3000/"));
        assert!(allows(&["http://[::1]:8080"], "http://[::1]:8080/"));
    }

    #[test]
    fn refuses_what_spin_refuses() {
        for bad in [
            "api.example.com",
            "https://api.example.com/path",
            "http://host:port",
            "https://a*b.com",
            "redis://cache",
            "https://{{ host }}",
        ] {
            assert!(AllowedHosts::parse(&[bad.to_owned()]).is_err(), "{bad}");
        }
    }
}
