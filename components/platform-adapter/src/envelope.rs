//! The event's CloudEvents envelope, written by `todo-envelope` exactly as
//! the host writes it (without a `traceparent`: nothing traces under Spin).

use crate::exports::todo::platform::{pubsub::Error, types::CloudEvent};

/// Validates an event and serializes its envelope.
pub fn envelope(topic: &str, partition_key: &str, event: &CloudEvent) -> Result<String, Error> {
    let outgoing = todo_envelope::Event {
        id: &event.id,
        source: &event.source,
        ty: &event.type_,
        subject: event.subject.as_deref(),
        time: (event.time.seconds, event.time.nanoseconds),
        datacontenttype: &event.datacontenttype,
        data: &event.data,
    };
    todo_envelope::encode(topic, partition_key, &outgoing, None).map_err(|e| match e {
        todo_envelope::Error::InvalidTopic(m) => Error::InvalidTopic(m),
        todo_envelope::Error::InvalidEvent(m) => Error::InvalidEvent(m),
    })
}
