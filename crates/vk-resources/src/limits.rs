//! ACI's per-container-group maxima, from configuration or from the
//! capabilities API (`GET .../locations/{location}/capabilities`).

use serde::{Deserialize, Serialize};

use crate::{Cpu, GpuSku, GroupSku, IpAddressType, MemoryGb, OsType};

/// The most a single container group may have, for one OS / SKU / GPU SKU.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct LimitRow {
    /// The group's OS.
    pub os: OsType,
    /// The group's SKU.
    pub sku: GroupSku,
    /// The GPU SKU this row is for; `None` for groups without GPUs.
    pub gpu: Option<GpuSku>,
    /// Most CPU per group.
    pub max_cpu: Cpu,
    /// Most memory per group.
    pub max_memory: MemoryGb,
    /// Most GPUs per group (0 for rows without a GPU SKU).
    pub max_gpu_count: u32,
}

/// Per-group maxima for every OS / SKU / GPU combination that is offered.
///
/// [`GroupLimits::default`] is ACI's documented hard maxima (resource and
/// quota limits page, November 2025): Standard and Dedicated, Linux and
/// Windows, 31 CPU / 240 GB; Confidential (Linux only) 31 CPU / 180 GB; no
/// GPU rows, since GPU SKUs depend on the region (V100 was retired in July
/// 2025) and must come from configuration or [`GroupLimits::from_capabilities`].
/// Dedicated is assumed to share Standard's maxima (not documented separately).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GroupLimits {
    /// The offered combinations.
    pub rows: Vec<LimitRow>,
}

impl Default for GroupLimits {
    fn default() -> Self {
        let row = |os, sku, cpu, mem| LimitRow {
            os,
            sku,
            gpu: None,
            max_cpu: Cpu::cores(cpu),
            max_memory: MemoryGb::gb(mem),
            max_gpu_count: 0,
        };
        Self {
            rows: vec![
                row(OsType::Linux, GroupSku::Standard, 31, 240),
                row(OsType::Windows, GroupSku::Standard, 31, 240),
                row(OsType::Linux, GroupSku::Dedicated, 31, 240),
                row(OsType::Windows, GroupSku::Dedicated, 31, 240),
                row(OsType::Linux, GroupSku::Confidential, 31, 180),
            ],
        }
    }
}

impl GroupLimits {
    /// Builds rows for `sku` from the capabilities API's list, keeping those
    /// for container groups with the given IP address type. Rows with an
    /// unknown OS or GPU name are skipped; maxima are rounded **down** to
    /// ACI's granularity. The capabilities API does not distinguish group
    /// SKUs, so the caller says which SKU the rows apply to (use
    /// [`GroupLimits::extend`] to combine several).
    #[must_use]
    pub fn from_capabilities(
        capabilities: &[Capability],
        ip_address_type: IpAddressType,
        sku: GroupSku,
    ) -> Self {
        let rows = capabilities
            .iter()
            .filter(|c| {
                c.resource_type
                    .as_deref()
                    .is_none_or(|t| t.eq_ignore_ascii_case("containerGroups"))
            })
            .filter(|c| {
                c.ip_address_type
                    .as_deref()
                    .is_none_or(|t| IpAddressType::from_aci(t) == Some(ip_address_type))
            })
            .filter_map(|c| {
                let os = OsType::from_aci(c.os_type.as_deref()?)?;
                let gpu = match c.gpu.as_deref().map(str::trim) {
                    None | Some("" | "None" | "none") => None,
                    Some(name) => Some(GpuSku::from_aci(name)?),
                };
                let caps = c.capabilities.as_ref()?;
                Some(LimitRow {
                    os,
                    sku,
                    gpu,
                    max_cpu: Cpu(floor_scaled(caps.max_cpu?, 100.0)),
                    max_memory: MemoryGb(floor_scaled(caps.max_memory_in_gb?, 10.0)),
                    max_gpu_count: if gpu.is_some() {
                        floor_scaled(caps.max_gpu_count.unwrap_or(0.0), 1.0)
                    } else {
                        0
                    },
                })
            });
        let mut limits = Self { rows: Vec::new() };
        for row in rows {
            limits.upsert(row);
        }
        limits
    }

    /// These maxima, capped at `max_cpu` cores and `max_memory_gb` GB per group
    /// (a subscription may allow less than the region's hard maxima).
    #[must_use]
    pub fn capped(mut self, max_cpu: f64, max_memory_gb: f64) -> Self {
        let max_cpu = Cpu::from_millicores_ceil((max_cpu * 1000.0) as i128);
        let max_memory = MemoryGb::from_bytes_ceil((max_memory_gb * 1e9) as i128);
        for row in &mut self.rows {
            row.max_cpu = row.max_cpu.min(max_cpu);
            row.max_memory = row.max_memory.min(max_memory);
        }
        self
    }

    /// Adds rows, replacing existing rows for the same OS / SKU / GPU.
    pub fn extend(&mut self, other: GroupLimits) {
        for row in other.rows {
            self.upsert(row);
        }
    }

    /// Adds one row, replacing an existing row for the same OS / SKU / GPU.
    pub fn upsert(&mut self, row: LimitRow) {
        match self
            .rows
            .iter_mut()
            .find(|r| (r.os, r.sku, r.gpu) == (row.os, row.sku, row.gpu))
        {
            Some(existing) => *existing = row,
            None => self.rows.push(row),
        }
    }

    /// The row for a combination, if it is offered.
    #[must_use]
    pub fn find(&self, os: OsType, sku: GroupSku, gpu: Option<GpuSku>) -> Option<&LimitRow> {
        self.rows
            .iter()
            .find(|r| (r.os, r.sku, r.gpu) == (os, sku, gpu))
    }

    /// GPU SKUs offered for an OS and group SKU, in row order, without duplicates.
    #[must_use]
    pub fn gpu_skus(&self, os: OsType, sku: GroupSku) -> Vec<GpuSku> {
        let mut out = Vec::new();
        for row in &self.rows {
            if row.os == os
                && row.sku == sku
                && row.max_gpu_count > 0
                && let Some(gpu) = row.gpu
                && !out.contains(&gpu)
            {
                out.push(gpu);
            }
        }
        out
    }
}

/// `floor(value × scale)` as `u32`, saturating; NaN and negatives give 0.
fn floor_scaled(value: f64, scale: f64) -> u32 {
    // The small epsilon absorbs binary noise such as 4.1 × 100 = 409.99999999999994.
    let scaled = (value * scale + 1e-6).floor();
    if scaled.is_nan() || scaled <= 0.0 {
        0
    } else if scaled >= f64::from(u32::MAX) {
        u32::MAX
    } else {
        // In range and integral, so the conversion is exact.
        #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
        let v = scaled as u32;
        v
    }
}

/// One entry of the capabilities API's `value` list, as ACI returns it.
///
/// ```
/// let json = r#"{"resourceType":"containerGroups","osType":"Linux","location":"West US",
///   "ipAddressType":"Public","gpu":"K80",
///   "capabilities":{"maxMemoryInGB":14,"maxCpu":4,"maxGpuCount":4}}"#;
/// let cap: vk_resources::Capability = serde_json::from_str(json)?;
/// assert_eq!(cap.gpu.as_deref(), Some("K80"));
/// # Ok::<(), serde_json::Error>(())
/// ```
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Capability {
    /// `resourceType`, e.g. `containerGroups`.
    #[serde(default)]
    pub resource_type: Option<String>,
    /// `osType`: `Linux` or `Windows`.
    #[serde(default)]
    pub os_type: Option<String>,
    /// `location`.
    #[serde(default)]
    pub location: Option<String>,
    /// `ipAddressType`: `Public` or `Private`.
    #[serde(default)]
    pub ip_address_type: Option<String>,
    /// `gpu`: a GPU SKU or `None`.
    #[serde(default)]
    pub gpu: Option<String>,
    /// `capabilities`: the maxima.
    #[serde(default)]
    pub capabilities: Option<CapabilityMaxima>,
}

/// The `capabilities` object of a [`Capability`] (JSON numbers).
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CapabilityMaxima {
    /// `maxMemoryInGB`.
    #[serde(default, rename = "maxMemoryInGB")]
    pub max_memory_in_gb: Option<f64>,
    /// `maxCpu`.
    #[serde(default)]
    pub max_cpu: Option<f64>,
    /// `maxGpuCount`.
    #[serde(default)]
    pub max_gpu_count: Option<f64>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn capped_lowers_only() {
        let capped = GroupLimits::default().capped(4.0, 16.0);
        let row = capped
            .find(OsType::Linux, GroupSku::Standard, None)
            .unwrap();
        assert_eq!(
            (row.max_cpu, row.max_memory),
            (
                Cpu::from_millicores_ceil(4000),
                MemoryGb::from_bytes_ceil(16_000_000_000)
            )
        );
        let row = GroupLimits::default()
            .capped(100.0, 1000.0)
            .find(OsType::Linux, GroupSku::Confidential, None)
            .copied()
            .unwrap();
        assert_eq!(row.max_memory, MemoryGb::from_bytes_ceil(180_000_000_000));
    }

    const EXAMPLE: &str = r#"{"value":[
     {"resourceType":"containerGroups","osType":"Linux","location":"West US","ipAddressType":"Public","gpu":"K80",
      "capabilities":{"maxMemoryInGB":14,"maxCpu":4,"maxGpuCount":4}},
     {"resourceType":"containerGroups","osType":"Linux","location":"West US","ipAddressType":"Public","gpu":"None",
      "capabilities":{"maxMemoryInGB":16,"maxCpu":4.1,"maxGpuCount":0}},
     {"resourceType":"containerGroups","osType":"Linux","location":"West US","ipAddressType":"Private","gpu":"None",
      "capabilities":{"maxMemoryInGB":8,"maxCpu":2,"maxGpuCount":0}},
     {"resourceType":"containerGroups","osType":"Windows","location":"West US","ipAddressType":"Public","gpu":"None",
      "capabilities":{"maxMemoryInGB":14,"maxCpu":4,"maxGpuCount":0}},
     {"resourceType":"containerGroups","osType":"Plan9","ipAddressType":"Public","gpu":"None",
      "capabilities":{"maxMemoryInGB":14,"maxCpu":4,"maxGpuCount":0}},
     {"resourceType":"containerGroups","osType":"Linux","ipAddressType":"Public","gpu":"H200",
      "capabilities":{"maxMemoryInGB":14,"maxCpu":4,"maxGpuCount":8}}]}"#;

    #[derive(Deserialize)]
    struct List {
        value: Vec<Capability>,
    }

    #[test]
    fn builds_rows_from_capabilities_json() {
        let list: List = serde_json::from_str(EXAMPLE).unwrap();
        let limits =
            GroupLimits::from_capabilities(&list.value, IpAddressType::Public, GroupSku::Standard);
        assert_eq!(limits.rows.len(), 3);
        let k80 = limits
            .find(OsType::Linux, GroupSku::Standard, Some(GpuSku::K80))
            .unwrap();
        assert_eq!(
            (k80.max_cpu, k80.max_memory, k80.max_gpu_count),
            (Cpu(400), MemoryGb(140), 4)
        );
        let linux = limits
            .find(OsType::Linux, GroupSku::Standard, None)
            .unwrap();
        assert_eq!((linux.max_cpu, linux.max_memory), (Cpu(410), MemoryGb(160)));
        assert!(
            limits
                .find(OsType::Windows, GroupSku::Standard, None)
                .is_some()
        );
        assert_eq!(
            limits.gpu_skus(OsType::Linux, GroupSku::Standard),
            vec![GpuSku::K80]
        );
        assert!(
            limits
                .gpu_skus(OsType::Windows, GroupSku::Standard)
                .is_empty()
        );

        let private =
            GroupLimits::from_capabilities(&list.value, IpAddressType::Private, GroupSku::Standard);
        assert_eq!(private.rows.len(), 1);
        assert_eq!(private.rows[0].max_cpu, Cpu(200));
    }

    #[test]
    fn defaults_are_documented_maxima() {
        let d = GroupLimits::default();
        let row = d.find(OsType::Linux, GroupSku::Standard, None).unwrap();
        assert_eq!(
            (row.max_cpu, row.max_memory),
            (Cpu::cores(31), MemoryGb::gb(240))
        );
        assert!(
            d.find(OsType::Windows, GroupSku::Confidential, None)
                .is_none()
        );
        assert!(d.gpu_skus(OsType::Linux, GroupSku::Standard).is_empty());
    }

    #[test]
    fn extend_replaces_same_combination() {
        let mut d = GroupLimits::default();
        let n = d.rows.len();
        d.upsert(LimitRow {
            os: OsType::Linux,
            sku: GroupSku::Standard,
            gpu: None,
            max_cpu: Cpu::cores(4),
            max_memory: MemoryGb::gb(16),
            max_gpu_count: 0,
        });
        assert_eq!(d.rows.len(), n);
        assert_eq!(
            d.find(OsType::Linux, GroupSku::Standard, None)
                .unwrap()
                .max_cpu,
            Cpu(400)
        );
    }

    #[test]
    fn floor_scaled_edges() {
        assert_eq!(floor_scaled(f64::NAN, 100.0), 0);
        assert_eq!(floor_scaled(-1.0, 100.0), 0);
        assert_eq!(floor_scaled(1e30, 100.0), u32::MAX);
        assert_eq!(floor_scaled(1.999, 10.0), 19);
    }
}
