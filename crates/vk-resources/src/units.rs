//! ACI's resource units, held as exact integers: CPU in hundredths of a core,
//! memory in tenths of a (decimal) gigabyte.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::ExactQuantity;

/// Bytes in one ACI memory step (0.1 GB, ACI counts GB as 10^9 bytes).
pub const BYTES_PER_DECIGIGABYTE: i128 = 100_000_000;
/// Millicores in one ACI CPU step (0.01 core).
pub const MILLICORES_PER_CENTICORE: i128 = 10;

/// A CPU amount in ACI's granularity: hundredths of a core (`Cpu(150)` = 1.5 cores).
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize, Deserialize,
)]
#[serde(transparent)]
pub struct Cpu(pub u32);

impl Cpu {
    /// Whole cores.
    #[must_use]
    pub const fn cores(cores: u32) -> Self {
        Self(cores.saturating_mul(100))
    }

    /// Hundredths of a core.
    #[must_use]
    pub const fn centicores(self) -> u32 {
        self.0
    }

    /// Millicores, rounded **up** to the next hundredth of a core
    /// (`1m` → 0.01, `150m` → 0.15, `155m` → 0.16). Saturates; negative → 0.
    #[must_use]
    pub fn from_millicores_ceil(millicores: i128) -> Self {
        let centi = millicores
            .max(0)
            .unsigned_abs()
            .div_ceil(MILLICORES_PER_CENTICORE.unsigned_abs());
        Self(u32::try_from(centi).unwrap_or(u32::MAX))
    }

    /// A CPU quantity (`"1500m"`, `"2"`), rounded up; negative → 0.
    ///
    /// ```
    /// use vk_resources::{Cpu, ExactQuantity};
    /// assert_eq!(Cpu::from_quantity_ceil(&"155m".parse::<ExactQuantity>()?), Cpu(16));
    /// # Ok::<(), vk_resources::Error>(())
    /// ```
    #[must_use]
    pub fn from_quantity_ceil(quantity: &ExactQuantity) -> Self {
        Self::from_millicores_ceil(quantity.millis_ceil())
    }

    /// The amount in millicores.
    #[must_use]
    pub fn millicores(self) -> u64 {
        u64::from(self.0) * 10
    }

    /// The value ACI's JSON expects (`cpu`, a number of cores).
    #[must_use]
    pub fn as_f64(self) -> f64 {
        f64::from(self.0) / 100.0
    }

    /// Saturating addition.
    #[must_use]
    pub fn saturating_add(self, other: Self) -> Self {
        Self(self.0.saturating_add(other.0))
    }
}

impl fmt::Display for Cpu {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{:02}", self.0 / 100, self.0 % 100)
    }
}

/// A memory amount in ACI's granularity: tenths of a GB of 10^9 bytes
/// (`MemoryGb(15)` = 1.5 GB = 1 500 000 000 bytes).
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize, Deserialize,
)]
#[serde(transparent)]
pub struct MemoryGb(pub u32);

impl MemoryGb {
    /// Whole gigabytes.
    #[must_use]
    pub const fn gb(gb: u32) -> Self {
        Self(gb.saturating_mul(10))
    }

    /// Tenths of a gigabyte.
    #[must_use]
    pub const fn decigigabytes(self) -> u32 {
        self.0
    }

    /// Bytes, rounded **up** to the next 0.1 GB (`512Mi` = 536 870 912 bytes → 0.6).
    /// Saturates; negative → 0.
    #[must_use]
    pub fn from_bytes_ceil(bytes: i128) -> Self {
        let deci = bytes
            .max(0)
            .unsigned_abs()
            .div_ceil(BYTES_PER_DECIGIGABYTE.unsigned_abs());
        Self(u32::try_from(deci).unwrap_or(u32::MAX))
    }

    /// A memory quantity (`"512Mi"`, `"1.5G"`), rounded up; negative → 0.
    ///
    /// ```
    /// use vk_resources::{ExactQuantity, MemoryGb};
    /// assert_eq!(MemoryGb::from_quantity_ceil(&"512Mi".parse::<ExactQuantity>()?), MemoryGb(6));
    /// # Ok::<(), vk_resources::Error>(())
    /// ```
    #[must_use]
    pub fn from_quantity_ceil(quantity: &ExactQuantity) -> Self {
        Self::from_bytes_ceil(quantity.bytes_ceil())
    }

    /// The amount in bytes.
    #[must_use]
    pub fn bytes(self) -> u64 {
        u64::from(self.0) * 100_000_000
    }

    /// The value ACI's JSON expects (`memoryInGB`).
    #[must_use]
    pub fn as_f64(self) -> f64 {
        f64::from(self.0) / 10.0
    }

    /// Saturating addition.
    #[must_use]
    pub fn saturating_add(self, other: Self) -> Self {
        Self(self.0.saturating_add(other.0))
    }
}

impl fmt::Display for MemoryGb {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{} GB", self.0 / 10, self.0 % 10)
    }
}

/// The operating system of a virtual node's pods and of their container groups: the one OS
/// type of vk. Serialized in the Kubernetes spelling (`linux`, `windows`, as in the
/// `kubernetes.io/os` label; ACI's `Linux` and `Windows` are accepted too); [`fmt::Display`]
/// gives ACI's spelling (`osType`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OsType {
    /// Linux containers.
    #[default]
    #[serde(alias = "Linux")]
    Linux,
    /// Windows containers.
    #[serde(alias = "Windows")]
    Windows,
}

impl OsType {
    /// Parses ACI's spelling, case-insensitively.
    #[must_use]
    pub fn from_aci(s: &str) -> Option<Self> {
        if s.eq_ignore_ascii_case("linux") {
            Some(Self::Linux)
        } else if s.eq_ignore_ascii_case("windows") {
            Some(Self::Windows)
        } else {
            None
        }
    }

    /// The Kubernetes spelling: `linux` or `windows`, as in the `kubernetes.io/os` label and a
    /// pod's `spec.os.name`.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Linux => "linux",
            Self::Windows => "windows",
        }
    }
}

impl fmt::Display for OsType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Linux => "Linux",
            Self::Windows => "Windows",
        })
    }
}

/// The container group SKU (`sku`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
pub enum GroupSku {
    /// `Standard`.
    #[default]
    Standard,
    /// `Dedicated`.
    Dedicated,
    /// `Confidential`.
    Confidential,
}

impl fmt::Display for GroupSku {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Standard => "Standard",
            Self::Dedicated => "Dedicated",
            Self::Confidential => "Confidential",
        })
    }
}

/// The IP address type a group is deployed with (capabilities differ for VNet groups).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
pub enum IpAddressType {
    /// `Public` (or no IP).
    #[default]
    Public,
    /// `Private` (VNet).
    Private,
}

impl IpAddressType {
    /// Parses ACI's spelling, case-insensitively.
    #[must_use]
    pub fn from_aci(s: &str) -> Option<Self> {
        if s.eq_ignore_ascii_case("public") {
            Some(Self::Public)
        } else if s.eq_ignore_ascii_case("private") {
            Some(Self::Private)
        } else {
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn os_spellings() {
        assert_eq!(OsType::Windows.as_str(), "windows");
        assert_eq!(OsType::Windows.to_string(), "Windows");
        assert_eq!(
            serde_json::to_string(&OsType::Linux).ok().as_deref(),
            Some("\"linux\"")
        );
        for (text, os) in [
            ("\"windows\"", OsType::Windows),
            ("\"Linux\"", OsType::Linux),
        ] {
            assert_eq!(
                serde_json::from_str::<OsType>(text).ok(),
                Some(os),
                "{text}"
            );
        }
    }

    #[test]
    fn rounding_up() {
        assert_eq!(Cpu::from_millicores_ceil(1), Cpu(1));
        assert_eq!(Cpu::from_millicores_ceil(100), Cpu(10));
        assert_eq!(Cpu::from_millicores_ceil(155), Cpu(16));
        assert_eq!(Cpu::from_millicores_ceil(2000), Cpu(200));
        assert_eq!(Cpu::from_millicores_ceil(-5), Cpu(0));
        assert_eq!(MemoryGb::from_bytes_ceil(536_870_912), MemoryGb(6));
        assert_eq!(MemoryGb::from_bytes_ceil(1_610_612_736), MemoryGb(17));
        assert_eq!(MemoryGb::from_bytes_ceil(1_000_000_000), MemoryGb(10));
        assert_eq!(MemoryGb::from_bytes_ceil(1_073_741_824), MemoryGb(11));
        assert_eq!(MemoryGb::from_bytes_ceil(i128::MAX), MemoryGb(u32::MAX));
    }

    #[test]
    fn display_and_f64() {
        assert_eq!(Cpu(150).to_string(), "1.50");
        assert_eq!(MemoryGb(6).to_string(), "0.6 GB");
        assert!((Cpu(1).as_f64() - 0.01).abs() < f64::EPSILON);
        assert!((MemoryGb(15).as_f64() - 1.5).abs() < f64::EPSILON);
    }
}
