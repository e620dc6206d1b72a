//! The control→data protocol: the messages a control plane sends a data plane and the
//! acknowledgements it gets back, plus the [`DataPlaneLink`] seam both transports implement
//! (in-process today; a network channel later). Pure types.

use serde::{Deserialize, Serialize};

use crate::Catalog;

/// Bumped on every incompatible change of the messages below.
pub const PROTOCOL_VERSION: u32 = 1;

/// What the control plane tells a data plane.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum CatalogUpdate {
    /// Replace everything served with this catalog, atomically.
    Snapshot { catalog: Catalog },
}

/// The data plane's answer to an update: which version it now serves and which files it could
/// not serve (missing, replaced or truncated on its disk).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CatalogAck {
    /// The catalog version now being served.
    pub version: u64,
    /// How many files are now served.
    pub files_served: usize,
    /// Files left out of this version, with the reason.
    pub rejected: Vec<RejectedFile>,
}

/// A catalogued file the data plane could not serve.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RejectedFile {
    pub url_path: String,
    pub reason: String,
}

/// Why an update was refused as a whole (the data plane keeps serving its last good catalog).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[error("catalog update refused: {reason}")]
pub struct UpdateRefused {
    pub reason: String,
}

/// How a control plane reaches a data plane. The in-process data plane implements it directly;
/// a network transport implements it by sending [`CatalogUpdate`]s.
pub trait DataPlaneLink: Send + Sync {
    /// Applies an update atomically and says what is now served.
    fn apply(&self, update: CatalogUpdate) -> Result<CatalogAck, UpdateRefused>;
}
