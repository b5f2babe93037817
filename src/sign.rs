//! HMAC-SHA256 signatures and signed timestamps, shared by the webhook's auth, Slack's request
//! check and signed links. A leaf: it uses nothing else in the crate. Every comparison is
//! constant-time (`hmac`'s `verify_slice`).

use hmac::{Hmac, Mac};
use sha2::Sha256;

type HmacSha256 = Hmac<Sha256>;

/// How far a signed timestamp may be from our clock.
pub(crate) const MAX_SKEW_SECS: i64 = 300;

/// An HMAC-SHA256 fed the concatenated `parts` under `key`.
pub(crate) fn mac(key: &[u8], parts: &[&[u8]]) -> HmacSha256 {
    let mut mac = HmacSha256::new_from_slice(key).expect("HMAC takes a key of any length");
    for part in parts {
        mac.update(part);
    }
    mac
}

/// Whether `hex` is the HMAC-SHA256 of the concatenated `parts` under `secret`, in constant time.
pub(crate) fn signature_matches(secret: &[u8], parts: &[&[u8]], hex: &str) -> bool {
    decode_hex(hex).is_some_and(|tag| mac(secret, parts).verify_slice(&tag).is_ok())
}

/// The hex HMAC-SHA256 of the concatenated `parts` (for signing test requests and examples).
pub(crate) fn sign(secret: &[u8], parts: &[&[u8]]) -> String {
    hex(&mac(secret, parts).finalize().into_bytes())
}

/// Bytes as lowercase hex.
pub(crate) fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// A Unix-seconds timestamp within [`MAX_SKEW_SECS`] of `now`, returned. `abs_diff` because
/// any i64 may arrive: `now - ts` overflows for a timestamp near `i64::MIN`.
pub(crate) fn check_timestamp(ts: &str, now: i64) -> Result<i64, &'static str> {
    let ts: i64 = ts.trim().parse().map_err(|_| "the request timestamp is not a number of seconds")?;
    if now.abs_diff(ts) > MAX_SKEW_SECS.unsigned_abs() {
        Err("the request timestamp is more than 300 s off: resend it")
    } else {
        Ok(ts)
    }
}

pub(crate) fn now_unix() -> i64 {
    chrono::Utc::now().timestamp()
}

/// Hex (either case) as bytes; `None` for an odd length or anything but hex digits. Strict,
/// because a signature is remembered by its text against replays: a second spelling of the same
/// bytes (`from_str_radix` alone takes `+a` for `0a`) would pass as a new signature.
pub(crate) fn decode_hex(hex: &str) -> Option<Vec<u8>> {
    if !hex.len().is_multiple_of(2) || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    (0..hex.len()).step_by(2).map(|i| u8::from_str_radix(&hex[i..i + 2], 16).ok()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signatures_round_trip_and_refuse_tampering() {
        let sig = sign(b"s3cret", &[b"v1:", b"100", b":", b"{}"]);
        assert!(signature_matches(b"s3cret", &[b"v1:100:{}"], &sig));
        assert!(!signature_matches(b"s3cret", &[b"v1:100:{ }"], &sig));
        assert!(!signature_matches(b"other", &[b"v1:100:{}"], &sig));
        assert!(!signature_matches(b"s3cret", &[b"v1:100:{}"], &sig[..62]));
        assert!(!signature_matches(b"s3cret", &[b"v1:100:{}"], "zz"));
    }

    #[test]
    fn hex_round_trips_and_refuses_what_is_not_hex() {
        assert_eq!(hex(&[0, 0xab, 0x7f]), "00ab7f");
        assert_eq!(decode_hex("00AB7f"), Some(vec![0, 0xab, 0x7f]));
        for bad in ["0", "zz", "+1", "é0"] {
            assert_eq!(decode_hex(bad), None, "{bad}");
        }
    }

    #[test]
    fn timestamps_within_five_minutes() {
        assert_eq!(check_timestamp("1000", 1300), Ok(1000));
        assert!(check_timestamp("1000", 700).is_ok());
        assert!(check_timestamp("1000", 1301).is_err());
        assert!(check_timestamp("x", 1000).is_err());
    }

    #[test]
    fn timestamps_at_the_ends_of_i64_do_not_overflow_into_the_window() {
        let now = 1_764_000_000_i64;
        let far_past = now - (1_i64 << 62) - (1_i64 << 62); // now - 2^63
        assert!(check_timestamp(&far_past.to_string(), now).is_err());
        assert!(check_timestamp(&i64::MIN.to_string(), now).is_err());
        assert!(check_timestamp(&i64::MAX.to_string(), now).is_err());
        assert!(check_timestamp(&i64::MAX.to_string(), -now).is_err());
    }
}
