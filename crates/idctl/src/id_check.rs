//! `idctl id check NUMBER...`: the verdict on citizen ID numbers, with what a valid one
//! says (region, birth date, sex, age) or precisely what is wrong with an invalid one.
//!
//! `-` reads numbers from standard input, one per line, for bulk checks: input and
//! output are buffered and locked once, and a line costs no allocation (region names
//! are cached per code). The numbers are the user's own input, so they are echoed as
//! typed; nothing else is printed about a person.

use std::collections::HashMap;
use std::fmt;
use std::io::{self, BufRead, BufWriter, Write};
use std::process::ExitCode;

use idcard_domain::{CitizenId, CitizenIdError};
use serde::Serialize;
use time::Date;

#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// Check citizen ID numbers (GB 11643). Exit status: 0 all valid, 1 any invalid,
    /// 2 usage error.
    Check {
        /// The numbers; `-` reads them from standard input, one per line (surrounding
        /// whitespace and blank lines are skipped).
        #[arg(required = true, value_name = "NUMBER")]
        numbers: Vec<String>,
        /// One JSON object per line: "input", "valid" and the details.
        #[arg(long)]
        json: bool,
        /// Convert 15-digit legacy numbers to 18 characters before checking (otherwise
        /// they are reported invalid).
        #[arg(long)]
        legacy: bool,
    },
}

pub async fn run(cmd: Command) -> anyhow::Result<ExitCode> {
    let Command::Check { numbers, json, legacy } = cmd;
    let today = idcard_server::wire::today_cst();
    // Reading standard input blocks; keep it off the async workers.
    let all_valid = tokio::task::spawn_blocking(move || check_all(&numbers, Options { today, json, legacy })).await??;
    Ok(if all_valid {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

#[derive(Debug, Clone, Copy)]
struct Options {
    today: Date,
    json: bool,
    legacy: bool,
}

/// Checks every number (reading standard input for `-`) and says whether all were
/// valid. A reader that goes away (`| head`) ends the run quietly.
fn check_all(numbers: &[String], options: Options) -> io::Result<bool> {
    let stdout = io::stdout();
    let mut out = BufWriter::with_capacity(64 * 1024, stdout.lock());
    let mut checker = Checker::new(options);
    let outcome = numbers.iter().try_for_each(|number| {
        if number == "-" {
            checker.check_lines(io::stdin().lock(), &mut out)
        } else {
            checker.check(number, &mut out)
        }
    });
    match outcome.and_then(|()| out.flush()) {
        Err(err) if err.kind() == io::ErrorKind::BrokenPipe => Ok(checker.all_valid),
        Err(err) => Err(err),
        Ok(()) => Ok(checker.all_valid),
    }
}

struct Checker {
    options: Options,
    /// Full region names by code: a bulk file repeats a few thousand codes at most.
    region_names: HashMap<u32, String>,
    all_valid: bool,
}

impl Checker {
    fn new(options: Options) -> Checker {
        Checker {
            options,
            region_names: HashMap::new(),
            all_valid: true,
        }
    }

    /// One number per line; the line buffer is reused.
    fn check_lines(&mut self, mut input: impl BufRead, out: &mut impl Write) -> io::Result<()> {
        let mut line = Vec::with_capacity(64);
        loop {
            line.clear();
            if input.read_until(b'\n', &mut line)? == 0 {
                return Ok(());
            }
            let number = line.trim_ascii();
            if number.is_empty() {
                continue;
            }
            match std::str::from_utf8(number) {
                Ok(number) => self.check(number, out)?,
                Err(_) => {
                    self.all_valid = false;
                    let shown = String::from_utf8_lossy(number);
                    self.write(out, &Report::invalid(&shown, Problem::NotText))?;
                }
            }
        }
    }

    fn check(&mut self, input: &str, out: &mut impl Write) -> io::Result<()> {
        let Options { today, legacy, .. } = self.options;
        let is_legacy_shape = input.len() == 15 && input.bytes().all(|b| b.is_ascii_digit());
        let parsed = if legacy && input.chars().count() == 15 {
            CitizenId::from_legacy_15(input, today)
        } else {
            CitizenId::parse(input, today)
        };
        match parsed {
            Ok(id) => {
                let region = id.region();
                let name = self
                    .region_names
                    .entry(region.code())
                    .or_insert_with(|| region.full_name());
                let report = Report {
                    input,
                    valid: true,
                    reason_code: None,
                    reason: None,
                    hint: None,
                    kind: Some(id.kind().as_str()),
                    region_code: Some(Digits6(region.code())),
                    region_name: Some(name),
                    region_retired_in: Some(region.retired_in()),
                    birth_date: Some(Day(id.birth_date())),
                    sex: Some(id.sex().as_str()),
                    age: Some(id.age_on(today)),
                    converted: (legacy && input.len() == 15).then(|| id.as_str()),
                };
                Self::write_report(self.options.json, out, &report)
            }
            Err(err) => {
                self.all_valid = false;
                let problem = if is_legacy_shape && !legacy {
                    Problem::Legacy(err)
                } else {
                    Problem::Id(err)
                };
                self.write(out, &Report::invalid(input, problem))
            }
        }
    }

    fn write(&self, out: &mut impl Write, report: &Report<'_>) -> io::Result<()> {
        Self::write_report(self.options.json, out, report)
    }

    fn write_report(json: bool, out: &mut impl Write, r: &Report<'_>) -> io::Result<()> {
        if json {
            serde_json::to_writer(&mut *out, r)?;
            return out.write_all(b"\n");
        }
        if !r.valid {
            write!(out, "{}  invalid  ", r.input)?;
            if let Some(reason) = &r.reason {
                write!(out, "{}", reason.0)?;
            }
            if let Some(hint) = r.hint {
                write!(out, " ({hint})")?;
            }
            return out.write_all(b"\n");
        }
        write!(out, "{}  valid  {}", r.input, r.kind.unwrap_or_default())?;
        if let (Some(code), Some(name)) = (&r.region_code, r.region_name) {
            write!(out, "  region {} {name}", code.0)?;
        }
        if let Some(Some(year)) = r.region_retired_in {
            write!(out, " (retired code, last in use {year})")?;
        }
        if let Some(born) = &r.birth_date {
            write!(out, "  born {born}")?;
        }
        if let (Some(sex), Some(age)) = (r.sex, r.age) {
            write!(out, "  {sex}  age {age}")?;
        }
        if let Some(converted) = r.converted {
            write!(out, "  converted to {converted}")?;
        }
        out.write_all(b"\n")
    }
}

/// Why a number is invalid.
#[derive(Debug)]
enum Problem {
    Id(CitizenIdError),
    /// A 15-digit number checked without `--legacy`.
    Legacy(CitizenIdError),
    NotText,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Problem::Id(err) | Problem::Legacy(err) => err.fmt(f),
            Problem::NotText => f.write_str("input is not UTF-8 text"),
        }
    }
}

/// What one line says, borrowed from the input and the domain's answer so that it
/// serialises without allocating.
#[derive(Serialize)]
struct Report<'a> {
    input: &'a str,
    valid: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    reason_code: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    reason: Option<Shown<Problem>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    hint: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    kind: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    region_code: Option<Digits6>,
    #[serde(skip_serializing_if = "Option::is_none")]
    region_name: Option<&'a str>,
    /// `null` for a code in use today.
    #[serde(skip_serializing_if = "Option::is_none")]
    region_retired_in: Option<Option<u16>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    birth_date: Option<Day>,
    #[serde(skip_serializing_if = "Option::is_none")]
    sex: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    age: Option<u32>,
    /// The 18-character form of a legacy number converted with `--legacy`.
    #[serde(skip_serializing_if = "Option::is_none")]
    converted: Option<&'a str>,
}

impl<'a> Report<'a> {
    fn invalid(input: &'a str, problem: Problem) -> Report<'a> {
        let (reason_code, hint) = match &problem {
            Problem::Id(err) => (err.reason_code(), None),
            Problem::Legacy(err) => (
                err.reason_code(),
                Some("a legacy 15-digit number: convert it to 18 characters with --legacy"),
            ),
            Problem::NotText => ("NOT_TEXT", None),
        };
        Report {
            input,
            valid: false,
            reason_code: Some(reason_code),
            reason: Some(Shown(problem)),
            hint,
            kind: None,
            region_code: None,
            region_name: None,
            region_retired_in: None,
            birth_date: None,
            sex: None,
            age: None,
            converted: None,
        }
    }
}

/// Serialises through `Display`, written straight into the output.
struct Shown<T>(T);

impl<T: fmt::Display> Serialize for Shown<T> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(&self.0)
    }
}

/// A region code, zero-padded to six digits.
struct Digits6(u32);

impl fmt::Display for Digits6 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:06}", self.0)
    }
}

impl Serialize for Digits6 {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

/// `YYYY-MM-DD`, the year always four digits.
struct Day(Date);

impl fmt::Display for Day {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{:04}-{:02}-{:02}",
            self.0.year(),
            u8::from(self.0.month()),
            self.0.day()
        )
    }
}

impl Serialize for Day {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

#[cfg(test)]
mod tests {
    use idcard_domain::check_character;
    use time::macros::date;

    use super::*;

    const TODAY: Date = date!(2026 - 11 - 25);

    fn number(first17: &str) -> String {
        let digits: &[u8; 17] = first17.as_bytes().try_into().expect("17 digits");
        format!("{first17}{}", char::from(check_character(digits)))
    }

    fn run_lines(input: &str, json: bool, legacy: bool) -> (String, bool) {
        let mut checker = Checker::new(Options {
            today: TODAY,
            json,
            legacy,
        });
        let mut out = Vec::new();
        checker.check_lines(input.as_bytes(), &mut out).expect("in memory");
        (String::from_utf8(out).expect("utf-8"), checker.all_valid)
    }

    fn json_of(input: &str, legacy: bool) -> serde_json::Value {
        let (out, _) = run_lines(input, true, legacy);
        serde_json::from_str(out.trim_end()).expect("one JSON object")
    }

    #[test]
    fn valid_number_reports_region_birth_date_sex_and_age() {
        let (out, all_valid) = run_lines("11010519491231002X\n", false, false);
        assert!(all_valid);
        assert_eq!(
            out,
            "11010519491231002X  valid  resident  region 110105 北京市朝阳区  born 1949-12-31  female  age 76\n"
        );
    }

    #[test]
    fn retired_region_code_is_valid_and_noted() {
        let id = number("11010319800101001");
        let (out, all_valid) = run_lines(&id, false, false);
        assert!(all_valid);
        assert!(
            out.contains("region 110103 北京市崇文区 (retired code, last in use 2009)"),
            "{out}"
        );
        let json = json_of(&id, false);
        assert_eq!(json["region_retired_in"], 2009);
    }

    #[test]
    fn wrong_check_character_is_invalid_with_the_expected_one() {
        let (out, all_valid) = run_lines("110105194912310021\n", false, false);
        assert!(!all_valid);
        assert_eq!(
            out,
            "110105194912310021  invalid  citizen id check character is 1, expected X\n"
        );
    }

    #[test]
    fn json_carries_every_detail() {
        let json = json_of("11010519491231002x", false);
        assert_eq!(json["input"], "11010519491231002x");
        assert_eq!(json["valid"], true);
        assert_eq!(json["kind"], "resident");
        assert_eq!(json["region_code"], "110105");
        assert_eq!(json["region_name"], "北京市朝阳区");
        assert!(json["region_retired_in"].is_null());
        assert_eq!(json["birth_date"], "1949-12-31");
        assert_eq!(json["sex"], "female");
        assert_eq!(json["age"], 76);

        let json = json_of(&number("11010520000230001"), false);
        assert_eq!(json["valid"], false);
        assert_eq!(json["reason_code"], "CITIZEN_ID_BIRTH_DATE");
        assert_eq!(json["reason"], "birth date 20000230 is not a calendar date");
    }

    #[test]
    fn legacy_number_is_invalid_with_a_hint_unless_converted() {
        let json = json_of("110105491231002", false);
        assert_eq!(json["valid"], false);
        assert_eq!(json["reason_code"], "CITIZEN_ID_LENGTH");
        assert!(json["hint"].as_str().is_some_and(|h| h.contains("--legacy")));

        let json = json_of("110105491231002", true);
        assert_eq!(json["valid"], true);
        assert_eq!(json["converted"], "11010519491231002X");
        assert_eq!(json["birth_date"], "1949-12-31");
    }

    #[test]
    fn blank_lines_and_surrounding_space_are_skipped() {
        let (out, all_valid) = run_lines("\n  11010519491231002X \r\n\n", false, false);
        assert!(all_valid);
        assert_eq!(out.lines().count(), 1);
        assert!(out.starts_with("11010519491231002X  valid"));
    }

    #[test]
    fn bytes_that_are_not_text_are_invalid() {
        let mut checker = Checker::new(Options {
            today: TODAY,
            json: true,
            legacy: false,
        });
        let mut out = Vec::new();
        checker.check_lines(&b"\xff\xfe\n"[..], &mut out).expect("in memory");
        assert!(!checker.all_valid);
        let json: serde_json::Value = serde_json::from_slice(&out).expect("json");
        assert_eq!(json["reason_code"], "NOT_TEXT");
    }

    #[test]
    fn input_is_escaped_in_json() {
        let json = json_of("\"quoted\\", false);
        assert_eq!(json["input"], "\"quoted\\");
        assert_eq!(json["valid"], false);
    }
}
