//! `idctl register import FILE`: loads household register records into the review
//! service (`ReviewService/ImportResidents`), all or nothing.
//!
//! Every row is checked here first, with the rules the service applies, so that each
//! error names its line; nothing is sent unless every row parses. What only the service
//! can know (a card id that belongs to another resident) comes back as field violations
//! on `residents[i]...`, which are printed against the file's lines too.
//!
//! Error messages never repeat a name, an address, a phone number or a date from the
//! file: only the line, the field and what is wrong.

mod csv_rows;
mod jsonl_rows;
mod row;

use std::fmt;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;
use idcard_proto::v1 as pb;
use idcard_server::wire::today_cst;

use crate::acceptance_cmd::new_request_id;
use crate::endpoints::Endpoints;

#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// Load household register records (CSV or JSON lines), all or nothing.
    ///
    /// JSON lines: one resident per line with citizen_id, name, sex (male|female),
    /// ethnicity, birth_date (YYYY-MM-DD), domicile_address, domicile_region_code,
    /// phone, fingerprint_on_record, record_locked, bad_credit,
    /// forged_documents_on_record (booleans, default false) and cards: [{card_id,
    /// validity_start, validity_end (absent: long-term), issuing_authority, status
    /// (active|reported_lost|invalidated)}]. CSV: a header row with the same scalar
    /// columns plus optional card_id, card_validity_start, card_validity_end,
    /// card_issuing_authority, card_status for one card per row; rows with the same
    /// citizen_id add cards to one resident.
    Import {
        file: PathBuf,
        /// Default: from the file extension (.csv; .jsonl, .ndjson, .json).
        #[arg(long, value_enum)]
        format: Option<Format>,
        /// Client request id; a repeat returns the first answer (default: a new UUID v7).
        #[arg(long)]
        request_id: Option<String>,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    Csv,
    Jsonl,
}

impl Format {
    fn of_path(path: &Path) -> Option<Format> {
        let extension = path.extension()?.to_str()?.to_ascii_lowercase();
        match extension.as_str() {
            "csv" => Some(Format::Csv),
            "jsonl" | "ndjson" | "json" => Some(Format::Jsonl),
            _ => None,
        }
    }
}

/// What is wrong with one row of an import file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RowError {
    /// 1-based line of the file.
    pub line: usize,
    /// The file's name for the field (JSON key or CSV column), or `json` / `csv` /
    /// `header` for the row as a whole.
    pub field: String,
    pub message: String,
}

impl RowError {
    pub(crate) fn new(line: usize, field: impl Into<String>, message: impl Into<String>) -> RowError {
        RowError {
            line,
            field: field.into(),
            message: message.into(),
        }
    }
}

impl fmt::Display for RowError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "line {}: {}: {}", self.line, self.field, self.message)
    }
}

impl std::error::Error for RowError {}

/// Residents from JSON lines (one object per line; blank lines are skipped).
pub fn parse_jsonl(text: &str) -> Result<Vec<pb::Resident>, Vec<RowError>> {
    jsonl_rows::parse(text, today_cst()).map(|parsed| parsed.residents)
}

/// Parsed residents and where each came from in the file.
#[derive(Debug, Default)]
pub(crate) struct Parsed {
    pub residents: Vec<pb::Resident>,
    /// Parallel to `residents`.
    pub origins: Vec<Origin>,
}

/// The line a resident starts on and the line of each of its cards.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Origin {
    pub line: usize,
    pub cards: Vec<usize>,
}

pub async fn run(cmd: Command, endpoints: &Endpoints) -> anyhow::Result<ExitCode> {
    let Command::Import {
        file,
        format,
        request_id,
    } = cmd;
    let format = format.or_else(|| Format::of_path(&file)).with_context(|| {
        format!(
            "cannot tell the format of {} from its name; pass --format csv or --format jsonl",
            file.display()
        )
    })?;
    let text = tokio::fs::read_to_string(&file)
        .await
        .with_context(|| format!("cannot read {}", file.display()))?;
    let today = today_cst();
    let parsed = match format {
        Format::Csv => csv_rows::parse(&text, today),
        Format::Jsonl => jsonl_rows::parse(&text, today),
    };
    let Parsed { residents, origins } = match parsed {
        Ok(parsed) => parsed,
        Err(errors) => {
            for error in &errors {
                eprintln!("{}: {error}", file.display());
            }
            anyhow::bail!("{}: {} error(s); nothing was sent", file.display(), errors.len());
        }
    };
    anyhow::ensure!(
        !residents.is_empty(),
        "{}: no residents in the file; nothing was sent",
        file.display()
    );

    let cards: usize = residents.iter().map(|r| r.cards.len()).sum();
    let count = residents.len();
    let request = pb::ImportResidentsRequest {
        request_id: request_id.unwrap_or_else(new_request_id),
        residents,
    };
    let mut client = endpoints.review().await?;
    match client.import_residents(request).await {
        Ok(response) => {
            let response = response.into_inner();
            println!(
                "imported {count} resident(s) with {cards} card(s) from {}: {} new, {} replaced",
                file.display(),
                response.inserted,
                response.updated
            );
            Ok(ExitCode::SUCCESS)
        }
        Err(status) => {
            if status.code() == tonic::Code::InvalidArgument {
                for violation in idcard_server::status::field_violations(&status) {
                    let located = locate(&violation.field, &origins, format);
                    eprintln!("{}: {located}: {}", file.display(), violation.description);
                }
                eprintln!("{}: nothing was imported", file.display());
            }
            Err(anyhow::Error::from(status))
        }
    }
}

/// `residents[i].cards[j].card_id` as the file's line and field name, e.g.
/// `line 7: card_id` (CSV) or `line 3: cards[1].card_id` (JSON lines). A field that
/// names no row is returned as it is.
fn locate(field: &str, origins: &[Origin], format: Format) -> String {
    let Some((index, rest)) = field.strip_prefix("residents[").and_then(|s| s.split_once(']')) else {
        return field.to_string();
    };
    let Some(origin) = index.parse::<usize>().ok().and_then(|i| origins.get(i)) else {
        return field.to_string();
    };
    let rest = rest.strip_prefix('.').unwrap_or(rest);
    let rest = rest.strip_prefix("card_items.").unwrap_or(rest);
    if rest.is_empty() {
        return format!("line {}", origin.line);
    }
    let card = rest
        .strip_prefix("cards[")
        .and_then(|s| s.split_once(']'))
        .and_then(|(j, key)| Some((j.parse::<usize>().ok()?, key)));
    match card {
        Some((j, key)) => {
            let line = origin.cards.get(j).copied().unwrap_or(origin.line);
            let key = key.strip_prefix('.').unwrap_or(key);
            match format {
                Format::Jsonl => format!("line {line}: cards[{j}].{key}"),
                Format::Csv => format!("line {line}: {}", csv_rows::card_column(key)),
            }
        }
        None => format!("line {}: {rest}", origin.line),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn server_fields_are_located_in_the_file() {
        let origins = vec![
            Origin {
                line: 2,
                cards: vec![2, 3],
            },
            Origin {
                line: 5,
                cards: vec![5],
            },
        ];
        assert_eq!(
            locate("residents[1].card_items.name", &origins, Format::Csv),
            "line 5: name"
        );
        assert_eq!(
            locate("residents[0].cards[1].card_id", &origins, Format::Csv),
            "line 3: card_id"
        );
        assert_eq!(
            locate("residents[0].cards[1].validity_end", &origins, Format::Csv),
            "line 3: card_validity_end"
        );
        assert_eq!(
            locate("residents[0].cards[1].card_id", &origins, Format::Jsonl),
            "line 3: cards[1].card_id"
        );
        assert_eq!(
            locate("residents[1].domicile_region_code", &origins, Format::Jsonl),
            "line 5: domicile_region_code"
        );
        assert_eq!(
            locate("residents[9].phone", &origins, Format::Jsonl),
            "residents[9].phone"
        );
        assert_eq!(locate("request_id", &origins, Format::Jsonl), "request_id");
    }

    #[test]
    fn format_follows_the_extension() {
        assert_eq!(Format::of_path(Path::new("a/residents.CSV")), Some(Format::Csv));
        assert_eq!(Format::of_path(Path::new("residents.jsonl")), Some(Format::Jsonl));
        assert_eq!(Format::of_path(Path::new("residents.txt")), None);
    }

    #[test]
    fn row_error_displays_line_field_and_message() {
        let error = RowError::new(4, "sex", "required");
        assert_eq!(error.to_string(), "line 4: sex: required");
    }

    #[test]
    fn the_sample_residents_parse() {
        let residents = parse_jsonl(include_str!("seed/residents.jsonl")).expect("sample parses");
        assert_eq!(residents.len(), 8);
        assert!(residents.iter().all(|r| r.cards.len() == 1));
    }
}
