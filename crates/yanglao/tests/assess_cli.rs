//! `yanglao assess` as an operator uses it: register an agency and assessors, import results
//! done elsewhere (a bad row refuses the whole file, with row and column), then statistics.

use std::process::{Command, Output};

use chrono::NaiveDate;
use yanglao_assessment::gbt42195::INDICATORS;
use yanglao_assessment::import::template_header;
use yanglao_domain::IdNumber;

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

fn row(id: &IdNumber, name: &str, date: &str, b24: u8) -> String {
    let mut cells: Vec<String> = vec![
        id.as_str().into(),
        name.into(),
        date.into(),
        String::new(),
        "首次评估".into(),
        "新城区评估中心".into(),
        "王评估".into(),
        "PG-2".into(),
    ];
    for item in INDICATORS.iter().flat_map(|i| i.items.iter()) {
        cells.push(if item.code == "B.2.4" { b24 } else { item.max() }.to_string());
    }
    cells.extend(["0", "0", "0", "0", "0", "无", "", "", ""].map(String::from));
    cells.join(",")
}

#[test]
fn assess_import_refuses_a_file_with_a_bad_row_and_then_imports_it_fixed() {
    let dir = yanglao_store::testing::TempDir::new("yanglao-assess-cli");
    let db = dir.path().join("t.db").to_string_lossy().to_string();
    for args in [
        &[
            "assess",
            "agency",
            "--name",
            "新城区评估中心",
            "--division",
            "150102",
            "--qualification",
            "新城区民政局认定",
            "--from",
            "2024-01-01",
            "--by",
            "管理员",
        ][..],
        &[
            "assess",
            "assessor",
            "--agency",
            "新城区评估中心",
            "--name",
            "王评估",
            "--certificate",
            "PG-1",
            "--qualification",
            "老年人能力评估师（三级）",
            "--from",
            "2023-01-01",
            "--by",
            "管理员",
        ],
        &[
            "assess",
            "assessor",
            "--agency",
            "新城区评估中心",
            "--name",
            "李评估",
            "--certificate",
            "PG-2",
            "--qualification",
            "老年人能力评估师（三级）",
            "--from",
            "2023-01-01",
            "--by",
            "管理员",
        ],
    ] {
        let (out, text) = run(&db, args);
        assert!(out.status.success(), "{text}");
    }
    let d = |y, m, day| NaiveDate::from_ymd_opt(y, m, day).expect("date");
    let a = IdNumber::from_parts("150102", d(1940, 1, 1), 11).expect("id");
    let b = IdNumber::from_parts("150102", d(1945, 1, 1), 13).expect("id");
    let header = template_header().join(",");
    let bad = dir.path().join("外部评估.csv");
    std::fs::write(
        &bad,
        [
            header.clone(),
            row(&a, "甲", "2025-03-01", 3),
            row(&b, "乙", "2025-03-01", 4),
        ]
        .join("\n"),
    )
    .expect("write");
    let (out, text) = run(
        &db,
        &[
            "assess",
            "import",
            bad.to_str().expect("path"),
            "--by",
            "刘审核",
            "--as-of",
            "2025-06-30",
        ],
    );
    assert!(!out.status.success(), "{text}");
    assert!(
        text.contains("第3行 B.2.4 上下楼梯") && text.contains("附录B") && text.contains("整个文件未导入"),
        "{text}"
    );
    assert!(!text.contains(b.as_str()), "ID numbers are not printed in full: {text}");

    let good = dir.path().join("外部评估-改.csv");
    std::fs::write(
        &good,
        [header, row(&a, "甲", "2025-03-01", 3), row(&b, "乙", "2025-03-01", 0)].join("\n"),
    )
    .expect("write");
    let (out, text) = run(
        &db,
        &[
            "assess",
            "import",
            good.to_str().expect("path"),
            "--by",
            "刘审核",
            "--as-of",
            "2025-06-30",
        ],
    );
    assert!(out.status.success(), "{text}");
    assert!(text.contains("已导入 2 份评估"), "{text}");

    // Where they live comes from 公安, as always.
    let hukou = dir.path().join("户籍.csv");
    std::fs::write(
        &hukou,
        format!(
            "身份证号,姓名,户籍地区划代码,变动日期\n{},甲,150102001001,2000-01-01\n{},乙,150102002001,2000-01-01\n",
            a.as_str(),
            b.as_str()
        ),
    )
    .expect("write");
    let (out, text) = run(
        &db,
        &[
            "import",
            hukou.to_str().expect("path"),
            "--source",
            "gongan_hukou",
            "--as-of",
            "2025-06-30",
        ],
    );
    assert!(out.status.success(), "{text}");
    let (out, text) = run(
        &db,
        &["assess", "stats", "--division", "150102", "--as-of", "2025-06-30"],
    );
    assert!(out.status.success(), "{text}");
    // 甲 90 → 0级; 乙 87 → 1级; both 65+.
    assert!(text.contains("100.0%"), "{text}");
    let (out, text) = run(
        &db,
        &["assess", "overdue", "--division", "150102", "--as-of", "2026-03-01"],
    );
    assert!(out.status.success() && text.contains("待复评 2 人"), "{text}");
}
