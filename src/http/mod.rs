//! The HTTP listener (`serve-webhook`): a small HTTP/1.1 server on std sockets (see `wire` for
//! why not tiny_http), the route table, auth, rate limit, intake, status pages and metrics.

pub mod app;
pub mod auth;
pub mod budget;
pub mod dashboard;
pub mod forwarded;
pub mod group_commit;
pub mod intake;
pub mod limit;
pub mod metrics;
pub mod openapi;
pub mod replay;
pub mod server;
pub mod signal;
pub mod slack;
pub mod wait;
pub mod wire;
