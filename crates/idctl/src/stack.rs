//! The services in one process, each knowing the others' addresses.

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context;
use idcard_server::settings::CommonSettings;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use crate::security::DevSecurity;

/// Every mainland GB/T 2260 code starts with 1 to 6; one review service serves them all.
pub const ROUTES: &str = "1=review,2=review,3=review,4=review,5=review,6=review";

/// The services of a stack, in the order of ports, URLs and databases.
pub const SERVICES: [&str; 4] = ["acceptance", "review", "production", "status"];

/// The probe ports `idctl up` gives the services (gRPC health and `GET /metrics`), in
/// [`SERVICES`] order, ten above their gRPC ports.
pub const PROBE_PORTS: [u16; 4] = [50061, 50062, 50063, 50064];

/// Bound listeners for every service, so that each knows the others' addresses before
/// any starts (ports may be 0 in tests).
pub struct Stack {
    listeners: [TcpListener; 4],
    addrs: [SocketAddr; 4],
    probes: Option<[SocketAddr; 4]>,
    security: DevSecurity,
    notify_file: PathBuf,
}

/// Where the services are (`https` unless insecure).
#[derive(Debug, Clone)]
pub struct Urls {
    pub acceptance: String,
    pub review: String,
    pub production: String,
    pub status: String,
}

/// The service configurations of one stack.
pub struct Configs {
    pub acceptance: acceptance::Config,
    pub review: review::Config,
    pub production: production::Config,
    pub status: status::Config,
}

impl Configs {
    /// At most `connections` database connections per service (tests that run several
    /// stacks at once against one PostgreSQL server stay under its connection limit).
    pub fn with_db_pool(mut self, connections: u32) -> Configs {
        for common in [
            &mut self.acceptance.common,
            &mut self.review.common,
            &mut self.production.common,
            &mut self.status.common,
        ] {
            common.db_max_connections = connections;
        }
        self
    }
}

impl Stack {
    /// Binds the four ports; the services will use `security`, and write applicant
    /// notifications to `notify_file` (JSON lines, recipients masked).
    pub async fn bind(
        ip: IpAddr,
        ports: [u16; 4],
        security: DevSecurity,
        notify_file: PathBuf,
    ) -> anyhow::Result<Stack> {
        let mut listeners = Vec::with_capacity(SERVICES.len());
        let mut addrs = Vec::with_capacity(SERVICES.len());
        for (name, port) in SERVICES.iter().zip(ports) {
            let addr = SocketAddr::new(ip, port);
            let listener = TcpListener::bind(addr)
                .await
                .with_context(|| format!("{name}: cannot listen on {addr}"))?;
            addrs.push(listener.local_addr()?);
            listeners.push(listener);
        }
        let listeners: [TcpListener; 4] = listeners.try_into().map_err(|_| anyhow::anyhow!("four listeners"))?;
        let addrs: [SocketAddr; 4] = addrs.try_into().map_err(|_| anyhow::anyhow!("four addresses"))?;
        Ok(Stack {
            listeners,
            addrs,
            probes: None,
            security,
            notify_file,
        })
    }

    /// Gives each service a plaintext probe port on the stack's address (gRPC health and
    /// Prometheus text at `GET /metrics`); port 0 picks a free one. The services bind
    /// their probe port themselves when they start, so each port is checked free here
    /// and released again (another process could take a port 0 picked in between, which
    /// a test can live with).
    pub async fn with_probe_ports(mut self, ports: [u16; 4]) -> anyhow::Result<Stack> {
        let ip = self.addrs[0].ip();
        let mut probes = self.addrs;
        for ((name, port), probe) in SERVICES.iter().zip(ports).zip(probes.iter_mut()) {
            let addr = SocketAddr::new(ip, port);
            let listener = TcpListener::bind(addr)
                .await
                .with_context(|| format!("{name}: cannot use probe port {addr}"))?;
            *probe = listener.local_addr()?;
        }
        self.probes = Some(probes);
        Ok(self)
    }

    /// The probe addresses (in [`SERVICES`] order), if the stack has probe ports.
    pub fn probe_addrs(&self) -> Option<[SocketAddr; 4]> {
        self.probes
    }

    pub fn urls(&self) -> Urls {
        let scheme = self.security.scheme();
        let url = |a: SocketAddr| format!("{scheme}://{a}");
        Urls {
            acceptance: url(self.addrs[0]),
            review: url(self.addrs[1]),
            production: url(self.addrs[2]),
            status: url(self.addrs[3]),
        }
    }

    pub fn security(&self) -> &DevSecurity {
        &self.security
    }

    /// Settings for each service on its database (in [`SERVICES`] order), wired to the
    /// others.
    pub fn configs(&self, databases: [String; 4]) -> anyhow::Result<Configs> {
        let urls = self.urls();
        let probe = |index: usize| self.probes.map(|probes| probes[index]);
        let dev = |common: CommonSettings, name: &str, peers: String| CommonSettings {
            instance_name: Some(name.to_string()),
            probe_addr: SERVICES.iter().position(|s| *s == name).and_then(probe),
            peers,
            relay_poll_interval: Duration::from_millis(200),
            relay_max_backoff: Duration::from_secs(10),
            // No load balancer to leave: stop at once when asked.
            shutdown_grace: Duration::from_millis(100),
            ..common
        };
        let [acceptance_db, review_db, production_db, status_db] = databases;
        let notify = idcard_notify::NotifySettings {
            notify_file: Some(self.notify_file.clone()),
            ..idcard_notify::NotifySettings::default()
        };
        let mut acceptance = acceptance::Config::for_database(acceptance_db);
        acceptance.common = dev(acceptance.common, "acceptance", format!("review={}", urls.review));
        acceptance.routes = ROUTES.to_string();
        acceptance.production_centre = "production".to_string();
        acceptance.notify = notify.clone();
        let mut review = review::Config::for_database(review_db);
        review.common = dev(
            review.common,
            "review",
            format!(
                "acceptance={},production={},status={}",
                urls.acceptance, urls.production, urls.status
            ),
        );
        review.notify = notify;
        let mut production = production::Config::for_database(production_db);
        production.common = dev(
            production.common,
            "production",
            format!("acceptance={}", urls.acceptance),
        );
        let mut status = status::Config::for_database(status_db);
        status.common = dev(status.common, "status", format!("review={}", urls.review));
        self.security.apply(&mut acceptance.common, "acceptance")?;
        self.security.apply(&mut review.common, "review")?;
        self.security.apply(&mut production.common, "production")?;
        self.security.apply(&mut status.common, "status")?;
        Ok(Configs {
            acceptance,
            review,
            production,
            status,
        })
    }

    /// The listeners (in [`SERVICES`] order), for a caller that starts the services
    /// itself (a test that starts one late).
    pub fn into_listeners(self) -> [TcpListener; 4] {
        self.listeners
    }

    /// Starts every service.
    pub fn spawn(self, configs: Configs, shutdown: CancellationToken) -> Running {
        let [a, r, p, s] = self.listeners;
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
        let stop = shutdown.clone();
        tasks.spawn(async move {
            status::serve_with_listener(configs.status, s, stop)
                .await
                .map_err(|e| anyhow::anyhow!("status: {e}"))
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
