//! The CloudEvents 1.0 JSON envelope, as events are stored, relayed and
//! delivered (written by `todo-envelope`, which the platform adapter shares):
//! a guest's event becomes a `Message`, and a stored one the WIT record again.

use super::Message;
use crate::capabilities::wit::{from_utc, pubsub, types::CloudEvent};
use base64::{engine::general_purpose::STANDARD, Engine};
use serde::Deserialize;
use serde_json::value::RawValue;

impl From<todo_envelope::Error> for pubsub::Error {
    fn from(e: todo_envelope::Error) -> Self {
        match e {
            todo_envelope::Error::InvalidTopic(m) => Self::InvalidTopic(m),
            todo_envelope::Error::InvalidEvent(m) => Self::InvalidEvent(m),
        }
    }
}

/// Checks a topic name as every backend accepts it.
pub fn check_topic(topic: &str) -> Result<(), pubsub::Error> {
    Ok(todo_envelope::check_topic(topic)?)
}

/// Validates a guest's event and serializes its envelope, with the
/// publishing span as its `traceparent`.
pub fn envelope(topic: &str, partition_key: &str, event: &CloudEvent) -> Result<Message, pubsub::Error> {
    let outgoing = todo_envelope::Event {
        id: &event.id,
        source: &event.source,
        ty: &event.type_,
        subject: event.subject.as_deref(),
        time: (event.time.seconds, event.time.nanoseconds),
        datacontenttype: &event.datacontenttype,
        data: &event.data,
    };
    let traceparent = crate::telemetry::traceparent();
    Ok(Message {
        event_id: event.id.clone(),
        topic: topic.to_owned(),
        partition_key: partition_key.to_owned(),
        event: todo_envelope::encode(topic, partition_key, &outgoing, traceparent.as_deref())?,
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
            assert_eq!(stored.get("data").is_some(), todo_envelope::is_json(content_type), "{stored}");
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
    fn refusals_keep_their_wit_case() {
        assert!(matches!(envelope("a b", "k", &event("application/json", b"{}")), Err(pubsub::Error::InvalidTopic(_))));
        assert!(matches!(
            envelope("t", "k", &event("application/json", b"{nope")),
            Err(pubsub::Error::InvalidEvent(_))
        ));
        assert!(matches!(envelope("t", "k", &event("", b"{}")), Err(pubsub::Error::InvalidEvent(_))));
    }
}
