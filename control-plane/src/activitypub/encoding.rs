//! Encodings the signature cores share, pure: base64 as PeerTube's Node.js decodes it (the
//! standard alphabet, padding optional: HTTP and Linked Data signature values arrive both ways).

use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig};
use base64::engine::DecodePaddingMode;

/// The standard alphabet with padding optional on decode (and written on encode).
pub fn lenient_base64() -> GeneralPurpose {
    GeneralPurpose::new(&base64::alphabet::STANDARD, GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent))
}

#[cfg(test)]
mod tests {
    use base64::Engine as _;

    #[test]
    fn padding_is_optional() {
        assert_eq!(super::lenient_base64().decode("YWI=").unwrap(), b"ab");
        assert_eq!(super::lenient_base64().decode("YWI").unwrap(), b"ab");
        assert_eq!(super::lenient_base64().encode(b"ab"), "YWI=");
        assert!(super::lenient_base64().decode("Y!I=").is_err());
    }
}
