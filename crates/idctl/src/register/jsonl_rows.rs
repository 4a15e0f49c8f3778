//! JSON lines: one resident object per line, its cards in a `cards` array.

use std::collections::HashMap;

use serde_json::{Map, Value};
use time::Date;

use super::row::{self, CardKeys, Fields, RESIDENT_KEYS, Row};
use super::{Origin, Parsed, RowError};

const CARD_KEYS: CardKeys = CardKeys {
    card_id: "card_id",
    validity_start: "validity_start",
    validity_end: "validity_end",
    issuing_authority: "issuing_authority",
    status: "status",
};

struct Object<'a>(&'a Map<String, Value>);

impl Fields for Object<'_> {
    fn text(&self, key: &str) -> Result<Option<&str>, String> {
        match self.0.get(key) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(text)) => Ok(Some(text.trim()).filter(|t| !t.is_empty())),
            Some(other) => Err(format!("expected a string, got {}", type_name(other))),
        }
    }

    fn flag(&self, key: &str) -> Result<bool, String> {
        match self.0.get(key) {
            None | Some(Value::Null) => Ok(false),
            Some(Value::Bool(flag)) => Ok(*flag),
            Some(other) => Err(format!("expected true or false, got {}", type_name(other))),
        }
    }
}

pub(super) fn parse(text: &str, today: Date) -> Result<Parsed, Vec<RowError>> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut parsed = Parsed::default();
    let mut errors = Vec::new();
    let mut citizen_lines: HashMap<String, usize> = HashMap::new();
    let mut card_lines: HashMap<String, usize> = HashMap::new();
    for (i, line) in text.lines().enumerate() {
        let line_no = i + 1;
        if line.trim().is_empty() {
            continue;
        }
        let mut row = Row {
            line: line_no,
            errors: &mut errors,
        };
        let object = match serde_json::from_str::<Value>(line) {
            Ok(Value::Object(object)) => object,
            Ok(other) => {
                row.fail("json", format!("expected an object, got {}", type_name(&other)));
                continue;
            }
            Err(err) => {
                row.fail("json", json_error(&err));
                continue;
            }
        };
        for key in object.keys() {
            if !RESIDENT_KEYS.contains(&key.as_str()) && key != "cards" {
                row.fail(
                    key.as_str(),
                    format!("unknown field, expected one of {}, cards", RESIDENT_KEYS.join(", ")),
                );
            }
        }
        let resident = row::resident(&Object(&object), today, &mut row);
        let cards = cards(&object, &mut row);
        let (Some((mut resident, citizen_id)), Some(cards)) = (resident, cards) else {
            continue;
        };
        if let Some(first) = citizen_lines.insert(citizen_id.as_str().to_string(), line_no) {
            row.fail(
                "citizen_id",
                format!("the same citizen id is on line {first}; each resident appears once"),
            );
            continue;
        }
        let mut duplicate = false;
        for (j, card) in cards.iter().enumerate() {
            if card.card_id.is_empty() {
                continue;
            }
            if let Some(first) = card_lines.insert(card.card_id.clone(), line_no) {
                row.fail(
                    format!("cards[{j}].card_id"),
                    format!("the same card id is on line {first}"),
                );
                duplicate = true;
            }
        }
        if duplicate {
            continue;
        }
        parsed.origins.push(Origin {
            line: line_no,
            cards: vec![line_no; cards.len()],
        });
        resident.cards = cards;
        parsed.residents.push(resident);
    }
    if errors.is_empty() { Ok(parsed) } else { Err(errors) }
}

/// The `cards` array; `None` if any card is wrong (errors noted).
fn cards(object: &Map<String, Value>, row: &mut Row<'_>) -> Option<Vec<idcard_proto::v1::ResidentCard>> {
    let items = match object.get("cards") {
        None | Some(Value::Null) => return Some(Vec::new()),
        Some(Value::Array(items)) => items,
        Some(other) => {
            row.fail("cards", format!("expected an array, got {}", type_name(other)));
            return None;
        }
    };
    let mut cards = Vec::with_capacity(items.len());
    let mut ok = true;
    for (j, item) in items.iter().enumerate() {
        let label = |key: &str| format!("cards[{j}].{key}");
        let Value::Object(card) = item else {
            row.fail(
                format!("cards[{j}]"),
                format!("expected an object, got {}", type_name(item)),
            );
            ok = false;
            continue;
        };
        for key in card.keys() {
            if !CARD_KEYS.all().contains(&key.as_str()) {
                row.fail(
                    label(key),
                    format!("unknown field, expected one of {}", CARD_KEYS.all().join(", ")),
                );
                ok = false;
            }
        }
        match row::card(&Object(card), &CARD_KEYS, &label, row) {
            Some(card) => cards.push(card),
            None => ok = false,
        }
    }
    ok.then_some(cards)
}

fn type_name(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// serde_json's message without its "at line 1 column N" (each line is parsed alone).
fn json_error(err: &serde_json::Error) -> String {
    let message = err.to_string();
    let message = message.rsplit_once(" at line ").map_or(message.as_str(), |(m, _)| m);
    format!("not valid JSON: {message} (column {})", err.column())
}

#[cfg(test)]
mod tests {
    use time::macros::date;

    use super::*;

    const TODAY: Date = date!(2026 - 11 - 25);

    const GOOD: &str = r#"{"citizen_id":"11010519491231002X","name":"王小红","sex":"female","ethnicity":"汉","birth_date":"1949-12-31","domicile_address":"北京市朝阳区某路1号","domicile_region_code":"110105","fingerprint_on_record":true,"phone":"13800000009","cards":[{"card_id":"0193a000-0000-7000-8000-0000000000aa","validity_start":"2010-01-01","issuing_authority":"北京市公安局朝阳分局","status":"active"}]}"#;

    fn errors_of(text: &str) -> Vec<String> {
        parse(text, TODAY)
            .expect_err("errors")
            .iter()
            .map(ToString::to_string)
            .collect()
    }

    #[test]
    fn a_good_line_gives_a_resident_with_a_long_term_card() {
        let parsed = parse(&format!("\n{GOOD}\n"), TODAY).expect("parses");
        assert_eq!(parsed.residents.len(), 1);
        assert_eq!(
            parsed.origins,
            vec![Origin {
                line: 2,
                cards: vec![2]
            }]
        );
        let resident = &parsed.residents[0];
        let items = resident.card_items.as_ref().expect("items");
        assert_eq!(items.citizen_id, "11010519491231002X");
        assert_eq!(items.sex, idcard_proto::v1::Sex::Female as i32);
        assert!(resident.fingerprint_on_record);
        assert!(!resident.record_locked && !resident.bad_credit && !resident.forged_documents_on_record);
        let card = &resident.cards[0];
        assert!(card.long_term);
        assert!(card.validity_end.is_none());
        assert_eq!(card.status, idcard_proto::v1::CardStatus::Active as i32);
    }

    #[test]
    fn every_bad_field_is_reported_with_its_line() {
        let bad = GOOD
            .replace("11010519491231002X", "110105194912310021")
            .replace(r#""sex":"female""#, r#""sex":"f""#)
            .replace(r#""fingerprint_on_record":true"#, r#""fingerprint_on_record":"yes""#)
            .replace(
                r#""domicile_region_code":"110105""#,
                r#""domicile_region_code":"110103""#,
            )
            .replace(r#""status":"active""#, r#""status":"stolen""#);
        let errors = errors_of(&format!("{GOOD}\n{bad}"));
        assert_eq!(
            errors,
            vec![
                "line 2: citizen_id: citizen id check character is 1, expected X",
                "line 2: sex: expected male or female",
                "line 2: domicile_region_code: region code 110103 was retired after 2009, expected a code in use today",
                "line 2: fingerprint_on_record: expected true or false, got a string",
                "line 2: cards[0].status: \"stolen\" is not a card status: expected active, reported_lost or invalidated",
            ]
        );
    }

    #[test]
    fn messages_do_not_repeat_personal_data() {
        let bad = GOOD.replace(r#""birth_date":"1949-12-31""#, r#""birth_date":"1949-12-30""#);
        let errors = errors_of(&bad);
        assert_eq!(
            errors,
            vec!["line 1: birth_date: does not match the birth date in the citizen id"]
        );
    }

    #[test]
    fn missing_fields_unknown_fields_and_broken_json_are_named() {
        let text = "{\"citizen_id\":\"11010519491231002X\",\"nmae\":\"x\"}\n{not json\n[1]";
        let errors = errors_of(text);
        assert!(errors.contains(&"line 1: name: required".to_string()), "{errors:?}");
        assert!(
            errors.iter().any(|e| e.starts_with("line 1: nmae: unknown field")),
            "{errors:?}"
        );
        assert!(
            errors.iter().any(|e| e.starts_with("line 2: json: not valid JSON")),
            "{errors:?}"
        );
        assert!(
            errors.contains(&"line 3: json: expected an object, got an array".to_string()),
            "{errors:?}"
        );
    }

    #[test]
    fn duplicates_name_the_first_line() {
        let errors = errors_of(&format!("{GOOD}\n{GOOD}"));
        assert_eq!(
            errors,
            vec!["line 2: citizen_id: the same citizen id is on line 1; each resident appears once"]
        );
    }

    #[test]
    fn card_end_must_follow_its_start() {
        let bad = GOOD.replace(
            r#""validity_start":"2010-01-01""#,
            r#""validity_start":"2010-01-01","validity_end":"2009-01-01""#,
        );
        assert_eq!(
            errors_of(&bad),
            vec!["line 1: cards[0].validity_end: must be after the validity start"]
        );
    }

    #[test]
    fn the_sample_file_parses() {
        let parsed = parse(include_str!("../seed/residents.jsonl"), TODAY).expect("sample parses");
        assert_eq!(parsed.residents.len(), 8);
    }
}
