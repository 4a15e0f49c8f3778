//! CSV: a header row, then one row per resident and card. Rows with the same
//! citizen_id add cards to one resident; their other columns repeat the first row's
//! values or are left empty.

use std::collections::HashMap;

use csv::{ReaderBuilder, StringRecord, Trim};
use time::Date;

use super::row::{self, CardKeys, Fields, REQUIRED_KEYS, RESIDENT_KEYS, Row};
use super::{Origin, Parsed, RowError};

const CARD_KEYS: CardKeys = CardKeys {
    card_id: "card_id",
    validity_start: "card_validity_start",
    validity_end: "card_validity_end",
    issuing_authority: "card_issuing_authority",
    status: "card_status",
};

/// The column a card field of the contract is read from (`validity_end` ->
/// `card_validity_end`).
pub(super) fn card_column(key: &str) -> String {
    match key {
        "card_id" => key.to_string(),
        "long_term" => CARD_KEYS.validity_end.to_string(),
        _ => format!("card_{key}"),
    }
}

/// One record, its values found through the header.
struct Record<'a> {
    columns: &'a HashMap<String, usize>,
    record: &'a StringRecord,
}

impl<'a> Record<'a> {
    fn get(&self, key: &str) -> &'a str {
        self.columns.get(key).and_then(|&i| self.record.get(i)).unwrap_or("")
    }
}

impl Fields for Record<'_> {
    fn text(&self, key: &str) -> Result<Option<&str>, String> {
        Ok(Some(self.get(key)).filter(|t| !t.is_empty()))
    }

    fn flag(&self, key: &str) -> Result<bool, String> {
        row::parse_flag(self.get(key))
    }
}

/// The first row of a resident.
struct First {
    line: usize,
    record: StringRecord,
    /// Index in `Parsed::residents`, if the row was good.
    index: Option<usize>,
}

pub(super) fn parse(text: &str, today: Date) -> Result<Parsed, Vec<RowError>> {
    let mut reader = ReaderBuilder::new()
        .has_headers(true)
        .trim(Trim::All)
        .from_reader(text.as_bytes());
    let columns = header(&mut reader)?;
    let mut parsed = Parsed::default();
    let mut errors = Vec::new();
    let mut firsts: HashMap<String, First> = HashMap::new();
    let mut card_lines: HashMap<String, usize> = HashMap::new();
    for result in reader.records() {
        let record = match result {
            Ok(record) => record,
            Err(err) => {
                errors.push(record_error(&err));
                continue;
            }
        };
        let line = record.position().map_or(0, |p| p.line() as usize);
        let fields = Record {
            columns: &columns,
            record: &record,
        };
        let mut row = Row {
            line,
            errors: &mut errors,
        };

        // A later row of a resident already seen adds a card.
        let citizen_id = fields.get("citizen_id").to_ascii_uppercase();
        if let Some(first) = firsts.get(&citizen_id) {
            let before = row.errors.len();
            let first_fields = Record {
                columns: &columns,
                record: &first.record,
            };
            for key in RESIDENT_KEYS {
                let value = fields.get(key);
                if key != "citizen_id" && !value.is_empty() && value != first_fields.get(key) {
                    row.fail(
                        key,
                        format!("differs from line {}, where this resident first appears", first.line),
                    );
                }
            }
            if !row::has_card(&fields, &CARD_KEYS) {
                row.fail(
                    "citizen_id",
                    format!(
                        "the same citizen id is on line {}; a repeated row must add a card",
                        first.line
                    ),
                );
                continue;
            }
            let card = row::card(&fields, &CARD_KEYS, &|key| key.to_string(), &mut row);
            let (Some(card), Some(index)) = (card, first.index) else {
                continue;
            };
            if row.errors.len() == before && note_card(&card, line, &mut card_lines, &mut row) {
                parsed.residents[index].cards.push(card);
                parsed.origins[index].cards.push(line);
            }
            continue;
        }

        let resident = row::resident(&fields, today, &mut row);
        let card = if row::has_card(&fields, &CARD_KEYS) {
            row::card(&fields, &CARD_KEYS, &|key| key.to_string(), &mut row).map(Some)
        } else {
            Some(None)
        };
        let index = match (resident, card) {
            (Some((mut resident, id)), Some(card)) => {
                let card_ok = card
                    .as_ref()
                    .is_none_or(|card| note_card(card, line, &mut card_lines, &mut row));
                // Key later rows by the normalised number, so `x` and `X` are one person.
                let key = id.as_str().to_string();
                if card_ok {
                    let mut origin = Origin {
                        line,
                        cards: Vec::new(),
                    };
                    if let Some(card) = card {
                        resident.cards.push(card);
                        origin.cards.push(line);
                    }
                    parsed.residents.push(resident);
                    parsed.origins.push(origin);
                    firsts.insert(
                        key,
                        First {
                            line,
                            record: record.clone(),
                            index: Some(parsed.residents.len() - 1),
                        },
                    );
                } else {
                    firsts.insert(
                        key,
                        First {
                            line,
                            record: record.clone(),
                            index: None,
                        },
                    );
                }
                continue;
            }
            _ => None,
        };
        // A bad first row still claims its citizen id, so that later rows of the same
        // resident are not reported as residents of their own.
        if !citizen_id.is_empty() {
            firsts.insert(citizen_id, First { line, record, index });
        }
    }
    if errors.is_empty() { Ok(parsed) } else { Err(errors) }
}

/// Records a card id; `false` (error noted) if another row has it.
fn note_card(
    card: &idcard_proto::v1::ResidentCard,
    line: usize,
    seen: &mut HashMap<String, usize>,
    row: &mut Row<'_>,
) -> bool {
    if card.card_id.is_empty() {
        return true;
    }
    match seen.insert(card.card_id.clone(), line) {
        Some(first) => {
            row.fail(CARD_KEYS.card_id, format!("the same card id is on line {first}"));
            false
        }
        None => true,
    }
}

/// The header's columns by name; every required column present, none unknown, none
/// twice.
fn header(reader: &mut csv::Reader<&[u8]>) -> Result<HashMap<String, usize>, Vec<RowError>> {
    let headers = reader.headers().map_err(|err| vec![record_error(&err)])?.clone();
    let mut errors = Vec::new();
    let mut columns = HashMap::new();
    let known: Vec<&str> = RESIDENT_KEYS.iter().copied().chain(CARD_KEYS.all()).collect();
    for (i, name) in headers.iter().enumerate() {
        let name = name.trim_start_matches('\u{feff}');
        if !known.contains(&name) {
            errors.push(RowError::new(
                1,
                name,
                format!("unknown column, expected columns from {}", known.join(", ")),
            ));
        } else if columns.insert(name.to_string(), i).is_some() {
            errors.push(RowError::new(1, name, "the column appears twice"));
        }
    }
    for required in REQUIRED_KEYS {
        if !columns.contains_key(required) {
            errors.push(RowError::new(1, required, "required column missing from the header"));
        }
    }
    if errors.is_empty() { Ok(columns) } else { Err(errors) }
}

fn record_error(err: &csv::Error) -> RowError {
    let line = err.position().map_or(0, |p| p.line() as usize);
    match err.kind() {
        csv::ErrorKind::UnequalLengths { expected_len, len, .. } => {
            RowError::new(line, "csv", format!("{len} fields, but the header has {expected_len}"))
        }
        csv::ErrorKind::Utf8 { .. } => RowError::new(line, "csv", "not UTF-8 text"),
        _ => RowError::new(line, "csv", err.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use time::macros::date;

    use super::*;

    const TODAY: Date = date!(2026 - 11 - 25);
    const HEADER: &str = "citizen_id,name,sex,ethnicity,birth_date,domicile_address,domicile_region_code,phone,fingerprint_on_record,record_locked,card_id,card_validity_start,card_validity_end,card_issuing_authority,card_status";
    const ROW: &str = "11010519491231002X,王小红,female,汉,1949-12-31,北京市朝阳区某路1号,110105,13800000009,yes,,0193a000-0000-7000-8000-0000000000aa,2010-01-01,2030-01-01,北京市公安局朝阳分局,active";
    const SECOND_CARD: &str = "11010519491231002x,,,,,,,,,,0193a000-0000-7000-8000-0000000000ab,1990-01-01,2010-01-01,北京市公安局朝阳分局,invalidated";

    fn errors_of(text: &str) -> Vec<String> {
        parse(text, TODAY)
            .expect_err("errors")
            .iter()
            .map(ToString::to_string)
            .collect()
    }

    #[test]
    fn rows_of_one_citizen_add_cards_to_one_resident() {
        let text = format!("{HEADER}\n{ROW}\n{SECOND_CARD}\n");
        let parsed = parse(&text, TODAY).expect("parses");
        assert_eq!(parsed.residents.len(), 1);
        assert_eq!(
            parsed.origins,
            vec![Origin {
                line: 2,
                cards: vec![2, 3]
            }]
        );
        let resident = &parsed.residents[0];
        assert!(resident.fingerprint_on_record);
        assert!(!resident.record_locked);
        assert_eq!(resident.cards.len(), 2);
        assert!(!resident.cards[0].long_term);
        assert_eq!(
            resident.cards[1].status,
            idcard_proto::v1::CardStatus::Invalidated as i32
        );
    }

    #[test]
    fn a_row_without_card_columns_is_a_resident_without_cards() {
        let text = "citizen_id,name,sex,ethnicity,birth_date,domicile_address,domicile_region_code\n\
                    11010519491231002X,王小红,female,汉,1949-12-31,北京市朝阳区某路1号,110105\n";
        let parsed = parse(text, TODAY).expect("parses");
        assert!(parsed.residents[0].cards.is_empty());
        assert_eq!(parsed.residents[0].phone, "");
    }

    #[test]
    fn every_bad_row_is_reported_and_nothing_is_returned() {
        let bad_date = ROW.replace("1949-12-31", "1949-02-30");
        let bad_flag = ROW
            .replace("11010519491231002X", "440524188001010014")
            .replace(",yes,", ",maybe,")
            .replace("王小红", "张三")
            .replace(",female,", ",male,")
            .replace("1949-12-31", "1880-01-01")
            .replace("0000000000aa", "0000000000cc");
        let short = "11010519491231002X,王小红";
        let text = format!("{HEADER}\n{ROW}\n{bad_date}\n{bad_flag}\n{short}\n");
        let errors = errors_of(&text);
        assert_eq!(
            errors,
            vec![
                "line 3: birth_date: differs from line 2, where this resident first appears",
                "line 4: fingerprint_on_record: expected true or false, got \"maybe\"",
                "line 5: csv: 2 fields, but the header has 15",
            ]
        );
    }

    #[test]
    fn bad_calendar_date_and_wrong_sex_are_named() {
        let row = ROW.replace("1949-12-31", "1949-02-30").replace(",female,", ",male,");
        let errors = errors_of(&format!("{HEADER}\n{row}\n"));
        assert_eq!(
            errors,
            vec![
                "line 2: sex: is male but the citizen id's sequence number says female",
                "line 2: birth_date: expected a calendar date YYYY-MM-DD",
            ]
        );
    }

    #[test]
    fn header_must_name_known_columns_and_every_required_one() {
        let errors = errors_of("citizen_id,name,colour\n");
        assert!(
            errors.iter().any(|e| e.starts_with("line 1: colour: unknown column")),
            "{errors:?}"
        );
        assert!(errors.contains(&"line 1: domicile_region_code: required column missing from the header".to_string()));
    }

    #[test]
    fn a_repeated_row_without_a_card_is_an_error() {
        let text = format!("{HEADER}\n{ROW}\n11010519491231002X,,,,,,,,,,,,,,\n");
        assert_eq!(
            errors_of(&text),
            vec!["line 3: citizen_id: the same citizen id is on line 2; a repeated row must add a card"]
        );
    }

    #[test]
    fn a_card_id_used_twice_names_the_first_line() {
        let second = SECOND_CARD.replace("0000000000ab", "0000000000aa");
        assert_eq!(
            errors_of(&format!("{HEADER}\n{ROW}\n{second}\n")),
            vec!["line 3: card_id: the same card id is on line 2"]
        );
    }

    #[test]
    fn card_fields_map_to_columns() {
        assert_eq!(card_column("card_id"), "card_id");
        assert_eq!(card_column("validity_end"), "card_validity_end");
        assert_eq!(card_column("status"), "card_status");
    }
}
