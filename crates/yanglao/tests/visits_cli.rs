//! `yanglao visits` as an operator uses it on a generated region: visitors and history, the
//! rate with its definition, a visit recorded twice under one key (stored once), the referral
//! closed, a parameter set through `yanglao param set`.

use std::process::{Command, Output};

use yanglao_store::{Db, Value};

const BIN: &str = env!("CARGO_BIN_EXE_yanglao");

fn run(db: &str, args: &[&str]) -> (Output, String) {
    let out = Command::new(BIN).arg("--db").arg(db).args(args).output().expect("run");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out, text)
}

fn ok(db: &str, args: &[&str]) -> String {
    let (out, text) = run(db, args);
    assert!(out.status.success(), "{args:?}: {text}");
    text
}

#[test]
fn visits_from_the_shell() {
    let dir = yanglao_store::testing::TempDir::new("yanglao-visits-cli");
    let db = dir.path().join("t.db").to_string_lossy().to_string();
    let data = dir.path().join("data").to_string_lossy().to_string();
    ok(&db, &["init"]);
    ok(&db, &["gen", "--people", "600", "--region", "150400", "--out", &data]);
    ok(&db, &["import", &data]);
    let t = ok(&db, &["visits", "gen", "--region", "150400", "--months", "2"]);
    assert!(t.contains("探访人员"), "{t}");
    // 001 §4 "确保特殊困难老年人月探访率达到100%": the figure, the target and the definition.
    let t = ok(&db, &["visits", "rate", "--division", "150400"]);
    assert!(t.contains("目标 100%") && t.contains("口径：月探访率 ="), "{t}");
    assert!(t.contains("赤峰市"), "{t}");

    let store = Db::open(&db).expect("open");
    let row = store
        .query_one(
            "SELECT p.id_number, a.visitor_id FROM person p JOIN visit_assignment a ON a.person_id = p.id ORDER BY p.id LIMIT 1",
            &[],
        )
        .expect("query")
        .expect("an assigned person");
    let (id_number, visitor) = (row.text(0).expect("id"), row.int(1).expect("visitor").to_string());
    let record = [
        "visits",
        "record",
        "--person",
        &id_number,
        "--visitor",
        &visitor,
        "--finding",
        "健康与安全风险:异常:燃气灶软管老化",
        "--followup",
        "转介服务:联系燃气公司更换软管",
        "--key",
        "cli-test-key-0001",
        "--by",
        "王网格",
    ];
    let t = ok(&db, &record);
    assert!(t.contains("已记录探访"), "{t}");
    let t = ok(&db, &record);
    assert!(t.contains("未重复保存"), "{t}");
    let n = store
        .query_one(
            "SELECT COUNT(*) FROM visit WHERE idem_key = $1",
            &[Value::text("cli-test-key-0001")],
        )
        .expect("q")
        .expect("row")
        .int(0)
        .expect("n");
    assert_eq!(n, 1);
    let f = store
        .query_one(
            "SELECT f.id FROM visit_followup f JOIN visit v ON v.id = f.visit_id WHERE v.idem_key = $1",
            &[Value::text("cli-test-key-0001")],
        )
        .expect("q")
        .expect("follow-up")
        .int(0)
        .expect("id")
        .to_string();
    let t = ok(&db, &["visits", "followups", "--division", "150400"]);
    assert!(t.contains("联系燃气公司更换软管"), "{t}");
    // Closing needs an outcome; then it is closed, and closing again is refused.
    let (out, _) = run(&db, &["visits", "close", &f, "--by", "社工站", "--outcome", ""]);
    assert!(!out.status.success());
    ok(
        &db,
        &["visits", "close", &f, "--by", "社工站", "--outcome", "已更换软管"],
    );
    let (out, t) = run(&db, &["visits", "close", &f, "--by", "社工站", "--outcome", "再次"]);
    assert!(!out.status.success() && t.contains("已办结"), "{t}");
    let t = ok(&db, &["visits", "followups", "--division", "150400", "--all"]);
    assert!(t.contains("已办结") && t.contains("已更换软管"), "{t}");

    // The interval per tier is a parameter like any other.
    let t = ok(
        &db,
        &[
            "param",
            "set",
            "探访间隔（天）·高风险",
            "--division",
            "150400",
            "--from",
            "2020-01-01",
            "--value",
            "5",
            "--by",
            "测试",
        ],
    );
    assert!(t.contains("已设定"), "{t}");
    let t = ok(&db, &["visits", "due", "--division", "150400"]);
    assert!(t.contains("应探访"), "{t}");
    if t.contains("高风险") {
        assert!(t.contains("每5天"), "{t}");
    }
}
