//! Running the binary, and a stack for it to talk to.

use std::io::Write;
use std::net::{IpAddr, Ipv4Addr};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use idcard_auth::{ALL_SCOPE, Role};
use idcard_testkit::TestDb;
use idctl::security::DevSecurity;
use idctl::stack::Stack;
use tokio_util::sync::CancellationToken;

/// Where the binary looks for the services; a port nothing listens on unless a test
/// starts a stack, so that a command that should not connect would fail loudly.
#[derive(Clone)]
pub struct Urls {
    pub acceptance: String,
    pub review: String,
    pub production: String,
    pub status: String,
    /// The stack's development security material (CA, token key), if a stack runs.
    pub security: Option<DevSecurity>,
}

impl Default for Urls {
    fn default() -> Self {
        let nowhere = "http://127.0.0.1:9".to_string();
        Urls {
            acceptance: nowhere.clone(),
            review: nowhere.clone(),
            production: nowhere.clone(),
            status: nowhere,
            security: None,
        }
    }
}

/// The role a command acts in, by its first word, with a token for any scope.
fn token_for(security: &DevSecurity, args: &[&str]) -> Option<String> {
    let role = match args.first().copied() {
        Some("acceptance") => Role::Clerk,
        Some("review" | "register") => Role::Reviewer,
        Some("production") => Role::ProductionOperator,
        // Reads all three services.
        Some("overdue") => Role::Auditor,
        _ => return None,
    };
    security
        .token("idctl-test", role, &[ALL_SCOPE], Duration::from_secs(600))
        .expect("token")
}

/// What a run of the binary left behind.
pub struct Run {
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    fn from(output: Output) -> Run {
        Run {
            code: output.status.code(),
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        }
    }

    /// The stdout of a run that must succeed.
    #[track_caller]
    pub fn ok(self) -> String {
        assert_eq!(self.code, Some(0), "stdout:\n{}\nstderr:\n{}", self.stdout, self.stderr);
        self.stdout
    }
}

fn command(urls: &Urls, args: &[&str]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_idctl"));
    command
        .args(args)
        .env("IDCARD_ACCEPTANCE_URL", &urls.acceptance)
        .env("IDCARD_REVIEW_URL", &urls.review)
        .env("IDCARD_PRODUCTION_URL", &urls.production)
        .env("IDCARD_STATUS_URL", &urls.status)
        .env_remove("IDCARD_DATABASE_URL")
        .env_remove("IDCARD_TOKEN")
        .stdin(Stdio::null());
    if let Some(security) = &urls.security {
        if let Some(dir) = security.key_file.parent() {
            command.env("IDCARD_DATA_DIR", dir);
        }
        if let Some(ca) = security.ca_cert() {
            command.env("IDCARD_CA_CERT", ca);
        }
        if let Some(token) = token_for(security, args) {
            command.env("IDCARD_TOKEN", token);
        }
    }
    command
}

/// Runs `idctl ARGS` with no services to talk to.
pub fn idctl(args: &[&str]) -> Run {
    idctl_at(&Urls::default(), args)
}

pub fn idctl_at(urls: &Urls, args: &[&str]) -> Run {
    Run::from(command(urls, args).output().expect("run idctl"))
}

/// Runs `idctl ARGS` with `input` on standard input.
pub fn idctl_with_stdin(args: &[&str], input: &[u8]) -> Run {
    let mut child = command(&Urls::default(), args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn idctl");
    let mut stdin = child.stdin.take().expect("stdin");
    let input = input.to_vec();
    let writer = std::thread::spawn(move || stdin.write_all(&input));
    let output = child.wait_with_output().expect("idctl output");
    writer.join().expect("writer thread").expect("write stdin");
    Run::from(output)
}

/// A citizen id from its first 17 digits.
pub fn citizen_id(first17: &str) -> String {
    let digits: &[u8; 17] = first17.as_bytes().try_into().expect("17 digits");
    format!("{first17}{}", char::from(idcard_domain::check_character(digits)))
}

/// The three services on port 0, each on a fresh database.
pub struct TestStack {
    pub urls: Urls,
    pub acceptance_db: String,
    pub review_db: String,
    /// Each service's Prometheus text (`GET /metrics` on its plaintext probe port).
    pub metrics_urls: Vec<String>,
    shutdown: CancellationToken,
    stopped: tokio::task::JoinHandle<anyhow::Result<()>>,
    _dbs: Vec<TestDb>,
    _security_dir: tempfile::TempDir,
}

impl TestStack {
    pub async fn start() -> TestStack {
        let dbs = vec![
            TestDb::fresh("acceptance").await,
            TestDb::fresh("review").await,
            TestDb::fresh("production").await,
            TestDb::fresh("status").await,
        ];
        idcard_auth::install_crypto_provider();
        let security_dir = tempfile::tempdir().expect("temp dir");
        let security = DevSecurity::ensure(security_dir.path(), false).expect("development security");
        let notify_file = security_dir.path().join("notifications.jsonl");
        let stack = Stack::bind(
            IpAddr::V4(Ipv4Addr::LOCALHOST),
            [0, 0, 0, 0],
            security.clone(),
            notify_file,
        )
        .await
        .expect("bind three ports")
        .with_probe_ports([0; 4])
        .await
        .expect("probe ports");
        let metrics_urls = stack
            .probe_addrs()
            .expect("probe ports")
            .iter()
            .map(|addr| format!("http://{addr}/metrics"))
            .collect();
        let urls = stack.urls();
        let (acceptance, review, production, status) = (urls.acceptance, urls.review, urls.production, urls.status);
        let configs = stack
            .configs([0, 1, 2, 3].map(|i| dbs[i].url.clone()))
            .expect("configurations")
            // Tests run side by side against one PostgreSQL server.
            .with_db_pool(4);
        let shutdown = CancellationToken::new();
        let running = stack.spawn(configs, shutdown.clone());
        let stopped = tokio::spawn(running.wait(shutdown.clone()));
        TestStack {
            urls: Urls {
                acceptance,
                review,
                production,
                status,
                security: Some(security),
            },
            acceptance_db: dbs[0].url.clone(),
            review_db: dbs[1].url.clone(),
            metrics_urls,
            shutdown,
            stopped,
            _dbs: dbs,
            _security_dir: security_dir,
        }
    }

    /// Runs `idctl ARGS` against this stack, off the async workers.
    pub async fn idctl(&self, args: &[&str]) -> Run {
        let urls = self.urls.clone();
        let args: Vec<String> = args.iter().map(|a| a.to_string()).collect();
        tokio::task::spawn_blocking(move || {
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            idctl_at(&urls, &args)
        })
        .await
        .expect("idctl task")
    }

    /// Runs `idctl ARGS` until its stdout satisfies `done` (asynchronous steps).
    pub async fn idctl_until(&self, args: &[&str], done: impl Fn(&str) -> bool) -> String {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let run = self.idctl(args).await;
            if run.code == Some(0) && done(&run.stdout) {
                return run.stdout;
            }
            assert!(
                Instant::now() < deadline,
                "gave up waiting on idctl {args:?}:\n{}\n{}",
                run.stdout,
                run.stderr
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    pub async fn stop(self) {
        self.shutdown.cancel();
        self.stopped.await.expect("stack task").expect("stack stopped cleanly");
    }
}

/// The value after `label` on the line that starts with it (after indentation).
pub fn value_of<'a>(text: &'a str, label: &str) -> &'a str {
    text.lines()
        .map(str::trim_start)
        .find_map(|line| line.strip_prefix(label).map(str::trim))
        .unwrap_or_else(|| panic!("no {label:?} in:\n{text}"))
}
