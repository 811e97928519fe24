//! docent: a local assistant for company manuals. Retrieval lives in `rag`, engines in
//! `models`, grounded answers in `answer`, and the three front ends in `cli`, `tui` and `api`.

pub mod answer;
pub mod api;
pub mod cli;
pub mod config;
pub mod i18n;
pub mod models;
pub mod rag;
pub mod tui;
