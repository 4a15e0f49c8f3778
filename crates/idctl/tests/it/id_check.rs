use crate::support::{citizen_id, idctl, idctl_with_stdin};

#[test]
fn valid_number_exits_zero_with_its_details() {
    let run = idctl(&["id", "check", "11010519491231002X"]);
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    let line = run.stdout.trim_end();
    assert!(
        line.starts_with("11010519491231002X  valid  resident  region 110105 北京市朝阳区"),
        "{line}"
    );
    assert!(line.contains("born 1949-12-31  female  age "), "{line}");
}

#[test]
fn wrong_check_character_exits_one_and_says_the_expected_one() {
    let run = idctl(&["id", "check", "110105194912310021"]);
    assert_eq!(run.code, Some(1));
    assert_eq!(
        run.stdout,
        "110105194912310021  invalid  citizen id check character is 1, expected X\n"
    );
}

#[test]
fn retired_region_code_is_valid_and_noted() {
    let number = citizen_id("11010319800101001");
    let run = idctl(&["id", "check", &number]);
    assert_eq!(run.code, Some(0));
    assert!(
        run.stdout
            .contains("region 110103 北京市崇文区 (retired code, last in use 2009)"),
        "{}",
        run.stdout
    );
}

#[test]
fn future_birth_date_is_invalid() {
    let number = citizen_id("11010520991231001");
    let run = idctl(&["id", "check", &number]);
    assert_eq!(run.code, Some(1));
    assert!(
        run.stdout.contains("invalid  birth date 2099-12-31 is in the future"),
        "{}",
        run.stdout
    );
}

#[test]
fn thirtieth_of_february_is_invalid() {
    let number = citizen_id("11010520000230001");
    let run = idctl(&["id", "check", &number]);
    assert_eq!(run.code, Some(1));
    assert!(
        run.stdout
            .contains("invalid  birth date 20000230 is not a calendar date"),
        "{}",
        run.stdout
    );
}

#[test]
fn one_invalid_among_valid_numbers_exits_one() {
    let run = idctl(&[
        "id",
        "check",
        "11010519491231002X",
        "1101051949123100",
        "440524188001010014",
    ]);
    assert_eq!(run.code, Some(1));
    let lines: Vec<&str> = run.stdout.lines().collect();
    assert_eq!(lines.len(), 3);
    assert!(
        lines[1].ends_with("invalid  citizen id must be 18 characters, got 16"),
        "{}",
        lines[1]
    );
}

#[test]
fn json_prints_one_object_per_number() {
    let retired = citizen_id("11010319800101001");
    let run = idctl(&[
        "id",
        "check",
        "--json",
        "11010519491231002X",
        &retired,
        "11010519491231002A",
    ]);
    assert_eq!(run.code, Some(1));
    let objects: Vec<serde_json::Value> = run
        .stdout
        .lines()
        .map(|line| serde_json::from_str(line).expect("a JSON object per line"))
        .collect();
    assert_eq!(objects.len(), 3);
    for object in &objects {
        assert!(object["input"].is_string());
        assert!(object["valid"].is_boolean());
    }
    let valid = &objects[0];
    assert_eq!(valid["valid"], true);
    assert_eq!(valid["kind"], "resident");
    assert_eq!(valid["region_code"], "110105");
    assert_eq!(valid["region_name"], "北京市朝阳区");
    assert!(valid["region_retired_in"].is_null());
    assert_eq!(valid["birth_date"], "1949-12-31");
    assert_eq!(valid["sex"], "female");
    assert!(valid["age"].as_u64().is_some_and(|age| age >= 76));
    assert_eq!(objects[1]["region_retired_in"], 2009);
    let invalid = &objects[2];
    assert_eq!(invalid["valid"], false);
    assert_eq!(invalid["reason_code"], "CITIZEN_ID_CHARACTER");
    assert_eq!(
        invalid["reason"],
        "citizen id character 18 is 'A', expected a digit or X"
    );
}

#[test]
fn legacy_number_needs_the_flag() {
    let run = idctl(&["id", "check", "110105491231002"]);
    assert_eq!(run.code, Some(1));
    assert!(
        run.stdout
            .contains("got 15 (a legacy 15-digit number: convert it to 18 characters with --legacy)"),
        "{}",
        run.stdout
    );

    let run = idctl(&["id", "check", "--legacy", "110105491231002"]);
    assert_eq!(run.code, Some(0), "{}", run.stdout);
    assert!(run.stdout.contains("converted to 11010519491231002X"), "{}", run.stdout);
}

#[test]
fn dash_reads_numbers_from_standard_input() {
    let run = idctl_with_stdin(&["id", "check", "-"], b"11010519491231002X\n\n440524188001010014\r\n");
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    assert_eq!(run.stdout.lines().count(), 2);

    let run = idctl_with_stdin(
        &["id", "check", "--json", "-"],
        b"11010519491231002X\n110105194912310021\n",
    );
    assert_eq!(run.code, Some(1));
    let valid: Vec<bool> = run
        .stdout
        .lines()
        .map(|line| {
            serde_json::from_str::<serde_json::Value>(line).expect("json")["valid"]
                .as_bool()
                .expect("bool")
        })
        .collect();
    assert_eq!(valid, vec![true, false]);
}

#[test]
fn bulk_input_gives_one_line_per_number() {
    let numbers: Vec<String> = (0..20_000)
        .map(|i| citizen_id(&format!("110105199001{:02}{:03}", 1 + i % 28, i % 1000)))
        .collect();
    let mut input = numbers.join("\n");
    input.push_str("\n110105194912310021\n");
    let run = idctl_with_stdin(&["id", "check", "-"], input.as_bytes());
    assert_eq!(run.code, Some(1));
    let lines: Vec<&str> = run.stdout.lines().collect();
    assert_eq!(lines.len(), 20_001);
    assert_eq!(lines.iter().filter(|line| line.contains("  valid  ")).count(), 20_000);
}

#[test]
fn no_numbers_is_a_usage_error() {
    let run = idctl(&["id", "check"]);
    assert_eq!(run.code, Some(2));
    assert!(run.stdout.is_empty());
    assert!(!run.stderr.is_empty());
}
