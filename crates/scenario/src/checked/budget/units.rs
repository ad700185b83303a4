//! Sizes and counts as a person reads them in a refusal.

use std::fmt;

/// A number of bytes (saturating).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord)]
pub struct Bytes(pub u128);

impl fmt::Display for Bytes {
    /// Binary units, two or three significant digits: `512 B`, `1.2 MiB`, `22 GiB`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        const UNITS: [&str; 7] = ["B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"];
        if self.0 >= 1 << 64 {
            return write!(f, "more than 16 EiB");
        }
        let mut value = self.0 as f64;
        let mut unit = 0;
        while value >= 1024.0 && unit + 1 < UNITS.len() {
            value /= 1024.0;
            unit += 1;
        }
        match unit {
            0 => write!(f, "{} B", self.0),
            _ if value < 9.95 => write!(f, "{value:.1} {}", UNITS[unit]),
            _ => write!(f, "{value:.0} {}", UNITS[unit]),
        }
    }
}

/// A count as a person writes it: `4096`, `1e15`, `1.8e19`.
pub(super) fn count(n: u128) -> String {
    if n < 1_000_000 {
        return n.to_string();
    }
    format!("{:.1e}", n as f64).replace(".0e", "e")
}
