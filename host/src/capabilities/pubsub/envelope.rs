//! The CloudEvents 1.0 JSON envelope, as events are stored, relayed and
//! delivered: JSON data inline (`data`), any other content type as
//! `data_base64`; the partition key and the publisher's `traceparent` as
//! extension attributes.

use super::Message;
use crate::capabilities::wit::{from_utc, pubsub, to_utc, types::CloudEvent};
use base64::{engine::general_purpose::STANDARD, Engine};
use serde::{Deserialize, Serialize};
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
    /// The publishing span, so that deliveries continue its trace.
    #[serde(skip_serializing_if = "Option::is_none")]
    traceparent: Option<String>,
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

fn valid_topic(topic: &str) -> bool {
    !topic.is_empty()
        && topic.len() <= 249
        && topic.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
}

/// Checks a topic name as every backend accepts it.
pub fn check_topic(topic: &str) -> Result<(), pubsub::Error> {
    if valid_topic(topic) {
        Ok(())
    } else {
        Err(pubsub::Error::InvalidTopic(format!("{topic:?}: use 1-249 of [A-Za-z0-9._-]")))
    }
}

/// Validates a guest's event and serializes its envelope.
pub fn envelope(topic: &str, partition_key: &str, event: &CloudEvent) -> Result<Message, pubsub::Error> {
    check_topic(topic)?;
    for (name, value) in [
        ("id", &event.id),
        ("source", &event.source),
        ("type", &event.type_),
        ("datacontenttype", &event.datacontenttype),
    ] {
        if value.is_empty() {
            return Err(pubsub::Error::InvalidEvent(format!("the {name} attribute is empty")));
        }
    }
    let time = to_utc(event.time)
        .ok_or_else(|| pubsub::Error::InvalidEvent("the time is out of range".into()))?
        .to_rfc3339_opts(chrono::SecondsFormat::Micros, true);
    let json = is_json(&event.datacontenttype);
    let text;
    let data = if json {
        text = std::str::from_utf8(&event.data)
            .map_err(|e| pubsub::Error::InvalidEvent(format!("JSON data is not UTF-8: {e}")))?;
        Some(
            serde_json::from_str::<&RawValue>(text)
                .map_err(|e| pubsub::Error::InvalidEvent(format!("data is not JSON: {e}")))?,
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
        traceparent: crate::telemetry::traceparent(),
        data,
        data_base64: (!json).then(|| STANDARD.encode(&event.data)),
    };
    Ok(Message {
        event_id: event.id.clone(),
        topic: topic.to_owned(),
        partition_key: partition_key.to_owned(),
        event: serde_json::to_string(&envelope).expect("an envelope serializes"),
        position: None,
    })
}

/// The parts of an envelope a handler receives.
#[derive(Deserialize)]
struct Incoming {
    id: String,
    source: String,
    #[serde(rename = "type")]
    ty: String,
    #[serde(default)]
    subject: Option<String>,
    #[serde(default)]
    time: Option<String>,
    #[serde(default)]
    datacontenttype: Option<String>,
    #[serde(default)]
    data: Option<Box<RawValue>>,
    #[serde(default)]
    data_base64: Option<String>,
    /// The span that published the event (a host extension, not for guests).
    #[serde(default)]
    traceparent: Option<String>,
}

/// Why a stored envelope cannot be delivered.
#[derive(Debug, thiserror::Error)]
pub enum ParseError {
    #[error("not a CloudEvents JSON envelope: {0}")]
    Json(#[from] serde_json::Error),
    #[error("data_base64 is not base64: {0}")]
    Base64(#[from] base64::DecodeError),
}

/// Parses an envelope into the WIT record, and the publisher's span.
pub fn parse(json: &str) -> Result<(CloudEvent, Option<String>), ParseError> {
    let e: Incoming = serde_json::from_str(json)?;
    let data = match (e.data, e.data_base64) {
        (_, Some(encoded)) => STANDARD.decode(encoded)?,
        (Some(raw), None) => raw.get().as_bytes().to_vec(),
        (None, None) => Vec::new(),
    };
    let time = e
        .time
        .and_then(|t| chrono::DateTime::parse_from_rfc3339(&t).ok())
        .map(|t| from_utc(t.with_timezone(&chrono::Utc)))
        .unwrap_or(crate::capabilities::wit::types::Timestamp { seconds: 0, nanoseconds: 0 });
    let event = CloudEvent {
        id: e.id,
        source: e.source,
        type_: e.ty,
        subject: e.subject,
        time,
        datacontenttype: e.datacontenttype.unwrap_or_else(|| "application/json".into()),
        data,
    };
    Ok((event, e.traceparent))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(content_type: &str, data: &[u8]) -> CloudEvent {
        CloudEvent {
            id: "e1".into(),
            source: "/t".into(),
            type_: "t.happened".into(),
            subject: Some("s".into()),
            time: from_utc("2026-12-01T10:00:00.123456Z".parse().unwrap()),
            datacontenttype: content_type.into(),
            data: data.to_vec(),
        }
    }

    #[test]
    fn json_and_binary_data_round_trip() {
        for (content_type, data) in
            [("application/json", &br#"{"a":[1,2]}"#[..]), ("application/octet-stream", &[0, 255, 7][..])]
        {
            let message = envelope("topic", "alice", &event(content_type, data)).unwrap();
            let stored: serde_json::Value = serde_json::from_str(&message.event).unwrap();
            assert_eq!(stored["partitionkey"], "alice");
            assert_eq!(stored["time"], "2026-12-01T10:00:00.123456Z");
            assert_eq!(stored.get("data").is_some(), is_json(content_type), "{stored}");
            let (back, _) = parse(&message.event).unwrap();
            let sent = event(content_type, data);
            assert_eq!(
                (back.id, back.subject, back.datacontenttype, back.data),
                (sent.id, sent.subject, sent.datacontenttype, sent.data)
            );
            assert_eq!((back.time.seconds, back.time.nanoseconds), (sent.time.seconds, sent.time.nanoseconds));
        }
    }

    #[test]
    fn refuses_bad_topics_and_events() {
        assert!(matches!(envelope("a b", "k", &event("application/json", b"{}")), Err(pubsub::Error::InvalidTopic(_))));
        assert!(matches!(
            envelope("t", "k", &event("application/json", b"{nope")),
            Err(pubsub::Error::InvalidEvent(_))
        ));
        assert!(matches!(envelope("t", "k", &event("", b"{}")), Err(pubsub::Error::InvalidEvent(_))));
        assert!(is_json("application/cloudevents+json; charset=utf-8"));
        assert!(!is_json("text/plain"));
    }
}
