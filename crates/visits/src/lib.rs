//! Care visits for special-difficulty older people (特殊困难老年人探访关爱, issue #7).
//!
//! - `roster`: who is on the visit list on a date, with the reasons and a risk tier, read from
//!   registry facts in one streamed pass (the list is computed, never stored, so a death, a move
//!   or a new assessment changes it by itself);
//! - `schedule`: visit intervals per tier as jurisdiction parameters, campaign windows, and who
//!   is due or overdue;
//! - `service`: visitors, assignments, visit records (idempotent), follow-ups, volunteer credit;
//! - `rate`: 月探访率 by division with the definition written out;
//! - `synth`: visitors and visit history for the demo region.

pub mod rate;
pub mod roster;
pub mod schedule;
pub mod service;
pub mod synth;

use serde::Serialize;
use yanglao_store::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum VisitError {
    #[error("数据库错误：{0}")]
    Store(#[from] StoreError),
    #[error("{0}")]
    Invalid(String),
    #[error("未找到：{0}")]
    NotFound(String),
}

pub type Result<T, E = VisitError> = std::result::Result<T, E>;

/// Why someone is on the visit list. The groups are those the seeds name: 001 §4 "高龄、独居、
/// 空巢、留守、失能、残疾、计划生育特殊家庭"; 000 §7 and 004 §6 "重残".
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub enum Reason {
    Alone,
    EmptyNest,
    LeftBehind,
    Disabled,
    SevereDisability,
    FamilyPlanning,
    Oldest,
    /// Entitled to the list's own visit item (探访服务 / 巡访关爱) in the latest engine run.
    ListItem,
}

impl Reason {
    pub fn label(self) -> &'static str {
        match self {
            Reason::Alone => "独居",
            Reason::EmptyNest => "空巢",
            Reason::LeftBehind => "留守",
            Reason::Disabled => "失能",
            Reason::SevereDisability => "重残",
            Reason::FamilyPlanning => "计划生育特殊家庭",
            Reason::Oldest => "高龄",
            Reason::ListItem => "清单探访项",
        }
    }
}

/// Risk tier (分级): the Inner Mongolia example in standards/README.md §5.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub enum Tier {
    High,
    Key,
    General,
}

impl Tier {
    pub const ALL: [Tier; 3] = [Tier::High, Tier::Key, Tier::General];

    pub fn label(self) -> &'static str {
        match self {
            Tier::High => "高风险",
            Tier::Key => "重点",
            Tier::General => "一般",
        }
    }

    pub fn parse(s: &str) -> Option<Tier> {
        Tier::ALL.into_iter().find(|t| t.label() == s.trim())
    }
}

/// Visit modes (004 §6 "上门走访、电话探访、邻里互助"; the guidance's 视频).
pub const MODES: [&str; 4] = ["上门", "电话", "视频", "邻里"];

/// Modes that count as an effective visit for the rate and the schedule. 电话 does not: the
/// visit content (standards §5: 房屋和水电气暖设施设备隐患, 行动能力, 精神状况) needs the person
/// and the home to be seen. 邻里 is an in-person visit by a registered neighbour visitor.
pub const EFFECTIVE_MODES: [&str; 3] = ["上门", "视频", "邻里"];

pub fn is_effective(mode: &str) -> bool {
    EFFECTIVE_MODES.contains(&mode)
}

/// Finding headings: 000 §7 "基本生活、安全风险、家庭赡养、关爱保护".
pub const HEADINGS: [&str; 4] = ["基本生活", "健康与安全风险", "家庭赡养", "关爱保护"];
pub const FINDING_STATUSES: [&str; 3] = ["正常", "关注", "异常"];
/// Follow-up kinds: 000 §7 "帮扶和救助措施", the guidance's 需求转介 and 必要救援.
pub const FOLLOWUP_KINDS: [&str; 3] = ["转介服务", "帮扶救助", "紧急处置"];
/// Visitor kinds: 002 §(八) "嘎查村干部、社工、网格员、健康低龄老年人" and volunteers.
pub const VISITOR_KINDS: [&str; 5] = ["网格员", "社工", "村干部", "志愿者", "低龄健康老年人"];

/// Kinds whose visits earn time-bank hours and points (002 §(八) "积分超市""志愿+信用"):
/// volunteers and the younger healthy older people; paid staff do not.
pub fn earns_credit(kind: &str) -> bool {
    matches!(kind, "志愿者" | "低龄健康老年人")
}

/// Masked ID number for pages and exports.
pub fn mask(id_number: &str) -> String {
    yanglao_domain::IdNumber::parse(id_number)
        .map(|i| i.masked())
        .unwrap_or_else(|_| "******".to_string())
}
