//! A person's request, read the same way by `serve` and by `run`: whether a comment mentions the
//! agent ([`mention`]), what it asks for ([`intent`]), its instruction and the branch that names
//! ([`instruction`]), who may ask ([`actor`]), and whether a reply calls a finding wrong ([`feedback`]). Pure: text and user records in, decisions out; no IO.

pub mod actor;
pub mod feedback;
pub mod instruction;
pub mod intent;
pub mod mention;
