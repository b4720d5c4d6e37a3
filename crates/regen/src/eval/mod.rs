//! Measurements, mirroring [`crate::train`]: each `regen eval` subcommand has a module here
//! that computes its numbers and its report table, so the CLI (or a server) only prints.
//!
//! - [`restore`]: PSNR/SSIM/time of the damaged input, classical baselines and models;
//! - [`vae`]: test-set ELBO and the importance-weighted bound, in nats;
//! - [`generate`]: Frechet distance, KID and precision/recall in a classifier's features;
//! - [`augment`]: classifier accuracy with and without generated samples;
//! - [`noise`]: the noise level estimator against known sigmas.

pub mod augment;
pub mod generate;
pub mod noise;
pub mod restore;
pub mod vae;

pub use restore::{Report, Row, eval_restore};
