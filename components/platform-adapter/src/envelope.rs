//! The CloudEvents 1.0 JSON envelope in the host's format
//! (`host/src/capabilities/pubsub/envelope.rs`): JSON data inline (`data`),
//! any other content type as `data_base64`, the partition key as the
//! `partitionkey` extension; checked as the host checks it.

use crate::exports::todo::platform::{pubsub::Error, types::CloudEvent};
use base64::{engine::general_purpose::STANDARD, Engine};
use serde::Serialize;
use serde_json::value::RawValue;

#[derive(Serialize)]
struct Outgoing<'a> {
    specversion: &'static str,
    id: &'a str,
    source: &'a str,
    #[serde(rename = "type")]
    ty: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    subject: Option<&'a str>,
    time: String,
    datacontenttype: &'a str,
    partitionkey: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    data: Option<&'a RawValue>,
    #[serde(skip_serializing_if = "Option::is_none")]
    data_base64: Option<String>,
}

/// Whether a media type is JSON (`application/json`, or any `+json`).
fn is_json(content_type: &str) -> bool {
    let base = content_type.split(';').next().unwrap_or("").trim().to_ascii_lowercase();
    base == "application/json" || base.ends_with("+json")
}

fn check_topic(topic: &str) -> Result<(), Error> {
    let valid = !topic.is_empty()
        && topic.len() <= 249
        && topic.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
    if valid {
        Ok(())
    } else {
        Err(Error::InvalidTopic(format!("{topic:?}: use 1-249 of [A-Za-z0-9._-]")))
    }
}

/// Validates an event and serializes its envelope.
pub fn envelope(topic: &str, partition_key: &str, event: &CloudEvent) -> Result<String, Error> {
    check_topic(topic)?;
    for (name, value) in [
        ("id", &event.id),
        ("source", &event.source),
        ("type", &event.type_),
        ("datacontenttype", &event.datacontenttype),
    ] {
        if value.is_empty() {
            return Err(Error::InvalidEvent(format!("the {name} attribute is empty")));
        }
    }
    let time = i64::try_from(event.time.seconds)
        .ok()
        .and_then(|s| chrono::DateTime::from_timestamp(s, event.time.nanoseconds))
        .ok_or_else(|| Error::InvalidEvent("the time is out of range".into()))?
        .to_rfc3339_opts(chrono::SecondsFormat::Micros, true);
    let json = is_json(&event.datacontenttype);
    let data = if json {
        let text = std::str::from_utf8(&event.data)
            .map_err(|e| Error::InvalidEvent(format!("JSON data is not UTF-8: {e}")))?;
        Some(
            serde_json::from_str::<&RawValue>(text)
                .map_err(|e| Error::InvalidEvent(format!("data is not JSON: {e}")))?,
        )
    } else {
        None
    };
    let envelope = Outgoing {
        specversion: "1.0",
        id: &event.id,
        source: &event.source,
        ty: &event.type_,
        subject: event.subject.as_deref(),
        time,
        datacontenttype: &event.datacontenttype,
        partitionkey: partition_key,
        data,
        data_base64: (!json).then(|| STANDARD.encode(&event.data)),
    };
    Ok(serde_json::to_string(&envelope).expect("an envelope serializes"))
}
