//! The connections vidseed opens to other hosts, for both planes: the control plane fetches
//! ActivityPub documents, torrents and playlists (`activitypub/fetch.rs`), data nodes download
//! the copies they are ordered (`import/source.rs`). One way to do it: the URL split into a
//! [`Target`] and the public-address rule ([`target`], pure), the name resolved and checked
//! before anything is sent, the connection made to the very address that was checked, TLS with
//! the web's root certificates, and HTTP/1.1 over it ([`connect`], I/O).

pub mod connect;
pub mod target;

pub use connect::{http1, open, resolve, ConnectError, ResolveError, Stream};
pub use target::{is_public, target, Target};
