//! 长期护理失能等级评估 pages (issue #5 §7): a person's LTC assessments beside their GB/T 42195
//! result, the entry form (one dimension per section, a plain form POST), and the grading tables
//! jurisdictions have loaded. Without a table in force the pages show the dimension scores and
//! [`NO_TABLE`] instead of a grade: the official cut-offs are unconfirmed.

use std::collections::HashMap;
use std::sync::Arc;

use askama::Template;
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Redirect, Response};
use axum::Form;
use chrono::Utc;
use yanglao_assessment::gbt42195::Level;
use yanglao_assessment::ltc::{Combination, Impairment, LtcAnswers, DIMENSIONS};
use yanglao_assessment::ltc_service::{self, LtcInput, NO_TABLE};
use yanglao_domain::{DivisionCode, IdNumber};
use yanglao_store::assessments as store;
use yanglao_store::registry;

use crate::auth::Principal;
use crate::csrf;
use crate::{blocking, local_time, page, with_csrf, App, AppError, Result};

fn masked(id: &str) -> String {
    IdNumber::parse(id)
        .map(|i| i.masked())
        .unwrap_or_else(|_| "（无效号码）".into())
}

fn place(app: &App, code: &str) -> String {
    DivisionCode::parse(code)
        .map(|c| app.catalogue.path_name(c, (app.today)()))
        .unwrap_or_else(|_| code.to_string())
}

fn person_or_404(app: &App, user: &Principal, id: i64) -> Result<registry::Person> {
    crate::read_person(app, user, id, "person.ltc.read")
}

// ---------------------------------------------------------------------------------------------
// Person: GB/T 42195 and LTC side by side

struct GbtLine {
    request_id: i64,
    record_no: String,
    assessed_on: String,
    level: String,
}

struct LtcLine {
    id: i64,
    assessed_on: String,
    place: String,
    agency: String,
    adl: i64,
    cognition: i64,
    perception: i64,
    /// 能力完好 etc. per dimension, only when graded.
    degrees: String,
    grade: String,
    graded: bool,
    table: String,
}

#[derive(Template)]
#[template(path = "ltc_person.html")]
struct PersonPage {
    nav: &'static str,
    person_id: i64,
    name: String,
    id_masked: String,
    gbt: Vec<GbtLine>,
    ltc: Vec<LtcLine>,
    no_table: &'static str,
    pilots: String,
}

pub async fn person(State(app): State<Arc<App>>, user: Principal, Path(id): Path<i64>) -> Result<Response> {
    blocking(move || {
        let p = person_or_404(&app, &user, id)?;
        let gbt = app
            .db
            .tx(|t| store::person_results(t, id))?
            .into_iter()
            .map(|r| GbtLine {
                request_id: r.request_id,
                record_no: r.record_no.clone(),
                assessed_on: r.assessed_on.to_string(),
                level: r
                    .level()
                    .and_then(|l| u8::try_from(l).ok())
                    .and_then(Level::from_code)
                    .map(|l| l.to_string())
                    .unwrap_or_else(|| "—".into()),
            })
            .collect();
        let agencies = store::agencies(&app.db)?;
        let ltc = ltc_service::person_assessments(&app.db, id)?
            .into_iter()
            .map(|s| LtcLine {
                id: s.row.id,
                assessed_on: s.row.assessed_on.to_string(),
                place: place(&app, &s.row.hukou),
                agency: agencies
                    .iter()
                    .find(|a| a.id == s.row.agency_id)
                    .map(|a| a.name.clone())
                    .unwrap_or_default(),
                adl: s.row.adl,
                cognition: s.row.cognition,
                perception: s.row.perception,
                degrees: s
                    .scored
                    .grading
                    .as_ref()
                    .map(|g| {
                        format!(
                            "日常生活活动能力{}，认知能力{}，感知觉与沟通能力{}",
                            g.adl.label(),
                            g.cognition.label(),
                            g.perception.label()
                        )
                    })
                    .unwrap_or_default(),
                grade: s.grade_text(),
                graded: s.scored.grading.is_some(),
                table: match (&s.scored.grading, s.row.grading_table_id) {
                    (Some(g), Some(t)) => format!("分级表 #{t}（{}）", g.source),
                    _ => String::new(),
                },
            })
            .collect();
        page(PersonPage {
            nav: "ltc_tables",
            person_id: id,
            name: p.name.clone(),
            id_masked: masked(&p.id_number),
            gbt,
            ltc,
            no_table: NO_TABLE,
            pilots: "呼和浩特市、乌海市、满洲里市".into(),
        })
    })
    .await
}

// ---------------------------------------------------------------------------------------------
// Entry

struct OptView {
    score: u8,
    text: &'static str,
    checked: bool,
}

struct ItemView {
    code: &'static str,
    name: &'static str,
    max: u8,
    options: Vec<OptView>,
}

struct SectionView {
    code: &'static str,
    name: &'static str,
    max: u8,
    items: Vec<ItemView>,
}

#[derive(Template)]
#[template(path = "ltc_entry.html")]
struct EntryPage {
    csrf: String,
    person_id: i64,
    name: String,
    id_masked: String,
    today: String,
    agencies: Vec<(i64, String)>,
    assessors: Vec<(i64, String)>,
    sections: Vec<SectionView>,
}

fn sections(chosen: &HashMap<String, String>) -> Vec<SectionView> {
    DIMENSIONS
        .iter()
        .map(|d| SectionView {
            code: d.code,
            name: d.name,
            max: d.max(),
            items: d
                .items
                .iter()
                .map(|i| ItemView {
                    code: i.code,
                    name: i.name,
                    max: i.max(),
                    options: i
                        .options
                        .iter()
                        .map(|o| OptView {
                            score: o.score,
                            text: o.text,
                            checked: chosen.get(i.code).is_some_and(|v| v == &o.score.to_string()),
                        })
                        .collect(),
                })
                .collect(),
        })
        .collect()
}

pub async fn entry(
    State(app): State<Arc<App>>,
    user: Principal,
    headers: HeaderMap,
    Path(id): Path<i64>,
) -> Result<Response> {
    with_csrf(&headers, move |csrf| {
        let p = person_or_404(&app, &user, id)?;
        let agencies = store::agencies(&app.db)?;
        let assessors = store::assessors(&app.db, None)?
            .into_iter()
            .map(|s| {
                let agency = agencies
                    .iter()
                    .find(|a| a.id == s.agency_id)
                    .map(|a| a.name.as_str())
                    .unwrap_or("");
                (s.id, format!("{}（{agency}，证书 {}）", s.name, s.certificate))
            })
            .collect();
        page(EntryPage {
            csrf,
            person_id: id,
            name: p.name.clone(),
            id_masked: masked(&p.id_number),
            today: (app.today)().to_string(),
            agencies: agencies.iter().map(|a| (a.id, a.name.clone())).collect(),
            assessors,
            sections: sections(&HashMap::new()),
        })
    })
    .await
}

fn int_field(f: &HashMap<String, String>, key: &str, what: &str) -> Result<i64> {
    f.get(key)
        .map(|s| s.trim())
        .filter(|s| !s.is_empty())
        .ok_or_else(|| AppError::BadRequest(format!("请选择{what}。")))?
        .parse()
        .map_err(|_| AppError::BadRequest(format!("{what}无效。")))
}

/// The form is a map because the item codes (C1.1 …) are the field names.
pub async fn create(
    State(app): State<Arc<App>>,
    user: Principal,
    headers: HeaderMap,
    Path(id): Path<i64>,
    Form(f): Form<HashMap<String, String>>,
) -> Result<Response> {
    csrf::verify(&headers, f.get(csrf::FIELD).map(String::as_str).unwrap_or(""))?;
    blocking(move || {
        person_or_404(&app, &user, id)?;
        let mut pairs = Vec::new();
        let mut missing = Vec::new();
        for d in &DIMENSIONS {
            for i in d.items {
                match f.get(i.code).map(|s| s.trim()).filter(|s| !s.is_empty()) {
                    Some(v) => pairs.push((
                        i.code,
                        v.parse::<u8>()
                            .map_err(|_| AppError::BadRequest(format!("{} {} 的分值无效。", i.code, i.name)))?,
                    )),
                    None => missing.push(format!("{} {}", i.code, i.name)),
                }
            }
        }
        if !missing.is_empty() {
            return Err(AppError::BadRequest(format!("尚未作答：{}。", missing.join("、"))));
        }
        let answers = LtcAnswers::from_pairs(pairs).map_err(|e| AppError::BadRequest(e.to_string()))?;
        let assessed_on = f
            .get("assessed_on")
            .and_then(|s| yanglao_domain::dates::parse_date(s.trim()))
            .ok_or_else(|| AppError::BadRequest("评估日期无效，应为 YYYY-MM-DD。".into()))?;
        if assessed_on > (app.today)() {
            return Err(AppError::BadRequest("评估日期不能晚于今天。".into()));
        }
        let by = f.get("by").map(|s| s.trim()).unwrap_or("");
        let rid = ltc_service::record(
            &app.db,
            &LtcInput {
                person_id: id,
                assessed_on,
                agency_id: int_field(&f, "agency_id", "评估机构")?,
                assessor1_id: int_field(&f, "assessor1", "评估员一")?,
                assessor2_id: int_field(&f, "assessor2", "评估员二")?,
                answers,
            },
            &ltc_service::pilot_cities(),
            by,
            Utc::now(),
        )?;
        Ok(Redirect::to(&format!("/assessments/ltc/person/{id}#ltc-{rid}")).into_response())
    })
    .await
}

// ---------------------------------------------------------------------------------------------
// Grading tables

struct TableLine {
    id: i64,
    division: String,
    place: String,
    valid_from: String,
    source_document: String,
    spec_source: String,
    cuts: String,
    combination: String,
    loaded: String,
}

/// The 组合法 table in words, so that whoever loaded it can check it against the document.
fn combination_text(c: &Combination) -> String {
    let row = |r: &[u8; 4]| r.iter().map(u8::to_string).collect::<Vec<_>>().join("、");
    match c {
        Combination::AdlByWorseOther { grades } => Impairment::ALL
            .iter()
            .zip(grades)
            .map(|(adl, r)| format!("日常生活活动能力{}：{}", adl.label(), row(r)))
            .collect::<Vec<_>>()
            .join("；"),
        Combination::Full { .. } => "按三项能力逐一组合（64格）".into(),
    }
}

#[derive(Template)]
#[template(path = "ltc_tables.html")]
struct TablesPage {
    nav: &'static str,
    tables: Vec<TableLine>,
    no_table: &'static str,
}

pub async fn tables(State(app): State<Arc<App>>) -> Result<Response> {
    blocking(move || {
        let tables = yanglao_store::ltc::tables(&app.db)?
            .into_iter()
            .map(|r| {
                let (spec_source, cuts, combination) = match ltc_service::table_of(&r) {
                    Ok(t) => {
                        let s = t.spec();
                        let c = |c: &yanglao_assessment::ltc::Cuts| {
                            format!("{}/{}/{}", c.intact_min, c.mild_min, c.moderate_min)
                        };
                        (
                            s.source.clone(),
                            format!(
                                "日常生活活动能力 {}；认知能力 {}；感知觉与沟通能力 {}",
                                c(&s.adl),
                                c(&s.cognition),
                                c(&s.perception)
                            ),
                            combination_text(&s.combination),
                        )
                    }
                    Err(e) => (String::new(), e.to_string(), String::new()),
                };
                TableLine {
                    id: r.id,
                    place: place(&app, &r.division),
                    division: r.division.clone(),
                    valid_from: r.valid_from.to_string(),
                    source_document: r.source_document.clone(),
                    spec_source,
                    cuts,
                    combination,
                    loaded: format!("{} {}", r.loaded_by, local_time(r.loaded_at)),
                }
            })
            .collect();
        page(TablesPage {
            nav: "ltc_tables",
            tables,
            no_table: NO_TABLE,
        })
    })
    .await
}
