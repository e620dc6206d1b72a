//! Every route of the control plane's HTTP server in one table, pure: a request's method and
//! path resolve to the handler that answers it (or to 405 with the methods the path takes, or
//! 404). The handlers live beside it: `public.rs` (the video API and torrents), `pages.rs`,
//! `activitypub.rs` (discovery, the actor and its collections), `inbox.rs`, `admin.rs`.

use http::Method;

/// Who answers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Handler {
    /// `/api/v1/videos`: every published video.
    Videos,
    /// `/api/v1/videos/<infoHash>`.
    Video,
    /// `/torrents/<infoHash>.torrent`.
    Torrent,
    /// `/`: the index of watch pages.
    Index,
    /// `/videos/watch/<infoHash>`.
    Watch,
    /// The pages' scripts, styles and service worker.
    Asset,
    WebFinger,
    HostMeta,
    NodeInfoLinks,
    NodeInfo,
    /// The instance actor (content negotiation: the document, or a browser sent to `/`).
    Actor,
    /// The actor's collections: outbox, followers, following, video playlists.
    Collection,
    /// A signed POST of an activity.
    Inbox,
    /// Anything but a POST to an inbox: 405 with `Allow: POST`.
    InboxOtherMethod,
    /// `/redundancy/…`: the CacheFile of a copy this instance keeps, at its id.
    CacheFile,
    /// `/accounts/<name>…`, `/video-channels/<name>…`: our account and channel, their
    /// collections (content negotiation as for the instance actor).
    LocalActor,
    /// A POST to `/accounts/<name>/inbox` or `/video-channels/<name>/inbox`.
    LocalInbox,
    /// `/lazy-static/thumbnails/<uuid>.jpg`, `/lazy-static/previews/<uuid>.jpg`.
    Image,
    Admin(AdminRoute),
    /// What the people running the instance look at (`crate::ops`).
    Ops(OpsRoute),
}

/// `/healthz`, `/readyz`, `/metrics` (admin token), the status page and its traffic (admin
/// token).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OpsRoute {
    Alive,
    Ready,
    Metrics,
    StatusPage,
    StatusScript,
    /// `GET /api/v1/admin/traffic`: the last hour of the nodes' traffic.
    Traffic,
}

/// The admin API's endpoints (under [`ADMIN_PREFIX`], bearer token first).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AdminRoute {
    ListVideos,
    AddVideos,
    RemoveVideos,
    ListNodes,
    AddNode,
    /// `DELETE nodes/<name>`.
    RevokeNode,
    Settings,
    ListFollowing,
    Follow,
    Unfollow,
    ListFollowers,
    AcceptFollower,
    RejectFollower,
    ListBlocked,
    Block,
    Unblock,
    FederationSettings,
    SetFederationSettings,
    Deliveries,
    /// `redundancy`: the copies this instance keeps (list, add by video URL, remove).
    ListCopies,
    AddCopy,
    RemoveCopy,
    /// `redundancy/hosts`: followed hosts and whether their videos may be copied.
    RedundancyHosts,
    AllowRedundancy,
    DenyRedundancy,
    /// `redundancy/strategies`: the strategies and who may copy our videos.
    RedundancySettings,
    SetRedundancySettings,
    /// `redundancy/orders`: the fetch orders the data nodes get.
    FetchOrders,
    /// `redundancy/received`: copies other instances keep of our videos.
    ReceivedCopies,
    /// `redundancy/videos`: the followed instances' videos this instance knows.
    RemoteVideos,
    /// `videos/published`: our videos as federated (UUID, title, duration, resolution, copies).
    PublishedVideos,
    /// `PUT videos/published/<uuid>`: edit a video's metadata (an Update follows).
    EditVideo,
}

/// Where the admin API lives.
pub const ADMIN_PREFIX: &str = "/api/v1/admin/";

#[derive(Clone, Copy, Debug)]
enum Path {
    Exact(&'static str),
    /// The path starts with this and goes on (the rest is the handler's parameter).
    Prefix(&'static str),
}

/// Methods as bits.
const GET: u8 = 1;
const HEAD: u8 = 2;
const POST: u8 = 4;
const PUT: u8 = 8;
const DELETE: u8 = 16;
const READ: u8 = GET | HEAD;

struct Route {
    methods: u8,
    path: Path,
    handler: Handler,
}

const fn r(methods: u8, path: Path, handler: Handler) -> Route {
    Route { methods, path, handler }
}

use AdminRoute as A;
use Handler as H;
use Path::{Exact, Prefix};

/// The table, first match wins. The pages' asset paths are listed by `pages::ASSET_PATHS`.
const ROUTES: &[Route] = &[
    // The public API and torrents.
    r(READ, Exact("/api/v1/videos"), H::Videos),
    r(READ, Exact("/api/v1/videos/"), H::Videos),
    r(READ, Prefix("/api/v1/videos/"), H::Video),
    r(READ, Prefix("/torrents/"), H::Torrent),
    // The viewers' pages.
    r(READ, Exact("/"), H::Index),
    r(READ, Exact("/videos"), H::Index),
    r(READ, Exact("/videos/"), H::Index),
    r(READ, Prefix("/videos/watch/"), H::Watch),
    r(READ, Prefix("/assets/"), H::Asset),
    r(READ, Exact("/webtorrent-sw.js"), H::Asset),
    // ActivityPub: discovery, the instance actor, its collections and inboxes.
    r(READ, Exact("/.well-known/webfinger"), H::WebFinger),
    r(READ, Exact("/.well-known/host-meta"), H::HostMeta),
    r(READ, Exact("/.well-known/nodeinfo"), H::NodeInfoLinks),
    r(READ, Exact("/nodeinfo/2.0.json"), H::NodeInfo),
    r(READ, Exact("/accounts/peertube"), H::Actor),
    r(READ, Exact("/accounts/peertube/outbox"), H::Collection),
    r(READ, Exact("/accounts/peertube/followers"), H::Collection),
    r(READ, Exact("/accounts/peertube/following"), H::Collection),
    r(READ, Exact("/accounts/peertube/video-playlists"), H::Collection),
    r(POST, Exact("/inbox"), H::Inbox),
    r(POST, Exact("/accounts/peertube/inbox"), H::Inbox),
    r(!POST, Exact("/inbox"), H::InboxOtherMethod),
    r(!POST, Exact("/accounts/peertube/inbox"), H::InboxOtherMethod),
    r(READ, Prefix("/redundancy/"), H::CacheFile),
    // Operations: health, metrics, the status page.
    r(READ, Exact("/healthz"), H::Ops(OpsRoute::Alive)),
    r(READ, Exact("/readyz"), H::Ops(OpsRoute::Ready)),
    r(READ, Exact("/metrics"), H::Ops(OpsRoute::Metrics)),
    r(READ, Exact("/admin"), H::Ops(OpsRoute::StatusPage)),
    r(READ, Exact("/admin/"), H::Ops(OpsRoute::StatusPage)),
    r(READ, Exact("/admin/status.js"), H::Ops(OpsRoute::StatusScript)),
    r(GET, Exact("/api/v1/admin/traffic"), H::Ops(OpsRoute::Traffic)),
    // Our account and channel (after the instance actor's exact routes), the videos' images.
    r(READ, Prefix("/accounts/"), H::LocalActor),
    r(READ, Prefix("/video-channels/"), H::LocalActor),
    r(POST, Prefix("/accounts/"), H::LocalInbox),
    r(POST, Prefix("/video-channels/"), H::LocalInbox),
    r(READ, Prefix("/lazy-static/"), H::Image),
    // The admin API.
    r(GET, Exact("/api/v1/admin/videos"), H::Admin(A::ListVideos)),
    r(POST, Exact("/api/v1/admin/videos"), H::Admin(A::AddVideos)),
    r(DELETE, Exact("/api/v1/admin/videos"), H::Admin(A::RemoveVideos)),
    r(GET, Exact("/api/v1/admin/videos/published"), H::Admin(A::PublishedVideos)),
    r(PUT, Prefix("/api/v1/admin/videos/published/"), H::Admin(A::EditVideo)),
    r(GET, Exact("/api/v1/admin/nodes"), H::Admin(A::ListNodes)),
    r(POST, Exact("/api/v1/admin/nodes"), H::Admin(A::AddNode)),
    r(DELETE, Prefix("/api/v1/admin/nodes/"), H::Admin(A::RevokeNode)),
    r(GET, Exact("/api/v1/admin/settings"), H::Admin(A::Settings)),
    r(GET, Exact("/api/v1/admin/following"), H::Admin(A::ListFollowing)),
    r(POST, Exact("/api/v1/admin/following"), H::Admin(A::Follow)),
    r(DELETE, Exact("/api/v1/admin/following"), H::Admin(A::Unfollow)),
    r(GET, Exact("/api/v1/admin/followers"), H::Admin(A::ListFollowers)),
    r(POST, Exact("/api/v1/admin/followers/accept"), H::Admin(A::AcceptFollower)),
    r(POST, Exact("/api/v1/admin/followers/reject"), H::Admin(A::RejectFollower)),
    r(GET, Exact("/api/v1/admin/blocklist"), H::Admin(A::ListBlocked)),
    r(POST, Exact("/api/v1/admin/blocklist"), H::Admin(A::Block)),
    r(DELETE, Exact("/api/v1/admin/blocklist"), H::Admin(A::Unblock)),
    r(GET, Exact("/api/v1/admin/federation"), H::Admin(A::FederationSettings)),
    r(PUT, Exact("/api/v1/admin/federation"), H::Admin(A::SetFederationSettings)),
    r(GET, Exact("/api/v1/admin/deliveries"), H::Admin(A::Deliveries)),
    r(GET, Exact("/api/v1/admin/redundancy"), H::Admin(A::ListCopies)),
    r(POST, Exact("/api/v1/admin/redundancy"), H::Admin(A::AddCopy)),
    r(DELETE, Exact("/api/v1/admin/redundancy"), H::Admin(A::RemoveCopy)),
    r(GET, Exact("/api/v1/admin/redundancy/hosts"), H::Admin(A::RedundancyHosts)),
    r(POST, Exact("/api/v1/admin/redundancy/hosts"), H::Admin(A::AllowRedundancy)),
    r(DELETE, Exact("/api/v1/admin/redundancy/hosts"), H::Admin(A::DenyRedundancy)),
    r(GET, Exact("/api/v1/admin/redundancy/strategies"), H::Admin(A::RedundancySettings)),
    r(PUT, Exact("/api/v1/admin/redundancy/strategies"), H::Admin(A::SetRedundancySettings)),
    r(GET, Exact("/api/v1/admin/redundancy/orders"), H::Admin(A::FetchOrders)),
    r(GET, Exact("/api/v1/admin/redundancy/received"), H::Admin(A::ReceivedCopies)),
    r(GET, Exact("/api/v1/admin/redundancy/videos"), H::Admin(A::RemoteVideos)),
];

/// What a request resolves to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Resolved<'a> {
    /// The handler, and what follows a prefix route's prefix (empty for exact routes).
    Found(Handler, &'a str),
    /// `OPTIONS` on a path of the public API or pages: a CORS preflight.
    Preflight,
    /// The path exists, not for this method; the methods it takes, for `Allow`.
    MethodNotAllowed(&'static str),
    NotFound,
}

fn bit(method: &Method) -> u8 {
    match *method {
        Method::GET => GET,
        Method::HEAD => HEAD,
        Method::POST => POST,
        Method::PUT => PUT,
        Method::DELETE => DELETE,
        _ => 0,
    }
}

impl Path {
    /// The rest after the route's path, if `path` is on it. Admin paths also match with one
    /// trailing slash.
    fn matches<'a>(&self, path: &'a str) -> Option<&'a str> {
        match *self {
            Exact(p) if p == path => Some(""),
            Exact(p) if p.starts_with(ADMIN_PREFIX) && path.strip_suffix('/') == Some(p) => Some(""),
            Exact(_) => None,
            Prefix(p) => path.strip_prefix(p).filter(|rest| !rest.is_empty()),
        }
    }
}

/// Resolves a request.
pub fn resolve<'a>(method: &Method, path: &'a str) -> Resolved<'a> {
    let m = bit(method);
    let mut allowed = 0u8;
    for route in ROUTES {
        if let Some(rest) = route.path.matches(path) {
            // `!POST` routes take every other method, unknown ones included.
            if route.methods & m != 0 || (m == 0 && route.methods == !POST) {
                return Resolved::Found(route.handler, rest);
            }
            allowed |= route.methods;
        }
    }
    let admin = path.starts_with(ADMIN_PREFIX);
    if *method == Method::OPTIONS && !admin {
        return Resolved::Preflight;
    }
    if allowed != 0 {
        return Resolved::MethodNotAllowed(allow_header(allowed));
    }
    if admin || *method == Method::GET || *method == Method::HEAD {
        Resolved::NotFound
    } else {
        // Outside the admin API, the server answers reads only.
        Resolved::MethodNotAllowed("GET, HEAD, OPTIONS")
    }
}

fn allow_header(methods: u8) -> &'static str {
    match methods {
        READ => "GET, HEAD, OPTIONS",
        POST => "POST",
        GET => "GET",
        DELETE => "DELETE",
        m if m == GET | POST => "GET, POST",
        m if m == READ | POST => "GET, HEAD, POST",
        m if m == GET | PUT => "GET, PUT",
        m if m == GET | POST | DELETE => "GET, POST, DELETE",
        _ => "GET, HEAD, POST, PUT, DELETE",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn get(path: &str) -> Resolved<'_> {
        resolve(&Method::GET, path)
    }

    #[test]
    fn public_pages_and_federation_paths_resolve() {
        assert_eq!(get("/api/v1/videos"), Resolved::Found(H::Videos, ""));
        assert_eq!(get("/api/v1/videos/"), Resolved::Found(H::Videos, ""));
        assert_eq!(get("/api/v1/videos/abc"), Resolved::Found(H::Video, "abc"));
        assert_eq!(get("/torrents/abc.torrent"), Resolved::Found(H::Torrent, "abc.torrent"));
        assert_eq!(get("/"), Resolved::Found(H::Index, ""));
        assert_eq!(get("/videos/watch/abc"), Resolved::Found(H::Watch, "abc"));
        assert_eq!(get("/assets/watch.js"), Resolved::Found(H::Asset, "watch.js"));
        assert_eq!(get("/accounts/peertube"), Resolved::Found(H::Actor, ""));
        assert_eq!(get("/accounts/peertube/video-playlists"), Resolved::Found(H::Collection, ""));
        assert_eq!(get("/redundancy/videos/u/360-25"), Resolved::Found(H::CacheFile, "videos/u/360-25"));
        assert_eq!(get("/redundancy/"), Resolved::NotFound);
        assert_eq!(resolve(&Method::HEAD, "/nodeinfo/2.0.json"), Resolved::Found(H::NodeInfo, ""));
        assert_eq!(get("/nope"), Resolved::NotFound);
        assert_eq!(get("/healthz"), Resolved::Found(H::Ops(OpsRoute::Alive), ""));
        assert_eq!(get("/metrics"), Resolved::Found(H::Ops(OpsRoute::Metrics), ""));
        assert_eq!(get("/admin/"), Resolved::Found(H::Ops(OpsRoute::StatusPage), ""));
        assert_eq!(get("/api/v1/admin/traffic"), Resolved::Found(H::Ops(OpsRoute::Traffic), ""));
        assert_eq!(get("/accounts/vidseed"), Resolved::Found(H::LocalActor, "vidseed"));
        assert_eq!(get("/video-channels/vidseed_channel/outbox"), Resolved::Found(H::LocalActor, "vidseed_channel/outbox"));
        assert_eq!(resolve(&Method::POST, "/video-channels/c/inbox"), Resolved::Found(H::LocalInbox, "c/inbox"));
        assert_eq!(get("/lazy-static/thumbnails/x.jpg"), Resolved::Found(H::Image, "thumbnails/x.jpg"));
        assert_eq!(resolve(&Method::DELETE, "/accounts/vidseed"), Resolved::MethodNotAllowed("GET, HEAD, POST"));
    }

    #[test]
    fn inboxes_take_posts_and_refuse_the_rest() {
        assert_eq!(resolve(&Method::POST, "/inbox"), Resolved::Found(H::Inbox, ""));
        assert_eq!(resolve(&Method::POST, "/accounts/peertube/inbox"), Resolved::Found(H::Inbox, ""));
        assert_eq!(get("/inbox"), Resolved::Found(H::InboxOtherMethod, ""));
        assert_eq!(resolve(&Method::PATCH, "/inbox"), Resolved::Found(H::InboxOtherMethod, ""));
    }

    #[test]
    fn methods_and_preflights() {
        assert_eq!(resolve(&Method::OPTIONS, "/api/v1/videos"), Resolved::Preflight);
        assert_eq!(resolve(&Method::OPTIONS, "/anything"), Resolved::Preflight);
        assert_eq!(resolve(&Method::POST, "/api/v1/videos"), Resolved::MethodNotAllowed("GET, HEAD, OPTIONS"));
        assert_eq!(resolve(&Method::DELETE, "/nope"), Resolved::MethodNotAllowed("GET, HEAD, OPTIONS"));
    }

    #[test]
    fn admin_endpoints_resolve_by_method_with_or_without_a_trailing_slash() {
        assert_eq!(get("/api/v1/admin/videos"), Resolved::Found(H::Admin(A::ListVideos), ""));
        assert_eq!(get("/api/v1/admin/videos/"), Resolved::Found(H::Admin(A::ListVideos), ""));
        assert_eq!(resolve(&Method::POST, "/api/v1/admin/videos"), Resolved::Found(H::Admin(A::AddVideos), ""));
        assert_eq!(resolve(&Method::DELETE, "/api/v1/admin/nodes/edge-1"), Resolved::Found(H::Admin(A::RevokeNode), "edge-1"));
        assert_eq!(resolve(&Method::PUT, "/api/v1/admin/federation"), Resolved::Found(H::Admin(A::SetFederationSettings), ""));
        assert_eq!(resolve(&Method::DELETE, "/api/v1/admin/redundancy"), Resolved::Found(H::Admin(A::RemoveCopy), ""));
        assert_eq!(resolve(&Method::POST, "/api/v1/admin/redundancy/hosts/"), Resolved::Found(H::Admin(A::AllowRedundancy), ""));
        assert_eq!(resolve(&Method::PUT, "/api/v1/admin/redundancy/orders"), Resolved::MethodNotAllowed("GET"));
        assert_eq!(resolve(&Method::PUT, "/api/v1/admin/videos"), Resolved::MethodNotAllowed("GET, POST, DELETE"));
        assert_eq!(resolve(&Method::POST, "/api/v1/admin/settings"), Resolved::MethodNotAllowed("GET"));
        assert_eq!(get("/api/v1/admin/nope"), Resolved::NotFound);
        assert_eq!(resolve(&Method::OPTIONS, "/api/v1/admin/videos"), Resolved::MethodNotAllowed("GET, POST, DELETE"));
        assert_eq!(resolve(&Method::POST, "/api/v1/admin/nope"), Resolved::NotFound);
    }

    #[test]
    fn every_admin_route_is_reachable() {
        for route in ROUTES {
            let (path, rest) = match route.path {
                Exact(p) => (p.to_owned(), ""),
                Prefix(p) => (format!("{p}x"), "x"),
            };
            for (m, bit) in [(Method::GET, GET), (Method::HEAD, HEAD), (Method::POST, POST), (Method::PUT, PUT), (Method::DELETE, DELETE)] {
                if route.methods & bit != 0 {
                    match resolve(&m, &path) {
                        Resolved::Found(h, r) => {
                            assert_eq!(r, rest);
                            // An earlier route may take the same path (e.g. /api/v1/videos/ as
                            // the list): it must be the same kind of handler.
                            assert!(h == route.handler || path.ends_with('/'), "{m} {path}: {h:?}");
                        }
                        other => panic!("{m} {path}: {other:?}"),
                    }
                }
            }
        }
    }
}
