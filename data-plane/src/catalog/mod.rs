//! What the data plane serves: the catalog as its own types ([`model`], pure) and the store that
//! swaps it in atomically and maps its files ([`store`], does file I/O).

pub mod model;
pub mod store;

pub use model::{Catalog, CatalogAck, CatalogError, CatalogFile, UpdateRefused};
pub use store::{identity_of, revalidate_soon, wait_for_revalidation, wake_revalidation, CatalogStore, ServedCatalog, ServedFile};
