//! The CloudEvents 1.0 JSON envelope, as events are stored, relayed and
//! delivered: JSON data inline (`data`), any other content type as
//! `data_base64`; the partition key and the publisher's `traceparent` as
//! extension attributes. The host (`capabilities/pubsub/envelope.rs`) and the
//! platform adapter (under Spin) both write it with `encode`, so an event
//! reads the same whoever stored it.

use base64::{engine::general_purpose::STANDARD, Engine};
use serde::Serialize;
use serde_json::value::RawValue;

/// An event as a guest publishes it (the fields of WIT's `cloud-event`).
pub struct Event<'a> {
    pub id: &'a str,
    pub source: &'a str,
    pub ty: &'a str,
    pub subject: Option<&'a str>,
    /// Seconds and nanoseconds since the epoch (`wasi:clocks` datetime).
    pub time: (u64, u32),
    pub datacontenttype: &'a str,
    pub data: &'a [u8],
}

/// Why an event cannot be published; each maps to WIT's error case of the
/// same name.
#[derive(Debug, PartialEq, thiserror::Error)]
pub enum Error {
    #[error("invalid topic: {0}")]
    InvalidTopic(String),
    #[error("invalid event: {0}")]
    InvalidEvent(String),
}

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
    /// The publishing span, so that deliveries continue its trace.
    #[serde(skip_serializing_if = "Option::is_none")]
    traceparent: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    data: Option<&'a RawValue>,
    #[serde(skip_serializing_if = "Option::is_none")]
    data_base64: Option<String>,
}

/// Whether a media type is JSON (`application/json`, or any `+json`).
pub fn is_json(content_type: &str) -> bool {
    let base = content_type.split(';').next().unwrap_or("").trim().to_ascii_lowercase();
    base == "application/json" || base.ends_with("+json")
}

/// Checks a topic name as every backend accepts it (Kafka's rule).
pub fn check_topic(topic: &str) -> Result<(), Error> {
    let valid = !topic.is_empty()
        && topic.len() <= 249
        && topic.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
    if valid {
        Ok(())
    } else {
        Err(Error::InvalidTopic(format!("{topic:?}: use 1-249 of [A-Za-z0-9._-]")))
    }
}

/// Validates an event for `topic` and serializes its envelope.
pub fn encode(topic: &str, partition_key: &str, event: &Event, traceparent: Option<&str>) -> Result<String, Error> {
    check_topic(topic)?;
    for (name, value) in
        [("id", event.id), ("source", event.source), ("type", event.ty), ("datacontenttype", event.datacontenttype)]
    {
        if value.is_empty() {
            return Err(Error::InvalidEvent(format!("the {name} attribute is empty")));
        }
    }
    let time = i64::try_from(event.time.0)
        .ok()
        .and_then(|s| chrono::DateTime::from_timestamp(s, event.time.1))
        .ok_or_else(|| Error::InvalidEvent("the time is out of range".into()))?
        .to_rfc3339_opts(chrono::SecondsFormat::Micros, true);
    let json = is_json(event.datacontenttype);
    let data = if json {
        let text =
            std::str::from_utf8(event.data).map_err(|e| Error::InvalidEvent(format!("JSON data is not UTF-8: {e}")))?;
        Some(
            serde_json::from_str::<&RawValue>(text)
                .map_err(|e| Error::InvalidEvent(format!("data is not JSON: {e}")))?,
        )
    } else {
        None
    };
    let envelope = Outgoing {
        specversion: "1.0",
        id: event.id,
        source: event.source,
        ty: event.ty,
        subject: event.subject,
        time,
        datacontenttype: event.datacontenttype,
        partitionkey: partition_key,
        traceparent,
        data,
        data_base64: (!json).then(|| STANDARD.encode(event.data)),
    };
    Ok(serde_json::to_string(&envelope).expect("an envelope serializes"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event<'a>(content_type: &'a str, data: &'a [u8]) -> Event<'a> {
        Event {
            id: "e1",
            source: "/t",
            ty: "t.happened",
            subject: Some("s"),
            time: (1_796_119_200, 123_456_000),
            datacontenttype: content_type,
            data,
        }
    }

    #[test]
    fn json_data_is_inline_and_anything_else_base64() {
        let stored: serde_json::Value =
            serde_json::from_str(&encode("t", "alice", &event("application/json", br#"{"a":[1,2]}"#), None).unwrap())
                .unwrap();
        assert_eq!(stored["data"], serde_json::json!({"a": [1, 2]}));
        assert_eq!(stored["partitionkey"], "alice");
        assert_eq!(stored["time"], "2026-12-01T10:00:00.123456Z");
        assert!(stored.get("traceparent").is_none());
        let binary = encode("t", "k", &event("application/octet-stream", &[0, 255]), Some("00-ab-cd-01")).unwrap();
        let stored: serde_json::Value = serde_json::from_str(&binary).unwrap();
        assert_eq!((stored["data_base64"].as_str(), stored.get("data")), (Some("AP8="), None));
        assert_eq!(stored["traceparent"], "00-ab-cd-01");
    }

    #[test]
    fn refuses_bad_topics_and_events() {
        assert!(matches!(encode("a b", "k", &event("application/json", b"{}"), None), Err(Error::InvalidTopic(_))));
        assert!(matches!(encode("t", "k", &event("application/json", b"{nope"), None), Err(Error::InvalidEvent(_))));
        let empty_id = Event { id: "", ..event("application/json", b"{}") };
        assert_eq!(encode("t", "k", &empty_id, None), Err(Error::InvalidEvent("the id attribute is empty".into())));
        let far = Event { time: (u64::MAX, 0), ..event("application/json", b"{}") };
        assert!(matches!(encode("t", "k", &far, None), Err(Error::InvalidEvent(_))));
        assert!(is_json("application/cloudevents+json; charset=utf-8") && !is_json("text/plain"));
    }
}
