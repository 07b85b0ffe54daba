//! The national level (issue #3 §5): a national list can be loaded, checked, and stands above
//! every other list, but no national rows ship — `../shared/standards/README.md` §3: "UNCONFIRMED
//! — the list rows themselves. I could not reach any copy of the attachment table."
//!
//! The list below is a FIXTURE made up for this test only: its document, 文号 and item are
//! invented and say so. It is not the national list.

use yanglao_lists::content::{load, load_national, BUILTIN};
use yanglao_lists::dominance::{structural, Finding};
use yanglao_lists::model::{ListLevel, NATION};

const FIXTURE: &str = r#"
title = "国家基本养老服务清单（测试夹具，虚构）"
jurisdiction = "100000"
level = "国家"
effective_from = "2023-05-21"
change_note = "测试夹具：虚构内容，仅用于测试国家层级的载入"

[source]
title = "测试夹具（虚构文件）"
doc_no = "测试〔0000〕0号"
date = "2023-05-21"
seed = "none (test fixture)"

[[param]]
name = "测试夹具津贴"
type = "money"
value = "1元"
basis = "虚构"

[[item]]
code = "ceshi-jiaju-xiangmu"
seq = 1
name = "测试夹具项目（虚构）"
target = "虚构"
content = "虚构"
service_type = "物质帮助"
eligibility = "年龄 >= 99"
amount = "【测试夹具津贴】"
period = "年"
"#;

#[test]
fn a_national_file_loads_when_its_document_is_named() {
    let v = load_national(FIXTURE).unwrap_or_else(|e| panic!("{e:?}"));
    assert_eq!(v.level, ListLevel::National);
    assert_eq!(v.jurisdiction.short(), NATION);
    assert!(v.is_national());
}

#[test]
fn a_national_file_without_doc_no_or_date_is_refused() {
    let no_doc = FIXTURE.replace("doc_no = \"测试〔0000〕0号\"\n", "");
    let e = load_national(&no_doc).expect_err("refused");
    assert!(e.iter().any(|e| e.to_string().contains("文号")), "{e:?}");
    let no_date = FIXTURE.replace("date = \"2023-05-21\"\nseed", "seed");
    let e = load_national(&no_date).expect_err("refused");
    assert!(e.iter().any(|e| e.to_string().contains("日期")), "{e:?}");
    // The region's list is not national.
    let e = load_national(BUILTIN[0].1).expect_err("not national");
    assert!(e.iter().any(|e| e.to_string().contains("层级应为“国家”")), "{e:?}");
}

#[test]
fn the_national_code_and_level_go_together() {
    let province = FIXTURE.replace("level = \"国家\"", "level = \"省级\"");
    let e = load(&province).expect_err("100000 is national only");
    assert!(
        e.iter().any(|e| e.to_string().contains("只用于层级为“国家”的清单")),
        "{e:?}"
    );
    let placed = FIXTURE.replace("jurisdiction = \"100000\"", "jurisdiction = \"150000\"");
    let e = load(&placed).expect_err("a national list covers the country");
    assert!(
        e.iter()
            .any(|e| e.to_string().contains("国家清单的辖区代码应为 100000")),
        "{e:?}"
    );
}

#[test]
fn a_provincial_list_is_checked_against_a_national_one() {
    // 000 §二(一)2: "清单应当包含但不限于国家和自治区基本养老服务清单中的服务项目".
    let national = load_national(FIXTURE).expect("fixture");
    let im = load(BUILTIN[0].1).expect("IM");
    assert_eq!(
        structural(&national, &im),
        vec![Finding::Missing {
            code: "ceshi-jiaju-xiangmu".into(),
            name: "测试夹具项目（虚构）".into()
        }]
    );
}

#[test]
fn a_national_draft_without_its_document_is_not_saved() {
    for t in yanglao_store::testing::all() {
        let no_doc = FIXTURE.replace("doc_no = \"测试〔0000〕0号\"\n", "");
        let e = yanglao_lists::service::save_draft(&t.db, &no_doc, "测试", chrono::Utc::now()).expect_err("refused");
        assert!(e.to_string().contains("文号"), "{}: {e}", t.name);
        yanglao_lists::service::save_draft(&t.db, FIXTURE, "测试", chrono::Utc::now()).expect("saved");
    }
}
