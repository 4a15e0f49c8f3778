//! `idctl overdue`: the statutory clock across the stack. Calls `ListOverdue` on the
//! acceptance, review and production services (every page) and prints one table, most
//! overdue first: the application's 60-day limit, the domicile's 5-day review and the
//! production centre's 30 days.
//!
//! Each service is called with its own token when one is given (`--acceptance-token`,
//! ...), else with `--token`: an auditor token reads all three. A service that cannot
//! be reached or refuses is reported on stderr, the others are still printed, and the
//! exit code is 1.

use std::process::ExitCode;

use idcard_proto::v1 as pb;
use idcard_proto::v1::acceptance_service_client::AcceptanceServiceClient;
use idcard_proto::v1::production_service_client::ProductionServiceClient;
use idcard_proto::v1::review_service_client::ReviewServiceClient;
use serde::Serialize;

use crate::endpoints::{Endpoints, describe};
use crate::print;

/// Rows asked for per page.
const PAGE_SIZE: i32 = 500;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Also list work due within this many days, today included (1: due today; 3: today
    /// and the next two days); 0 lists only what is overdue.
    #[arg(long, default_value_t = 0)]
    pub due_within_days: i32,
    /// Only this acceptance point (acceptance and production services).
    #[arg(long)]
    pub point: Option<String>,
    /// Only this jurisdiction, a region code or prefix (review service).
    #[arg(long)]
    pub jurisdiction: Option<String>,
    /// Token for the acceptance service (default: --token).
    #[arg(long, env = "IDCARD_ACCEPTANCE_TOKEN", hide_env_values = true)]
    pub acceptance_token: Option<String>,
    /// Token for the review service (default: --token).
    #[arg(long, env = "IDCARD_REVIEW_TOKEN", hide_env_values = true)]
    pub review_token: Option<String>,
    /// Token for the production service (default: --token).
    #[arg(long, env = "IDCARD_PRODUCTION_TOKEN", hide_env_values = true)]
    pub production_token: Option<String>,
    /// One JSON array instead of the table.
    #[arg(long)]
    pub json: bool,
}

/// One line of the table, whichever service it came from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Row {
    pub service: &'static str,
    pub stage: &'static str,
    /// The application id (acceptance, review) or job id (production).
    pub record: String,
    pub application_id: String,
    pub receipt_number: String,
    pub state: &'static str,
    pub due_date: String,
    /// Negative: days left.
    pub days_overdue: i32,
    pub extended: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub extension_reason: Option<String>,
}

pub async fn run(args: Args, endpoints: &Endpoints) -> anyhow::Result<ExitCode> {
    let mut rows = Vec::new();
    let mut failed = Vec::new();
    for (service, listed) in [
        ("acceptance", acceptance(&args, endpoints).await),
        ("review", review(&args, endpoints).await),
        ("production", production(&args, endpoints).await),
    ] {
        match listed {
            Ok(mut listed) => rows.append(&mut listed),
            Err(err) => failed.push((service, describe(&err))),
        }
    }
    if failed.len() == 3 {
        let reasons: Vec<String> = failed
            .iter()
            .map(|(service, why)| format!("{service}: {why}"))
            .collect();
        anyhow::bail!("no service answered: {}", reasons.join("; "));
    }
    sort(&mut rows);
    if args.json {
        println!("{}", serde_json::to_string_pretty(&rows)?);
    } else {
        print!("{}", table(&rows));
    }
    for (service, why) in &failed {
        eprintln!("warning: {service} not listed: {why}");
    }
    Ok(if failed.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

/// Most overdue first; then by service and record, so that the output is stable.
fn sort(rows: &mut [Row]) {
    rows.sort_by(|a, b| {
        b.days_overdue
            .cmp(&a.days_overdue)
            .then(a.service.cmp(b.service))
            .then(a.record.cmp(&b.record))
    });
}

/// Every page of a list: `fetch` takes a page token and returns the page's rows and the
/// next token (empty after the last page).
async fn every_page(fetch: impl AsyncFn(String) -> anyhow::Result<(Vec<Row>, String)>) -> anyhow::Result<Vec<Row>> {
    let mut rows = Vec::new();
    let mut page_token = String::new();
    loop {
        let (page, next) = fetch(page_token).await?;
        rows.extend(page);
        if next.is_empty() {
            return Ok(rows);
        }
        page_token = next;
    }
}

async fn acceptance(args: &Args, endpoints: &Endpoints) -> anyhow::Result<Vec<Row>> {
    let token = args.acceptance_token.as_deref();
    let client = AcceptanceServiceClient::new(endpoints.channel(&endpoints.acceptance_url, token).await?);
    every_page(async |page_token| {
        let page = client
            .clone()
            .list_overdue(pb::AcceptanceServiceListOverdueRequest {
                acceptance_point_code: args.point.clone().unwrap_or_default(),
                due_within_days: args.due_within_days,
                page_size: PAGE_SIZE,
                page_token,
            })
            .await?
            .into_inner();
        let rows = page.applications.iter().map(|a| {
            let (stage, due_date, days_overdue) = deadline(a.deadline.as_ref());
            Row {
                service: "acceptance",
                stage,
                record: a.application_id.clone(),
                application_id: a.application_id.clone(),
                receipt_number: a.receipt_number.clone(),
                state: print::state_name(a.state),
                due_date,
                days_overdue,
                extended: a.extension.is_some(),
                extension_reason: a.extension.as_ref().map(|e| e.reason.clone()),
            }
        });
        Ok((rows.collect(), page.next_page_token))
    })
    .await
}

async fn review(args: &Args, endpoints: &Endpoints) -> anyhow::Result<Vec<Row>> {
    let token = args.review_token.as_deref();
    let client = ReviewServiceClient::new(endpoints.channel(&endpoints.review_url, token).await?);
    every_page(async |page_token| {
        let page = client
            .clone()
            .list_overdue(pb::ReviewServiceListOverdueRequest {
                jurisdiction_code: args.jurisdiction.clone().unwrap_or_default(),
                due_within_days: args.due_within_days,
                page_size: PAGE_SIZE,
                page_token,
            })
            .await?
            .into_inner();
        let rows = page.cases.iter().map(|c| {
            let (stage, due_date, days_overdue) = deadline(c.deadline.as_ref());
            Row {
                service: "review",
                stage,
                record: c.application_id.clone(),
                application_id: c.application_id.clone(),
                receipt_number: c.receipt_number.clone(),
                state: print::review_state_name(c.state),
                due_date,
                days_overdue,
                extended: false,
                extension_reason: None,
            }
        });
        Ok((rows.collect(), page.next_page_token))
    })
    .await
}

async fn production(args: &Args, endpoints: &Endpoints) -> anyhow::Result<Vec<Row>> {
    let token = args.production_token.as_deref();
    let client = ProductionServiceClient::new(endpoints.channel(&endpoints.production_url, token).await?);
    every_page(async |page_token| {
        let page = client
            .clone()
            .list_overdue(pb::ProductionServiceListOverdueRequest {
                acceptance_point_code: args.point.clone().unwrap_or_default(),
                due_within_days: args.due_within_days,
                page_size: PAGE_SIZE,
                page_token,
            })
            .await?
            .into_inner();
        let rows = page.jobs.iter().map(|j| {
            let (stage, due_date, days_overdue) = deadline(j.deadline.as_ref());
            Row {
                service: "production",
                stage,
                record: j.job_id.clone(),
                application_id: j.application_id.clone(),
                receipt_number: j.receipt_number.clone(),
                state: print::job_state_name(j.state),
                due_date,
                days_overdue,
                extended: false,
                extension_reason: None,
            }
        });
        Ok((rows.collect(), page.next_page_token))
    })
    .await
}

fn deadline(deadline: Option<&pb::Deadline>) -> (&'static str, String, i32) {
    match deadline {
        Some(d) => (
            print::stage_name(d.stage),
            print::date(d.due_date.as_ref()),
            d.days_overdue,
        ),
        None => ("unknown", "-".to_string(), 0),
    }
}

const HEADERS: [&str; 7] = ["STAGE", "RECORD", "RECEIPT", "DUE", "DAYS OVERDUE", "STATE", "EXTENDED"];

/// The rows as an aligned table, or a line saying there is nothing.
fn table(rows: &[Row]) -> String {
    if rows.is_empty() {
        return "nothing overdue\n".to_string();
    }
    let cells: Vec<[String; 7]> = rows
        .iter()
        .map(|r| {
            [
                r.stage.to_string(),
                r.record.clone(),
                r.receipt_number.clone(),
                r.due_date.clone(),
                r.days_overdue.to_string(),
                r.state.to_string(),
                match (&r.extension_reason, r.service) {
                    (Some(reason), _) => format!("yes: {reason}"),
                    (None, "acceptance") => "no".to_string(),
                    (None, _) => "-".to_string(),
                },
            ]
        })
        .collect();
    let mut widths = HEADERS.map(|h| h.chars().count());
    for row in &cells {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.chars().count());
        }
    }
    let mut out = String::new();
    let mut line = |cells: &[String]| {
        let padded: Vec<String> = cells
            .iter()
            .zip(widths)
            .enumerate()
            // The last column is free text: no padding after it.
            .map(|(i, (cell, width))| {
                if i + 1 == cells.len() {
                    cell.clone()
                } else {
                    pad(cell, width)
                }
            })
            .collect();
        out.push_str(padded.join("  ").trim_end());
        out.push('\n');
    };
    line(&HEADERS.map(str::to_string));
    for row in &cells {
        line(row);
    }
    out
}

fn pad(cell: &str, width: usize) -> String {
    let fill = width.saturating_sub(cell.chars().count());
    format!("{cell}{}", " ".repeat(fill))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(service: &'static str, record: &str, days_overdue: i32, reason: Option<&str>) -> Row {
        Row {
            service,
            stage: "review",
            record: record.to_string(),
            application_id: record.to_string(),
            receipt_number: "R".to_string(),
            state: "pending",
            due_date: "2026-05-01".to_string(),
            days_overdue,
            extended: reason.is_some(),
            extension_reason: reason.map(str::to_string),
        }
    }

    #[test]
    fn most_overdue_comes_first_and_columns_line_up() {
        let mut rows = vec![
            row("review", "b", -1, None),
            row("acceptance", "a", 4, Some("路断")),
            row("production", "c", 4, None),
        ];
        sort(&mut rows);
        let records: Vec<&str> = rows.iter().map(|r| r.record.as_str()).collect();
        assert_eq!(records, ["a", "c", "b"]);
        let text = table(&rows);
        let lines: Vec<&str> = text.lines().collect();
        assert!(lines[0].starts_with("STAGE"), "{text}");
        assert!(lines[1].ends_with("yes: 路断"), "{text}");
        assert!(lines[2].ends_with('-'), "{text}");
        let column = lines[0].find("DUE").unwrap_or_default();
        assert!(
            lines.iter().skip(1).all(|l| l[column..].starts_with("2026-05-01")),
            "{text}"
        );
    }

    #[test]
    fn an_empty_list_says_so() {
        assert_eq!(table(&[]), "nothing overdue\n");
    }
}
