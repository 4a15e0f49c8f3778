//! Throughput of `CitizenId::parse`, the library call behind bulk `idctl id check`.
//!
//! Run: `cargo bench -p idcard-domain --bench citizen_id`. Criterion reports elements
//! per second: each element is one full validation (length, characters, check
//! character, region look-up, birth date).

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use idcard_domain::{CitizenId, check_character, region};
use time::Date;
use time::macros::date;

const TODAY: Date = date!(2026 - 11 - 25);
const BATCH: usize = 4096;

/// Valid numbers spread over the whole region table and a century of birth dates,
/// from a fixed-seed generator so runs are comparable.
fn valid_numbers() -> Vec<String> {
    let codes = region::codes();
    let first_day = date!(1920 - 01 - 01).to_julian_day();
    let span = TODAY.to_julian_day() - first_day;
    let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    (0..BATCH)
        .map(|_| {
            let code = codes[(next() % codes.len() as u64) as usize];
            let day = first_day + (next() % span as u64) as i32;
            let birth = Date::from_julian_day(day).expect("in range");
            let sequence = next() % 1000;
            let first17 = format!(
                "{code:06}{:04}{:02}{:02}{sequence:03}",
                birth.year(),
                birth.month() as u8,
                birth.day()
            );
            let digits: &[u8; 17] = first17.as_bytes().try_into().expect("17 digits");
            format!("{first17}{}", char::from(check_character(digits)))
        })
        .collect()
}

fn parse(c: &mut Criterion) {
    let valid = valid_numbers();
    // The same numbers with the check character broken: the early-exit path.
    let invalid: Vec<String> = valid
        .iter()
        .map(|s| {
            let last = if s.ends_with('0') { '1' } else { '0' };
            format!("{}{last}", &s[..17])
        })
        .collect();

    let mut group = c.benchmark_group("citizen_id_parse");
    group.throughput(Throughput::Elements(BATCH as u64));
    group.bench_function("valid", |b| {
        b.iter(|| {
            for s in &valid {
                black_box(CitizenId::parse(black_box(s), TODAY).is_ok());
            }
        })
    });
    group.bench_function("bad_check_character", |b| {
        b.iter(|| {
            for s in &invalid {
                black_box(CitizenId::parse(black_box(s), TODAY).is_err());
            }
        })
    });
    group.finish();
}

criterion_group!(benches, parse);
criterion_main!(benches);
