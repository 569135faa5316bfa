//! Catalyst: what did this news do to the market?
//!
//! Stages, one module each: `ingest` (feeds to articles, events and tags), `prices`
//! (price bars), `study` (event study: abnormal returns, category CAARs, impact score),
//! `web` (the read-only UI), `db` (connection, migrations, private cluster), `cli`.
//! `context` keeps equities and ETFs as context series beside the tokens.
//! `moves` finds the market's own moves and the stories that explain them.
//! `taxonomy` holds the token and category reference data all stages share.

pub mod cli;
pub mod clock;
pub mod context;
pub mod db;
pub mod ingest;
pub mod moves;
pub mod prices;
pub mod study;
pub mod taxonomy;
pub mod web;
pub mod worker;
