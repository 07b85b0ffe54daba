//! The CLI as an operator uses it.

use std::process::Command;

const BIN: &str = env!("CARGO_BIN_EXE_yanglao");

#[test]
fn list_check_passes_the_shipped_lists_and_names_item_and_position_of_an_error() {
    let out = Command::new(BIN).args(["list", "check"]).output().expect("run");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}");
    assert!(
        text.contains("内蒙古自治区基本养老服务清单，19 项") && text.contains("和田地区基本养老服务清单，17 项"),
        "{text}"
    );

    let dir = yanglao_store::testing::TempDir::new("yanglao-cli");
    let bad = yanglao_lists::content::BUILTIN[0].1.replace(
        "eligibility = \"低保 且 年龄 >= 70 且 年龄 <= 79\"",
        "eligibility = \"低保 且 年龄 >= 70 且\"",
    );
    let file = dir.path().join("bad.toml");
    std::fs::write(&file, bad).expect("write");
    let out = Command::new(BIN)
        .args(["list", "check"])
        .arg(&file)
        .output()
        .expect("run");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(!out.status.success(), "a list with a rule error is refused");
    assert!(
        text.contains("第6项“经济困难老年人养老服务补贴”的资格规则：第1行第"),
        "{text}"
    );
}

#[test]
fn list_check_rejects_a_county_list_below_the_region() {
    let dir = yanglao_store::testing::TempDir::new("yanglao-cli");
    let county = yanglao_lists::content::BUILTIN[0]
        .1
        .replace("jurisdiction = \"150000\"", "jurisdiction = \"150102\"")
        .replace("level = \"省级\"", "level = \"县级\"")
        .replace("value = \"100元\"", "value = \"80元\"");
    let file = dir.path().join("county.toml");
    std::fs::write(&file, county).expect("write");
    let out = Command::new(BIN)
        .args(["list", "check"])
        .arg(&file)
        .output()
        .expect("run");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(!out.status.success(), "{text}");
    assert!(
        text.contains("低于上级《内蒙古自治区基本养老服务清单》")
            && text.contains("参数【高龄津贴】为 80元，低于上级的 100元"),
        "{text}"
    );
}

#[test]
fn param_set_and_show_follow_the_division_path() {
    let dir = yanglao_store::testing::TempDir::new("yanglao-cli");
    let db = dir.path().join("p.db").to_string_lossy().to_string();
    let run = |args: &[&str]| {
        let out = Command::new(BIN).arg("--db").arg(&db).args(args).output().expect("run");
        let text = String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr);
        (out.status.success(), text)
    };
    let (ok, text) = run(&[
        "param",
        "set",
        "高龄津贴",
        "--division",
        "150102",
        "--from",
        "2025-01-01",
        "--value",
        "120元",
        "--by",
        "新城区民政局",
    ]);
    assert!(ok, "{text}");
    let (ok, text) = run(&[
        "param",
        "show",
        "高龄津贴",
        "--division",
        "150102001201",
        "--as-of",
        "2025-03-01",
    ]);
    assert!(ok && text.contains("为 120元") && text.contains("新城区"), "{text}");
    let (_, text) = run(&[
        "param",
        "show",
        "高龄津贴",
        "--division",
        "150102001201",
        "--as-of",
        "2024-12-31",
    ]);
    assert!(text.contains("尚未设定"), "{text}");
    let (ok, text) = run(&[
        "param",
        "set",
        "高龄津贴",
        "--division",
        "150102",
        "--from",
        "2025-01-01",
        "--value",
        "很多",
        "--by",
        "x",
    ]);
    assert!(!ok && text.contains("不是参数【高龄津贴】的有效取值"), "{text}");
}

#[test]
fn list_export_then_import_saves_a_draft() {
    let dir = yanglao_store::testing::TempDir::new("yanglao-cli");
    let db = dir.path().join("l.db").to_string_lossy().to_string();
    let xlsx = dir.path().join("hotan.xlsx");
    let out = Command::new(BIN)
        .args(["list", "export", "653200", "--out"])
        .arg(&xlsx)
        .output()
        .expect("run");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let out = Command::new(BIN)
        .arg("--db")
        .arg(&db)
        .args(["list", "import"])
        .arg(&xlsx)
        .args(["--author", "王科员"])
        .output()
        .expect("run");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && text.contains("已保存为草稿") && text.contains("17 项"),
        "{text}"
    );
}
