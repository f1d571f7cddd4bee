//! The admin HTTP server (any dispatcher replica): the original `/int` API the existing admin app
//! and scripts use, the fleet's additions (jobs, queues, pause, retry now), and the built-in web
//! UI at `/`.

pub mod bundle;
pub mod error;
pub mod error_log;
pub mod error_type;
pub mod extract;
pub mod goonj_task;
pub mod integration_system;
pub mod jobs;
pub mod mapping;
pub mod openapi;
pub mod paging;
pub mod probes;
pub mod queues;
pub mod session;
pub mod ui;
pub mod user;

use crate::catalog::ModuleSpec;
use avni_int_shared::broker::Topology;
use avni_int_shared::metrics::Metrics;
use avni_int_shared::store::Store;
use axum::routing::{get, post};
use axum::Router;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

#[derive(Debug, Clone)]
pub struct AdminConfig {
    /// `AVNI_INT_SERVER_PORT` (6013); 0 picks a free port (tests).
    pub bind: SocketAddr,
    /// `AVNI_INT_STATIC_PATH`: the existing admin app's build, served at `/avni-int-admin-app/`.
    pub static_path: Option<PathBuf>,
    /// Idle time after which a session ends (`ADMIN_SESSION_HOURS`, default 12).
    pub session_ttl: Duration,
    /// Mark cookies `Secure` (`ADMIN_SECURE_COOKIES=true` behind TLS).
    pub secure_cookies: bool,
}

/// What every handler can reach. Cheap to clone.
#[derive(Clone)]
pub struct AdminState {
    pub store: Store,
    pub config: Arc<AdminConfig>,
    pub topology: Topology,
    pub catalog: Arc<Vec<ModuleSpec>>,
    pub amqp_url: String,
    pub metrics: Metrics,
}

/// The whole admin surface. `/int/login`, `/int/logout` and `/int/openapi.json` are open;
/// everything else under `/int` needs a session (403 without).
pub fn router(state: AdminState) -> Router {
    let protected = Router::new()
        .route("/currentUser", get(session::current_user_handler))
        .merge(mapping::routes())
        .merge(error_type::routes())
        .merge(error_log::routes())
        .merge(integration_system::routes())
        .merge(user::routes())
        .merge(bundle::routes())
        .merge(jobs::routes())
        // `layer` (not `route_layer`) plus a fallback: without a session every other `/int`
        // path is 403, so unknown paths do not reveal which ones exist.
        .fallback(session::unknown_route)
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            session::require_session,
        ));
    let open = Router::new()
        .route("/login", post(session::login_handler))
        .route(
            "/logout",
            get(session::logout_handler).post(session::logout_handler),
        )
        .route("/openapi.json", get(openapi::handler));
    let goonj = goonj_task::routes().layer(axum::middleware::from_fn_with_state(
        state.clone(),
        session::require_session,
    ));
    let mut app = Router::new()
        .nest("/int", open.merge(protected))
        .nest("/goonj", goonj)
        .merge(probes::routes())
        .merge(ui::routes(state.clone()));
    if let Some(path) = &state.config.static_path {
        app = app.nest_service(
            "/avni-int-admin-app",
            tower_http::services::ServeDir::new(path).append_index_html_on_directories(true),
        );
    }
    app.layer(axum::middleware::from_fn(session::refuse_cross_site))
        .layer(axum::middleware::from_fn(error::json_client_errors))
        .with_state(state)
}

/// The bound admin server; `build` binds so the port is known before `run_until_stopped`.
pub struct AdminServer {
    listener: tokio::net::TcpListener,
    app: Router,
}

impl AdminServer {
    pub async fn build(state: AdminState) -> std::io::Result<Self> {
        let listener = tokio::net::TcpListener::bind(state.config.bind).await?;
        Ok(AdminServer {
            listener,
            app: router(state),
        })
    }

    pub fn local_addr(&self) -> std::io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    /// Serves until `shutdown`, then lets in-flight requests finish.
    pub async fn run_until_stopped(self, shutdown: CancellationToken) {
        let result = axum::serve(self.listener, self.app)
            .with_graceful_shutdown(async move { shutdown.cancelled().await })
            .await;
        if let Err(error) = result {
            tracing::error!(%error, "admin server stopped");
        }
    }
}
