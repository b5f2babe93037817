//! Human units in config and flags: durations (`500ms`, `30s`, `5m`, `2h`, `2d`, `1w`, `1h30m`)
//! and byte sizes (`4096`, `10KB`, `512MiB`). A bare integer is seconds or bytes, but only on its
//! own: `1h30` is refused rather than guessed.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer, de};

/// A duration read from `30s`-style text. Kept as milliseconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default)]
pub struct Duration(pub std::time::Duration);

/// A byte count read from `512MiB`-style text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default)]
pub(crate) struct Size(pub u64);

impl Duration {
    pub const fn secs(s: u64) -> Self {
        Duration(std::time::Duration::from_secs(s))
    }
    pub fn std(self) -> std::time::Duration {
        self.0
    }
}

/// Split `12ab34cd` into (12, "ab"), (34, "cd"); None when it is not that shape.
fn number_unit_pairs(s: &str) -> Option<Vec<(u64, &str)>> {
    let mut out = Vec::new();
    let mut rest = s.trim();
    while !rest.is_empty() {
        let digits = rest.find(|c: char| !c.is_ascii_digit()).unwrap_or(rest.len());
        if digits == 0 {
            return None;
        }
        let n = rest[..digits].parse().ok()?;
        rest = &rest[digits..];
        let unit_len = rest.find(|c: char| c.is_ascii_digit()).unwrap_or(rest.len());
        out.push((n, rest[..unit_len].trim()));
        rest = &rest[unit_len..];
    }
    (!out.is_empty()).then_some(out)
}

impl FromStr for Duration {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let bad = || format!("invalid duration {s:?}: use a number and a unit, like 500ms, 30s, 5m, 2h, 2d, 1w");
        let pairs = number_unit_pairs(s).ok_or_else(bad)?;
        if pairs.len() > 1 && pairs.iter().any(|(_, unit)| unit.is_empty()) {
            // `1h30` could mean 30 s or 30 min: a bare number is seconds only when it stands alone.
            return Err(format!(
                "invalid duration {s:?}: every number after the first needs its unit, like 1h30m; \
                 a number without a unit is seconds only on its own"
            ));
        }
        let mut total: u64 = 0;
        for (n, unit) in pairs {
            let ms_per = match unit {
                "ms" => 1,
                "s" | "sec" | "" => 1_000,
                "m" | "min" => 60_000,
                "h" => 3_600_000,
                "d" => 86_400_000,
                "w" => 604_800_000,
                _ => return Err(bad()),
            };
            total = n.checked_mul(ms_per).and_then(|v| total.checked_add(v)).ok_or_else(bad)?;
        }
        Ok(Duration(std::time::Duration::from_millis(total)))
    }
}

impl fmt::Display for Duration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let ms = self.0.as_millis() as u64;
        for (unit, per) in [("w", 604_800_000), ("d", 86_400_000), ("h", 3_600_000), ("m", 60_000), ("s", 1_000)] {
            if ms >= per && ms.is_multiple_of(per) {
                return write!(f, "{}{unit}", ms / per);
            }
        }
        write!(f, "{ms}ms")
    }
}

impl FromStr for Size {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let bad = || format!("invalid size {s:?}: use bytes or a unit, like 4096, 10KB, 512MiB, 2GiB");
        let pairs = number_unit_pairs(s).ok_or_else(bad)?;
        let [(n, unit)] = pairs[..] else { return Err(bad()) };
        let per: u64 = match unit.to_ascii_lowercase().as_str() {
            "" | "b" => 1,
            "k" | "kb" => 1_000,
            "kib" => 1 << 10,
            "m" | "mb" => 1_000_000,
            "mib" => 1 << 20,
            "g" | "gb" => 1_000_000_000,
            "gib" => 1 << 30,
            _ => return Err(bad()),
        };
        n.checked_mul(per).map(Size).ok_or_else(bad)
    }
}

impl fmt::Display for Size {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (unit, per) in [("GiB", 1u64 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)] {
            if self.0 >= per && self.0.is_multiple_of(per) {
                return write!(f, "{}{unit}", self.0 / per);
            }
        }
        write!(f, "{}", self.0)
    }
}

/// Accept either a string with a unit or a bare integer (seconds / bytes).
fn deserialize_unit<'de, D, T>(d: D, from_int: fn(u64) -> T) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: FromStr<Err = String>,
{
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Raw {
        Int(u64),
        Text(String),
    }
    match Raw::deserialize(d)
        .map_err(|_| de::Error::custom("expected a string like \"30s\" / \"512MiB\" or a whole number"))?
    {
        Raw::Int(n) => Ok(from_int(n)),
        Raw::Text(s) => s.parse().map_err(de::Error::custom),
    }
}

impl<'de> Deserialize<'de> for Duration {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        deserialize_unit(d, Duration::secs)
    }
}

impl<'de> Deserialize<'de> for Size {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        deserialize_unit(d, Size)
    }
}

impl Serialize for Duration {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl Serialize for Size {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        let ms = |s: &str| s.parse::<Duration>().map(|d| d.0.as_millis());
        assert_eq!(ms("30s"), Ok(30_000));
        assert_eq!(ms("5m"), Ok(300_000));
        assert_eq!(ms("2d"), Ok(172_800_000));
        assert_eq!(ms("1h30m"), Ok(5_400_000));
        assert_eq!(ms("45"), Ok(45_000), "a bare number alone is seconds");
        let err = ms("1h30").unwrap_err();
        assert!(err.contains("\"1h30\"") && err.contains("1h30m"), "{err}");
        assert!(ms("30 5s").is_err(), "a unitless number is refused before another one too");
        assert_eq!(ms("250ms"), Ok(250));
        assert!(ms("5 parsecs").is_err());
        assert!(ms("m5").is_err());
        assert!(ms("").is_err());
        assert_eq!(Duration::secs(300).to_string(), "5m");
        assert_eq!("90s".parse::<Duration>().unwrap().to_string(), "90s");
    }

    #[test]
    fn sizes() {
        let b = |s: &str| s.parse::<Size>().map(|s| s.0);
        assert_eq!(b("512MiB"), Ok(512 << 20));
        assert_eq!(b("10KB"), Ok(10_000));
        assert_eq!(b("4096"), Ok(4096));
        assert_eq!(b("1gib"), Ok(1 << 30));
        assert!(b("12 bananas").is_err());
        assert!(b("1MiB2KiB").is_err());
        assert!(b("99999999999999999999GiB").is_err());
        assert_eq!(Size(1 << 20).to_string(), "1MiB");
    }
}
