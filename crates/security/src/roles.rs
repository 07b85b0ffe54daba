//! Roles from the brief and what each may do. A user holds one or more roles and one division
//! scope; the scope limits which people's data they reach (enforced in the store), the roles
//! limit which actions they may take. Least privilege: the 系统管理员 manages accounts but reads
//! no personal data; the audit log is read by 监管 (separation of duties, 三员分立).

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Role {
    Admin,
    Policy,
    Data,
    Caseworker,
    Assessor,
    Visitor,
    Institution,
    Supervisor,
    Finance,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Permission {
    /// Search people and open a person's page (masked).
    PersonRead,
    /// See a full ID number or phone number (each view audited).
    PersonFullId,
    /// Record or change a person's contact details.
    ContactEdit,
    /// Read the 服务找人 work lists.
    WorkRead,
    /// Assign and close work items.
    WorkHandle,
    /// Draft lists and set parameters.
    ListEdit,
    /// Review and publish list versions (maker-checker still applies).
    ListPublish,
    /// Run simulations of list and parameter changes.
    Simulate,
    /// Import department data, read import batches and their error reports.
    ImportData,
    /// Create and manage assessment requests, agencies and assessors.
    AssessmentManage,
    /// Enter and submit assessments.
    AssessmentEnter,
    /// Record care visits.
    VisitRecord,
    /// Manage visitors, assignments and follow-ups.
    VisitManage,
    /// Read and verify the audit log.
    AuditRead,
    /// Manage users and API tokens.
    UserAdmin,
    /// Engine runs, receipts and payment data.
    FinanceRead,
    /// Aggregate statistics.
    StatsRead,
}

use Permission as P;

impl Role {
    pub const ALL: [Role; 9] = [
        Role::Admin,
        Role::Policy,
        Role::Data,
        Role::Caseworker,
        Role::Assessor,
        Role::Visitor,
        Role::Institution,
        Role::Supervisor,
        Role::Finance,
    ];

    pub fn code(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::Policy => "policy",
            Role::Data => "data",
            Role::Caseworker => "case",
            Role::Assessor => "assessor",
            Role::Visitor => "visitor",
            Role::Institution => "institution",
            Role::Supervisor => "supervisor",
            Role::Finance => "finance",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Role::Admin => "系统管理员",
            Role::Policy => "政策",
            Role::Data => "数据",
            Role::Caseworker => "经办",
            Role::Assessor => "评估员",
            Role::Visitor => "探访员",
            Role::Institution => "机构",
            Role::Supervisor => "监管",
            Role::Finance => "财务",
        }
    }

    /// By code or Chinese label.
    pub fn parse(s: &str) -> Option<Role> {
        let s = s.trim();
        Role::ALL.into_iter().find(|r| r.code() == s || r.label() == s)
    }

    pub fn permissions(self) -> &'static [Permission] {
        match self {
            Role::Admin => &[P::UserAdmin, P::StatsRead],
            Role::Policy => &[P::ListEdit, P::ListPublish, P::Simulate, P::WorkRead, P::StatsRead],
            Role::Data => &[P::ImportData, P::PersonRead, P::StatsRead],
            Role::Caseworker => &[
                P::PersonRead,
                P::PersonFullId,
                P::ContactEdit,
                P::WorkRead,
                P::WorkHandle,
                P::AssessmentManage,
                P::VisitManage,
                P::StatsRead,
            ],
            Role::Assessor => &[P::PersonRead, P::AssessmentEnter],
            Role::Visitor => &[P::PersonRead, P::VisitRecord],
            Role::Institution => &[P::StatsRead],
            Role::Supervisor => &[P::AuditRead, P::PersonRead, P::WorkRead, P::StatsRead, P::FinanceRead],
            Role::Finance => &[P::FinanceRead, P::WorkRead, P::PersonRead, P::StatsRead],
        }
    }
}

/// Roles written as a comma-separated list of codes (how they are stored).
pub fn parse_roles(s: &str) -> Result<Vec<Role>, String> {
    let mut out = Vec::new();
    for part in s.split([',', '，', '、']).map(str::trim).filter(|p| !p.is_empty()) {
        let r = Role::parse(part).ok_or_else(|| format!("没有“{part}”这个角色"))?;
        if !out.contains(&r) {
            out.push(r);
        }
    }
    if out.is_empty() {
        return Err("至少需要一个角色".into());
    }
    out.sort();
    Ok(out)
}

pub fn roles_code(roles: &[Role]) -> String {
    roles.iter().map(|r| r.code()).collect::<Vec<_>>().join(",")
}

pub fn allows(roles: &[Role], p: Permission) -> bool {
    roles.iter().any(|r| r.permissions().contains(&p))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_parse_by_code_and_label() {
        assert_eq!(
            parse_roles("case,评估员").expect("ok"),
            vec![Role::Caseworker, Role::Assessor]
        );
        assert!(parse_roles("root").is_err());
        assert!(parse_roles("").is_err());
        for r in Role::ALL {
            assert_eq!(Role::parse(r.code()), Some(r));
            assert_eq!(Role::parse(r.label()), Some(r));
        }
    }

    #[test]
    fn least_privilege() {
        // The administrator manages accounts but reads no personal data and no audit log.
        assert!(allows(&[Role::Admin], P::UserAdmin));
        assert!(!allows(&[Role::Admin], P::PersonRead));
        assert!(!allows(&[Role::Admin], P::AuditRead));
        // Only 监管 reads the audit log.
        let readers: Vec<Role> = Role::ALL.into_iter().filter(|r| allows(&[*r], P::AuditRead)).collect();
        assert_eq!(readers, vec![Role::Supervisor]);
        // A visitor cannot work the entitlement lists.
        assert!(!allows(&[Role::Visitor], P::WorkHandle));
    }
}
