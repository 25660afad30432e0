//! GPUs: the `nvidia.com/gpu` resource, ACI's GPU SKUs and the choice of SKU.

use std::collections::BTreeMap;
use std::fmt;

use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use serde::{Deserialize, Serialize};

use crate::{Error, ExactQuantity};

/// The Kubernetes extended resource for NVIDIA GPUs.
pub const GPU_RESOURCE: &str = "nvidia.com/gpu";

/// Pod annotation choosing the GPU SKU (case-insensitive), as in virtual-kubelet.
pub const GPU_TYPE_ANNOTATION: &str = "virtual-kubelet.io/gpu-type";

/// ACI GPU SKUs (`gpu.sku`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum GpuSku {
    /// NVIDIA Tesla K80.
    K80,
    /// NVIDIA Tesla P100.
    P100,
    /// NVIDIA Tesla V100.
    V100,
}

impl GpuSku {
    /// Parses ACI's spelling, case-insensitively; `None` for unknown names
    /// and for the capabilities API's `"None"`.
    #[must_use]
    pub fn from_aci(s: &str) -> Option<Self> {
        [Self::K80, Self::P100, Self::V100]
            .into_iter()
            .find(|sku| sku.as_str().eq_ignore_ascii_case(s.trim()))
    }

    /// ACI's spelling.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::K80 => "K80",
            Self::P100 => "P100",
            Self::V100 => "V100",
        }
    }
}

impl fmt::Display for GpuSku {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A GPU allocation (`{"count": n, "sku": "..."}`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct GpuResource {
    /// Number of GPUs.
    pub count: u32,
    /// GPU SKU.
    pub sku: GpuSku,
}

/// The container's GPU count from `nvidia.com/gpu` (request, else limit).
///
/// Kubernetes does not overcommit extended resources, so when both are given
/// they must be equal.
pub(crate) fn gpu_count(
    container: &str,
    requests: Option<&BTreeMap<String, Quantity>>,
    limits: Option<&BTreeMap<String, Quantity>>,
) -> Result<u32, Error> {
    let count = |q: &Quantity| -> Result<u32, Error> {
        let invalid = || Error::InvalidGpuCount {
            container: container.to_owned(),
            input: q.0.clone(),
        };
        let exact = ExactQuantity::from_k8s(q).map_err(|_| invalid())?;
        exact
            .as_whole_units()
            .and_then(|n| u32::try_from(n).ok())
            .ok_or_else(invalid)
    };
    let request = requests
        .and_then(|m| m.get(GPU_RESOURCE))
        .map(count)
        .transpose()?;
    let limit = limits
        .and_then(|m| m.get(GPU_RESOURCE))
        .map(count)
        .transpose()?;
    match (request, limit) {
        (Some(request), Some(limit)) if request != limit => Err(Error::GpuRequestLimitMismatch {
            container: container.to_owned(),
            request,
            limit,
        }),
        (Some(n), _) | (None, Some(n)) => Ok(n),
        (None, None) => Ok(0),
    }
}

/// Chooses the GPU SKU: the annotation if present (it must be offered), else
/// `preferred` if offered, else the first offered SKU.
pub(crate) fn choose_sku(
    annotation: Option<&str>,
    preferred: Option<GpuSku>,
    offered: &[GpuSku],
    os: crate::OsType,
) -> Result<Option<GpuSku>, Error> {
    if let Some(wanted) = annotation {
        return match GpuSku::from_aci(wanted).filter(|s| offered.contains(s)) {
            Some(sku) => Ok(Some(sku)),
            None => Err(Error::UnknownGpuSku {
                requested: wanted.to_owned(),
                os,
                available: offered.to_vec(),
            }),
        };
    }
    Ok(preferred
        .filter(|p| offered.contains(p))
        .or_else(|| offered.first().copied()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::OsType;

    fn map(v: &str) -> BTreeMap<String, Quantity> {
        BTreeMap::from([(GPU_RESOURCE.to_owned(), Quantity(v.to_owned()))])
    }

    #[test]
    fn count_from_request_or_limit() {
        assert_eq!(gpu_count("c", None, None), Ok(0));
        assert_eq!(gpu_count("c", Some(&map("2")), None), Ok(2));
        assert_eq!(gpu_count("c", None, Some(&map("1"))), Ok(1));
        assert_eq!(gpu_count("c", Some(&map("1")), Some(&map("1"))), Ok(1));
        assert!(matches!(
            gpu_count("c", Some(&map("1")), Some(&map("2"))),
            Err(Error::GpuRequestLimitMismatch { .. })
        ));
        for bad in ["0.5", "-1", "x", "500m"] {
            assert!(
                matches!(gpu_count("c", None, Some(&map(bad))), Err(Error::InvalidGpuCount { ref input, .. }) if input == bad),
                "{bad}"
            );
        }
    }

    #[test]
    fn sku_choice() {
        let offered = [GpuSku::K80, GpuSku::V100];
        assert_eq!(
            choose_sku(Some("v100"), None, &offered, OsType::Linux),
            Ok(Some(GpuSku::V100))
        );
        assert_eq!(
            choose_sku(None, Some(GpuSku::V100), &offered, OsType::Linux),
            Ok(Some(GpuSku::V100))
        );
        assert_eq!(
            choose_sku(None, Some(GpuSku::P100), &offered, OsType::Linux),
            Ok(Some(GpuSku::K80))
        );
        assert_eq!(choose_sku(None, None, &[], OsType::Linux), Ok(None));
        assert!(matches!(
            choose_sku(Some("P100"), None, &offered, OsType::Linux),
            Err(Error::UnknownGpuSku { .. })
        ));
    }
}
