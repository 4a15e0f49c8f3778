//! What approval fixes: the card's validity (by age at issue, from the domain) and the
//! issuing authority, the county-level public security organ of the domicile (Art. 8).
//!
//! The authority is written as printed on cards, from the GB/T 2260 names of the
//! declared domicile region:
//! - a city district is served by a branch of the city bureau: 440106 天河区 gives
//!   "广州市公安局天河分局", 110105 朝阳区 "北京市公安局朝阳分局" (the municipality
//!   stands in for the city when the prefecture level is only a grouping such as
//!   市辖区); a district whose stem is one character keeps its whole name
//!   ("阳泉市公安局矿区分局");
//! - a county, county-level city, banner or special district has its own bureau:
//!   "桐庐县公安局", "建德市公安局", "神农架林区公安局".

use idcard_domain::{RegionCode, validity_period};
use idcard_proto::v1;
use idcard_server::wire::date_to_wire;
use time::Date;
use uuid::Uuid;

use crate::register::{Card, CardStatus};

/// Prefecture-level names in GB/T 2260 that group counties rather than name a city.
const GROUPING_NAMES: [&str; 7] = [
    "市辖区",
    "县",
    "市",
    "市区",
    "省直辖县级行政单位",
    "省直辖行政单位",
    "自治区直辖县级行政单位",
];

/// County-level names ending in 区 that are not city districts.
const NOT_DISTRICTS: [&str; 3] = ["林区", "特区", "自治区"];

/// The issuing authority for a resident of `domicile`.
pub fn issuing_authority(domicile: RegionCode) -> String {
    let name = domicile.name();
    match (district_stem(name), city_of(domicile)) {
        (Some(stem), Some(city)) => format!("{city}公安局{stem}分局"),
        _ => format!("{name}公安局"),
    }
}

/// "天河区" gives "天河"; a one-character stem keeps the whole name ("矿区").
fn district_stem(name: &str) -> Option<&str> {
    if NOT_DISTRICTS.iter().any(|suffix| name.ends_with(suffix)) {
        return None;
    }
    let stem = name.strip_suffix('区')?;
    Some(if stem.chars().count() >= 2 { stem } else { name })
}

/// The city a district belongs to: its prefecture, or the municipality (北京市, ...)
/// when the prefecture level is only a grouping.
fn city_of(region: RegionCode) -> Option<&'static str> {
    let prefecture = region
        .prefecture()
        .filter(|p| p.code != region.code() && !GROUPING_NAMES.contains(&p.name));
    let municipality = || {
        region
            .province()
            .filter(|p| p.code != region.code() && p.name.ends_with('市'))
    };
    prefecture.or_else(municipality).map(|info| info.name)
}

/// A new card issued on approval, and the issuance the acceptance side is told.
pub struct Issued {
    pub card: Card,
    pub issuance: v1::Issuance,
}

/// Issues a card on `issue_date` (China Standard Time) for the applicant born on
/// `birth_date` whose household is registered in `domicile`.
pub fn issue(
    citizen_id: &str,
    birth_date: Date,
    domicile: RegionCode,
    application_id: Uuid,
    issue_date: Date,
    now_ms: i64,
) -> Issued {
    let period = validity_period(birth_date, issue_date);
    let card = Card {
        card_id: Uuid::now_v7(),
        citizen_id: citizen_id.to_string(),
        validity_start: period.start,
        validity_end: period.end,
        issuing_authority: issuing_authority(domicile),
        status: CardStatus::Active,
        application_id: Some(application_id),
        issued_at_ms: now_ms,
    };
    let issuance = v1::Issuance {
        validity_start: Some(date_to_wire(period.start)),
        validity_end: period.end.map(date_to_wire),
        long_term: period.is_long_term(),
        issuing_authority: card.issuing_authority.clone(),
        card_id: card.card_id.to_string(),
    };
    Issued { card, issuance }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn authority(code: &str) -> String {
        issuing_authority(RegionCode::parse_current(code).unwrap())
    }

    #[test]
    fn city_district_is_a_branch_of_the_city_bureau() {
        assert_eq!(authority("440106"), "广州市公安局天河分局");
        assert_eq!(authority("110105"), "北京市公安局朝阳分局");
        assert_eq!(authority("330106"), "杭州市公安局西湖分局");
    }

    #[test]
    fn county_has_its_own_bureau() {
        assert_eq!(authority("330122"), "桐庐县公安局");
        assert_eq!(authority("330182"), "建德市公安局");
    }
}
