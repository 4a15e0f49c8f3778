//! What the status index knows of a card, and the rules that turn it into a
//! verification answer: how printed data is normalised into a key, which of two cards
//! with the same printed data the index keeps, and when a card counts as invalid.

use std::fmt;

use idcard_domain::CitizenId;
use idcard_proto::v1 as pb;
use idcard_server::wire::date_to_text;
use time::Date;

/// The data printed on a card that a verifier reads off it: the citizen id, the name and
/// the validity start. Equal printed data gives an equal verification key.
///
/// `Debug` shows the citizen id masked and never the name.
#[derive(Clone, PartialEq, Eq)]
pub struct PrintedCard {
    citizen_id: CitizenId,
    name: String,
    validity_start: Date,
}

impl PrintedCard {
    /// The printed data with the name normalised; `None` when the name is blank.
    pub fn new(citizen_id: CitizenId, name: &str, validity_start: Date) -> Option<PrintedCard> {
        let name = normalise_name(name);
        (!name.is_empty()).then_some(PrintedCard {
            citizen_id,
            name,
            validity_start,
        })
    }

    pub fn citizen_id(&self) -> &CitizenId {
        &self.citizen_id
    }

    pub fn validity_start(&self) -> Date {
        self.validity_start
    }

    /// The text whose blind index is the card's verification key:
    /// `card:<citizen id>|<normalised name>|<YYYY-MM-DD>`. The citizen id is in its
    /// canonical form (upper-case `X`) and the date has a fixed width, so no two
    /// printed cards give the same text.
    pub fn key_text(&self) -> String {
        format!(
            "card:{}|{}|{}",
            self.citizen_id.as_str(),
            self.name,
            date_to_text(self.validity_start)
        )
    }
}

impl fmt::Debug for PrintedCard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PrintedCard")
            .field("citizen_id", &self.citizen_id)
            .field("name", &"<hidden>")
            .field("validity_start", &self.validity_start)
            .finish()
    }
}

/// A name as the key covers it: trimmed, every run of white space (the ideographic
/// space U+3000 included) one ASCII space. A verifier who types an extra space still
/// matches; anything else about the name must be exact.
pub fn normalise_name(name: &str) -> String {
    name.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// A card's status as its issuing review service published it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CardStatus {
    Active,
    ReportedLost,
    Invalidated,
}

impl CardStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            CardStatus::Active => "active",
            CardStatus::ReportedLost => "reported_lost",
            CardStatus::Invalidated => "invalidated",
        }
    }

    pub fn parse(text: &str) -> Option<CardStatus> {
        match text {
            "active" => Some(CardStatus::Active),
            "reported_lost" => Some(CardStatus::ReportedLost),
            "invalidated" => Some(CardStatus::Invalidated),
            _ => None,
        }
    }

    /// `None` for UNSPECIFIED or a value this version does not know.
    pub fn from_wire(value: i32) -> Option<CardStatus> {
        match pb::CardStatus::try_from(value) {
            Ok(pb::CardStatus::Active) => Some(CardStatus::Active),
            Ok(pb::CardStatus::ReportedLost) => Some(CardStatus::ReportedLost),
            Ok(pb::CardStatus::Invalidated) => Some(CardStatus::Invalidated),
            Ok(pb::CardStatus::Unspecified) | Err(_) => None,
        }
    }
}

/// Whether card `a` takes the verification key from card `b`, when two different cards
/// carry the same printed data (a card reissued on the day the first was issued). A card
/// that is not invalidated beats an invalidated one, since a citizen holds one live card
/// at a time and the old card's invalidation may be published after the new card;
/// otherwise the more recent change wins. On a tie the card already held stays.
pub fn supersedes(a: (CardStatus, i64), b: (CardStatus, i64)) -> bool {
    let rank = |(status, version): (CardStatus, i64)| (status != CardStatus::Invalidated, version);
    rank(a) > rank(b)
}

/// What the index holds for a verification key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Indexed {
    pub status: CardStatus,
    /// `None`: long-term.
    pub validity_end: Option<Date>,
}

/// The only answers a verifier gets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Answer {
    Valid,
    ReportedLost,
    Invalidated,
    NoMatch,
}

impl Answer {
    pub fn as_str(self) -> &'static str {
        match self {
            Answer::Valid => "valid",
            Answer::ReportedLost => "reported_lost",
            Answer::Invalidated => "invalidated",
            Answer::NoMatch => "no_match",
        }
    }

    /// The `answer` label of `idcard_verifications_total`, as the wire enum names it.
    pub fn metric_label(self) -> &'static str {
        match self {
            Answer::Valid => "VALID",
            Answer::ReportedLost => "REPORTED_LOST",
            Answer::Invalidated => "INVALIDATED",
            Answer::NoMatch => "NO_MATCH",
        }
    }

    pub fn to_wire(self) -> pb::VerificationAnswer {
        match self {
            Answer::Valid => pb::VerificationAnswer::Valid,
            Answer::ReportedLost => pb::VerificationAnswer::ReportedLost,
            Answer::Invalidated => pb::VerificationAnswer::Invalidated,
            Answer::NoMatch => pb::VerificationAnswer::NoMatch,
        }
    }
}

/// The answer for what the index holds under a key, on `today` (China Standard Time).
/// A card is valid through its validity end date; from the day after, it is invalid
/// whatever its status, a reported loss included.
pub fn answer(indexed: Option<Indexed>, today: Date) -> Answer {
    let Some(card) = indexed else {
        return Answer::NoMatch;
    };
    let expired = card.validity_end.is_some_and(|end| today > end);
    match card.status {
        CardStatus::Invalidated => Answer::Invalidated,
        _ if expired => Answer::Invalidated,
        CardStatus::ReportedLost => Answer::ReportedLost,
        CardStatus::Active => Answer::Valid,
    }
}

#[cfg(test)]
mod tests {
    use time::macros::date;

    use super::*;

    const CITIZEN_ID: &str = "11010519491231002X";

    fn printed(name: &str) -> Option<PrintedCard> {
        let id = CitizenId::parse(CITIZEN_ID, date!(2026 - 01 - 01)).expect("valid id");
        PrintedCard::new(id, name, date!(2016 - 03 - 02))
    }

    #[test]
    fn names_match_whatever_the_spacing() {
        let plain = printed("Ma Li").expect("a name").key_text();
        for spaced in ["  Ma Li ", "Ma  Li", "Ma\u{3000}Li", "\tMa \n Li"] {
            assert_eq!(printed(spaced).expect("a name").key_text(), plain, "{spaced:?}");
        }
        assert_ne!(printed("MaLi").expect("a name").key_text(), plain);
        assert_ne!(printed("ma li").expect("a name").key_text(), plain);
    }

    #[test]
    fn a_blank_name_is_no_printed_card() {
        assert!(printed("").is_none());
        assert!(printed(" \u{3000} ").is_none());
    }

    #[test]
    fn the_key_text_is_canonical_and_debug_hides_the_name() {
        let card = printed("王秀英").expect("a name");
        assert_eq!(card.key_text(), format!("card:{CITIZEN_ID}|王秀英|2016-03-02"));
        let shown = format!("{card:?}");
        assert!(!shown.contains("王秀英") && !shown.contains(CITIZEN_ID), "{shown}");
    }

    #[test]
    fn answers_follow_status_and_expiry() {
        let today = date!(2026 - 05 - 01);
        let card = |status, validity_end| Some(Indexed { status, validity_end });
        assert_eq!(answer(None, today), Answer::NoMatch);
        assert_eq!(answer(card(CardStatus::Active, None), today), Answer::Valid);
        assert_eq!(
            answer(card(CardStatus::Active, Some(date!(2026 - 05 - 01))), today),
            Answer::Valid,
            "valid on its last day"
        );
        assert_eq!(
            answer(card(CardStatus::Active, Some(date!(2026 - 04 - 30))), today),
            Answer::Invalidated
        );
        assert_eq!(
            answer(card(CardStatus::ReportedLost, None), today),
            Answer::ReportedLost
        );
        assert_eq!(
            answer(card(CardStatus::ReportedLost, Some(date!(2020 - 01 - 01))), today),
            Answer::Invalidated
        );
        assert_eq!(answer(card(CardStatus::Invalidated, None), today), Answer::Invalidated);
    }

    #[test]
    fn a_live_card_keeps_the_key_from_an_invalidated_one() {
        use CardStatus::*;
        assert!(supersedes((Active, 1), (Invalidated, 2)));
        assert!(!supersedes((Invalidated, 3), (Active, 1)));
        assert!(supersedes((ReportedLost, 2), (Active, 1)));
        assert!(supersedes((Invalidated, 2), (Invalidated, 1)));
        assert!(!supersedes((Active, 1), (Active, 1)), "a tie keeps the card held");
    }
}
