//! Outside monitoring a job reports to: healthchecks.io pings and Bugsnag notifications. Both
//! are best effort: a failure to report never fails a job.

pub mod bugsnag;
pub mod healthcheck;
