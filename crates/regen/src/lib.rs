//! regen: train, evaluate and run image generation and restoration models on the CPU.
//!
//! Data flows one way: files -> [`data`] -> [`corrupt`] -> [`train`] -> [`checkpoint`] ->
//! [`restore`] -> files, with [`metrics`] reading both ends.

pub mod batch;
pub mod checkpoint;
mod choice;
pub mod classical;
pub mod corrupt;
pub mod data;
pub mod device;
pub mod engine;
mod error;
pub mod eval;
pub mod fsutil;
pub mod generate;
pub mod metrics;
pub mod models;
pub mod plot;
pub mod restore;
pub mod rng;
pub mod shipped;
pub mod train;

pub use corrupt::Task;
pub use error::{Error, Result};
