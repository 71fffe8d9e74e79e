//! A component's response body that also drives the component writing it.
//! The guest runs in the request's own task: until it sends the response
//! head (`triggers::http`), then while hyper polls this body for frames. A
//! task of the guest's own cost every request a spawn and a wake-up across
//! worker threads for its head and for each chunk of its body.

use bytes::Bytes;
use hyper::body::{Body, Frame, SizeHint};
use std::{
    future::Future,
    pin::Pin,
    task::{Context, Poll},
};

/// The rest of a guest's call: it returns once the guest has.
pub type Guest = Pin<Box<dyn Future<Output = anyhow::Result<()>> + Send>>;

pub struct DrivenBody<B> {
    body: B,
    /// None once the guest has returned.
    guest: Option<(Guest, String)>,
}

impl<B> DrivenBody<B> {
    /// `body`, written by `guest` (of component `component`), which may
    /// still be running.
    pub fn new(body: B, guest: Option<Guest>, component: &str) -> Self {
        Self { body, guest: guest.map(|g| (g, component.to_owned())) }
    }

    fn drive(&mut self, cx: &mut Context<'_>) {
        if let Some((guest, component)) = &mut self.guest {
            if let Poll::Ready(result) = guest.as_mut().poll(cx) {
                if let Err(e) = result {
                    failed_after_response(component, &e);
                }
                self.guest = None;
            }
        }
    }
}

/// A guest that failed after its response head went out: the client gets
/// a cut body; the failure is counted and logged.
fn failed_after_response(component: &str, e: &anyhow::Error) {
    let kind = crate::runtime::failure::record(component, e);
    tracing::error!(%component, kind = kind.label(), error = %format!("{e:#}"), "component failed after its response head");
}

impl<B: Body<Data = Bytes> + Unpin> Body for DrivenBody<B> {
    type Data = Bytes;
    type Error = B::Error;

    fn poll_frame(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, B::Error>>> {
        let this = self.get_mut();
        this.drive(cx);
        Pin::new(&mut this.body).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.body.size_hint()
    }
}

impl<B> Drop for DrivenBody<B> {
    /// The body was read to its end (or the client left) before the guest
    /// returned: it finishes on a task of its own, as it would have run.
    fn drop(&mut self) {
        if let Some((guest, component)) = self.guest.take() {
            detach(guest, component);
        }
    }
}

/// Lets a guest that already answered finish on a task of its own.
pub fn detach(guest: Guest, component: String) {
    tokio::spawn(async move {
        if let Err(e) = guest.await {
            failed_after_response(&component, &e);
        }
    });
}
