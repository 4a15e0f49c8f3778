//! SIGTERM under load loses no accepted request: the acceptance binary, on a real
//! database, with its review peer unreachable (outbox rows stay pending), takes
//! applications from 16 clients; on SIGTERM its probe port says NOT_SERVING while it goes
//! on serving for the grace period, then it drains and exits 0. Started again on the same
//! database, it holds exactly the applications that were answered OK, and every request
//! retried with its request id gets the first answer or is taken exactly once.

use std::collections::{HashMap, HashSet};
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicU32, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use idcard_db::{Db, DbOptions, on_db};
use idcard_proto::v1 as pb;
use idcard_proto::v1::acceptance_service_client::AcceptanceServiceClient;
use idcard_testkit::TestDb;
use tokio::task::JoinSet;
use tonic::metadata::{Ascii, MetadataValue};
use tonic::service::interceptor::InterceptedService;
use tonic::transport::{Channel, Endpoint};
use tonic::{Request, Status};
use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::health_client::HealthClient;

use crate::support::{LI, clerk_token, eventually, replacement, security};

/// Concurrent clients, each on a connection of its own.
const CLIENTS: usize = 16;
/// Answers the clients must have had before the SIGTERM.
const ANSWERED_BEFORE_SIGTERM: usize = 100;
/// Long enough for the test to see the probe say NOT_SERVING and calls still answered.
const GRACE: &str = "3s";

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sigterm_under_load_loses_no_accepted_request() {
    let db = TestDb::fresh("acceptance").await;
    let dir = tempfile::tempdir().unwrap();
    let key_file = dir.path().join("keys");
    idcard_crypto::Keyring::generate(&key_file).unwrap();

    // Act 1: load, then SIGTERM.
    let service = Service::start(&db.url, &key_file, dir.path()).await;
    assert_eq!(service.health("").await, Ok(ServingStatus::Serving));
    let load = Load::start(&service.url);
    let answered = load.ok.clone();
    eventually("the clients have been answered a while", || {
        let done = answered.load(Ordering::SeqCst) >= ANSWERED_BEFORE_SIGTERM;
        async move { done.then_some(()) }
    })
    .await;
    service.terminate();
    let probed = &service;
    eventually("the probe port says NOT_SERVING", || async move {
        let main = probed.health("").await;
        let named = probed.health("idcard.v1.AcceptanceService").await;
        (main == Ok(ServingStatus::NotServing) && named == Ok(ServingStatus::NotServing)).then_some(())
    })
    .await;
    let answered_at_not_serving = answered.load(Ordering::SeqCst);
    let outcome = load.finish().await;
    let status = service.wait().await;

    // Assert 1: a clean stop, calls answered during the grace period, nothing lost.
    let log = status.1;
    assert!(
        status.0.success(),
        "the service exits 0 after SIGTERM: {:?}\n{log}",
        status.0
    );
    assert!(
        outcome.ok.len() > answered_at_not_serving,
        "calls are still answered while health says NOT_SERVING ({} answered at NOT_SERVING, {} in all)",
        answered_at_not_serving,
        outcome.ok.len()
    );
    assert!(log.contains("draining the calls in flight"), "{log}");
    assert!(log.contains("every call in flight finished"), "{log}");
    eprintln!(
        "shutdown under load: {} answered OK ({} before NOT_SERVING was seen), {} failed; in flight: {}",
        outcome.ok.len(),
        answered_at_not_serving,
        outcome.failed.len(),
        in_flight_lines(&log)
    );
    let database = Db::connect(&db.url, &DbOptions::default()).await.unwrap();
    assert_eq!(
        application_count(&database).await,
        outcome.ok.len(),
        "the database holds exactly the applications answered OK: none committed whose answer was lost"
    );

    // Act 2: the same database again; every request retried with its request id.
    let service = Service::start(&db.url, &key_file, dir.path()).await;
    let found = on_clients(&service.url, outcome.ok.clone(), |mut client, (_, id)| async move {
        client
            .get_application(pb::GetApplicationRequest {
                key: Some(pb::get_application_request::Key::ApplicationId(id.clone())),
            })
            .await
            .unwrap_or_else(|status| panic!("application {id} answered OK is gone: {status:?}"))
            .into_inner()
            .application
            .unwrap()
    })
    .await;
    let replayed = retry_all(&service.url, outcome.ok.iter().map(|(r, _)| r.clone()).collect()).await;
    let retried = retry_all(&service.url, outcome.failed.clone()).await;

    // Assert 2: every application answered OK is there; the same answers again; each
    // failed request taken exactly once.
    for ((request, id), application) in outcome.ok.iter().zip(&found) {
        assert_eq!(application.application_id, *id);
        let citizen_id = |items: Option<&pb::CardItems>| items.unwrap().citizen_id.clone();
        assert_eq!(
            citizen_id(application.applicant.as_ref().unwrap().card_items.as_ref()),
            citizen_id(request.applicant.as_ref().unwrap().card_items.as_ref())
        );
    }
    for ((_, first), again) in outcome.ok.iter().zip(&replayed) {
        assert_eq!(again, first, "a retry with the same request id gets the first answer");
    }
    let answered_ids: HashSet<&String> = outcome.ok.iter().map(|(_, id)| id).collect();
    let retried_ids: HashSet<&String> = retried.iter().collect();
    assert_eq!(
        retried_ids.len(),
        retried.len(),
        "each failed request makes one application"
    );
    assert!(retried_ids.is_disjoint(&answered_ids));
    assert_eq!(
        application_count(&database).await,
        outcome.ok.len() + outcome.failed.len(),
        "no duplicates"
    );
    database.close().await;
    service.terminate();
    assert!(service.wait().await.0.success());
}

/// The acceptance binary as a child process, over TLS with the tests' PKI and token key,
/// its review peer unreachable.
struct Service {
    child: Option<Child>,
    log: Arc<Mutex<Vec<String>>>,
    url: String,
    probe: String,
}

impl Service {
    async fn start(database_url: &str, key_file: &Path, dir: &Path) -> Service {
        let security = security();
        let tls = security.pki.service("acceptance").unwrap();
        let mut child = Command::new(env!("CARGO_BIN_EXE_acceptance"))
            .env_clear()
            .env("NO_COLOR", "1")
            .env("RUST_LOG", "info")
            .env("IDCARD_LOG_JSON", "true")
            .env("IDCARD_DATABASE_URL", database_url)
            .env("IDCARD_LISTEN_ADDR", "127.0.0.1:0")
            .env("IDCARD_PROBE_ADDR", "127.0.0.1:0")
            .env("IDCARD_INSTANCE_NAME", "acceptance")
            // Nothing listens on port 1: deliveries fail and the outbox rows stay pending.
            .env("IDCARD_PEERS", "review=https://127.0.0.1:1")
            .env("IDCARD_ROUTES", "1=review,2=review,3=review,4=review,5=review,6=review")
            .env("IDCARD_RELAY_MAX_BACKOFF", "1s")
            .env("IDCARD_KEY_FILE", key_file)
            .env("IDCARD_TLS_CA_CERT", &tls.ca_cert)
            .env("IDCARD_TLS_CERT", &tls.cert)
            .env("IDCARD_TLS_KEY", &tls.key)
            .env("IDCARD_AUTH_PUBLIC_KEYS", &security.public_keys)
            .env("IDCARD_NOTIFY_FILE", dir.join("notifications.jsonl"))
            .env("IDCARD_SHUTDOWN_GRACE", GRACE)
            .env("IDCARD_DRAIN_TIMEOUT", "20s")
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let log = Arc::new(Mutex::new(Vec::new()));
        let stderr = child.stderr.take().unwrap();
        let lines = log.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines() {
                let Ok(line) = line else { break };
                lines.lock().unwrap().push(line);
            }
        });
        let mut service = Service {
            child: Some(child),
            log,
            url: String::new(),
            probe: String::new(),
        };
        let (grpc, probe) = eventually("the service listens on both ports", || {
            let found = (
                service.address_after("acceptance service listening"),
                service.address_after("probe port listening"),
            );
            let exited = service.child.as_mut().unwrap().try_wait().unwrap();
            assert!(
                exited.is_none(),
                "the service exited: {exited:?}\n{}",
                service.log_text()
            );
            async move {
                match found {
                    (Some(grpc), Some(probe)) => Some((grpc, probe)),
                    _ => None,
                }
            }
        })
        .await;
        service.url = format!("https://{grpc}");
        service.probe = format!("http://{probe}");
        service
    }

    fn log_text(&self) -> String {
        self.log.lock().unwrap().join("\n")
    }

    /// The `127.0.0.1:PORT` on the first log line that says `message`.
    fn address_after(&self, message: &str) -> Option<String> {
        let log = self.log.lock().unwrap();
        let line = log.iter().find(|line| line.contains(message))?;
        let at = line.find("127.0.0.1:")?;
        let port: String = line[at + "127.0.0.1:".len()..]
            .chars()
            .take_while(char::is_ascii_digit)
            .collect();
        Some(format!("127.0.0.1:{port}"))
    }

    /// What the plaintext probe port says of `service` ("" for the server as a whole).
    async fn health(&self, service: &str) -> Result<ServingStatus, String> {
        let channel = Endpoint::from_shared(self.probe.clone()).unwrap().connect_lazy();
        HealthClient::new(channel)
            .check(HealthCheckRequest {
                service: service.to_string(),
            })
            .await
            .map(|answer| answer.into_inner().status())
            .map_err(|status| status.to_string())
    }

    fn terminate(&self) {
        let pid = self.child.as_ref().unwrap().id();
        let sent = Command::new("kill").arg("-TERM").arg(pid.to_string()).status().unwrap();
        assert!(sent.success(), "kill -TERM {pid}");
    }

    /// Waits until the service exits; its exit status and everything it logged.
    async fn wait(mut self) -> (ExitStatus, String) {
        let mut child = self.child.take().unwrap();
        let status = tokio::task::spawn_blocking(move || child.wait())
            .await
            .unwrap()
            .unwrap();
        (status, self.log_text())
    }
}

impl Drop for Service {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

type Client = AcceptanceServiceClient<InterceptedService<Channel, Clerk>>;

/// The clerk's bearer token on every call.
#[derive(Clone)]
struct Clerk(MetadataValue<Ascii>);

impl tonic::service::Interceptor for Clerk {
    fn call(&mut self, mut request: Request<()>) -> Result<Request<()>, Status> {
        request.metadata_mut().insert("authorization", self.0.clone());
        Ok(request)
    }
}

/// A client on a connection of its own.
fn client(url: &str) -> Client {
    let tls = idcard_auth::client_config_with_ca(&security().pki.ca_cert).unwrap();
    let channel = Endpoint::from_shared(url.to_string())
        .unwrap()
        .tls_config(tls)
        .unwrap()
        .connect_lazy();
    let token = format!("Bearer {}", clerk_token()).parse().unwrap();
    AcceptanceServiceClient::with_interceptor(channel, Clerk(token))
}

/// Replacement applications of distinct citizens (one open application each), under
/// fresh request ids.
fn next_request() -> pb::SubmitApplicationRequest {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let n = NEXT.fetch_add(1, Ordering::SeqCst);
    let birth = time::macros::date!(1970 - 01 - 01) + time::Duration::days(i64::from(n / 1000));
    let sequence = n % 1000;
    let first17 = format!(
        "440106{:04}{:02}{:02}{sequence:03}",
        birth.year(),
        u8::from(birth.month()),
        birth.day()
    );
    let check = idcard_domain::check_character(first17.as_bytes().try_into().unwrap());
    let mut request = replacement(&LI);
    let items = request.applicant.as_mut().unwrap().card_items.as_mut().unwrap();
    items.citizen_id = format!("{first17}{}", char::from(check));
    items.birth_date = Some(pb::CalendarDate {
        year: birth.year(),
        month: i32::from(u8::from(birth.month())),
        day: i32::from(birth.day()),
    });
    items.sex = if sequence % 2 == 1 {
        pb::Sex::Male
    } else {
        pb::Sex::Female
    }
    .into();
    request
}

/// What the clients saw: each request answered OK with its application id, and each
/// request that failed.
struct Outcome {
    ok: Vec<Answered>,
    failed: Vec<pb::SubmitApplicationRequest>,
}

/// A request and the id of the application it made.
type Answered = (pb::SubmitApplicationRequest, String);

/// What one client saw: its answered requests, then the one that failed, and why.
type ClientRun = (Vec<Answered>, pb::SubmitApplicationRequest, Status);

/// [`CLIENTS`] clients submitting one application after another until one fails.
struct Load {
    ok: Arc<AtomicUsize>,
    clients: JoinSet<ClientRun>,
}

impl Load {
    fn start(url: &str) -> Load {
        let ok = Arc::new(AtomicUsize::new(0));
        let mut clients = JoinSet::new();
        for _ in 0..CLIENTS {
            let mut client = client(url);
            let counter = ok.clone();
            clients.spawn(async move {
                let mut answered = Vec::new();
                loop {
                    let request = next_request();
                    match client.submit_application(request.clone()).await {
                        Ok(answer) => {
                            let application = answer.into_inner().application.unwrap();
                            answered.push((request, application.application_id));
                            counter.fetch_add(1, Ordering::SeqCst);
                        }
                        Err(status) => return (answered, request, status),
                    }
                }
            });
        }
        Load { ok, clients }
    }

    /// Waits until every client has seen an error.
    async fn finish(mut self) -> Outcome {
        let mut outcome = Outcome {
            ok: Vec::new(),
            failed: Vec::new(),
        };
        let mut codes: HashMap<String, usize> = HashMap::new();
        while let Some(joined) = self.clients.join_next().await {
            let (answered, failed, status) = joined.unwrap();
            outcome.ok.extend(answered);
            outcome.failed.push(failed);
            *codes
                .entry(format!("{:?}: {}", status.code(), status.message()))
                .or_default() += 1;
        }
        eprintln!("the clients stopped on: {codes:?}");
        outcome
    }
}

/// Submits every request again; the application ids, in order.
async fn retry_all(url: &str, requests: Vec<pb::SubmitApplicationRequest>) -> Vec<String> {
    on_clients(url, requests, |mut client, request| async move {
        client
            .submit_application(request)
            .await
            .unwrap_or_else(|status| panic!("a retried request fails: {status:?}"))
            .into_inner()
            .application
            .unwrap()
            .application_id
    })
    .await
}

/// `call` on every item, from [`CLIENTS`] clients at once; the answers, in order.
async fn on_clients<T, R, F, Fut>(url: &str, items: Vec<T>, call: F) -> Vec<R>
where
    T: Send + 'static,
    R: Send + 'static,
    F: Fn(Client, T) -> Fut + Clone + Send + 'static,
    Fut: Future<Output = R> + Send,
{
    let count = items.len();
    let queue = Arc::new(Mutex::new(items.into_iter().enumerate()));
    let mut workers = JoinSet::new();
    for _ in 0..CLIENTS {
        let (queue, client, call) = (queue.clone(), client(url), call.clone());
        workers.spawn(async move {
            let mut answers = Vec::new();
            loop {
                let Some((i, item)) = queue.lock().unwrap().next() else {
                    break;
                };
                answers.push((i, call(client.clone(), item).await));
            }
            answers
        });
    }
    let mut answers: Vec<Option<R>> = (0..count).map(|_| None).collect();
    while let Some(done) = workers.join_next().await {
        for (i, answer) in done.unwrap() {
            answers[i] = Some(answer);
        }
    }
    answers.into_iter().map(|answer| answer.unwrap()).collect()
}

async fn application_count(db: &Db) -> usize {
    let count = on_db!(db, |pool| {
        sqlx::query_scalar::<_, i64>("SELECT COUNT(*) FROM applications")
            .fetch_one(pool)
            .await
            .unwrap()
    });
    usize::try_from(count).unwrap()
}

/// The service's log lines that say how many calls were in flight as it stopped.
fn in_flight_lines(log: &str) -> String {
    log.lines()
        .filter(|line| line.contains("stopping:"))
        .filter_map(|line| {
            let at = line.find("\"calls\":")?;
            let calls: String = line[at + 8..].chars().take_while(char::is_ascii_digit).collect();
            let what = if line.contains("NOT_SERVING") {
                "at SIGTERM"
            } else {
                "when it stopped accepting"
            };
            Some(format!("{calls} {what}"))
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// Holds every delivery until released, and counts the deliveries begun.
#[derive(Clone)]
struct Gate {
    begun: Arc<AtomicUsize>,
    open: Arc<tokio::sync::Semaphore>,
}

impl idcard_outbox::Deliverer for Gate {
    async fn deliver(&self, _message: &idcard_outbox::Message) -> Result<(), idcard_outbox::DeliveryError> {
        self.begun.fetch_add(1, Ordering::SeqCst);
        let _permit = self.open.acquire().await.unwrap();
        Ok(())
    }
}

#[tokio::test]
async fn stopping_the_background_tasks_lets_the_relay_finish_the_batch_it_claimed() {
    let test_db = TestDb::fresh("acceptance").await;
    let db = Db::connect(&test_db.url, &DbOptions::default()).await.unwrap();
    db.migrate(&acceptance::MIGRATION_SETS).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    idcard_crypto::Keyring::generate(dir.path().join("keys")).unwrap();
    let keys = idcard_crypto::KeySource::from_file(dir.path().join("keys")).unwrap();
    let mut tx = db.begin().await.unwrap();
    for key in ["a", "b", "c"] {
        let message = idcard_outbox::NewMessage {
            destination: "review",
            kind: "test.message",
            ordering_key: key,
            payload: key.as_bytes().to_vec(),
            sealed_for: idcard_crypto::Purpose::Data,
        };
        idcard_outbox::enqueue(&mut tx, &keys.current(), message).await.unwrap();
    }
    tx.commit().await.unwrap();
    let gate = Gate {
        begun: Arc::default(),
        open: Arc::new(tokio::sync::Semaphore::new(0)),
    };
    let relay = idcard_outbox::Relay::new(
        db.clone(),
        keys.clone(),
        gate.clone(),
        idcard_outbox::RelayConfig::default(),
    );
    let background =
        idcard_server::background::Background::start(&db, &keys, relay, std::time::Duration::from_secs(60));
    let begun = gate.begun.clone();
    eventually("the relay delivers its batch", || {
        let all = begun.load(Ordering::SeqCst) == 3;
        async move { all.then_some(()) }
    })
    .await;

    // Stop while the three deliveries are under way, then let them answer.
    let stop = background.token();
    let stopped = tokio::spawn(background.stop());
    eventually("the background tasks are told to stop", || {
        let told = stop.is_cancelled();
        async move { told.then_some(()) }
    })
    .await;
    gate.open.add_permits(3);
    stopped.await.unwrap();

    let states: Vec<String> = on_db!(&db, |pool| {
        sqlx::query_scalar("SELECT state FROM outbox ORDER BY seq")
            .fetch_all(pool)
            .await
            .unwrap()
    });
    assert_eq!(states, ["delivered", "delivered", "delivered"]);
    db.close().await;
}
