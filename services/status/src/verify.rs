//! `idcard.v1.CardStatusService`: card verification for banks, hotels and stations.
//!
//! The access layer admits verifiers. A verification is rate limited per token, parsed,
//! answered from one indexed read of the status index, and recorded (who, when, the
//! answer) through the background writer; it is not audited one by one, the
//! `verifications` table is its record.
//!
//! An unknown card and a wrong name take the same path: the key is computed, the one read
//! finds nothing, and the answer is `NO_MATCH`, so neither the answer nor its shape says
//! whether the citizen or the card exists.

use idcard_auth::Caller;
use idcard_crypto::KeySource;
use idcard_db::Db;
use idcard_proto::v1::card_status_service_server::CardStatusService;
use idcard_proto::v1::{VerifyCardRequest, VerifyCardResponse};
use idcard_server::status::{from_db, invalid_argument};
use idcard_server::wire::today_cst;
use tonic::{Request, Response, Status};

use crate::card;
use crate::rate_limit::RateLimiter;
use crate::store;
use crate::verification::Recorder;
use crate::wire::printed_card;

/// The verifier recorded when no token backs the call (insecure mode only).
const UNAUTHENTICATED: &str = "unauthenticated";

/// What a malformed request is recorded as.
const MALFORMED: &str = "invalid_argument";

pub struct CardStatus {
    db: Db,
    keys: KeySource,
    limiter: RateLimiter,
    recorder: Recorder,
}

impl CardStatus {
    pub fn new(db: Db, keys: KeySource, limiter: RateLimiter, recorder: Recorder) -> Self {
        CardStatus {
            db,
            keys,
            limiter,
            recorder,
        }
    }

    /// Queues the record of a verification; refuses the call when it cannot be recorded.
    async fn record(&self, verifier: &str, answer: &'static str) -> Result<(), Status> {
        self.recorder.record(verifier, answer).await.map_err(|err| {
            tracing::error!(error = %err, "verification not recorded; refused");
            Status::unavailable("verifications cannot be recorded at the moment; retry later")
        })
    }
}

#[tonic::async_trait]
impl CardStatusService for CardStatus {
    #[tracing::instrument(skip_all)]
    async fn verify_card(&self, request: Request<VerifyCardRequest>) -> Result<Response<VerifyCardResponse>, Status> {
        let verifier = request
            .extensions()
            .get::<Caller>()
            .map_or(UNAUTHENTICATED, Caller::subject)
            .to_string();
        self.limiter.check(&verifier).map_err(|limited| limited.to_status())?;
        let request = request.into_inner();
        let today = today_cst();
        let mut errors = Vec::new();
        let printed = printed_card(
            &mut errors,
            &request.citizen_id,
            &request.name,
            request.validity_start.as_ref(),
            today,
        );
        let Some(printed) = printed.filter(|_| errors.is_empty()) else {
            self.record(&verifier, MALFORMED).await?;
            return Err(invalid_argument(&errors));
        };
        let keys = self.keys.current();
        let indexed = store::status_for(&self.db, &keys, &printed).await.map_err(from_db)?;
        let answer = card::answer(indexed, today);
        self.record(&verifier, answer.as_str()).await?;
        metrics::counter!("idcard_verifications_total", "service" => crate::SERVICE, "answer" => answer.metric_label())
            .increment(1);
        tracing::debug!(verifier, answer = answer.as_str(), "card verified");
        Ok(Response::new(VerifyCardResponse {
            answer: answer.to_wire().into(),
        }))
    }
}
