//! The registry of older people built from data other departments share: what each department
//! file means (`sources`), how files are read (`reader`) and imported (`import`), a person's
//! state on any date (`state`), and a synthetic region for demos and benchmarks (`synth`).

pub mod import;
pub mod reader;
pub mod sources;
pub mod state;
pub mod synth;
