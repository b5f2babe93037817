//! The HTTP listener (`serve-webhook`): server, routes, auth, dashboard, metrics.
