//! Synthetic applicants: many distinct citizens with valid numbers (built and checked
//! with the domain's `CitizenId`), domiciled in current county-level regions of every
//! mainland province, imported into the household register before the clock starts.
//!
//! Citizen `i` of a pool is a pure function of the pool's offset and `i`: consecutive
//! indexes go to consecutive provinces, and within a province the index reads in mixed
//! radix as (county, sequence number, birth date), so no two indexes give the same
//! number. Every run starts at a random offset into the space of about 7 * 10^9
//! numbers, so runs against one long-lived stack do not meet each other's open
//! applications.
//!
//! Names, addresses and phone numbers are made up from the index; none is printed.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use idcard_auth::Role;
use idcard_domain::{ApplicationKind, CitizenId, DocumentKind, RegionCode, Waiver, application_fee, region};
use idcard_proto::v1 as pb;
use idcard_proto::v1::card_status_service_client::CardStatusServiceClient;
use idcard_proto::v1::review_service_client::ReviewServiceClient;
use idcard_server::wire::{date_to_wire, enums, today_cst};
use time::Date;
use uuid::Uuid;

use super::Context;

/// Birth dates span this many days from 1960-01-01 (applicants of 26 to 66).
const BIRTH_DAYS: u64 = 40 * 365;
/// Sequence numbers 001 to 999.
const SEQUENCES: u64 = 999;
/// Residents per `ImportResidents` call (the service takes at most 10,000).
const IMPORT_BATCH: usize = 5_000;

const SURNAMES: [&str; 20] = [
    "王", "李", "张", "刘", "陈", "杨", "黄", "赵", "吴", "周", "徐", "孙", "马", "朱", "胡", "郭", "何", "高", "林",
    "罗",
];
const GIVEN: [&str; 24] = [
    "伟", "芳", "娜", "敏", "静", "丽", "强", "磊", "军", "洋", "勇", "艳", "杰", "娟", "涛", "明", "超", "秀", "霞",
    "平", "刚", "桂", "英", "华",
];
const STREETS: [&str; 8] = [
    "人民路",
    "解放路",
    "中山路",
    "建设路",
    "和平路",
    "新华路",
    "胜利路",
    "文化路",
];

/// One synthetic citizen, with the card the register holds for them.
#[derive(Clone)]
pub struct Citizen {
    pub citizen_id: CitizenId,
    pub name: String,
    pub sex: idcard_domain::Sex,
    pub birth_date: Date,
    pub domicile: RegionCode,
    pub address: String,
    pub phone: String,
    /// Even indexes renew (their card expires within a month), odd ones replace.
    pub kind: ApplicationKind,
    pub card_id: Uuid,
    pub card_start: Date,
    /// `None`: long-term.
    pub card_end: Option<Date>,
}

/// Counties in use today, by mainland province (11 to 65).
fn provinces() -> Vec<Vec<u32>> {
    let mut by_province: BTreeMap<u32, Vec<u32>> = BTreeMap::new();
    for &code in region::codes() {
        let province = code / 10_000;
        let county_level = code % 100 != 0;
        let current = region::lookup(code).is_some_and(|r| r.is_current());
        if (11..=65).contains(&province) && county_level && current {
            by_province.entry(province).or_default().push(code);
        }
    }
    by_province
        .into_values()
        .filter(|counties| !counties.is_empty())
        .collect()
}

/// A finite family of citizens for one run.
pub struct Pool {
    provinces: Vec<Vec<u32>>,
    /// Indexes per province before any repeats: the smallest province's counties times
    /// the sequence numbers times the birth dates.
    per_province: u64,
    offset: u64,
    size: u64,
    today: Date,
}

impl Pool {
    /// `size` citizens starting at a position chosen from `run_id`.
    pub fn new(run_id: u64, size: u64) -> Pool {
        let provinces = provinces();
        let smallest = provinces.iter().map(Vec::len).min().unwrap_or(0) as u64;
        let per_province = smallest * SEQUENCES * BIRTH_DAYS;
        let space = per_province * provinces.len() as u64;
        Pool {
            offset: mix(run_id) % space.max(1),
            provinces,
            per_province,
            size,
            today: today_cst(),
        }
    }

    pub fn size(&self) -> u64 {
        self.size
    }

    /// Provinces the citizens are domiciled in.
    pub fn provinces(&self) -> usize {
        self.provinces.len()
    }

    /// The two-digit codes of those provinces.
    pub fn province_codes(&self) -> Vec<u32> {
        self.provinces
            .iter()
            .filter_map(|counties| counties.first())
            .map(|county| county / 10_000)
            .collect()
    }

    /// Citizen `i` (`i < size`).
    pub fn citizen(&self, i: u64) -> anyhow::Result<Citizen> {
        let provinces = self.provinces.len() as u64;
        anyhow::ensure!(self.per_province > 0, "the region table has no county in use");
        // Consecutive indexes go to consecutive provinces; within a province, the index
        // reads as (county, sequence, birth date), one-to-one below `per_province`.
        let k = (self.offset + i) % (self.per_province * provinces);
        let counties = &self.provinces[(k % provinces) as usize];
        let rest = k / provinces;
        let county = counties[(rest % counties.len() as u64) as usize];
        let rest = rest / counties.len() as u64;
        let sequence = 1 + rest % SEQUENCES;
        let day = (rest / SEQUENCES) % BIRTH_DAYS;
        let epoch = Date::from_calendar_date(1960, time::Month::January, 1)?;
        let birth_date = epoch + time::Duration::days(day as i64);
        let first17 = format!(
            "{county:06}{:04}{:02}{:02}{sequence:03}",
            birth_date.year(),
            u8::from(birth_date.month()),
            birth_date.day()
        );
        let digits: &[u8; 17] = first17
            .as_bytes()
            .try_into()
            .context("a citizen number has 17 digits before its check character")?;
        let number = format!("{first17}{}", char::from(idcard_domain::check_character(digits)));
        let citizen_id = CitizenId::parse(&number, self.today).context("a generated citizen id")?;
        let domicile = RegionCode::parse_current(&format!("{county:06}")).context("a generated domicile")?;
        let h = mix(k);
        let name = format!(
            "{}{}{}",
            SURNAMES[(h % 20) as usize],
            GIVEN[((h >> 8) % 24) as usize],
            GIVEN[((h >> 16) % 24) as usize]
        );
        // The house number carries the index: no two residents share name, sex, birth
        // date and address, which the register would report as duplicate records.
        let address = format!(
            "{}{}{}号{}栋",
            domicile.full_name(),
            STREETS[((h >> 24) % 8) as usize],
            1 + k % 997,
            k / 997
        );
        let phone = format!("139{:08}", h % 100_000_000);
        let kind = match i % 2 {
            0 => ApplicationKind::Renewal,
            _ => ApplicationKind::Replacement,
        };
        let (card_start, card_end) = card_validity(kind, birth_date, self.today);
        Ok(Citizen {
            sex: citizen_id.sex(),
            citizen_id,
            name,
            birth_date,
            domicile,
            address,
            phone,
            kind,
            card_id: Uuid::now_v7(),
            card_start,
            card_end,
        })
    }
}

/// The card a citizen holds now. A renewal's expires in a month (a renewal may be asked
/// at most 3 months ahead); a replacement's was issued 5 years ago for the holder's age
/// then.
fn card_validity(kind: ApplicationKind, birth: Date, today: Date) -> (Date, Option<Date>) {
    let years_back = |date: Date, years: i32| {
        date.replace_year(date.year() - years)
            .unwrap_or(date - time::Duration::days(365 * i64::from(years)))
    };
    match kind {
        ApplicationKind::Renewal => {
            let end = today + time::Duration::days(30);
            (years_back(end, 20), Some(end))
        }
        ApplicationKind::Replacement => {
            let start = years_back(today, 5);
            let age = start.year() - birth.year();
            let end = match age {
                ..16 => Some(5),
                16..=25 => Some(10),
                26..=45 => Some(20),
                _ => None,
            }
            .map(|years| start.replace_year(start.year() + years).unwrap_or(start));
            (start, end)
        }
    }
}

/// SplitMix64: spreads an index over 64 bits.
fn mix(x: u64) -> u64 {
    let mut z = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

impl Citizen {
    /// The household register record, with the citizen's one active card.
    pub fn resident(&self) -> pb::Resident {
        pb::Resident {
            card_items: Some(self.card_items()),
            domicile_region_code: self.domicile.as_string(),
            fingerprint_on_record: true,
            phone: self.phone.clone(),
            record_locked: false,
            bad_credit: false,
            forged_documents_on_record: false,
            cards: vec![pb::ResidentCard {
                card_id: self.card_id.to_string(),
                validity_start: Some(date_to_wire(self.card_start)),
                validity_end: self.card_end.map(date_to_wire),
                long_term: self.card_end.is_none(),
                issuing_authority: format!("{}公安局", self.domicile.full_name()),
                status: pb::CardStatus::Active.into(),
            }],
        }
    }

    fn card_items(&self) -> pb::CardItems {
        pb::CardItems {
            citizen_id: self.citizen_id.as_str().to_string(),
            name: self.name.clone(),
            sex: enums::sex_to_wire(self.sex).into(),
            ethnicity: "汉".to_string(),
            birth_date: Some(date_to_wire(self.birth_date)),
            domicile_address: self.address.clone(),
        }
    }

    /// Documents the counter takes for the citizen's kind of application.
    pub fn documents(&self) -> Vec<DocumentKind> {
        match self.kind {
            ApplicationKind::Renewal => vec![DocumentKind::OldIdCard, DocumentKind::ResidencePermit],
            ApplicationKind::Replacement => vec![DocumentKind::HouseholdBooklet, DocumentKind::ResidencePermit],
        }
    }

    /// The application the citizen makes at `point`, with a photo of `photo_bytes`.
    pub fn submit_request(&self, point: &str, clerk: &str, photo: &[u8]) -> pb::SubmitApplicationRequest {
        let today = today_cst();
        let fee = application_fee(self.kind, Waiver::None, today);
        pb::SubmitApplicationRequest {
            request_id: Uuid::now_v7().to_string(),
            acceptance_point_code: point.to_string(),
            kind: enums::kind_to_wire(self.kind).into(),
            applicant: Some(pb::Applicant {
                card_items: Some(self.card_items()),
                domicile_region_code: self.domicile.as_string(),
                phone: self.phone.clone(),
                photo: photo.to_vec(),
                fingerprints: vec![fingerprint(self, 0), fingerprint(self, 1)],
            }),
            guardian: None,
            documents: self.documents().into_iter().map(document_to_wire).collect(),
            fee: Some(pb::FeePayment {
                waiver: pb::FeeWaiver::None.into(),
                amount_fen: i64::from(fee.amount_fen),
                payment_reference: format!("LOAD-{}", Uuid::now_v7().simple()),
            }),
            current_card_expiry: match self.kind {
                ApplicationKind::Renewal => self.card_end.map(date_to_wire),
                ApplicationKind::Replacement => None,
            },
            appearance_changed: false,
            clerk: clerk.to_string(),
            loss_report_number: String::new(),
        }
    }

    /// The citizen reports their card lost at `point`, identified by fingerprint.
    pub fn loss_request(&self, point: &str) -> pb::ReportLossRequest {
        pb::ReportLossRequest {
            request_id: Uuid::now_v7().to_string(),
            acceptance_point_code: point.to_string(),
            citizen_id: self.citizen_id.as_str().to_string(),
            name: self.name.clone(),
            domicile_region_code: self.domicile.as_string(),
            kind: pb::LossKind::Lost.into(),
            circumstance: "load generator: lost on the way to work".to_string(),
            identity: Some(pb::IdentityConfirmation {
                method: Some(pb::identity_confirmation::Method::FingerprintMatched(true)),
            }),
        }
    }

    /// What a bank reads off the card to verify it.
    pub fn verify_request(&self) -> pb::VerifyCardRequest {
        pb::VerifyCardRequest {
            citizen_id: self.citizen_id.as_str().to_string(),
            name: self.name.clone(),
            validity_start: Some(date_to_wire(self.card_start)),
        }
    }
}

fn document_to_wire(document: DocumentKind) -> i32 {
    let wire = match document {
        DocumentKind::HouseholdBooklet => pb::DocumentKind::HouseholdBooklet,
        DocumentKind::OldIdCard => pb::DocumentKind::OldIdCard,
        DocumentKind::ResidencePermit => pb::DocumentKind::ResidencePermit,
        _ => pb::DocumentKind::Unspecified,
    };
    wire.into()
}

/// A 512-byte stand-in for a fingerprint template.
fn fingerprint(citizen: &Citizen, finger: u64) -> Vec<u8> {
    let mut seed = mix(u64::from(citizen.citizen_id.sequence()) ^ finger);
    (0..64)
        .flat_map(|_| {
            seed = mix(seed);
            seed.to_le_bytes()
        })
        .collect()
}

/// A JPEG-framed photo of `bytes` bytes (at least the frame).
pub fn photo(bytes: usize) -> Vec<u8> {
    let mut photo = vec![0xFF, 0xD8, 0xFF, 0xE0, 0x00, 0x10, b'J', b'F', b'I', b'F', 0x00];
    let mut seed = 0x1D_CA_4Du64;
    while photo.len() + 2 < bytes {
        seed = mix(seed);
        photo.extend_from_slice(&seed.to_le_bytes()[..(bytes - 2 - photo.len()).min(8)]);
    }
    photo.extend_from_slice(&[0xFF, 0xD9]);
    photo
}

/// Imports the pool into the household register, in batches, as a reviewer of every
/// jurisdiction. Returns the last citizen imported (whose card the status service
/// receives last).
pub async fn import(cx: &Context, pool: &Pool) -> anyhow::Result<Option<Citizen>> {
    let mut review = ReviewServiceClient::new(
        cx.reviewer_channels(1)
            .await?
            .into_iter()
            .next()
            .context("no connection to the review service")?,
    )
    .max_decoding_message_size(64 * 1024 * 1024)
    .max_encoding_message_size(64 * 1024 * 1024);
    let started = Instant::now();
    let mut last = None;
    let mut next = 0u64;
    while next < pool.size() {
        let end = (next + IMPORT_BATCH as u64).min(pool.size());
        let mut residents = Vec::with_capacity((end - next) as usize);
        for i in next..end {
            let citizen = pool.citizen(i)?;
            residents.push(citizen.resident());
            last = Some(citizen);
        }
        review
            .import_residents(pb::ImportResidentsRequest {
                request_id: format!("load-{:x}-residents-{next}", cx.run_id),
                residents,
            })
            .await
            .map_err(|status| anyhow::Error::from(status).context("importing the load's residents"))?;
        next = end;
    }
    cx.note(&format!(
        "  imported {} residents in {:.1} s",
        pool.size(),
        started.elapsed().as_secs_f64()
    ));
    Ok(last)
}

/// Waits until the status service answers VALID for `citizen`'s card: the review
/// service publishes imported cards in order, so by then the import's publications
/// have (nearly all) arrived and do not compete with the run.
pub async fn wait_published(cx: &Context, citizen: &Citizen) -> anyhow::Result<()> {
    let token = cx.token(&format!("load-prepare-{:x}", cx.run_id), Role::Verifier, &[])?;
    let channel = cx.endpoints.channel(&cx.endpoints.status_url, token.as_deref()).await?;
    let mut status = CardStatusServiceClient::new(channel);
    let started = Instant::now();
    loop {
        let answer = status.verify_card(citizen.verify_request()).await;
        match answer {
            Ok(answer) if answer.get_ref().answer == i32::from(pb::VerificationAnswer::Valid) => return Ok(()),
            Ok(_) => {}
            Err(status) if super::transient(status.code()) => {}
            Err(status) => {
                return Err(anyhow::Error::from(status).context("verifying an imported card"));
            }
        }
        anyhow::ensure!(
            started.elapsed() < cx.args.settle,
            "the status service did not receive the imported cards within {:?} (--settle)",
            cx.args.settle
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use idcard_domain::check_documents;

    use super::*;

    #[test]
    fn citizens_are_valid_distinct_and_spread_over_provinces() {
        let pool = Pool::new(42, 2_000);
        let today = today_cst();
        let mut ids = HashSet::new();
        let mut provinces = HashSet::new();
        for i in 0..pool.size() {
            let citizen = pool.citizen(i).expect("citizen");
            assert!(CitizenId::parse(citizen.citizen_id.as_str(), today).is_ok());
            assert!(citizen.domicile.is_current());
            assert_eq!(citizen.citizen_id.birth_date(), citizen.birth_date);
            assert!(
                ids.insert(citizen.citizen_id.as_str().to_string()),
                "citizen {i} repeats"
            );
            provinces.insert(citizen.domicile.code() / 10_000);
        }
        assert!(provinces.len() >= 30, "{} provinces", provinces.len());
        assert!(pool.provinces() >= 30);
    }

    #[test]
    fn the_first_citizens_of_a_pool_cover_many_provinces() {
        let pool = Pool::new(7, 50);
        let provinces: HashSet<u32> = (0..50)
            .map(|i| pool.citizen(i).expect("citizen").domicile.code() / 10_000)
            .collect();
        assert!(provinces.len() >= 30, "{} provinces", provinces.len());
    }

    #[test]
    fn applications_carry_the_documents_and_fee_the_rules_ask() {
        let pool = Pool::new(1, 4);
        let today = today_cst();
        for i in 0..4 {
            let citizen = pool.citizen(i).expect("citizen");
            let age = citizen.citizen_id.age_on(today);
            assert!(age >= 16, "no guardian needed");
            assert_eq!(check_documents(citizen.kind, age, &citizen.documents()), Ok(()));
            let request = citizen.submit_request("LOAD-1", "clerk", &photo(100));
            assert_eq!(request.documents.len(), 2);
            assert!(request.documents.iter().all(|d| *d != 0));
            let fee = request.fee.expect("fee");
            let expected = application_fee(citizen.kind, Waiver::None, today).amount_fen;
            assert_eq!(fee.amount_fen, i64::from(expected));
            match citizen.kind {
                ApplicationKind::Renewal => {
                    let end = citizen.card_end.expect("a renewed card expires");
                    assert!(end > today && end <= today + time::Duration::days(90));
                    assert!(request.current_card_expiry.is_some());
                }
                ApplicationKind::Replacement => assert!(request.current_card_expiry.is_none()),
            }
        }
    }

    #[test]
    fn a_photo_has_the_size_asked_and_a_jpeg_frame() {
        let p = photo(16 * 1024);
        assert_eq!(p.len(), 16 * 1024);
        assert_eq!(&p[..2], &[0xFF, 0xD8]);
        assert_eq!(&p[p.len() - 2..], &[0xFF, 0xD9]);
    }
}
