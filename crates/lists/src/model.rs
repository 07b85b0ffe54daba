//! The list model and its life cycle.

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use yanglao_domain::DivisionCode;

/// 国家 / 省级 / 地市级 / 县级.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub enum ListLevel {
    #[serde(rename = "国家")]
    National,
    #[serde(rename = "省级")]
    Province,
    #[serde(rename = "地市级")]
    Prefecture,
    #[serde(rename = "县级")]
    County,
}

impl ListLevel {
    pub const ALL: [ListLevel; 4] = [
        ListLevel::National,
        ListLevel::Province,
        ListLevel::Prefecture,
        ListLevel::County,
    ];

    pub fn label(self) -> &'static str {
        match self {
            ListLevel::National => "国家",
            ListLevel::Province => "省级",
            ListLevel::Prefecture => "地市级",
            ListLevel::County => "县级",
        }
    }

    pub fn parse(label: &str) -> Option<ListLevel> {
        ListLevel::ALL.into_iter().find(|l| l.label() == label)
    }
}

/// 服务类型 in the seeds' tables.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum ServiceType {
    #[serde(rename = "物质帮助")]
    Material,
    #[serde(rename = "照护服务")]
    Care,
    #[serde(rename = "关爱服务")]
    Concern,
}

impl ServiceType {
    pub fn label(self) -> &'static str {
        match self {
            ServiceType::Material => "物质帮助",
            ServiceType::Care => "照护服务",
            ServiceType::Concern => "关爱服务",
        }
    }
}

/// 普惠 (for all older people) or 保障 (for special groups), where the list says so.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Coverage {
    #[serde(rename = "普惠")]
    Universal,
    #[serde(rename = "保障")]
    Targeted,
}

/// How often an amount is paid.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Period {
    #[serde(rename = "月")]
    Month,
    #[serde(rename = "年")]
    Year,
    #[serde(rename = "一次")]
    Once,
}

/// Which of a person's divisions places them in the jurisdiction.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
pub enum Basis {
    #[default]
    #[serde(rename = "户籍")]
    Hukou,
    #[serde(rename = "常住")]
    Residence,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Item {
    /// Stable across versions and levels (e.g. `gaoling-jintie`).
    pub code: String,
    /// 序号 in the published table.
    pub seq: u32,
    /// 服务项目
    pub name: String,
    /// 服务对象, as written.
    pub target: String,
    /// 服务内容 (Inner Mongolia's table: 服务内容及标准, one column), as written.
    pub content: String,
    /// 服务标准, where the table prints it in its own column (Hotan), as written.
    #[serde(default)]
    pub standard: Option<String>,
    /// 服务类型
    pub service_type: ServiceType,
    #[serde(default)]
    pub coverage: Option<Coverage>,
    /// 支出责任 as written, where the list gives it.
    #[serde(default)]
    pub funding: Option<String>,
    /// 牵头部门
    #[serde(default)]
    pub lead: Option<String>,
    /// 配合单位
    #[serde(default)]
    pub partners: Vec<String>,
    #[serde(default)]
    pub basis: Basis,
    /// Who is entitled, in the rule language (是/否). None where the text gives no rule a
    /// machine can apply (e.g. 临时救助 on an event); `note` says why.
    #[serde(default)]
    pub eligibility: Option<String>,
    /// How much, in the rule language (金额), with its period.
    #[serde(default)]
    pub amount: Option<String>,
    #[serde(default)]
    pub period: Option<Period>,
    /// How the rules read the text, and what the text leaves open.
    #[serde(default)]
    pub note: Option<String>,
}

/// A named parameter of a list: its type, its value where the text gives one, or `local` where
/// the text leaves it to localities.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ParamDecl {
    pub name: String,
    /// money | int | money_by_level
    #[serde(rename = "type")]
    pub ty: String,
    /// A money value such as "100元", an integer, or for tables "0=0元,1=…"; absent when local.
    #[serde(default)]
    pub value: Option<String>,
    /// Set by each locality ("根据…确定", "由各盟市…确定").
    #[serde(default)]
    pub local: bool,
    /// The words of the text it comes from.
    pub basis: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SourceDoc {
    pub title: String,
    /// 文号, where known.
    #[serde(default)]
    pub doc_no: Option<String>,
    /// Date of the document, where it carries one (a 征求意见稿 may not).
    #[serde(default)]
    pub date: Option<NaiveDate>,
    /// Which seed file it is in.
    pub seed: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListVersion {
    pub title: String,
    pub jurisdiction: DivisionCode,
    pub level: ListLevel,
    pub effective_from: NaiveDate,
    pub change_note: String,
    pub source: SourceDoc,
    #[serde(default, rename = "param")]
    pub params: Vec<ParamDecl>,
    #[serde(rename = "item")]
    pub items: Vec<Item>,
}

/// The jurisdiction code a national list (level 国家) carries: 100000, the code conventionally
/// used for the whole country in tables built on GB/T 2260 (no province has 10). A national list
/// reaches everyone; a list of any other level cannot use this code.
pub const NATION: &str = "100000";

impl ListVersion {
    pub fn is_national(&self) -> bool {
        self.level == ListLevel::National
    }
}

/// True for the code national lists carry ([`NATION`]).
pub fn is_nation(code: DivisionCode) -> bool {
    code.short() == NATION
}

/// draft → under review → published → superseded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Status {
    Draft,
    UnderReview,
    Published,
    Superseded,
}

impl Status {
    pub fn label(self) -> &'static str {
        match self {
            Status::Draft => "草稿",
            Status::UnderReview => "审核中",
            Status::Published => "已发布",
            Status::Superseded => "已被替代",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Step {
    pub to: Status,
    pub by: String,
    pub at: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LifecycleError {
    #[error("不能从“{from}”变为“{to}”")]
    Transition { from: &'static str, to: &'static str },
    #[error("发布人不能是起草人（审核与起草须分离）")]
    SameAuthor,
}

/// A version's life cycle: every step recorded with who and when.
#[derive(Debug, Clone, Serialize)]
pub struct Lifecycle {
    pub author: String,
    pub status: Status,
    pub steps: Vec<Step>,
}

impl Lifecycle {
    pub fn new(author: &str, at: DateTime<Utc>) -> Self {
        Lifecycle {
            author: author.to_string(),
            status: Status::Draft,
            steps: vec![Step {
                to: Status::Draft,
                by: author.to_string(),
                at,
            }],
        }
    }

    /// Moves to `to` if the life cycle allows it; the reviewer who publishes is not the author.
    pub fn advance(&mut self, to: Status, by: &str, at: DateTime<Utc>) -> Result<(), LifecycleError> {
        let allowed = matches!(
            (self.status, to),
            (Status::Draft, Status::UnderReview)
                | (Status::UnderReview, Status::Draft)
                | (Status::UnderReview, Status::Published)
                | (Status::Published, Status::Superseded)
        );
        if !allowed {
            return Err(LifecycleError::Transition {
                from: self.status.label(),
                to: to.label(),
            });
        }
        if to == Status::Published && by == self.author {
            return Err(LifecycleError::SameAuthor);
        }
        self.status = to;
        self.steps.push(Step {
            to,
            by: by.to_string(),
            at,
        });
        Ok(())
    }

    /// A published version never changes.
    pub fn editable(&self) -> bool {
        self.status == Status::Draft
    }
}
