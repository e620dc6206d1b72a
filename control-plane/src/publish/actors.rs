//! The instance's account (`Person`) and channel (`Group`) actors as PeerTube shapes them, pure:
//! their URLs, documents and WebFinger answers, and the checks their names pass. PeerTube
//! attributes every video to an account and a channel and fetches both before it lists the
//! video; a channel must be attributed to its account.

use serde_json::{json, Value};

use crate::activitypub::actor::{context, Instance, ACTOR_NAME};

/// The default account's name, and its display name.
pub const DEFAULT_ACCOUNT: &str = "vidseed";

/// One local actor's names.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ActorNames {
    /// `preferredUsername`: its URL and WebFinger handle.
    pub name: String,
    /// `name`: what people see.
    pub display: String,
}

/// Which of the two.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Role {
    Account,
    Channel,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Account => "account",
            Role::Channel => "channel",
        }
    }
}

/// The account and channel of this instance.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LocalActors {
    pub instance: Instance,
    pub account: ActorNames,
    pub channel: ActorNames,
}

/// Checks an actor name as PeerTube's validator does (letters, digits, `-_.:`), and that it is
/// not the instance actor's.
pub fn check_name(name: &str) -> Result<(), String> {
    if name.is_empty() || name.len() > 50 {
        return Err(format!("{name:?}: an actor name has 1 to 50 characters"));
    }
    if let Some(c) = name.chars().find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | ':'))) {
        return Err(format!("{name:?}: {c:?} is not allowed in an actor name (letters, digits, - _ . : are)"));
    }
    if name == ACTOR_NAME {
        return Err(format!("{name:?} is the instance actor's name"));
    }
    Ok(())
}

/// Checks a display name (PeerTube: 1 to 120 characters for accounts, 1 to 50 for channels).
pub fn check_display(display: &str, max: usize) -> Result<(), String> {
    let n = display.trim().chars().count();
    if n == 0 || n > max {
        return Err(format!("{display:?}: a display name has 1 to {max} characters"));
    }
    Ok(())
}

impl LocalActors {
    /// The actors, names checked; the channel's defaults follow the account's
    /// (`<account>_channel`, "Main <account> channel", as PeerTube names a user's first channel).
    pub fn new(instance: Instance, account: Option<ActorNames>, channel: Option<ActorNames>) -> Result<LocalActors, String> {
        let account = account.unwrap_or_else(|| ActorNames { name: DEFAULT_ACCOUNT.into(), display: DEFAULT_ACCOUNT.into() });
        let channel = channel.unwrap_or_else(|| ActorNames { name: format!("{}_channel", account.name), display: format!("Main {} channel", account.name) });
        check_name(&account.name)?;
        check_name(&channel.name)?;
        check_display(&account.display, 120)?;
        check_display(&channel.display, 50)?;
        if account.name == channel.name {
            return Err(format!("the account and the channel cannot both be named {:?} (they share WebFinger's names)", account.name));
        }
        Ok(LocalActors { instance, account, channel })
    }

    pub fn url(&self, role: Role) -> String {
        match role {
            Role::Account => format!("{}/accounts/{}", self.instance.base, self.account.name),
            Role::Channel => format!("{}/video-channels/{}", self.instance.base, self.channel.name),
        }
    }

    pub fn names(&self, role: Role) -> &ActorNames {
        match role {
            Role::Account => &self.account,
            Role::Channel => &self.channel,
        }
    }

    pub fn followers(&self, role: Role) -> String {
        format!("{}/followers", self.url(role))
    }

    /// Which local actor a URL path is (`/accounts/<name>`, `/video-channels/<name>`), and the
    /// rest of the path after it (`""`, `/outbox`, …).
    pub fn role_of_path<'p>(&self, path: &'p str) -> Option<(Role, &'p str)> {
        let account = format!("/accounts/{}", self.account.name);
        let channel = format!("/video-channels/{}", self.channel.name);
        for (role, prefix) in [(Role::Account, account), (Role::Channel, channel)] {
            if let Some(rest) = path.strip_prefix(prefix.as_str()) {
                if rest.is_empty() || rest.starts_with('/') {
                    return Some((role, rest));
                }
            }
        }
        None
    }

    /// Which local actor an actor URL is.
    pub fn role_of_url(&self, url: &str) -> Option<Role> {
        [Role::Account, Role::Channel].into_iter().find(|r| self.url(*r) == url)
    }

    /// The actor document.
    pub fn document(&self, role: Role, public_key_pem: &str, published: &str) -> Value {
        let url = self.url(role);
        let names = self.names(role);
        let mut doc = json!({
            "@context": context(),
            "type": match role { Role::Account => "Person", Role::Channel => "Group" },
            "id": url,
            "following": format!("{url}/following"),
            "followers": format!("{url}/followers"),
            "playlists": format!("{url}/video-playlists"),
            "inbox": format!("{url}/inbox"),
            "outbox": format!("{url}/outbox"),
            "preferredUsername": names.name,
            "url": url,
            "name": names.display,
            "endpoints": { "sharedInbox": self.instance.shared_inbox() },
            "publicKey": { "id": format!("{url}#main-key"), "owner": url, "publicKeyPem": public_key_pem },
            "published": published,
            "summary": null,
        });
        if role == Role::Channel {
            doc["support"] = Value::Null;
            doc["postingRestrictedToMods"] = Value::Bool(true);
            doc["attributedTo"] = json!([{ "type": "Person", "id": self.url(Role::Account) }]);
        }
        doc
    }

    /// WebFinger's answer for `acct:<name>@<host>` (or the actor's URL) naming the account or
    /// the channel; None otherwise.
    pub fn webfinger(&self, resource: &str) -> Option<Value> {
        let r = resource.strip_prefix("acct:").unwrap_or(resource);
        let role = [Role::Account, Role::Channel].into_iter().find(|role| {
            r == self.url(*role)
                || r.rsplit_once('@').is_some_and(|(name, host)| name == self.names(*role).name && host.eq_ignore_ascii_case(self.instance.host()))
        })?;
        let url = self.url(role);
        Some(json!({
            "subject": resource,
            "aliases": [url],
            "links": [
                { "rel": "self", "type": "application/activity+json", "href": url },
                { "rel": "http://webfinger.net/rel/profile-page", "type": "text/html", "href": url }
            ]
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PEM: &str = "-----BEGIN PUBLIC KEY-----\nMIIB\n-----END PUBLIC KEY-----\n";

    fn actors() -> LocalActors {
        LocalActors::new(Instance::new("http://127.0.0.1:9000"), None, None).unwrap()
    }

    /// PeerTube's `sanitizeAndCheckActorObject`, as far as our documents go.
    fn peertube_accepts(doc: &Value) -> Result<(), String> {
        let url = |k: &str| doc[k].as_str().filter(|u| u.starts_with("http://") || u.starts_with("https://")).ok_or(k.to_string());
        if !["Person", "Application", "Group", "Service", "Organization"].contains(&doc["type"].as_str().unwrap_or("")) {
            return Err("type".into());
        }
        url("id")?;
        url("inbox")?;
        url("outbox")?;
        url("followers")?;
        url("following")?;
        check_name(doc["preferredUsername"].as_str().ok_or("preferredUsername")?).or_else(|e| if doc["type"] == "Application" { Ok(()) } else { Err(e) })?;
        let key = &doc["publicKey"];
        let pem = key["publicKeyPem"].as_str().ok_or("publicKeyPem")?;
        if !pem.starts_with("-----BEGIN PUBLIC KEY-----") || !pem.contains("-----END PUBLIC KEY-----") {
            return Err("publicKeyPem".into());
        }
        if key["owner"] != doc["id"] || !key["id"].as_str().is_some_and(|k| k.starts_with(doc["id"].as_str().unwrap_or("-"))) {
            return Err("publicKey owner/id".into());
        }
        if doc["type"] == "Group" {
            let by = doc["attributedTo"].as_array().ok_or("attributedTo")?;
            if !by.iter().any(|a| a["type"] == "Person" && a["id"].as_str().is_some()) {
                return Err("a Group must be attributed to a Person".into());
            }
        }
        Ok(())
    }

    #[test]
    fn account_and_channel_are_peertube_shaped() {
        let a = actors();
        let person = a.document(Role::Account, PEM, "2026-12-07T00:00:00.000Z");
        assert_eq!((person["type"].as_str(), person["id"].as_str()), (Some("Person"), Some("http://127.0.0.1:9000/accounts/vidseed")));
        assert_eq!(person["publicKey"]["id"], "http://127.0.0.1:9000/accounts/vidseed#main-key");
        assert_eq!(person["endpoints"]["sharedInbox"], "http://127.0.0.1:9000/inbox");
        peertube_accepts(&person).unwrap();
        let group = a.document(Role::Channel, PEM, "2026-12-07T00:00:00.000Z");
        assert_eq!((group["type"].as_str(), group["id"].as_str()), (Some("Group"), Some("http://127.0.0.1:9000/video-channels/vidseed_channel")));
        assert_eq!(group["name"], "Main vidseed channel");
        assert_eq!(group["attributedTo"][0]["id"], "http://127.0.0.1:9000/accounts/vidseed");
        peertube_accepts(&group).unwrap();
        let mut orphan = group.clone();
        orphan["attributedTo"] = json!([]);
        assert!(peertube_accepts(&orphan).is_err(), "the check can fail");
    }

    #[test]
    fn names_are_checked() {
        let i = Instance::new("https://v.example");
        let n = |name: &str| Some(ActorNames { name: name.into(), display: "Shown".into() });
        assert!(LocalActors::new(i.clone(), n("alice"), n("alice_videos")).is_ok());
        assert!(LocalActors::new(i.clone(), n("peertube"), None).is_err());
        assert!(LocalActors::new(i.clone(), n("a b"), None).is_err());
        assert!(LocalActors::new(i.clone(), n("same"), n("same")).is_err());
        assert!(LocalActors::new(i.clone(), Some(ActorNames { name: "x".into(), display: " ".into() }), None).is_err());
        assert!(LocalActors::new(i, None, Some(ActorNames { name: "c".into(), display: "c".repeat(51) })).is_err());
    }

    #[test]
    fn webfinger_and_paths() {
        let a = actors();
        let w = a.webfinger("acct:vidseed_channel@127.0.0.1:9000").unwrap();
        assert_eq!(w["links"][0]["href"], "http://127.0.0.1:9000/video-channels/vidseed_channel");
        assert_eq!(a.webfinger("acct:vidseed@127.0.0.1:9000").unwrap()["links"][0]["href"], "http://127.0.0.1:9000/accounts/vidseed");
        assert!(a.webfinger("http://127.0.0.1:9000/accounts/vidseed").is_some());
        assert!(a.webfinger("acct:vidseed@other.example").is_none());
        assert!(a.webfinger("acct:nobody@127.0.0.1:9000").is_none());
        assert_eq!(a.role_of_path("/accounts/vidseed/outbox"), Some((Role::Account, "/outbox")));
        assert_eq!(a.role_of_path("/video-channels/vidseed_channel"), Some((Role::Channel, "")));
        assert_eq!(a.role_of_path("/accounts/vidseedx"), None);
        assert_eq!(a.role_of_url("http://127.0.0.1:9000/video-channels/vidseed_channel"), Some(Role::Channel));
    }
}
