//! The fairness report of a class: JSON, or CSV (one row per learner and
//! classroom) for `Accept: text/csv`.

use axum::Router;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use estrade_core::report::Report;
use uuid::Uuid;

use crate::AppState;
use crate::auth::Staff;
use crate::error::{Error, ErrorBody};
use crate::extract::Json;

pub(crate) fn router() -> Router<AppState> {
    Router::new().route("/v1/sessions/{id}/report", get(report))
}

/// Who asked for the floor, who got it, how long each spoke and waited,
/// and how concentrated the learners' floor time was (owner, admin),
/// during the class or after it, computed from the stored floor history.
/// Talk time is floor time (from a grant to the end of the turn); a wait
/// runs from a raised hand to its grant; an unanswered hand was raised and
/// never granted; the teacher's floor time is the time no learner or
/// classroom held the floor; `talk_time_gini` is the Gini coefficient of
/// talk time over the learners and classrooms. `Accept: text/csv` gives
/// one row per learner and classroom instead.
#[utoipa::path(get, path = "/v1/sessions/{id}/report", tag = "sessions", security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "Session id")),
    responses(
        (status = 200, description = "The report; as CSV (one row per learner and classroom) for `Accept: text/csv`",
            content((Report = "application/json"), (String = "text/csv"))),
        (status = 404, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
pub async fn report(
    State(state): State<AppState>,
    Staff(caller): Staff,
    headers: HeaderMap,
    Path(id): Path<Uuid>,
) -> Result<Response, Error> {
    let report = estrade_app::report::of_session(&state.deps, &caller, id).await?;
    if wants_csv(&headers) {
        let body = csv(&report).map_err(anyhow::Error::from)?;
        return Ok(([(header::CONTENT_TYPE, "text/csv; charset=utf-8")], body).into_response());
    }
    Ok(Json(report).into_response())
}

/// Whether the client prefers CSV: `text/csv` named before any JSON type.
fn wants_csv(headers: &HeaderMap) -> bool {
    let accept = headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_ascii_lowercase();
    match (accept.find("text/csv"), accept.find("json")) {
        (Some(csv), Some(json)) => csv < json,
        (Some(_), None) => true,
        _ => false,
    }
}

/// The participants' rows as CSV, a header first. A cell a spreadsheet
/// would read as a formula (`=`, `+`, `-`, `@`, tab, carriage return
/// first) is prefixed with `'`: names are typed by learners.
fn csv(report: &Report) -> Result<String, csv::Error> {
    let mut out = csv::Writer::from_writer(Vec::new());
    out.write_record([
        "participant_id",
        "kind",
        "display_name",
        "headcount",
        "hands_raised",
        "times_granted",
        "talk_time_s",
        "longest_wait_s",
        "median_wait_s",
        "hands_unanswered",
        "questions_asked",
        "questions_answered",
        "polls_answered",
    ])?;
    let opt = |v: Option<f64>| v.map(|v| v.to_string()).unwrap_or_default();
    for p in &report.participants {
        let kind = serde_json::to_value(p.kind)
            .ok()
            .and_then(|v| v.as_str().map(str::to_owned))
            .unwrap_or_default();
        out.write_record([
            p.participant_id.to_string(),
            kind,
            inert(&p.display_name),
            p.headcount.map(|h| h.to_string()).unwrap_or_default(),
            p.hands_raised.to_string(),
            p.times_granted.to_string(),
            p.talk_time_s.to_string(),
            opt(p.longest_wait_s),
            opt(p.median_wait_s),
            p.hands_unanswered.to_string(),
            p.questions_asked.to_string(),
            p.questions_answered.to_string(),
            p.polls_answered.to_string(),
        ])?;
    }
    let bytes = out.into_inner().map_err(|e| e.into_error())?;
    Ok(String::from_utf8(bytes).expect("CSV of UTF-8 strings is UTF-8"))
}

/// `text` as a spreadsheet shows it, never runs it.
fn inert(text: &str) -> String {
    match text.chars().next() {
        Some('=' | '+' | '-' | '@' | '\t' | '\r') => format!("'{text}"),
        _ => text.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_is_chosen_only_when_asked_for_before_json() {
        let with = |accept: &str| {
            let mut h = HeaderMap::new();
            h.insert(header::ACCEPT, accept.parse().unwrap());
            wants_csv(&h)
        };
        assert!(with("text/csv"));
        assert!(with("text/csv, application/json;q=0.5"));
        assert!(!with("application/json, text/csv"));
        assert!(!with("*/*"));
        assert!(!wants_csv(&HeaderMap::new()));
    }

    #[test]
    fn a_name_a_spreadsheet_would_run_as_a_formula_is_written_inert() {
        assert_eq!(inert("=HYPERLINK(\"x\")"), "'=HYPERLINK(\"x\")");
        assert_eq!(inert("@Ana"), "'@Ana");
        assert_eq!(inert("Ana"), "Ana");
    }
}
