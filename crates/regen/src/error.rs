//! The library's error type: one line that names the thing involved and what is wrong
//! with it. Every variant but [`Error::Internal`] is a problem with the user's input or
//! files; `Internal` is regen's own failure, which the binary reports with another exit
//! code.

use std::path::{Path, PathBuf};

/// Everything that can go wrong in regen, as one line a user can act on.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A file or folder could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file involved.
        path: PathBuf,
        /// What the operating system said.
        source: std::io::Error,
    },
    /// A file exists but its contents are not what regen expected (corrupt image, bad IDX).
    #[error("{path}: {reason}")]
    BadFile {
        /// The file involved.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },
    /// A checkpoint cannot be used for what was asked.
    #[error("checkpoint {path}: {reason}")]
    Checkpoint {
        /// The checkpoint file.
        path: PathBuf,
        /// Why it does not fit.
        reason: String,
    },
    /// An option or parameter is out of range or inconsistent.
    #[error("{0}")]
    InvalidArgument(String),
    /// Training produced a non-finite loss.
    #[error("{0}")]
    Diverged(String),
    /// A failure of regen itself, not of the input (a model or a config that does not
    /// serialise): a bug to report.
    #[error("internal error: {0}")]
    Internal(String),
}

/// Shorthand used across the library.
pub type Result<T> = std::result::Result<T, Error>;

impl Error {
    /// An I/O error on `path`.
    pub fn io(path: &Path, source: std::io::Error) -> Self {
        Error::Io {
            path: path.to_path_buf(),
            source,
        }
    }

    /// A file whose contents are wrong.
    pub fn bad_file(path: &Path, reason: impl Into<String>) -> Self {
        Error::BadFile {
            path: path.to_path_buf(),
            reason: reason.into(),
        }
    }

    /// A checkpoint that does not fit.
    pub fn checkpoint(path: &Path, reason: impl Into<String>) -> Self {
        Error::Checkpoint {
            path: path.to_path_buf(),
            reason: reason.into(),
        }
    }

    /// regen's own failure.
    pub fn internal(msg: impl Into<String>) -> Self {
        Error::Internal(msg.into())
    }

    /// Whether the user can fix this (their input, files or options), rather than it
    /// being regen's own failure.
    pub fn is_user_error(&self) -> bool {
        !matches!(self, Error::Internal(_))
    }

    /// A bad option value.
    pub fn arg(msg: impl Into<String>) -> Self {
        Error::InvalidArgument(msg.into())
    }
}
