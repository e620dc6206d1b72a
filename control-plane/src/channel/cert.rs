//! The control plane's channel certificate: self-signed at first start, kept in the store (the
//! private key never leaves it), identified by the SHA-256 fingerprint data nodes pin.

use base64::Engine as _;
use sha2::{Digest, Sha256};

use crate::store::{Store, StoreError};

const CERT_KEY: &str = "channel_certificate_der";
const PRIVATE_KEY: &str = "channel_private_key_der";

/// The certificate and key the channel serves.
#[derive(Clone)]
pub struct ChannelIdentity {
    pub cert_der: Vec<u8>,
    pub key_der: Vec<u8>,
}

impl ChannelIdentity {
    /// The store's identity, made and saved on first use (two processes racing keep one).
    pub async fn load_or_create(store: &Store) -> Result<ChannelIdentity, StoreError> {
        let b64 = base64::engine::general_purpose::STANDARD;
        if let (Some(c), Some(k)) = (store.setting(CERT_KEY).await?, store.setting(PRIVATE_KEY).await?) {
            if let (Ok(cert_der), Ok(key_der)) = (b64.decode(c), b64.decode(k)) {
                return Ok(ChannelIdentity { cert_der, key_der });
            }
            return Err(StoreError::Corrupt("the channel certificate in the database is not base64".into()));
        }
        let made = rcgen::generate_simple_self_signed(vec!["vidseed-control".to_owned()])
            .map_err(|e| StoreError::Corrupt(format!("cannot make the channel certificate: {e}")))?;
        let key = store.setting_or_insert(PRIVATE_KEY, &b64.encode(made.signing_key.serialize_der())).await?;
        let cert = store.setting_or_insert(CERT_KEY, &b64.encode(made.cert.der())).await?;
        Ok(ChannelIdentity {
            cert_der: b64.decode(cert).map_err(|e| StoreError::Corrupt(e.to_string()))?,
            key_der: b64.decode(key).map_err(|e| StoreError::Corrupt(e.to_string()))?,
        })
    }

    /// `sha256:<hex>` of the certificate: what data nodes pin.
    pub fn pin(&self) -> String {
        let digest = Sha256::digest(&self.cert_der);
        let mut s = String::from("sha256:");
        for b in digest {
            s.push_str(&format!("{b:02x}"));
        }
        s
    }
}
