//! The schedule trigger: runs each `[[trigger.schedule]]` component on its schedule,
//! passing the tick's scheduled time.

use crate::manifest::Manifest;
use crate::runtime::components::Components;
use anyhow::{bail, Context};
use chrono::{DateTime, Utc};
use std::{str::FromStr, sync::Arc, time::Duration};

/// When a job runs.
#[derive(Debug, Clone)]
pub enum Schedule {
    Every(Duration),
    Cron(Box<cron::Schedule>),
}

impl Schedule {
    pub fn parse(text: &str) -> anyhow::Result<Self> {
        if let Some(every) = text.strip_prefix("@every ") {
            return Ok(Self::Every(parse_duration(every.trim())?));
        }
        let schedule = cron::Schedule::from_str(text).with_context(|| {
            format!("schedule {text:?}: use `@every 1m` or a cron expression with seconds, like `0 * * * * *`")
        })?;
        Ok(Self::Cron(Box::new(schedule)))
    }

    /// The first tick strictly after `after`.
    pub fn next_after(&self, after: DateTime<Utc>) -> Option<DateTime<Utc>> {
        match self {
            Self::Every(d) => Some(after + chrono::Duration::from_std(*d).ok()?),
            Self::Cron(s) => s.after(&after).next(),
        }
    }
}

fn parse_duration(text: &str) -> anyhow::Result<Duration> {
    let split = text.find(|c: char| !c.is_ascii_digit()).unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let n: u64 = number.parse().with_context(|| format!("duration {text:?}: expected a number and a unit"))?;
    let d = match unit {
        "ms" => Duration::from_millis(n),
        "s" => Duration::from_secs(n),
        "m" => Duration::from_secs(n * 60),
        "h" => Duration::from_secs(n * 3600),
        _ => bail!("duration {text:?}: the unit is one of ms, s, m, h"),
    };
    if d.is_zero() {
        bail!("duration {text:?} must be positive");
    }
    Ok(d)
}

/// Runs one tick of a scheduled component (logging a failure), for the host's
/// timers and for Dapr's cron bindings alike.
pub async fn tick(components: &Components, id: &str, at: DateTime<Utc>) -> anyhow::Result<()> {
    let result = components.run_job(id, at).await;
    let at = at.to_rfc3339_opts(chrono::SecondsFormat::Micros, true);
    if let Err(e) = &result {
        tracing::warn!(component = %id, scheduled_time = %at, error = %format!("{e:#}"), "scheduled job failed");
    }
    result
}

/// Starts a timer per `[[trigger.schedule]]`. A tick that is still running when
/// the next one is due delays it rather than overlapping.
pub fn start(manifest: &Manifest, components: &Arc<Components>) -> anyhow::Result<()> {
    for t in &manifest.trigger.schedule {
        let schedule =
            Schedule::parse(&t.schedule).with_context(|| format!("[[trigger.schedule]] for {}", t.component))?;
        let (components, id) = (components.clone(), t.component.clone());
        tracing::info!(component = %id, schedule = %t.schedule, "scheduling");
        tokio::spawn(async move {
            let mut last = Utc::now();
            while let Some(next) = schedule.next_after(last) {
                let wait = (next - Utc::now()).to_std().unwrap_or_default();
                tokio::time::sleep(wait).await;
                let _ = tick(&components, &id, next).await;
                // Ticks missed while the job ran are skipped, not replayed.
                last = next.max(Utc::now());
            }
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_every_and_cron() {
        let t0 = DateTime::parse_from_rfc3339("2026-11-26T10:00:30Z").unwrap().with_timezone(&Utc);
        let every = Schedule::parse("@every 90s").unwrap();
        assert_eq!(every.next_after(t0).unwrap().to_rfc3339(), "2026-11-26T10:02:00+00:00");
        let minutely = Schedule::parse("0 * * * * *").unwrap();
        assert_eq!(minutely.next_after(t0).unwrap().to_rfc3339(), "2026-11-26T10:01:00+00:00");
        assert!(Schedule::parse("@every 0s").is_err());
        assert!(Schedule::parse("@every 5 parsecs").is_err());
        assert!(Schedule::parse("every minute").is_err());
    }
}
