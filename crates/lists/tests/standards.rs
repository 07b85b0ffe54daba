//! 服务标准 as its own column (Hotan, seed 004: "对象 服务项目 服务内容 服务类型 服务标准 支出责任
//! 牵头部门"), copied as printed; Inner Mongolia's table (seed 000) has one column 服务内容及标准.

use yanglao_lists::content::{load, BUILTIN};

#[test]
fn every_hotan_item_has_its_standard_and_inner_mongolia_none() {
    let hotan = load(BUILTIN[1].1).expect("Hotan");
    assert_eq!(hotan.items.len(), 17);
    for i in &hotan.items {
        assert!(
            i.standard.as_deref().is_some_and(|s| !s.trim().is_empty()),
            "第{}项 {}",
            i.seq,
            i.name
        );
    }
    let std_of = |seq: u32| {
        hotan
            .items
            .iter()
            .find(|i| i.seq == seq)
            .and_then(|i| i.standard.clone())
            .expect("standard")
    };
    // Seed 004, item 16: "具有新疆户籍，持有《中华人民共和国残疾人证》的残疾老年人，分别按照不低于
    // 110元/人/月标准发放困难残疾人生活补贴、重度残疾人护理补贴。"
    assert_eq!(
        std_of(16),
        "具有新疆户籍，持有《中华人民共和国残疾人证》的残疾老年人，分别按照不低于110元/人/月标准发放困难残疾人生活补贴、重度残疾人护理补贴。"
    );
    // Item 3's standard has two paragraphs in the seed; both are kept.
    let s3 = std_of(3);
    assert_eq!(s3.lines().count(), 2, "{s3}");
    assert!(s3.ends_with("根据自治区政策80周岁以上的老年人可以带一名陪护人员免费进入实行政府指导价的旅游景区。"));
    // Item 17: "按照《城市生活无着的流浪乞讨人员救助管理办法》执行。"
    assert_eq!(std_of(17), "按照《城市生活无着的流浪乞讨人员救助管理办法》执行。");

    let im = load(BUILTIN[0].1).expect("IM");
    assert!(im.items.iter().all(|i| i.standard.is_none()));
}
