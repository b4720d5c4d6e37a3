//! regen: train, evaluate and run image generation and restoration models on the CPU.
//!
//! Data flows one way: files -> [`data`] -> [`corrupt`] -> [`train`] -> [`checkpoint`] ->
//! [`restore`] / [`generate`] -> files, with [`metrics`] and [`eval`] reading both ends.
//! Imports point one way too, each layer using only those above it:
//!
//! 1. [`Error`], [`fsutil`], [`rng`], [`pad`]: foundations;
//! 2. [`engine`] (the convolution kernels) and [`device`]; [`data`] and [`metrics`];
//! 3. [`corrupt`], then [`classical`], then [`planes`] (a task's input planes); [`models`]
//!    (one file per architecture, and the [`models::Descriptor`] of what a model is);
//!    [`checkpoint`] and [`shipped`];
//! 4. inference: [`restore`], [`generate`], [`batch`]; [`inspect`] (what a model file is);
//!    [`plot`]; [`runs`] (reading run folders);
//! 5. [`train`] (which validates through [`restore`]), then [`eval`].

pub mod batch;
pub mod checkpoint;
mod choice;
pub mod classical;
pub mod corrupt;
pub mod data;
pub mod device;
pub mod dist;
pub mod engine;
mod error;
pub mod eval;
pub mod fsutil;
pub mod fuzz;
pub mod generate;
pub mod inspect;
pub mod metrics;
pub mod models;
pub mod pad;
mod panics;
pub mod planes;
pub mod plot;
pub mod published;
pub mod restore;
pub mod rng;
pub mod runs;
pub mod shipped;
pub mod train;

pub use corrupt::Task;
pub use error::{Error, Result};
