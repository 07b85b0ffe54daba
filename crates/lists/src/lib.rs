//! Basic elderly care service lists (基本养老服务清单) as data plus checked rules (issue #3).
//!
//! A list belongs to a jurisdiction and a level and has versions; a version has items with the
//! fields of the seeds' tables and, where the text allows, an eligibility rule and an amount rule
//! in the rule language of `yanglao-rules`, over registry facts and named parameters. What a text
//! leaves to localities is a parameter marked `local`, never a constant. Versions move through
//! draft → under review → published → superseded, with maker-checker.
//!
//! The real lists ship in `content/` as TOML, one file per list version.

pub mod content;
pub mod diff;
pub mod dominance;
pub mod model;
pub mod params;
pub mod service;
pub mod xlsx;
