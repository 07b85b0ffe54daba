//! The entitlement engine (issue #4): the published service lists applied to the registry on a
//! date. "服务找人": the engine finds who is entitled instead of waiting for applications.
//!
//! - `person`: one person's facts on a date, resolved to rule values (shared by both paths);
//! - `snapshot`: the registry on a date as an Apache Arrow record batch;
//! - `vector`: a rule evaluated over the whole snapshot with Arrow compute kernels;
//! - `params`: parameter values in force, by division;
//! - `engine`: the versions in force, their items, batch and one-person evaluation.

pub mod dominance;
pub mod engine;
pub mod explain;
pub mod params;
pub mod person;
pub mod receipts;
pub mod run;
pub mod simulate;
pub mod snapshot;
pub mod vector;

#[cfg(test)]
mod tests;
