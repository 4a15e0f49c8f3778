//! The whole flow driven through the CLI, as an operator would script it.

use crate::support::{TestStack, value_of};

const SAMPLE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/src/seed/residents.jsonl");
const POINT: &str = "310104-01";

async fn load_sample(stack: &TestStack) {
    let out = stack.idctl(&["register", "import", SAMPLE]).await.ok();
    assert!(out.contains("imported 8 resident(s)"), "{out}");
}

#[tokio::test(flavor = "multi_thread")]
async fn renewal_goes_from_the_counter_to_collection_through_the_cli() {
    let stack = TestStack::start().await;
    load_sample(&stack).await;

    // Submit: sex, birth date and fee come from the citizen id and the rules.
    let out = stack
        .idctl(&[
            "acceptance",
            "submit",
            "--point",
            POINT,
            "--kind",
            "renewal",
            "--citizen-id",
            "110105200005200116",
            "--name",
            "王小明",
            "--ethnicity",
            "汉",
            "--address",
            "北京市朝阳区建国路88号",
            "--domicile",
            "110105",
            "--phone",
            "13800000001",
            "--document",
            "old_id_card",
            "--document",
            "residence_permit",
            "--payment-ref",
            "POS-1",
            "--card-expiry",
            "2026-12-20",
            "--clerk",
            "clerk-1",
        ])
        .await
        .ok();
    let id = value_of(&out, "application").to_string();
    let receipt = value_of(&out, "receipt").to_string();
    assert_eq!(value_of(&out, "state"), "submitted");
    assert_eq!(value_of(&out, "citizen id"), "1***************16");
    assert!(
        !out.contains("王小明") && !out.contains("建国路") && !out.contains("13800000001"),
        "{out}"
    );

    let listed = stack.idctl(&["acceptance", "list", "--point", POINT]).await.ok();
    assert!(listed.lines().any(|line| line.starts_with(&id)), "{listed}");

    // Review: the case reaches the domicile bureau.
    let pending = stack
        .idctl_until(&["review", "pending", "--jurisdiction", "11"], |out| out.contains(&id))
        .await;
    assert!(pending.contains(&receipt), "{pending}");
    let case = stack.idctl(&["review", "get", "--id", &id]).await.ok();
    assert_eq!(value_of(&case, "register"), "record found");
    let approved = stack
        .idctl(&["review", "approve", "--id", &id, "--reviewer", "reviewer-1"])
        .await
        .ok();
    assert_eq!(value_of(&approved, "state"), "approved");

    // Production: a failed check remakes the card, then it passes and is dispatched.
    let jobs = stack
        .idctl_until(&["production", "jobs", "--point", POINT], |out| out.contains(&id))
        .await;
    let job = jobs
        .lines()
        .find(|line| line.contains(&id))
        .and_then(|line| line.split_whitespace().next())
        .expect("job id");
    let got = stack.idctl(&["production", "get", "--application", &id]).await.ok();
    assert_eq!(value_of(&got, "job"), job);
    let failed = stack
        .idctl(&[
            "production",
            "check",
            "--job",
            job,
            "--defect",
            "chip unreadable",
            "--operator",
            "qc-1",
        ])
        .await
        .ok();
    assert_eq!(value_of(&failed, "remakes"), "1");
    stack
        .idctl(&["production", "check", "--job", job, "--pass", "--operator", "qc-1"])
        .await
        .ok();
    let dispatched = stack
        .idctl(&[
            "production",
            "dispatch",
            "--job",
            job,
            "--tracking",
            "EMS1",
            "--operator",
            "d-1",
        ])
        .await
        .ok();
    assert_eq!(value_of(&dispatched, "state"), "dispatched");

    // Acceptance: arrival, then collection by receipt with the old card handed back.
    stack
        .idctl_until(&["acceptance", "get", "--id", &id], |out| {
            value_of(out, "state") == "dispatched"
        })
        .await;
    let arrived = stack
        .idctl(&["acceptance", "arrive", "--id", &id, "--clerk", "clerk-1"])
        .await
        .ok();
    assert_eq!(value_of(&arrived, "state"), "ready_for_collection");
    let refused = stack
        .idctl(&[
            "acceptance",
            "collect",
            "--receipt",
            &receipt,
            "--signed",
            "--clerk",
            "clerk-1",
        ])
        .await;
    assert_eq!(refused.code, Some(1));
    assert!(refused.stderr.starts_with("error: "), "{}", refused.stderr);
    let collected = stack
        .idctl(&[
            "acceptance",
            "collect",
            "--receipt",
            &receipt,
            "--signed",
            "--old-card-surrendered",
            "--clerk",
            "clerk-1",
        ])
        .await
        .ok();
    assert_eq!(value_of(&collected, "state"), "collected");
    for step in [
        "submitted",
        "under_review",
        "approved",
        "in_production",
        "quality_check_failed",
        "dispatched",
        "collected",
    ] {
        assert!(
            collected.contains(&format!("  {step} ")),
            "no {step} in the history:\n{collected}"
        );
    }

    stack.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn rejection_reaches_the_acceptance_point_with_reasons_and_contact() {
    let stack = TestStack::start().await;
    load_sample(&stack).await;

    let out = stack
        .idctl(&[
            "acceptance",
            "submit",
            "--point",
            POINT,
            "--kind",
            "replacement",
            "--citizen-id",
            "440106197809090221",
            "--name",
            "李芳",
            "--ethnicity",
            "汉",
            "--address",
            "广东省广州市天河区体育西路1号",
            "--domicile",
            "440106",
            "--phone",
            "13800000002",
            "--document",
            "household_booklet",
            "--document",
            "residence_permit",
            "--payment-ref",
            "POS-2",
            "--clerk",
            "clerk-2",
        ])
        .await
        .ok();
    let id = value_of(&out, "application").to_string();

    stack
        .idctl_until(&["review", "pending", "--jurisdiction", "4401"], |out| {
            out.contains(&id)
        })
        .await;
    let rejected = stack
        .idctl(&[
            "review",
            "reject",
            "--id",
            &id,
            "--reason",
            "IDENTITY_INCONSISTENT=the photo does not match the register",
            "--office",
            "天河分局户政科",
            "--person",
            "duty officer",
            "--contact-phone",
            "020-12345678",
            "--reviewer",
            "reviewer-2",
        ])
        .await
        .ok();
    assert_eq!(value_of(&rejected, "state"), "rejected");

    let seen = stack
        .idctl_until(&["acceptance", "get", "--id", &id], |out| {
            value_of(out, "state") == "rejected"
        })
        .await;
    assert!(
        seen.contains("IDENTITY_INCONSISTENT: the photo does not match the register"),
        "{seen}"
    );
    assert!(value_of(&seen, "contact").contains("天河分局户政科"), "{seen}");

    let rejected_only = stack
        .idctl(&["acceptance", "list", "--point", POINT, "--state", "rejected"])
        .await
        .ok();
    assert!(rejected_only.contains(&id), "{rejected_only}");
    let none = stack
        .idctl(&["acceptance", "list", "--point", POINT, "--state", "collected"])
        .await
        .ok();
    assert_eq!(none.trim(), "(none)");

    stack.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn bad_submission_exits_non_zero_with_the_fields_named() {
    let stack = TestStack::start().await;
    let run = stack
        .idctl(&[
            "acceptance",
            "submit",
            "--point",
            POINT,
            "--kind",
            "renewal",
            "--citizen-id",
            "110105200005200117",
            "--name",
            "x",
            "--ethnicity",
            "汉",
            "--address",
            "x",
            "--domicile",
            "999999",
            "--phone",
            "1",
            "--clerk",
            "c",
        ])
        .await;
    assert_eq!(run.code, Some(1));
    assert!(run.stderr.starts_with("error: InvalidArgument"), "{}", run.stderr);
    assert!(run.stderr.contains("applicant.card_items.citizen_id"), "{}", run.stderr);
    assert!(run.stderr.contains("applicant.domicile_region_code"), "{}", run.stderr);
    stack.stop().await;
}

#[tokio::test]
async fn demo_loss_walks_a_card_through_every_state() {
    let stack = TestStack::start().await;
    load_sample(&stack).await;

    let out = stack.idctl(&["demo", "--step-timeout", "60s", "loss"]).await.ok();

    for line in [
        "1. a bank verifies it: VALID",
        "3. the bank verifies again: REPORTED_LOST",
        "(the same report)",
        "revoked",
        "6. lost again",
        "the bank verifies the old card: INVALIDATED",
        "the bank verifies the new card: VALID",
        "9. the owner asks: found at",
    ] {
        assert!(out.contains(line), "missing {line:?} in:\n{out}");
    }
    stack.stop().await;
}
