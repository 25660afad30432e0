//! Exact Kubernetes resource quantities.
//!
//! [`ExactQuantity`] parses the apimachinery grammar
//! (`k8s.io/apimachinery/pkg/api/resource`):
//!
//! ```text
//! <quantity>        ::= <signedNumber><suffix>
//! <signedNumber>    ::= <number> | <sign><number>
//! <sign>            ::= "+" | "-"
//! <number>          ::= <digits> | <digits>.<digits> | <digits>. | .<digits>
//! <suffix>          ::= <binarySI> | <decimalExponent> | <decimalSI>
//! <binarySI>        ::= Ki | Mi | Gi | Ti | Pi | Ei
//! <decimalSI>       ::= n | u | m | "" | k | M | G | T | P | E
//! <decimalExponent> ::= "e" <signedInteger> | "E" <signedInteger>
//! ```
//!
//! Values are held exactly as an integer number of nano-units (10^-9) in an
//! `i128`, never as a float. Like apimachinery, a value that is not a whole
//! number of nano-units is rounded **away from zero** to the next nano-unit
//! ("if you want some resources, you should get some resources"), and
//! magnitudes are capped at 2^63-1 whole units. Unlike apimachinery, the cap
//! also applies to exponent notation (apimachinery keeps an unbounded decimal
//! there), and a bare sign or a bare `.` (which apimachinery reads as zero or
//! rejects inconsistently) is rejected as the grammar demands.
//!
//! [`ExactQuantity::canonical`] formats like apimachinery's `CanonicalizeBytes`:
//! * zero is `0`;
//! * binary-SI values of magnitude ≥ 1024 that are whole numbers are written
//!   as an integer times the largest power of 1024 that divides them
//!   (`1.5Gi` → `1536Mi`), all others fall back to decimal SI;
//! * decimal values drop trailing zeros, then use the largest exponent that
//!   is a multiple of 3 and keeps an integer mantissa (`0.5` → `500m`,
//!   `2000` → `2k`, `1500` → `1500`); decimal-SI inputs get an SI suffix,
//!   exponent inputs get `e<exp>` (`1.5e-3` → `1500e-6`).
//!
//! Every canonical string parses back to the same value. The format class can
//! change, as in apimachinery: `62.5Ki` (64000 bytes, not a whole number of Ki)
//! is written `64000`, which reads back as a decimal quantity (canonical `64k`).

use std::fmt;
use std::str::FromStr;

use k8s_openapi::apimachinery::pkg::api::resource::Quantity;

use crate::Error;

/// Nano-units per unit.
const NANOS_PER_UNIT: i128 = 1_000_000_000;
/// The largest magnitude apimachinery keeps, in whole units (2^63-1).
const MAX_UNITS: i128 = i64::MAX as i128;
/// The largest magnitude, in nano-units.
const MAX_NANOS: i128 = MAX_UNITS * NANOS_PER_UNIT;

/// How a quantity was written, which decides its canonical form.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum QuantityFormat {
    /// Decimal SI suffixes (`n u m "" k M G T P E`).
    DecimalSi,
    /// Binary SI suffixes (`Ki Mi Gi Ti Pi Ei`).
    BinarySi,
    /// Decimal exponent (`1e3`, `12E6`).
    DecimalExponent,
}

/// A Kubernetes quantity held exactly, as nano-units.
///
/// ```
/// use vk_resources::ExactQuantity;
///
/// let q: ExactQuantity = "1.5Gi".parse()?;
/// assert_eq!(q.bytes_ceil(), 1_610_612_736);
/// assert_eq!(q.canonical(), "1536Mi");
/// assert_eq!("100m".parse::<ExactQuantity>()?.millis_ceil(), 100);
/// # Ok::<(), vk_resources::Error>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ExactQuantity {
    nanos: i128,
    format: QuantityFormat,
}

/// The input as errors show it: whole when short, else its first 64
/// characters and its length, so a hostile 1 MB string makes no 1 MB message.
fn shown(input: &str) -> String {
    const MAX: usize = 64;
    match input.char_indices().nth(MAX) {
        None => input.to_owned(),
        Some((cut, _)) => format!("{}…({} bytes)", &input[..cut], input.len()),
    }
}

impl ExactQuantity {
    /// Parses a quantity string; errors name the input (truncated past 64 characters).
    pub fn parse(input: &str) -> Result<Self, Error> {
        parse(input).map_err(|reason| Error::InvalidQuantity {
            input: shown(input),
            reason,
        })
    }

    /// Parses a `k8s-openapi` [`Quantity`].
    pub fn from_k8s(quantity: &Quantity) -> Result<Self, Error> {
        Self::parse(&quantity.0)
    }

    /// A quantity from a whole number of nano-units, capped at ±(2^63-1) units.
    #[must_use]
    pub fn from_nanos(nanos: i128, format: QuantityFormat) -> Self {
        Self {
            nanos: nanos.clamp(-MAX_NANOS, MAX_NANOS),
            format,
        }
    }

    /// A whole number of units (cores, bytes, pods), in decimal SI.
    #[must_use]
    pub fn from_units(units: i64) -> Self {
        Self::from_nanos(
            i128::from(units) * NANOS_PER_UNIT,
            QuantityFormat::DecimalSi,
        )
    }

    /// A whole number of bytes, shown in binary SI when that is exact.
    #[must_use]
    pub fn from_bytes_binary(bytes: i64) -> Self {
        Self::from_nanos(i128::from(bytes) * NANOS_PER_UNIT, QuantityFormat::BinarySi)
    }

    /// A number of millicores (or other milli-units), in decimal SI.
    #[must_use]
    pub fn from_millis(millis: i64) -> Self {
        Self::from_nanos(i128::from(millis) * 1_000_000, QuantityFormat::DecimalSi)
    }

    /// The exact value in nano-units (10^-9).
    #[must_use]
    pub fn nanos(&self) -> i128 {
        self.nanos
    }

    /// The format the quantity was written in.
    #[must_use]
    pub fn format(&self) -> QuantityFormat {
        self.format
    }

    /// Whether the value is negative.
    #[must_use]
    pub fn is_negative(&self) -> bool {
        self.nanos < 0
    }

    /// Whether the value is zero.
    #[must_use]
    pub fn is_zero(&self) -> bool {
        self.nanos == 0
    }

    /// The value in milli-units, rounded towards +∞ (`1n` → 1, `-1.5m` → -1).
    #[must_use]
    pub fn millis_ceil(&self) -> i128 {
        div_ceil(self.nanos, 1_000_000)
    }

    /// The value in whole units, rounded towards +∞; for memory, bytes.
    #[must_use]
    pub fn units_ceil(&self) -> i128 {
        div_ceil(self.nanos, NANOS_PER_UNIT)
    }

    /// The value in bytes, rounded up (alias of [`Self::units_ceil`]).
    #[must_use]
    pub fn bytes_ceil(&self) -> i128 {
        self.units_ceil()
    }

    /// The value as a whole number of units, if it is one.
    #[must_use]
    pub fn as_whole_units(&self) -> Option<i128> {
        (self.nanos % NANOS_PER_UNIT == 0).then_some(self.nanos / NANOS_PER_UNIT)
    }

    /// The canonical Kubernetes string (see the module docs).
    #[must_use]
    pub fn canonical(&self) -> String {
        if self.nanos == 0 {
            return "0".to_owned();
        }
        if self.format == QuantityFormat::BinarySi
            && self.nanos.abs() >= 1024 * NANOS_PER_UNIT
            && let Some(units) = self.as_whole_units()
        {
            let (mut mantissa, mut power) = (units, 0usize);
            while mantissa % 1024 == 0 && power < BINARY_SUFFIXES.len() - 1 {
                mantissa /= 1024;
                power += 1;
            }
            return format!("{mantissa}{}", BINARY_SUFFIXES[power]);
        }
        // Decimal: drop trailing zeros, then lower the exponent to a multiple of 3.
        let (mut mantissa, mut exponent) = (self.nanos, -9i32);
        while mantissa % 10 == 0 {
            mantissa /= 10;
            exponent += 1;
        }
        while exponent.rem_euclid(3) != 0 {
            mantissa *= 10;
            exponent -= 1;
        }
        match self.format {
            QuantityFormat::DecimalExponent => {
                if exponent == 0 {
                    format!("{mantissa}")
                } else {
                    format!("{mantissa}e{exponent}")
                }
            }
            QuantityFormat::DecimalSi | QuantityFormat::BinarySi => {
                // With at most 2^63-1 units, the exponent stays within n..E.
                let suffix = match exponent {
                    -9 => "n",
                    -6 => "u",
                    -3 => "m",
                    0 => "",
                    3 => "k",
                    6 => "M",
                    9 => "G",
                    12 => "T",
                    15 => "P",
                    _ => "E",
                };
                if exponent > 18 {
                    // Unreachable under the cap; keep it exact anyway.
                    let extra = 10i128.pow(exponent.unsigned_abs() - 18);
                    format!("{}E", mantissa * extra)
                } else {
                    format!("{mantissa}{suffix}")
                }
            }
        }
    }

    /// The canonical form as a `k8s-openapi` [`Quantity`].
    #[must_use]
    pub fn to_k8s(&self) -> Quantity {
        Quantity(self.canonical())
    }
}

impl fmt::Display for ExactQuantity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.canonical())
    }
}

impl FromStr for ExactQuantity {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

const BINARY_SUFFIXES: [&str; 7] = ["", "Ki", "Mi", "Gi", "Ti", "Pi", "Ei"];

/// `a / b` rounded towards +∞, for `b > 0`.
fn div_ceil(a: i128, b: i128) -> i128 {
    let q = a.div_euclid(b);
    if a.rem_euclid(b) == 0 { q } else { q + 1 }
}

fn parse(input: &str) -> Result<ExactQuantity, String> {
    if input.is_empty() {
        return Err("empty string".to_owned());
    }
    let bytes = input.as_bytes();
    let mut pos = 0;
    let negative = match bytes.first() {
        Some(b'-') => {
            pos += 1;
            true
        }
        Some(b'+') => {
            pos += 1;
            false
        }
        _ => false,
    };
    let int_start = pos;
    while pos < bytes.len() && bytes[pos].is_ascii_digit() {
        pos += 1;
    }
    let int_digits = &input[int_start..pos];
    let mut frac_digits = "";
    if pos < bytes.len() && bytes[pos] == b'.' {
        pos += 1;
        let frac_start = pos;
        while pos < bytes.len() && bytes[pos].is_ascii_digit() {
            pos += 1;
        }
        frac_digits = &input[frac_start..pos];
    }
    if int_digits.is_empty() && frac_digits.is_empty() {
        return Err("expected a number (digits, optionally with a fraction)".to_owned());
    }
    let suffix = &input[pos..];
    let (format, decimal_exponent, binary_power) = interpret_suffix(suffix)?;

    // value = digits × 10^(exponent) × 1024^binary_power, with digits an integer.
    let mut digits: Vec<u8> = int_digits
        .bytes()
        .chain(frac_digits.bytes())
        .map(|b| b - b'0')
        .collect();
    let frac_len = i64::try_from(frac_digits.len()).map_err(|_| "number too long".to_owned())?;
    for _ in 0..binary_power {
        multiply_digits(&mut digits, 1024);
    }
    // Exponent of the nano-unit value.
    let exponent = i64::from(decimal_exponent) - frac_len + 9;
    let magnitude = scale_ceil(&digits, exponent);
    let nanos = if negative { -magnitude } else { magnitude };
    Ok(ExactQuantity { nanos, format })
}

/// Returns `(format, decimal exponent, binary power of 1024)`.
fn interpret_suffix(suffix: &str) -> Result<(QuantityFormat, i32, u32), String> {
    let decimal = |e| Ok((QuantityFormat::DecimalSi, e, 0));
    let binary = |p| Ok((QuantityFormat::BinarySi, 0, p));
    match suffix {
        "" => decimal(0),
        "n" => decimal(-9),
        "u" => decimal(-6),
        "m" => decimal(-3),
        "k" => decimal(3),
        "M" => decimal(6),
        "G" => decimal(9),
        "T" => decimal(12),
        "P" => decimal(15),
        "E" => decimal(18),
        "Ki" => binary(1),
        "Mi" => binary(2),
        "Gi" => binary(3),
        "Ti" => binary(4),
        "Pi" => binary(5),
        "Ei" => binary(6),
        _ => {
            let rest = suffix
                .strip_prefix('e')
                .or_else(|| suffix.strip_prefix('E'))
                .ok_or_else(|| format!("unknown suffix {suffix:?}"))?;
            let unsigned = rest.strip_prefix(['+', '-']).unwrap_or(rest);
            if unsigned.is_empty() || !unsigned.bytes().all(|b| b.is_ascii_digit()) {
                return Err(format!("unknown suffix {suffix:?}"));
            }
            let exponent: i32 = rest
                .parse()
                .map_err(|_| format!("exponent {:?} out of range", shown(rest)))?;
            Ok((QuantityFormat::DecimalExponent, exponent, 0))
        }
    }
}

/// `digits *= factor` on a big-endian decimal digit vector.
fn multiply_digits(digits: &mut Vec<u8>, factor: u32) {
    let mut carry = 0u32;
    for d in digits.iter_mut().rev() {
        let v = u32::from(*d) * factor + carry;
        *d = (v % 10) as u8;
        carry = v / 10;
    }
    while carry > 0 {
        digits.insert(0, (carry % 10) as u8);
        carry /= 10;
    }
}

/// `ceil(digits × 10^exponent)`, capped at [`MAX_NANOS`].
fn scale_ceil(digits: &[u8], exponent: i64) -> i128 {
    let first = digits.iter().position(|&d| d != 0);
    let Some(first) = first else { return 0 };
    let digits = &digits[first..];
    let len = i64::try_from(digits.len()).unwrap_or(i64::MAX);
    // Number of digits left of the point.
    let int_len = len.saturating_add(exponent);
    // MAX_NANOS has 28 digits; anything with more integer digits is over it.
    if int_len > 28 {
        return MAX_NANOS;
    }
    let mut value: i128 = 0;
    let mut round_up = false;
    for (i, &d) in digits.iter().enumerate() {
        let i = i64::try_from(i).unwrap_or(i64::MAX);
        if i < int_len {
            value = value * 10 + i128::from(d);
        } else if d != 0 {
            round_up = true;
            break;
        }
    }
    if exponent > 0 {
        // int_len ≤ 28 bounds exponent here.
        for _ in 0..exponent {
            value *= 10;
        }
    }
    if round_up {
        value += 1;
    }
    value.min(MAX_NANOS)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn q(s: &str) -> ExactQuantity {
        ExactQuantity::parse(s).unwrap_or_else(|e| panic!("{s}: {e}"))
    }

    #[test]
    fn parses_the_grammar() {
        let cases: &[(&str, i128)] = &[
            ("0", 0),
            ("1", 1_000_000_000),
            ("+1", 1_000_000_000),
            ("-1", -1_000_000_000),
            ("0.5", 500_000_000),
            (".5", 500_000_000),
            ("5.", 5_000_000_000),
            ("100m", 100_000_000),
            ("1n", 1),
            ("1u", 1_000),
            ("1k", 1_000_000_000_000),
            ("1M", 1_000_000_000_000_000),
            ("1G", 1_000_000_000_000_000_000),
            ("1Ki", 1024 * 1_000_000_000),
            ("512Mi", 536_870_912 * 1_000_000_000),
            ("1.5Gi", 1_610_612_736 * 1_000_000_000),
            ("1e3", 1_000_000_000_000),
            ("12E6", 12_000_000 * 1_000_000_000),
            ("1.5e-3", 1_500_000),
            ("1e+3", 1_000_000_000_000),
            ("1E", 1_000_000_000_000_000_000_000_000_000),
            ("0.0000000001", 1),
            ("-0.0000000001", -1),
            ("1.5n", 2),
            ("000123", 123_000_000_000),
            ("0.5Ki", 512_000_000_000),
            ("1.G", 1_000_000_000_000_000_000),
        ];
        for (s, nanos) in cases {
            assert_eq!(q(s).nanos(), *nanos, "{s}");
        }
    }

    #[test]
    fn formats_canonically() {
        let cases: &[(&str, &str)] = &[
            ("0", "0"),
            ("0Mi", "0"),
            ("1", "1"),
            ("0.5", "500m"),
            (".5", "500m"),
            ("1500", "1500"),
            ("1.5k", "1500"),
            ("2000", "2k"),
            ("1e3", "1e3"),
            ("12E6", "12e6"),
            ("1.5e-3", "1500e-6"),
            ("1.5e3", "1500"),
            ("1Ki", "1Ki"),
            ("2048", "2048"),
            ("2Ki", "2Ki"),
            ("0.5Ki", "512"),
            ("1.5Ki", "1536"),
            ("1.5Gi", "1536Mi"),
            ("512Mi", "512Mi"),
            ("1024Mi", "1Gi"),
            ("-1Gi", "-1Gi"),
            ("100m", "100m"),
            ("0.1", "100m"),
            ("1.0001Ki", "1024102400u"),
            ("1n", "1n"),
            ("10E", "9223372036854775807"),
            ("8Ei", "9223372036854775807"),
        ];
        for (input, want) in cases {
            assert_eq!(q(input).canonical(), *want, "{input}");
        }
    }

    #[test]
    fn rejects_invalid_strings_naming_the_input() {
        for s in [
            "",
            "-",
            "+",
            ".",
            "abc",
            "1K",
            "1kb",
            "1 ",
            " 1",
            "1e",
            "1e+",
            "1.5.5",
            "1Gi5",
            "1e99999999999",
            "--1",
            "1ee3",
            "1e3.5",
            "0x10",
        ] {
            match ExactQuantity::parse(s) {
                Err(Error::InvalidQuantity { input, .. }) => assert_eq!(input, s),
                other => panic!("{s:?} parsed as {other:?}"),
            }
        }
    }

    #[test]
    fn huge_and_tiny_exponents_do_not_blow_up() {
        assert_eq!(q("1e2000000000").nanos(), MAX_NANOS);
        assert_eq!(q("1e-2000000000").nanos(), 1);
        assert_eq!(q("0e2000000000").nanos(), 0);
    }

    #[test]
    fn ceil_helpers() {
        assert_eq!(q("1n").millis_ceil(), 1);
        assert_eq!(q("1001u").millis_ceil(), 2);
        assert_eq!(q("-1500u").millis_ceil(), -1);
        assert_eq!(q("500m").bytes_ceil(), 1);
        assert_eq!(q("1.5Gi").bytes_ceil(), 1_610_612_736);
        assert_eq!(q("2").millis_ceil(), 2000);
    }

    mod props {
        use super::*;
        use proptest::prelude::*;

        fn quantity_string() -> impl Strategy<Value = String> {
            let number = prop_oneof![
                "[0-9]{1,12}",
                "[0-9]{1,6}\\.[0-9]{1,12}",
                "\\.[0-9]{1,9}",
                "[0-9]{1,6}\\.",
            ];
            let suffix = prop_oneof![
                Just(String::new()),
                "(n|u|m|k|M|G|T|P|E)",
                "(Ki|Mi|Gi|Ti|Pi|Ei)",
                "[eE][+-]?[0-9]{1,2}",
            ];
            ("[+-]?", number, suffix).prop_map(|(s, n, x)| format!("{s}{n}{x}"))
        }

        proptest! {
            #[test]
            fn parse_format_parse_is_identity(s in quantity_string()) {
                let first = ExactQuantity::parse(&s).unwrap();
                let canonical = first.canonical();
                let second = ExactQuantity::parse(&canonical).unwrap();
                prop_assert_eq!(first.nanos(), second.nanos(), "{} -> {}", s, canonical);
                // Canonical strings are a fixed point.
                prop_assert_eq!(second.canonical(), canonical);
            }

            #[test]
            fn parse_never_panics(s in "\\PC{0,16}") {
                let _ = ExactQuantity::parse(&s);
            }

            #[test]
            fn from_nanos_round_trips(n in any::<i64>(), f in 0..3u8) {
                let format = match f { 0 => QuantityFormat::DecimalSi, 1 => QuantityFormat::BinarySi, _ => QuantityFormat::DecimalExponent };
                let x = ExactQuantity::from_nanos(i128::from(n), format);
                prop_assert_eq!(ExactQuantity::parse(&x.canonical()).unwrap().nanos(), x.nanos());
            }
        }
    }
}
