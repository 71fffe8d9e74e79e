//! The host side of `todo:platform/pubsub` and `todo:platform/outbox`: an
//! instance publishes to the topics its component was granted, through the
//! outbox (inside its transaction, or on its own).

use super::{envelope, outbox, PubSubCapability, ANY_TOPIC};
use crate::capabilities::sql::host::Transaction;
use crate::capabilities::wit::{outbox as wit_outbox, pubsub as wit, types};
use std::sync::Arc;
use wasmtime::component::{HasData, Resource, ResourceTable};

/// What one instance may reach of the `pubsub` capability.
pub struct PubSubCtx {
    pub capability: Arc<PubSubCapability>,
    pub component: Arc<str>,
    /// The topics the component may publish to (`publish_topics`).
    pub topics: Arc<[String]>,
}

/// The instance's view for the WIT traits (the outbox finds the guest's
/// transaction in the table).
pub struct PubSubView<'a> {
    pub ctx: &'a mut PubSubCtx,
    pub table: &'a mut ResourceTable,
}

/// Selects `PubSubView` for `add_to_linker`.
pub struct PubSubData;

impl HasData for PubSubData {
    type Data<'a> = PubSubView<'a>;
}

impl PubSubCtx {
    /// Checks the grant and serializes the event.
    fn message(
        &self,
        topic: &str,
        partition_key: &str,
        event: &types::CloudEvent,
    ) -> Result<super::Message, wit::Error> {
        envelope::check_topic(topic)?;
        if !self.topics.iter().any(|t| t == topic || t == ANY_TOPIC) {
            tracing::warn!(component = %self.component, %topic, "denied a topic the manifest does not grant");
            return Err(wit::Error::AccessDenied(format!(
                "component {} may not publish to {topic:?} (publish_topics in spin.toml)",
                self.component
            )));
        }
        envelope::envelope(topic, partition_key, event)
    }
}

impl types::Host for PubSubView<'_> {}

impl wit::Host for PubSubView<'_> {
    #[tracing::instrument(level = "debug", name = "pubsub.publish", skip_all, fields(%topic, event_id = %event.id))]
    async fn publish(
        &mut self,
        topic: String,
        partition_key: String,
        event: types::CloudEvent,
    ) -> wasmtime::Result<Result<(), wit::Error>> {
        let message = match self.ctx.message(&topic, &partition_key, &event) {
            Ok(message) => message,
            Err(e) => return Ok(Err(e)),
        };
        let capability = &self.ctx.capability;
        let written = outbox::write_now(capability.outbox.as_ref(), &message, capability.duplicates()).await;
        if written.is_ok() {
            capability.committed(&topic);
        }
        Ok(written)
    }
}

impl wit_outbox::Host for PubSubView<'_> {
    #[tracing::instrument(level = "debug", name = "outbox.publish", skip_all, fields(%topic, event_id = %event.id))]
    async fn publish(
        &mut self,
        tx: Resource<Transaction>,
        topic: String,
        partition_key: String,
        event: types::CloudEvent,
    ) -> wasmtime::Result<Result<(), wit::Error>> {
        let message = match self.ctx.message(&topic, &partition_key, &event) {
            Ok(message) => message,
            Err(e) => return Ok(Err(e)),
        };
        let capability = self.ctx.capability.clone();
        let tx = self.table.get_mut(&tx)?;
        let written = outbox::write(tx, &message, capability.duplicates()).await;
        if written.is_ok() {
            tx.after_commit(Arc::new(move || capability.committed(&topic)));
        }
        Ok(written)
    }
}
