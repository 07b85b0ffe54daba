//! The list life cycle from the shell, on SQLite and PostgreSQL: `list check FILE --as-of` against
//! the registry, `list import` (TOML) → `submit` → `publish` with maker-checker, a county list that
//! narrows 高龄津贴 refused at publication with the persons named, `list diff`.
//! Seed 000 §二(一)2: "覆盖范围和标准不低于国家和自治区相关要求"; item 5 of its table: "年龄在80周岁
//! (含80周岁)至99周岁的老年人,均可按规定每人每月领取100元高龄津贴".

use std::process::Command;

const BIN: &str = env!("CARGO_BIN_EXE_yanglao");
const AS_OF: &str = "2025-01-31";

fn county(edit: &str, with: &str) -> String {
    let text = yanglao_lists::content::BUILTIN[0]
        .1
        .replace(
            "title = \"内蒙古自治区基本养老服务清单\"",
            "title = \"红山区基本养老服务清单（测试）\"",
        )
        .replace("jurisdiction = \"150000\"", "jurisdiction = \"150402\"")
        .replace("level = \"省级\"", "level = \"县级\"")
        .replace("effective_from = \"2023-03-02\"", "effective_from = \"2024-07-01\"");
    assert!(text.contains(edit), "{edit}");
    text.replace(edit, with)
}

fn draft_id(text: &str) -> String {
    let start = text.find("草稿 #").expect("draft id") + "草稿 #".len();
    text[start..].chars().take_while(|c| c.is_ascii_digit()).collect()
}

#[test]
fn a_narrowing_county_list_is_checked_refused_and_a_good_one_published() {
    for t in yanglao_store::testing::all() {
        let dir = yanglao_store::testing::TempDir::new("yanglao-list-cli");
        // Archived originals go to the test's directory (for PostgreSQL the default is ./yanglao-files).
        let files = dir.path().join("files");
        let run = |args: &[&str]| {
            let out = Command::new(BIN)
                .arg("--db")
                .arg(&t.url)
                .arg("--files")
                .arg(&files)
                .args(args)
                .output()
                .expect("run");
            let text = String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr);
            (out.status.success(), text)
        };
        let data = dir.path().join("data");
        let data_s = data.to_string_lossy().to_string();
        let (ok, text) = run(&[
            "gen", "--people", "1500", "--region", "150400", "--seed", "3", "--as-of", AS_OF, "--out", &data_s,
        ]);
        assert!(ok, "{text}");
        let (ok, text) = run(&["import", &data_s, "--as-of", AS_OF]);
        assert!(ok, "{text}");

        let narrowed = dir.path().join("narrowed.toml");
        std::fs::write(
            &narrowed,
            county("eligibility = \"年龄 >= 80\"", "eligibility = \"年龄 >= 85\""),
        )
        .expect("write");
        let narrowed = narrowed.to_string_lossy().to_string();
        let (ok, text) = run(&["list", "check", &narrowed, "--as-of", AS_OF]);
        assert!(!ok, "{}: {text}", t.name);
        assert!(
            text.contains("对照 2025-01-31 施行的上级清单：《内蒙古自治区基本养老服务清单》")
                && text.contains("人在下级清单中所得低于上级")
                && text.contains("“高龄津贴”在《内蒙古自治区基本养老服务清单》应享（100.00元/月），下级清单不予享受")
                && text.contains("150402********"),
            "{}: {text}",
            t.name
        );

        let (ok, text) = run(&["list", "import", &narrowed, "--author", "王科员"]);
        assert!(ok, "{text}");
        let id = draft_id(&text);
        let (ok, text) = run(&["list", "publish", &id, "--by", "赵处长"]);
        assert!(!ok && text.contains("不能从“草稿”变为“已发布”"), "{}: {text}", t.name);
        let (ok, text) = run(&["list", "submit", &id, "--by", "王科员"]);
        assert!(ok, "{text}");
        let (ok, text) = run(&["list", "publish", &id, "--by", "王科员"]);
        assert!(!ok && text.contains("发布人不能是起草人"), "{}: {text}", t.name);
        let (ok, text) = run(&["list", "publish", &id, "--by", "赵处长", "--as-of", AS_OF]);
        assert!(!ok, "{}: {text}", t.name);
        assert!(
            text.contains("不予发布") && text.contains("下级清单不予享受") && text.contains("150402********"),
            "{}: {text}",
            t.name
        );
        let (_, text) = run(&["list", "versions"]);
        let line = text
            .lines()
            .find(|l| l.starts_with(&format!("{id}\t")))
            .expect("listed");
        assert!(line.contains("审核中"), "{line}");

        // Raising the standard passes and is published by someone else.
        let raised = dir.path().join("raised.toml");
        std::fs::write(&raised, county("value = \"100元\"", "value = \"120元\"")).expect("write");
        let raised = raised.to_string_lossy().to_string();
        let (ok, text) = run(&["list", "check", &raised, "--as-of", AS_OF]);
        assert!(ok, "{}: {text}", t.name);
        assert!(text.contains("没有人在下级清单中所得更少"), "{text}");
        let (ok, text) = run(&["list", "import", &raised, "--author", "王科员"]);
        assert!(ok, "{text}");
        let good = draft_id(&text);
        assert!(run(&["list", "submit", &good, "--by", "王科员"]).0);
        let (ok, text) = run(&["list", "publish", &good, "--by", "赵处长", "--as-of", AS_OF]);
        assert!(ok, "{}: {text}", t.name);
        assert!(text.contains(&format!("清单版本 #{good} 已发布（赵处长）")), "{text}");

        // Diff: the shipped region list against the published county version, and two drafts.
        let (ok, text) = run(&["list", "diff", "150000", &good]);
        assert!(ok, "{text}");
        assert!(text.contains("参数【高龄津贴】：100元 → 120元"), "{text}");
        let (ok, text) = run(&["list", "diff", &good, &id]);
        assert!(ok, "{text}");
        assert!(
            text.contains("修改 “高龄津贴” 的资格规则：年龄 >= 80 → 年龄 >= 85"),
            "{text}"
        );
    }
}
