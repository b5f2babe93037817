//! The HTTP listener (`serve-webhook`): a small HTTP/1.1 server on std sockets (see `wire` for
//! why not tiny_http), the route table, auth, rate limit, intake, status pages and metrics.

pub(crate) mod app;
pub(crate) mod auth;
pub(crate) mod budget;
pub(crate) mod dashboard;
pub(crate) mod forwarded;
pub(crate) mod group_commit;
pub(crate) mod intake;
pub(crate) mod limit;
pub(crate) mod metrics;
pub(crate) mod openapi;
pub(crate) mod replay;
pub(crate) mod server;
pub(crate) mod signal;
pub(crate) mod slack;
pub(crate) mod wait;
pub(crate) mod wire;
