//! Three services in one process, each knowing the others' addresses.

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use anyhow::Context;
use idcard_server::settings::CommonSettings;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use crate::security::DevSecurity;

/// Every mainland GB/T 2260 code starts with 1 to 6; one review service serves them all.
pub const ROUTES: &str = "1=review,2=review,3=review,4=review,5=review,6=review";

/// Three bound listeners, so that every service knows the others' addresses before any
/// starts (ports may be 0 in tests).
pub struct Stack {
    listeners: [TcpListener; 3],
    addrs: [SocketAddr; 3],
    security: DevSecurity,
}

/// The service configurations of one stack.
pub struct Configs {
    pub acceptance: acceptance::Config,
    pub review: review::Config,
    pub production: production::Config,
}

impl Stack {
    /// Binds the three ports; the services will use `security`.
    pub async fn bind(ip: IpAddr, ports: [u16; 3], security: DevSecurity) -> anyhow::Result<Stack> {
        let names = ["acceptance", "review", "production"];
        let mut listeners = Vec::with_capacity(3);
        for (name, port) in names.iter().zip(ports) {
            let addr = SocketAddr::new(ip, port);
            let listener = TcpListener::bind(addr)
                .await
                .with_context(|| format!("{name}: cannot listen on {addr}"))?;
            listeners.push(listener);
        }
        let addrs = [
            listeners[0].local_addr()?,
            listeners[1].local_addr()?,
            listeners[2].local_addr()?,
        ];
        let listeners: [TcpListener; 3] = listeners.try_into().map_err(|_| anyhow::anyhow!("three listeners"))?;
        Ok(Stack {
            listeners,
            addrs,
            security,
        })
    }

    /// URLs of acceptance, review and production (`https` unless insecure).
    pub fn urls(&self) -> (String, String, String) {
        let scheme = self.security.scheme();
        let url = |a: SocketAddr| format!("{scheme}://{a}");
        (url(self.addrs[0]), url(self.addrs[1]), url(self.addrs[2]))
    }

    pub fn security(&self) -> &DevSecurity {
        &self.security
    }

    /// Settings for each service on its database, wired to the others.
    pub fn configs(&self, acceptance_db: String, review_db: String, production_db: String) -> anyhow::Result<Configs> {
        let (acceptance_url, review_url, production_url) = self.urls();
        let dev = |common: CommonSettings, name: &str, peers: String| CommonSettings {
            instance_name: Some(name.to_string()),
            peers,
            relay_poll_interval: Duration::from_millis(200),
            relay_max_backoff: Duration::from_secs(10),
            ..common
        };
        let mut acceptance = acceptance::Config::for_database(acceptance_db);
        acceptance.common = dev(acceptance.common, "acceptance", format!("review={review_url}"));
        acceptance.routes = ROUTES.to_string();
        acceptance.production_centre = "production".to_string();
        let mut review = review::Config::for_database(review_db);
        review.common = dev(
            review.common,
            "review",
            format!("acceptance={acceptance_url},production={production_url}"),
        );
        let mut production = production::Config::for_database(production_db);
        production.common = dev(production.common, "production", format!("acceptance={acceptance_url}"));
        self.security.apply(&mut acceptance.common, "acceptance")?;
        self.security.apply(&mut review.common, "review")?;
        self.security.apply(&mut production.common, "production")?;
        Ok(Configs {
            acceptance,
            review,
            production,
        })
    }

    /// The listeners of acceptance, review and production, for a caller that starts
    /// the services itself (a test that starts one late).
    pub fn into_listeners(self) -> [TcpListener; 3] {
        self.listeners
    }

    /// Starts the three services.
    pub fn spawn(self, configs: Configs, shutdown: CancellationToken) -> Running {
        let [a, r, p] = self.listeners;
        let mut tasks = tokio::task::JoinSet::new();
        let stop = shutdown.clone();
        tasks.spawn(async move {
            acceptance::serve_with_listener(configs.acceptance, a, stop)
                .await
                .map_err(|e| anyhow::anyhow!("acceptance: {e}"))
        });
        let stop = shutdown.clone();
        tasks.spawn(async move {
            review::serve_with_listener(configs.review, r, stop)
                .await
                .map_err(|e| anyhow::anyhow!("review: {e}"))
        });
        let stop = shutdown.clone();
        tasks.spawn(async move {
            production::serve_with_listener(configs.production, p, stop)
                .await
                .map_err(|e| anyhow::anyhow!("production: {e}"))
        });
        Running { tasks }
    }
}

/// The running services.
pub struct Running {
    tasks: tokio::task::JoinSet<anyhow::Result<()>>,
}

impl Running {
    /// Waits until every service stopped; the first failure stops the others.
    pub async fn wait(mut self, shutdown: CancellationToken) -> anyhow::Result<()> {
        let mut first_error = None;
        while let Some(joined) = self.tasks.join_next().await {
            let outcome = joined.map_err(anyhow::Error::from).and_then(|r| r);
            if let Err(err) = outcome {
                shutdown.cancel();
                first_error.get_or_insert(err);
            }
        }
        first_error.map_or(Ok(()), Err)
    }
}
