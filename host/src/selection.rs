//! Running part of an application (`up --component-id`, or spin-operator's
//! `SPIN_COMPONENTS_TO_RETAIN`): only the named components, and only the
//! triggers that run them, so another component's routes answer 404 and its
//! subscriptions and schedules do not run here. What the host itself holds
//! (the `sse` stream, `static` files) stays: it belongs to no component,
//! and every replica, whichever components it runs, can serve it.

use crate::manifest::Manifest;

pub fn retain(manifest: &mut Manifest, ids: &[String]) -> anyhow::Result<()> {
    // spin-operator joins `spec.components` with commas: an empty list is "".
    let ids: Vec<&String> = ids.iter().filter(|id| !id.is_empty()).collect();
    if ids.is_empty() {
        return Ok(());
    }
    if let Some(unknown) = ids.iter().copied().find(|id| !manifest.component.contains_key(*id)) {
        let known: Vec<&str> = manifest.component.keys().map(String::as_str).collect();
        anyhow::bail!("--component-id {unknown}: the application has no such component (it has {})", known.join(", "));
    }
    let keep = |component: &String| ids.contains(&component);
    manifest.component.retain(|id, _| keep(id));
    manifest.trigger.http.retain(|t| keep(&t.component));
    manifest.trigger.pubsub.retain(|t| keep(&t.component));
    manifest.trigger.schedule.retain(|t| keep(&t.component));
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn manifest() -> Manifest {
        let dir = tempfile::tempdir().unwrap();
        let text = r#"
            spin_manifest_version = 2
            [application]
            name = "t"
            [[trigger.http]]
            route = "/a/..."
            component = "a"
            [[trigger.http]]
            route = "/b/..."
            component = "b"
            [[trigger.pubsub]]
            topic = "t"
            component = "b"
            [[trigger.schedule]]
            schedule = "@every 1m"
            component = "a"
            [[trigger.sse]]
            route = "/stream"
            topic = "t"
            user_attribute = "partitionkey"
            [component.a]
            source = "a.wasm"
            [component.b]
            source = "b.wasm"
        "#;
        std::fs::write(dir.path().join("spin.toml"), text).unwrap();
        Manifest::load(&dir.path().join("spin.toml")).unwrap()
    }

    #[test]
    fn keeps_the_named_components_and_their_triggers() {
        let mut m = manifest();
        retain(&mut m, &["a".into()]).unwrap();
        assert_eq!(m.component.keys().collect::<Vec<_>>(), ["a"]);
        assert!(m.route("/b/x").is_none() && m.route("/a/x").is_some());
        assert!(m.trigger.pubsub.is_empty());
        assert_eq!(m.trigger.schedule.len(), 1);
        assert_eq!(m.trigger.sse.len(), 1, "host-held triggers stay");
        let mut m = manifest();
        retain(&mut m, &[String::new()]).unwrap();
        assert_eq!(m.component.len(), 2, "no selection (SPIN_COMPONENTS_TO_RETAIN=\"\"): everything");
        let err = retain(&mut manifest(), &["c".into()]).unwrap_err().to_string();
        assert!(err.contains("--component-id c") && err.contains("a, b"), "{err}");
    }
}
