use std::path::Path;

use crate::support::{TestStack, idctl};

const HEADER: &str = "citizen_id,name,sex,ethnicity,birth_date,domicile_address,domicile_region_code,phone,card_id,card_validity_start,card_validity_end,card_issuing_authority,card_status";

fn write(dir: &Path, name: &str, text: &str) -> String {
    let path = dir.join(name);
    std::fs::write(&path, text).expect("write test file");
    path.display().to_string()
}

#[test]
fn bad_rows_are_reported_by_line_and_nothing_is_sent() {
    let dir = tempfile::tempdir().expect("temp dir");
    let text = format!(
        "{HEADER}\n\
         11010519491231002X,王小红,female,汉,1949-12-31,北京市朝阳区某路1号,110105,13800000009,,2010-01-01,,北京市公安局朝阳分局,active\n\
         110105194912310021,李四,male,汉,1949-12-31,北京市朝阳区某路2号,999999,13800000010,,2010-01-01,,北京市公安局朝阳分局,lost\n"
    );
    let file = write(dir.path(), "residents.csv", &text);

    let run = idctl(&["register", "import", &file]);

    assert_eq!(run.code, Some(1));
    assert!(
        run.stderr
            .contains("line 3: citizen_id: citizen id check character is 1, expected X"),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr
            .contains("line 3: domicile_region_code: region code 999999 is not a GB/T 2260 code"),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr
            .contains("line 3: card_status: \"lost\" is not a card status"),
        "{}",
        run.stderr
    );
    assert!(run.stderr.contains("3 error(s); nothing was sent"), "{}", run.stderr);
    // Nothing tried to reach the review service (the default URL here answers nothing).
    assert!(!run.stderr.contains("cannot connect"), "{}", run.stderr);
    // Personal data from the file is not repeated.
    assert!(
        !run.stderr.contains("李四") && !run.stderr.contains("某路"),
        "{}",
        run.stderr
    );
}

#[test]
fn format_must_be_known() {
    let dir = tempfile::tempdir().expect("temp dir");
    let file = write(dir.path(), "residents.txt", "");
    let run = idctl(&["register", "import", &file]);
    assert_eq!(run.code, Some(1));
    assert!(
        run.stderr.contains("pass --format csv or --format jsonl"),
        "{}",
        run.stderr
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn import_loads_residents_and_maps_the_service_errors_to_lines() {
    let stack = TestStack::start().await;
    let dir = tempfile::tempdir().expect("temp dir");
    let first = write(
        dir.path(),
        "first.jsonl",
        r#"{"citizen_id":"11010519491231002X","name":"王小红","sex":"female","ethnicity":"汉","birth_date":"1949-12-31","domicile_address":"北京市朝阳区某路1号","domicile_region_code":"110105","cards":[{"card_id":"0193a000-0000-7000-8000-0000000000aa","validity_start":"2010-01-01","issuing_authority":"北京市公安局朝阳分局","status":"active"}]}"#,
    );
    let out = stack.idctl(&["register", "import", &first]).await.ok();
    assert!(out.contains("imported 1 resident(s) with 1 card(s)"), "{out}");
    assert!(out.contains("1 new, 0 replaced"), "{out}");

    // The same card id for another resident: only the service can tell.
    let second = write(
        dir.path(),
        "second.csv",
        &format!(
            "{HEADER}\n\
             440524188001010014,张三,male,汉,1880-01-01,广东省汕头市某路3号,440511,,,2001-01-01,,汕头市公安局,active\n\
             440524188001010014,,,,,,,,0193a000-0000-7000-8000-0000000000aa,2011-01-01,,汕头市公安局,active\n"
        ),
    );
    let run = stack.idctl(&["register", "import", &second]).await;
    assert_eq!(run.code, Some(1));
    assert!(
        run.stderr
            .contains("line 3: card_id: is the id of another resident's card"),
        "{}",
        run.stderr
    );
    assert!(run.stderr.contains("nothing was imported"), "{}", run.stderr);
    assert!(run.stderr.contains("InvalidArgument"), "{}", run.stderr);

    stack.stop().await;
}
