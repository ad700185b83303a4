//! The batch of minibatch and noisy SGD: a whole number as it always was (`batch: 32`), or a rule scaled
//! with the width (`batch: Scaled(b0: 8, exponent: 1.0)`, B = round(b0·(N/reference)^exponent), at least 1,
//! with `reference` 1 unless given: b0 is the batch at the reference width, so rules of different exponents
//! can agree at one width).
//!
//! Written by hand rather than `#[serde(untagged)]`: an untagged enum buffers the value and answers every
//! mistake with "data did not match any variant", while this visitor says what a batch may be, and
//! keeps RON's field errors (unknown, missing or repeated fields of `Scaled`) in the scenario's words.

use serde::de::{self, MapAccess, Unexpected, Visitor};
use serde::ser::SerializeStructVariant;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;

/// The largest batch a rule may give: a batch is counted in `f64` (b0·N^exponent), whose whole numbers
/// are exact up to 2^53; the memory budget refuses far smaller ones.
pub const LARGEST_BATCH: f64 = 9_007_199_254_740_992.0;

/// B, the samples per step.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum BatchSpec {
    /// B at every width.
    Fixed(usize),
    /// B = round(b0·N^exponent) at width N (N, or max(N1, N2) as for `PerNeuron` steps), at least 1.
    Scaled { b0: f64, exponent: f64, reference: f64 },
}

impl Default for BatchSpec {
    fn default() -> Self {
        BatchSpec::Fixed(1)
    }
}

impl BatchSpec {
    /// B at width `width`, or why the rule gives none (a value that is not finite or beyond
    /// [`LARGEST_BATCH`]); `check::validate` has refused b0 ≤ 0 and exponents that are not finite.
    pub fn at_width(self, width: usize) -> Result<usize, String> {
        match self {
            BatchSpec::Fixed(b) => Ok(b),
            BatchSpec::Scaled { b0, exponent, reference } => {
                let b = (b0 * (width as f64 / reference).powf(exponent)).round();
                if b.is_nan() || b > LARGEST_BATCH {
                    return Err(format!(
                        "Scaled(b0: {b0}, exponent: {exponent}) gives a batch of {b:e} at width {width}, more than \
                         2^53 = 9007199254740992: choose a smaller b0 or exponent"
                    ));
                }
                // b ≤ 2^53 fits a usize on the 64-bit targets meanfield builds for; 0 (b0·N^e < ½) is 1.
                Ok((b as usize).max(1))
            }
        }
    }
}

impl Serialize for BatchSpec {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match *self {
            BatchSpec::Fixed(b) => serializer.serialize_u64(b as u64),
            BatchSpec::Scaled { b0, exponent, reference } => {
                let mut scaled = serializer.serialize_struct_variant("BatchSpec", 1, "Scaled", 3)?;
                scaled.serialize_field("b0", &b0)?;
                scaled.serialize_field("exponent", &exponent)?;
                scaled.serialize_field("reference", &reference)?;
                scaled.end()
            }
        }
    }
}

impl<'de> Deserialize<'de> for BatchSpec {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(BatchVisitor)
    }
}

struct BatchVisitor;

const FIELDS: &[&str] = &["b0", "exponent", "reference"];

impl<'de> Visitor<'de> for BatchVisitor {
    type Value = BatchSpec;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a whole number of samples (`batch: 32`) or `Scaled(b0: 8, exponent: 1.0)`")
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<BatchSpec, E> {
        usize::try_from(v).map(BatchSpec::Fixed).map_err(|_| E::invalid_value(Unexpected::Unsigned(v), &self))
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<BatchSpec, E> {
        match u64::try_from(v) {
            Ok(v) => self.visit_u64(v),
            Err(_) => Err(E::invalid_value(Unexpected::Signed(v), &self)),
        }
    }

    /// RON hands `Scaled(b0: …, exponent: …)` to `deserialize_any` as its fields, without the name; JSON
    /// (the sweep's view of a spec) and RON's map syntax give the externally tagged `{"Scaled": {…}}`.
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<BatchSpec, A::Error> {
        let Some(first) = map.next_key::<String>()? else {
            return Err(de::Error::missing_field("b0"));
        };
        if first == "Scaled" {
            let fields: ScaledFields = map.next_value()?;
            if let Some(other) = map.next_key::<String>()? {
                return Err(de::Error::unknown_variant(&other, &["Scaled"]));
            }
            return Ok(BatchSpec::Scaled { b0: fields.b0, exponent: fields.exponent, reference: fields.reference });
        }
        let (mut b0, mut exponent, mut reference) = (None, None, None);
        let mut key = Some(first);
        while let Some(name) = key {
            let slot = match name.as_str() {
                "b0" => &mut b0,
                "exponent" => &mut exponent,
                "reference" => &mut reference,
                other => return Err(de::Error::unknown_field(other, FIELDS)),
            };
            if slot.is_some() {
                let name = FIELDS.iter().find(|f| **f == name).copied().unwrap_or("b0");
                return Err(de::Error::duplicate_field(name));
            }
            *slot = Some(map.next_value::<f64>()?);
            key = map.next_key::<String>()?;
        }
        let b0 = b0.ok_or_else(|| de::Error::missing_field("b0"))?;
        let exponent = exponent.ok_or_else(|| de::Error::missing_field("exponent"))?;
        Ok(BatchSpec::Scaled { b0, exponent, reference: reference.unwrap_or(1.0) })
    }
}

/// The fields of `Scaled` in the tagged (JSON) form.
#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename = "Scaled")]
struct ScaledFields {
    b0: f64,
    exponent: f64,
    #[serde(default = "unit_reference")]
    reference: f64,
}

fn unit_reference() -> f64 {
    1.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, PartialEq, Serialize, Deserialize)]
    struct Holder {
        batch: BatchSpec,
    }

    fn ron(text: &str) -> Result<BatchSpec, String> {
        crate::parse::ron_options().from_str::<Holder>(text).map(|h| h.batch).map_err(|e| e.to_string())
    }

    #[test]
    fn both_forms_parse_and_round_trip_through_ron_and_json() {
        assert_eq!(ron("(batch: 32)"), Ok(BatchSpec::Fixed(32)));
        let scaled = BatchSpec::Scaled { b0: 8.0, exponent: 1.0, reference: 1.0 };
        assert_eq!(ron("(batch: Scaled(b0: 8, exponent: 1.0))"), Ok(scaled));
        assert_eq!(ron("(batch: Scaled(exponent: 1.0, b0: 8.0))"), Ok(scaled));
        for batch in [
            BatchSpec::Fixed(32),
            scaled,
            BatchSpec::Scaled { b0: 0.5, exponent: -0.25, reference: 1.0 },
            BatchSpec::Scaled { b0: 16.0, exponent: 1.0, reference: 16.0 },
        ] {
            let written = ron::to_string(&Holder { batch }).unwrap();
            assert_eq!(ron(&written), Ok(batch), "{written}");
            let json = serde_json::to_value(Holder { batch }).unwrap();
            assert_eq!(serde_json::from_value::<Holder>(json.clone()).unwrap().batch, batch, "{json}");
        }
        assert_eq!(ron::to_string(&scaled).unwrap(), "Scaled(b0:8.0,exponent:1.0,reference:1.0)");
        assert_eq!(ron("(batch: Scaled(b0: 16, exponent: 1.0, reference: 16))").map(|b| b.at_width(64)), Ok(Ok(64)));
        assert_eq!(serde_json::to_string(&BatchSpec::Fixed(4)).unwrap(), "4");
    }

    #[test]
    fn mistakes_say_what_a_batch_may_be() {
        let may_be = "a whole number of samples (`batch: 32`) or `Scaled(b0: 8, exponent: 1.0)`";
        for (text, expected) in [
            ("(batch: -1)", may_be),
            ("(batch: 2.5)", may_be),
            ("(batch: \"8\")", may_be),
            ("(batch: Fixed(8))", may_be),
            ("(batch: Scaled(b0: 8))", "`exponent`"),
            ("(batch: Scaled(b0: 8, exponent: 1, b1: 2))", "`b1`"),
            ("(batch: Scaled(b0: 8, b0: 2, exponent: 1))", "`b0`"),
        ] {
            let error = ron(text).unwrap_err();
            assert!(error.contains(expected), "{text}: {error}");
        }
    }

    /// B = round(b0·N^exponent), halves away from zero, at least 1; powers of two are exact in `powf`.
    #[test]
    fn the_batch_at_a_width() {
        let scaled = |b0: f64, exponent: f64| BatchSpec::Scaled { b0, exponent, reference: 1.0 };
        let at = |b: BatchSpec, widths: &[usize]| widths.iter().map(|&n| b.at_width(n).unwrap()).collect::<Vec<_>>();
        assert_eq!(at(scaled(8.0, 1.0), &[1, 8, 64]), [8, 64, 512]);
        assert_eq!(at(scaled(8.0, 0.5), &[4, 64]), [16, 64]);
        assert_eq!(at(scaled(0.5, 1.0), &[1, 3, 5]), [1, 2, 3], "½ → 1 (at least 1), 1.5 → 2, 2.5 → 3");
        assert_eq!(at(scaled(1.0, -1.0), &[1, 8]), [1, 1], "⅛ rounds to 0, and a batch is at least 1");
        assert_eq!(at(BatchSpec::Fixed(32), &[1, 1024]), [32, 32]);
        let error = scaled(8.0, 40.0).at_width(64).unwrap_err();
        assert!(error.contains("at width 64, more than 2^53"), "{error}");
        assert!(scaled(1e300, 1e300).at_width(2).is_err(), "an infinite batch");
        assert!(scaled(f64::NAN, 1.0).at_width(2).is_err(), "NaN");
    }
}
