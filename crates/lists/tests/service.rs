//! List versions in the database, on SQLite and PostgreSQL: maker-checker, superseding, and a
//! published version that never changes.

use chrono::Utc;
use yanglao_lists::content::BUILTIN;
use yanglao_lists::model::Status;
use yanglao_lists::service::{advance, install_builtin, publish, save_draft, ServiceError};
use yanglao_store::{lists as store, testing};

#[test]
fn builtin_lists_publish_once_and_a_new_version_supersedes_the_old() {
    for t in testing::all() {
        let now = Utc::now();
        assert_eq!(install_builtin(&t.db, now).expect("install"), 2, "{}", t.name);
        assert_eq!(
            install_builtin(&t.db, now).expect("again"),
            0,
            "{}: installed once",
            t.name
        );
        let all = store::versions(&t.db).expect("versions");
        assert!(all.iter().all(|v| v.status == "published"));
        let im = all.iter().find(|v| v.jurisdiction == "150000").expect("IM");
        let steps = store::steps(&t.db, im.id).expect("steps");
        assert_eq!(
            steps.iter().map(|s| s.status.as_str()).collect::<Vec<_>>(),
            ["draft", "under_review", "published"]
        );
        assert_ne!(steps[0].by, steps[2].by, "published by someone other than the author");

        // A draft raising 高龄津贴 to 120元, effective later.
        let text = BUILTIN[0]
            .1
            .replace("value = \"100元\"", "value = \"120元\"")
            .replace("effective_from = \"2023-03-02\"", "effective_from = \"2026-01-01\"");
        let id = save_draft(&t.db, &text, "王科员", now).expect("draft");
        let refused = publish(&t.db, id, "王科员", now, |_, _| Ok::<(), ServiceError>(()));
        assert!(
            matches!(refused, Err(ServiceError::Lifecycle(_))),
            "{}: a draft cannot be published directly",
            t.name
        );
        advance(&t.db, id, Status::UnderReview, "王科员", now).expect("submit");
        let refused = publish(&t.db, id, "王科员", now, |_, _| Ok::<(), ServiceError>(()));
        assert!(
            refused.is_err_and(|e| e.to_string().contains("发布人不能是起草人")),
            "{}",
            t.name
        );
        assert!(
            matches!(
                advance(&t.db, id, Status::Published, "赵处长", now),
                Err(ServiceError::PublishUnchecked)
            ),
            "{}: publishing only through the checked path",
            t.name
        );
        // A gate that refuses leaves the version under review.
        let gated = publish(&t.db, id, "赵处长", now, |_, _| Err(ServiceError::NotFound));
        assert!(gated.is_err(), "{}", t.name);
        assert_eq!(
            store::version(&t.db, id).expect("q").expect("row").status,
            "under_review"
        );
        publish(&t.db, id, "赵处长", now, |_, _| Ok::<(), ServiceError>(())).expect("publish");
        assert_eq!(
            store::version(&t.db, im.id).expect("q").expect("row").status,
            "superseded",
            "{}",
            t.name
        );

        // Published content cannot change.
        let changed = t.db.tx(|tx| store::update_draft(tx, id, "x", "y", "z"));
        assert!(changed.is_err(), "{}", t.name);

        // A draft with a rule error is refused with item and position.
        let bad = BUILTIN[0]
            .1
            .replace("eligibility = \"年龄 >= 80\"", "eligibility = \"年龄 >=\"");
        let err = save_draft(&t.db, &bad, "王科员", now).expect_err("refused");
        assert!(err.to_string().contains("第5项“高龄津贴”的资格规则：第1行第"), "{err}");
    }
}
