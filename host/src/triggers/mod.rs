//! What runs components: HTTP requests, pub/sub deliveries, cron ticks.

pub mod cron;
pub mod http;
pub mod pubsub;
