//! The life of an assessment request (issue #5 §2): requested → scheduled → assessed → reviewed →
//! result, and who may ask for one and why (A.1.3 评估原因). Pure: which moves are allowed.

use serde::Serialize;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
pub enum Status {
    /// 已申请
    Requested,
    /// 已安排: agency and date fixed, the draft record exists.
    Scheduled,
    /// 已评估: two assessors submitted the record.
    Assessed,
    /// 已审核: a third person checked it (maker-checker); waiting to take effect.
    Reviewed,
    /// 结果已生效: the level is a registry fact.
    Result,
    /// 已撤销
    Cancelled,
}

impl Status {
    pub const ALL: [Status; 6] = [
        Status::Requested,
        Status::Scheduled,
        Status::Assessed,
        Status::Reviewed,
        Status::Result,
        Status::Cancelled,
    ];

    pub fn code(self) -> &'static str {
        match self {
            Status::Requested => "requested",
            Status::Scheduled => "scheduled",
            Status::Assessed => "assessed",
            Status::Reviewed => "reviewed",
            Status::Result => "result",
            Status::Cancelled => "cancelled",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Status::Requested => "已申请",
            Status::Scheduled => "已安排评估",
            Status::Assessed => "已评估待审核",
            Status::Reviewed => "已审核待生效",
            Status::Result => "结果已生效",
            Status::Cancelled => "已撤销",
        }
    }

    pub fn parse(code: &str) -> Option<Status> {
        Status::ALL.into_iter().find(|s| s.code() == code)
    }

    /// Still needs work (counts as an open request).
    pub fn is_open(self) -> bool {
        !matches!(self, Status::Result | Status::Cancelled)
    }

    /// The moves the workflow allows. A reviewer can send an assessed record back for
    /// correction (assessed → scheduled); nothing leaves a result or a cancellation: a result is
    /// corrected by an amendment with a reason, or re-done by a 复评 request.
    pub fn can_move_to(self, to: Status) -> bool {
        use Status::*;
        matches!(
            (self, to),
            (Requested, Scheduled)
                | (Requested, Cancelled)
                | (Scheduled, Assessed)
                | (Scheduled, Cancelled)
                | (Assessed, Reviewed)
                | (Assessed, Scheduled)
                | (Reviewed, Result)
        )
    }
}

/// Who asked for the assessment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
pub enum RequestedBy {
    /// 本人
    Person,
    /// 家属
    Family,
    /// 个案工作者
    CaseWorker,
    /// 自动（清单规则需要）: a list rule needs a level the registry does not hold.
    Auto,
    /// 外部系统导入: assessed elsewhere and imported with its result.
    Import,
}

impl RequestedBy {
    pub const ALL: [RequestedBy; 5] = [
        RequestedBy::Person,
        RequestedBy::Family,
        RequestedBy::CaseWorker,
        RequestedBy::Auto,
        RequestedBy::Import,
    ];
    /// What a person can choose on the request form.
    pub const MANUAL: [RequestedBy; 3] = [RequestedBy::Person, RequestedBy::Family, RequestedBy::CaseWorker];

    pub fn code(self) -> &'static str {
        match self {
            RequestedBy::Person => "self",
            RequestedBy::Family => "family",
            RequestedBy::CaseWorker => "case_worker",
            RequestedBy::Auto => "auto",
            RequestedBy::Import => "import",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            RequestedBy::Person => "本人",
            RequestedBy::Family => "家属",
            RequestedBy::CaseWorker => "个案工作者",
            RequestedBy::Auto => "自动（清单规则需要）",
            RequestedBy::Import => "外部系统导入",
        }
    }

    pub fn parse(code: &str) -> Option<RequestedBy> {
        RequestedBy::ALL.into_iter().find(|s| s.code() == code)
    }
}

/// A.1.3 评估原因 (README §1.7 / §1.8).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
pub enum Reason {
    /// 首次评估
    First,
    /// 常规评估 (the periodic reassessment)
    Routine,
    /// 即时评估: the person's condition changed.
    Immediate,
    /// 因对评估结果有疑问进行的复评
    Dispute,
    /// 其他
    Other,
}

impl Reason {
    pub const ALL: [Reason; 5] = [
        Reason::First,
        Reason::Routine,
        Reason::Immediate,
        Reason::Dispute,
        Reason::Other,
    ];

    pub fn code(self) -> &'static str {
        match self {
            Reason::First => "first",
            Reason::Routine => "routine",
            Reason::Immediate => "immediate",
            Reason::Dispute => "dispute",
            Reason::Other => "other",
        }
    }

    /// The A.1.3 option text.
    pub fn label(self) -> &'static str {
        match self {
            Reason::First => "首次评估",
            Reason::Routine => "常规评估",
            Reason::Immediate => "即时评估",
            Reason::Dispute => "因对评估结果有疑问进行的复评",
            Reason::Other => "其他",
        }
    }

    pub fn parse(code: &str) -> Option<Reason> {
        Reason::ALL.into_iter().find(|s| s.code() == code)
    }

    /// From the code or the A.1.3 text (imports write the text).
    pub fn parse_any(s: &str) -> Option<Reason> {
        let s = s.trim();
        Reason::ALL
            .into_iter()
            .find(|r| r.code() == s || r.label() == s || (s == "复评" && *r == Reason::Dispute))
    }

    /// Due at once rather than after the period (A.1.3 triggers; overdue lists).
    pub fn is_trigger(self) -> bool {
        matches!(self, Reason::Immediate | Reason::Dispute)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_documented_moves_are_allowed() {
        let allowed: Vec<(Status, Status)> = Status::ALL
            .iter()
            .flat_map(|a| Status::ALL.iter().map(move |b| (*a, *b)))
            .filter(|(a, b)| a.can_move_to(*b))
            .collect();
        assert_eq!(allowed.len(), 7, "{allowed:?}");
        assert!(
            !Status::Requested.can_move_to(Status::Assessed),
            "no assessment without scheduling"
        );
        assert!(
            !Status::Assessed.can_move_to(Status::Result),
            "no result without review"
        );
        assert!(
            !Status::Result.can_move_to(Status::Scheduled),
            "a result is amended, not reopened"
        );
        for s in Status::ALL {
            assert_eq!(Status::parse(s.code()), Some(s));
        }
        for r in Reason::ALL {
            assert_eq!(Reason::parse(r.code()), Some(r));
            assert_eq!(Reason::parse_any(r.label()), Some(r), "A.1.3 text");
        }
    }
}
