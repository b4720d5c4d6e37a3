//! Networks, one file per family; each a `Module` with a `Config` whose `init` builds it.

pub mod restore;

pub use restore::{Arch, RestoreConfig, RestoreNet};
