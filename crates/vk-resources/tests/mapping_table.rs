//! The worked examples of `docs/resource-mapping.md`, one test each, plus
//! property tests of the mapping. Keep the two in step.

use k8s_openapi::api::core::v1::Pod;
use serde_json::{Value, json};
use vk_resources::{
    ContainerKind, Cpu, Error, GpuResource, GpuSku, GroupLimits, GroupSku, GroupTarget, LimitRow,
    MemoryGb, OsType, PodSizing, Sizer, SizingConfig, SizingWarning,
};

fn pod(containers: Value) -> Pod {
    pod_with(containers, json!([]), json!({}))
}

fn pod_with(containers: Value, init: Value, annotations: Value) -> Pod {
    serde_json::from_value(json!({
        "metadata": {"name": "p", "namespace": "ns", "annotations": annotations},
        "spec": {"containers": containers, "initContainers": init}
    }))
    .expect("valid pod")
}

fn c(name: &str, resources: Value) -> Value {
    json!({"name": name, "image": "img", "resources": resources})
}

fn size(p: &Pod) -> Result<PodSizing, Error> {
    Sizer::default().size_pod(p, GroupTarget::default())
}

/// `(cpu, memory)` requests of each container, as ACI JSON numbers.
fn requests(s: &PodSizing) -> Vec<(f64, f64)> {
    s.containers
        .iter()
        .map(|c| (c.requests.cpu.as_f64(), c.requests.memory.as_f64()))
        .collect()
}

fn gpu_limits() -> GroupLimits {
    let mut limits = GroupLimits::default();
    limits.upsert(LimitRow {
        os: OsType::Linux,
        sku: GroupSku::Standard,
        gpu: Some(GpuSku::K80),
        max_cpu: Cpu::cores(4),
        max_memory: MemoryGb::gb(14),
        max_gpu_count: 4,
    });
    limits.upsert(LimitRow {
        os: OsType::Linux,
        sku: GroupSku::Standard,
        gpu: Some(GpuSku::V100),
        max_cpu: Cpu::cores(6),
        max_memory: MemoryGb::gb(112),
        max_gpu_count: 1,
    });
    limits
}

// --- Table rows -----------------------------------------------------------

#[test]
fn row01_cpu_request_2_gives_2_cpus() {
    let s = size(&pod(json!([c("app", json!({"requests": {"cpu": "2"}}))]))).unwrap();
    assert_eq!(requests(&s), vec![(2.0, 1.5)]);
    assert_eq!(s.containers[0].requests.cpu, Cpu(200));
}

#[test]
fn row02_100m_gives_0_1_cpu() {
    let s = size(&pod(json!([c(
        "app",
        json!({"requests": {"cpu": "100m"}})
    )])))
    .unwrap();
    assert_eq!(s.containers[0].requests.cpu, Cpu(10));
}

#[test]
fn row03_155m_rounds_up_to_0_16() {
    let s = size(&pod(json!([c(
        "app",
        json!({"requests": {"cpu": "155m"}})
    )])))
    .unwrap();
    assert_eq!(s.containers[0].requests.cpu, Cpu(16));
}

#[test]
fn row04_1m_gives_the_minimum_0_01() {
    let s = size(&pod(json!([c(
        "app",
        json!({"requests": {"cpu": "1m", "memory": "1"}})
    )])))
    .unwrap();
    assert_eq!(requests(&s), vec![(0.01, 0.1)]);
}

#[test]
fn row05_512mi_gives_0_6_gb() {
    let s = size(&pod(json!([c(
        "app",
        json!({"requests": {"memory": "512Mi"}})
    )])))
    .unwrap();
    assert_eq!(s.containers[0].requests.memory, MemoryGb(6));
}

#[test]
fn row06_1_5gi_gives_1_7_gb() {
    let s = size(&pod(json!([c(
        "app",
        json!({"requests": {"memory": "1.5Gi"}})
    )])))
    .unwrap();
    assert_eq!(s.containers[0].requests.memory, MemoryGb(17));
}

#[test]
fn row07_1g_gives_exactly_1_gb_and_1gi_gives_1_1() {
    let s = size(&pod(json!([
        c("a", json!({"requests": {"memory": "1G"}})),
        c("b", json!({"requests": {"memory": "1Gi"}}))
    ])))
    .unwrap();
    assert_eq!(s.containers[0].requests.memory, MemoryGb(10));
    assert_eq!(s.containers[1].requests.memory, MemoryGb(11));
}

#[test]
fn row08_nothing_requested_gives_1_cpu_1_5_gb() {
    let s = size(&pod(json!([{"name": "app", "image": "img"}]))).unwrap();
    assert_eq!(requests(&s), vec![(1.0, 1.5)]);
    assert!(s.containers[0].limits.is_empty());
}

#[test]
fn row09_defaults_are_configurable() {
    let config = SizingConfig {
        default_cpu: Cpu(50),
        default_memory: MemoryGb(5),
        ..SizingConfig::default()
    };
    let s = Sizer::new(config, GroupLimits::default())
        .size_pod(
            &pod(json!([{"name": "app", "image": "img"}])),
            GroupTarget::default(),
        )
        .unwrap();
    assert_eq!(requests(&s), vec![(0.5, 0.5)]);
    // Group minimum for accounting stays 1 CPU / 1 GB.
    assert_eq!(s.accounted.cpu, Cpu(100));
    assert_eq!(s.accounted.memory, MemoryGb(10));
}

#[test]
fn row10_limits_only_take_limits_as_requests() {
    let s = size(&pod(json!([c(
        "app",
        json!({"limits": {"cpu": "500m", "memory": "1Gi"}})
    )])))
    .unwrap();
    assert_eq!(requests(&s), vec![(0.5, 1.1)]);
    assert_eq!(s.containers[0].limits.cpu, Some(Cpu(50)));
    assert_eq!(s.containers[0].limits.memory, Some(MemoryGb(11)));
}

#[test]
fn row11_limit_above_group_total_is_clamped() {
    let s = size(&pod(json!([c(
        "app",
        json!({"requests": {"cpu": "1", "memory": "1G"}, "limits": {"cpu": "2", "memory": "4G"}})
    )])))
    .unwrap();
    assert_eq!(s.containers[0].limits.cpu, Some(Cpu(100)));
    assert_eq!(s.containers[0].limits.memory, Some(MemoryGb(10)));
    assert_eq!(
        s.warnings
            .iter()
            .filter(|w| matches!(w, SizingWarning::LimitClamped { .. }))
            .count(),
        2
    );
}

#[test]
fn row12_multi_container_totals_and_limit_within_group() {
    let s = size(&pod(json!([
        c(
            "app",
            json!({"requests": {"cpu": "250m", "memory": "256Mi"}, "limits": {"cpu": "1"}})
        ),
        c(
            "sidecar",
            json!({"requests": {"cpu": "500m", "memory": "512Mi"}})
        )
    ])))
    .unwrap();
    assert_eq!(requests(&s), vec![(0.25, 0.3), (0.5, 0.6)]);
    assert_eq!(s.totals.cpu, Cpu(75));
    assert_eq!(s.totals.memory, MemoryGb(9));
    // Limit 1 CPU > group total 0.75 → clamped to 0.75.
    assert_eq!(s.containers[0].limits.cpu, Some(Cpu(75)));
    assert_eq!(s.accounted.cpu, Cpu(100));
}

#[test]
fn row13_init_container_larger_than_apps_raises_first_container() {
    let s = size(&pod_with(
        json!([c(
            "app",
            json!({"requests": {"cpu": "500m", "memory": "1G"}})
        )]),
        json!([c(
            "migrate",
            json!({"requests": {"cpu": "2", "memory": "512M"}})
        )]),
        json!({}),
    ))
    .unwrap();
    assert_eq!(requests(&s), vec![(2.0, 1.0)]);
    assert_eq!(
        s.warnings,
        vec![SizingWarning::InitContainerRaisedGroup {
            init_container: "migrate".into(),
            resource: "cpu",
            raised: "app".into()
        }]
    );
}

#[test]
fn row14_gpu_limit_gives_gpu_with_annotated_sku() {
    let p = pod_with(
        json!([c(
            "train",
            json!({"limits": {"nvidia.com/gpu": "1"}, "requests": {"cpu": "2", "memory": "8G"}})
        )]),
        json!([]),
        json!({"virtual-kubelet.io/gpu-type": "v100"}),
    );
    let s = Sizer::new(SizingConfig::default(), gpu_limits())
        .size_pod(&p, GroupTarget::default())
        .unwrap();
    let gpu = Some(GpuResource {
        count: 1,
        sku: GpuSku::V100,
    });
    assert_eq!(s.containers[0].requests.gpu, gpu);
    assert_eq!(s.containers[0].limits.gpu, gpu);
    assert_eq!(s.totals.gpu, gpu);
}

#[test]
fn row15_gpu_without_annotation_uses_first_offered_or_configured() {
    let p = pod(json!([c(
        "train",
        json!({"limits": {"nvidia.com/gpu": "2"}})
    )]));
    let s = Sizer::new(SizingConfig::default(), gpu_limits())
        .size_pod(&p, GroupTarget::default())
        .unwrap();
    assert_eq!(s.totals.gpu.map(|g| g.sku), Some(GpuSku::K80));
    let config = SizingConfig {
        default_gpu_sku: Some(GpuSku::V100),
        ..SizingConfig::default()
    };
    // V100 rows allow only one GPU per group.
    let err = Sizer::new(config, gpu_limits())
        .size_pod(&p, GroupTarget::default())
        .unwrap_err();
    assert!(matches!(
        err,
        Error::ExceedsGroupMaximum {
            resource: "nvidia.com/gpu",
            gpu: Some(GpuSku::V100),
            ..
        }
    ));
}

#[test]
fn row16_gpu_errors() {
    let p = pod(json!([c(
        "train",
        json!({"limits": {"nvidia.com/gpu": "1"}})
    )]));
    assert!(matches!(size(&p), Err(Error::GpuUnavailable { .. })));
    let windows = GroupTarget {
        os: OsType::Windows,
        sku: GroupSku::Standard,
    };
    assert!(matches!(
        Sizer::new(SizingConfig::default(), gpu_limits()).size_pod(&p, windows),
        Err(Error::GpuOnWindows { .. })
    ));
    let annotated = pod_with(
        json!([c("train", json!({"limits": {"nvidia.com/gpu": "1"}}))]),
        json!([]),
        json!({"virtual-kubelet.io/gpu-type": "P100"}),
    );
    assert!(matches!(
        Sizer::new(SizingConfig::default(), gpu_limits())
            .size_pod(&annotated, GroupTarget::default()),
        Err(Error::UnknownGpuSku { .. })
    ));
}

#[test]
fn row17_ephemeral_storage_and_unknown_resources_are_warnings() {
    let s = size(&pod(json!([c(
        "app",
        json!({"requests": {"ephemeral-storage": "1Gi", "example.com/dongle": "1"}})
    )])))
    .unwrap();
    assert_eq!(
        s.warnings,
        vec![
            SizingWarning::EphemeralStorageIgnored {
                container: "app".into()
            },
            SizingWarning::ResourceIgnored {
                container: "app".into(),
                resource: "example.com/dongle".into()
            },
        ]
    );
    let err = size(&pod(json!([c(
        "app",
        json!({"limits": {"hugepages-2Mi": "2Mi"}})
    )])))
    .unwrap_err();
    assert!(matches!(err, Error::UnsupportedResource { .. }));
}

#[test]
fn row18_group_maxima() {
    let err = size(&pod(json!([c("app", json!({"requests": {"cpu": "32"}}))]))).unwrap_err();
    assert_eq!(
        err,
        Error::ExceedsGroupMaximum {
            resource: "cpu",
            requested: "32.00".into(),
            maximum: "31.00".into(),
            os: OsType::Linux,
            sku: GroupSku::Standard,
            gpu: None,
        }
    );
    let confidential = GroupTarget {
        os: OsType::Linux,
        sku: GroupSku::Confidential,
    };
    let err = Sizer::default()
        .size_pod(
            &pod(json!([c("app", json!({"requests": {"memory": "200G"}}))])),
            confidential,
        )
        .unwrap_err();
    assert!(matches!(
        err,
        Error::ExceedsGroupMaximum {
            resource: "memory",
            ..
        }
    ));
    let windows_confidential = GroupTarget {
        os: OsType::Windows,
        sku: GroupSku::Confidential,
    };
    assert!(matches!(
        Sizer::default().size_pod(&pod(json!([c("app", json!({}))])), windows_confidential),
        Err(Error::NoGroupLimits { .. })
    ));
}

#[test]
fn row19_windows_single_container_only() {
    let windows = GroupTarget {
        os: OsType::Windows,
        sku: GroupSku::Standard,
    };
    let err = Sizer::default()
        .size_pod(&pod(json!([c("a", json!({})), c("b", json!({}))])), windows)
        .unwrap_err();
    assert!(matches!(err, Error::WindowsMultiContainer { count: 2, .. }));
}

#[test]
fn row20_native_sidecars_run_as_containers_and_count_for_init_needs() {
    let s = size(&pod_with(
        json!([c(
            "app",
            json!({"requests": {"cpu": "250m", "memory": "1G"}})
        )]),
        json!([
            {"name": "proxy", "image": "img", "restartPolicy": "Always",
             "resources": {"requests": {"cpu": "500m", "memory": "512M"}}},
            c("setup", json!({"requests": {"cpu": "1"}}))
        ]),
        json!({}),
    ))
    .unwrap();
    let names: Vec<(&str, ContainerKind)> = s
        .containers
        .iter()
        .map(|c| (c.name.as_str(), c.kind))
        .collect();
    assert_eq!(
        names,
        vec![
            ("proxy", ContainerKind::Sidecar),
            ("app", ContainerKind::App)
        ]
    );
    // setup needs 1 CPU next to the 0.5 CPU sidecar = 1.5 > 0.75 → app raised by 0.75.
    assert_eq!(requests(&s), vec![(0.5, 0.6), (1.0, 1.0)]);
    assert_eq!(s.totals.cpu, Cpu(150));
    assert_eq!(s.totals.memory, MemoryGb(16));
}

#[test]
fn invalid_inputs_are_named() {
    let err = size(&pod(json!([c("app", json!({"requests": {"cpu": "two"}}))]))).unwrap_err();
    assert!(err.to_string().contains("\"app\""), "{err}");
    assert!(matches!(err, Error::ContainerQuantity { .. }));
    let err = size(&pod(json!([c(
        "app",
        json!({"requests": {"memory": "-1Gi"}})
    )])))
    .unwrap_err();
    assert!(matches!(err, Error::NegativeQuantity { .. }));
    let err = size(&pod(json!([c(
        "app",
        json!({"requests": {"cpu": "2"}, "limits": {"cpu": "1"}})
    )])))
    .unwrap_err();
    assert!(matches!(err, Error::LimitBelowRequest { .. }));
    assert!(matches!(
        size(&pod(json!([]))),
        Err(Error::NoContainers { .. })
    ));
    let err = size(&pod_with(
        json!([c("app", json!({}))]),
        json!([c("init", json!({"limits": {"nvidia.com/gpu": "1"}}))]),
        json!({}),
    ))
    .unwrap_err();
    assert!(matches!(err, Error::GpuInInitContainer { .. }));
}

#[test]
fn json_numbers_for_aci() {
    let s = size(&pod(json!([c(
        "app",
        json!({"requests": {"cpu": "1.5", "memory": "2.5G"}})
    )])))
    .unwrap();
    let r = &s.containers[0].requests;
    assert_eq!(serde_json::to_value(r.cpu.as_f64()).unwrap(), json!(1.5));
    assert_eq!(serde_json::to_value(r.memory.as_f64()).unwrap(), json!(2.5));
}

// --- Properties -------------------------------------------------------------

mod props {
    use super::*;
    use proptest::prelude::*;
    use vk_resources::ExactQuantity;

    /// cpu request, cpu limit, memory request, memory limit.
    type Spec = (
        Option<String>,
        Option<String>,
        Option<String>,
        Option<String>,
    );

    fn cpu_string() -> impl Strategy<Value = String> {
        prop_oneof![
            (1u32..4000).prop_map(|m| format!("{m}m")),
            (1u32..8).prop_map(|c| c.to_string()),
            (1u32..999).prop_map(|c| format!("0.{c:03}")),
            (1u32..4000).prop_map(|u| format!("{u}e-3")),
        ]
    }

    fn memory_string() -> impl Strategy<Value = String> {
        prop_oneof![
            (1u32..4096).prop_map(|m| format!("{m}Mi")),
            (1u32..4000).prop_map(|m| format!("{m}M")),
            (1u32..4).prop_map(|g| format!("{g}Gi")),
            (1u64..4_000_000_000).prop_map(|b| b.to_string()),
            (1u32..30).prop_map(|g| format!("{}.{}Gi", g / 10, g % 10)),
        ]
    }

    /// A container's resources: each of request/limit for cpu/memory may be absent.
    fn resources() -> impl Strategy<
        Value = (
            Option<String>,
            Option<String>,
            Option<String>,
            Option<String>,
        ),
    > {
        (
            proptest::option::of(cpu_string()),
            proptest::option::of(cpu_string()),
            proptest::option::of(memory_string()),
            proptest::option::of(memory_string()),
        )
    }

    fn build(containers: &[Spec]) -> Pod {
        let list: Vec<Value> = containers
            .iter()
            .enumerate()
            .map(|(i, (cr, cl, mr, ml))| {
                let mut requests = serde_json::Map::new();
                let mut limits = serde_json::Map::new();
                // Keep limit ≥ request, as the API server does.
                let (cr, cl) = order(cr, cl);
                let (mr, ml) = order(mr, ml);
                if let Some(v) = cr {
                    requests.insert("cpu".into(), json!(v));
                }
                if let Some(v) = cl {
                    limits.insert("cpu".into(), json!(v));
                }
                if let Some(v) = mr {
                    requests.insert("memory".into(), json!(v));
                }
                if let Some(v) = ml {
                    limits.insert("memory".into(), json!(v));
                }
                c(
                    &format!("c{i}"),
                    json!({"requests": requests, "limits": limits}),
                )
            })
            .collect();
        pod(Value::Array(list))
    }

    fn order(a: &Option<String>, b: &Option<String>) -> (Option<String>, Option<String>) {
        match (a, b) {
            (Some(x), Some(y)) => {
                let (qx, qy) = (
                    ExactQuantity::parse(x).expect("valid"),
                    ExactQuantity::parse(y).expect("valid"),
                );
                if qx.nanos() <= qy.nanos() {
                    (a.clone(), b.clone())
                } else {
                    (b.clone(), a.clone())
                }
            }
            _ => (a.clone(), b.clone()),
        }
    }

    fn wanted(r: &Option<String>, l: &Option<String>) -> Option<ExactQuantity> {
        r.as_ref()
            .or(l.as_ref())
            .map(|s| ExactQuantity::parse(s).expect("valid"))
    }

    proptest! {
        #[test]
        fn never_under_allocates_and_meets_granularity(
            specs in proptest::collection::vec(resources(), 1..5)
        ) {
            let p = build(&specs);
            let s = size(&p).unwrap();
            prop_assert_eq!(s.containers.len(), specs.len());
            for (sz, (cr, cl, mr, ml)) in s.containers.iter().zip(&specs) {
                let (cr, cl) = order(cr, cl);
                let (mr, ml) = order(mr, ml);
                // Never under-allocates: ACI request ≥ Kubernetes effective request.
                if let Some(want) = wanted(&cr, &cl) {
                    prop_assert!(i128::from(sz.requests.cpu.centicores()) * 10_000_000 >= want.nanos());
                } else {
                    prop_assert_eq!(sz.requests.cpu, Cpu(100));
                }
                if let Some(want) = wanted(&mr, &ml) {
                    prop_assert!(i128::from(sz.requests.memory.bytes()) * 1_000_000_000 >= want.nanos());
                } else {
                    prop_assert_eq!(sz.requests.memory, MemoryGb(15));
                }
                // Rounding adds less than one step.
                if let Some(want) = wanted(&cr, &cl) {
                    prop_assert!(i128::from(sz.requests.cpu.centicores() - 1) * 10_000_000 < want.nanos());
                }
                if let Some(want) = wanted(&mr, &ml) {
                    prop_assert!(i128::from(sz.requests.memory.decigigabytes() - 1) * 100_000_000_000_000_000 < want.nanos());
                }
                // ACI granularity: the JSON numbers are exact multiples of 0.01 / 0.1.
                let cpu = sz.requests.cpu.as_f64();
                prop_assert!(((cpu * 100.0).round() - cpu * 100.0).abs() < 1e-9);
                let mem = sz.requests.memory.as_f64();
                prop_assert!(((mem * 10.0).round() - mem * 10.0).abs() < 1e-9);
                // Limits: at least the request, at most the group total.
                if let Some(l) = sz.limits.cpu {
                    prop_assert!(l >= sz.requests.cpu && l <= s.totals.cpu);
                }
                if let Some(l) = sz.limits.memory {
                    prop_assert!(l >= sz.requests.memory && l <= s.totals.memory);
                }
            }
            // Totals are the sum of the containers.
            let cpu: u32 = s.containers.iter().map(|c| c.requests.cpu.centicores()).sum();
            let mem: u32 = s.containers.iter().map(|c| c.requests.memory.decigigabytes()).sum();
            prop_assert_eq!(s.totals.cpu, Cpu(cpu));
            prop_assert_eq!(s.totals.memory, MemoryGb(mem));
            prop_assert!(s.accounted.cpu >= s.totals.cpu && s.accounted.cpu >= Cpu(100));
            prop_assert!(s.accounted.memory >= s.totals.memory && s.accounted.memory >= MemoryGb(10));
        }

        #[test]
        fn init_containers_never_leave_the_group_short(
            app in proptest::collection::vec(resources(), 1..3),
            init in proptest::collection::vec(resources(), 0..3),
        ) {
            let app_pod = build(&app);
            let init_pod = build(&init);
            let mut p = app_pod.clone();
            if let (Some(spec), Some(init_spec)) = (p.spec.as_mut(), init_pod.spec) {
                let mut inits = init_spec.containers;
                for (i, c) in inits.iter_mut().enumerate() { c.name = format!("init{i}"); }
                spec.init_containers = Some(inits);
            }
            let with_init = size(&p).unwrap();
            let without = size(&app_pod).unwrap();
            prop_assert!(with_init.totals.cpu >= without.totals.cpu);
            prop_assert!(with_init.totals.memory >= without.totals.memory);
            for (i, (cr, cl, mr, ml)) in init.iter().enumerate() {
                let _ = i;
                let (cr, cl) = order(cr, cl);
                let (mr, ml) = order(mr, ml);
                if let Some(want) = wanted(&cr, &cl) {
                    prop_assert!(i128::from(with_init.totals.cpu.centicores()) * 10_000_000 >= want.nanos());
                }
                if let Some(want) = wanted(&mr, &ml) {
                    prop_assert!(i128::from(with_init.totals.memory.bytes()) * 1_000_000_000 >= want.nanos());
                }
            }
        }
    }
}
