//! The rule parser and checker never panic and never hang, whatever the input.
#![no_main]

use libfuzzer_sys::fuzz_target;
use yanglao_rules::vocab::Params;
use yanglao_rules::{check, parse, Type};

fuzz_target!(|data: &[u8]| {
    let Ok(src) = std::str::from_utf8(data) else { return };
    let params = Params::default().with("高龄津贴", Type::Money).with("护理补贴标准", Type::MoneyByInt);
    if let Ok(e) = parse(src) {
        let _ = check(src, &e, &params, Type::Bool);
        let _ = check(src, &e, &params, Type::Money);
    }
});
