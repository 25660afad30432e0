//! `aci-emulator`: serves the ACI emulator until interrupted. The first line on
//! stdout is the base URL.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context as _;
use clap::Parser;
use vk_aci_emulator::{
    DelayRange, Emulator, EmulatorBuilder, GroupLimits, GroupMaxima, Quota, WindowLimit,
};

/// An emulator of the Azure Container Instances ARM REST API.
#[derive(Debug, Parser)]
#[command(name = "aci-emulator", version)]
struct Args {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:0", env = "ACI_EMULATOR_LISTEN")]
    listen: SocketAddr,
    /// JSON state file (loaded at start, written on change).
    #[arg(long, env = "ACI_EMULATOR_STATE_FILE")]
    state_file: Option<PathBuf>,
    /// Fast mode: no delays, no ARM throttling, no create/delete rate quotas
    /// (deliberately more lenient than ACI; other flags apply on top).
    #[arg(long)]
    fast: bool,
    /// Divide every delay, rate window and refill period by this factor.
    #[arg(long, default_value_t = 1.0)]
    time_scale: f64,
    /// Time a new deployment stays Pending, in milliseconds (default 30000).
    #[arg(long)]
    provisioning_delay_ms: Option<u64>,
    /// Image pull time of every image in milliseconds (default: by image, see
    /// --pull-cached-ms, --pull-linux-ms, --pull-windows-ms).
    #[arg(long)]
    pull_delay_ms: Option<u64>,
    /// Pull time of cached images, `MIN-MAX` or `N` milliseconds (default 2000-5000).
    #[arg(long, value_parser = parse_range)]
    pull_cached_ms: Option<DelayRange>,
    /// Pull time of other Linux images, `MIN-MAX` or `N` ms (default 15000-30000).
    #[arg(long, value_parser = parse_range)]
    pull_linux_ms: Option<DelayRange>,
    /// Pull time of other Windows images, `MIN-MAX` or `N` ms (default 120000-240000).
    #[arg(long, value_parser = parse_range)]
    pull_windows_ms: Option<DelayRange>,
    /// Container start time on every OS in milliseconds (default 1000 Linux, 15000 Windows).
    #[arg(long)]
    start_delay_ms: Option<u64>,
    /// Linux container start time in milliseconds (default 1000).
    #[arg(long)]
    start_linux_ms: Option<u64>,
    /// Windows container start time in milliseconds (default 15000).
    #[arg(long)]
    start_windows_ms: Option<u64>,
    /// Restart back-off in milliseconds (default 500).
    #[arg(long)]
    restart_backoff_ms: Option<u64>,
    /// Time a deleted group stays Deleting, in milliseconds (default 10000).
    #[arg(long)]
    delete_delay_ms: Option<u64>,
    /// Failed pulls of an image before its deployment fails (default 3;
    /// pulls go on after that).
    #[arg(long)]
    pull_attempts: Option<u32>,
    /// Back-off after the first failed pull in milliseconds, doubling after
    /// each further failure (default 10000).
    #[arg(long)]
    pull_backoff_ms: Option<u64>,
    /// Longest back-off between two pulls in milliseconds (default 300000).
    #[arg(long)]
    pull_backoff_max_ms: Option<u64>,
    /// How long after a minute starts Azure Monitor serves its usage data
    /// point, in milliseconds (default 180000).
    #[arg(long)]
    metrics_latency_ms: Option<u64>,
    /// For this long after a PUT creates a group, GETs of it answer 404 and
    /// lists omit it (ARM's eventual consistency), in milliseconds (default
    /// 0: off; not scaled by --time-scale).
    #[arg(long)]
    transient_not_found_after_put_ms: Option<u64>,
    /// Turn ARM throttling off.
    #[arg(long)]
    no_arm_throttling: bool,
    /// ARM read bucket size (default 250).
    #[arg(long)]
    arm_read_bucket: Option<u32>,
    /// ARM read refill per second (default 25).
    #[arg(long)]
    arm_read_refill: Option<u32>,
    /// ARM write bucket size (default 200).
    #[arg(long)]
    arm_write_bucket: Option<u32>,
    /// ARM write refill per second (default 10).
    #[arg(long)]
    arm_write_refill: Option<u32>,
    /// ARM delete bucket size (default 200).
    #[arg(long)]
    arm_delete_bucket: Option<u32>,
    /// ARM delete refill per second (default 10).
    #[arg(long)]
    arm_delete_refill: Option<u32>,
    /// Turn the create/delete rate quotas off.
    #[arg(long)]
    no_rate_quotas: bool,
    /// Container group creates per 5 minutes (default 100).
    #[arg(long = "creates-per-5-minutes")]
    creates_per_5_minutes: Option<u32>,
    /// Container group creates per hour (default 300).
    #[arg(long)]
    creates_per_hour: Option<u32>,
    /// Container group deletes per 5 minutes (default 100).
    #[arg(long = "deletes-per-5-minutes")]
    deletes_per_5_minutes: Option<u32>,
    /// Container group deletes per hour (default 300).
    #[arg(long)]
    deletes_per_hour: Option<u32>,
    /// Regional container group quota.
    #[arg(long, default_value_t = 100)]
    quota_groups: u32,
    /// Regional core quota.
    #[arg(long, default_value_t = 100)]
    quota_cores: u32,
    /// Per-group CPU maximum (every OS and SKU).
    #[arg(long, default_value_t = 4.0)]
    max_cpu: f64,
    /// Per-group memory maximum in GB (every OS and SKU).
    #[arg(long, default_value_t = 16.0)]
    max_memory_gb: f64,
    /// List page size.
    #[arg(long, default_value_t = 100)]
    page_size: usize,
    /// Retry-After seconds on LRO responses.
    #[arg(long, default_value_t = 1)]
    retry_after_secs: u32,
    /// Accept only these subscription ids (repeatable; default any).
    #[arg(long = "subscription")]
    subscriptions: Vec<String>,
    /// Only these resource groups exist (repeatable; default all).
    #[arg(long = "resource-group")]
    resource_groups: Vec<String>,
    /// Lifetime of issued tokens in seconds.
    #[arg(long, default_value_t = 3600)]
    token_lifetime_secs: u64,
    /// Also accept this static bearer token.
    #[arg(long, env = "ACI_EMULATOR_STATIC_TOKEN")]
    static_token: Option<String>,
    /// Do not require bearer tokens.
    #[arg(long)]
    no_auth: bool,
    /// Image substrings that are unpullable (repeatable; default "unpullable").
    #[arg(long = "unpullable")]
    unpullable: Vec<String>,
    /// GPU SKUs offered (repeatable; default none: ACI retired its GPU SKUs).
    #[arg(long = "gpu-sku")]
    gpu_skus: Vec<String>,
    /// Regions offering Spot groups (repeatable; default eastus2, westeurope, westus).
    #[arg(long = "spot-region")]
    spot_regions: Vec<String>,
}

/// `MIN-MAX` or `N` milliseconds.
fn parse_range(s: &str) -> Result<DelayRange, String> {
    let ms = |v: &str| {
        v.trim()
            .parse::<u64>()
            .map(Duration::from_millis)
            .map_err(|e| format!("{v:?}: {e}"))
    };
    match s.split_once('-') {
        Some((a, b)) => Ok(DelayRange::new(ms(a)?, ms(b)?)),
        None => Ok(DelayRange::fixed(ms(s)?)),
    }
}

/// Applies the timing, throttling and rate-quota flags.
fn rates(mut b: EmulatorBuilder, args: &Args) -> EmulatorBuilder {
    let ms = Duration::from_millis;
    if args.fast {
        b = b.fast();
    }
    b = b.time_scale(args.time_scale);
    let mut t = b.config().timings;
    if let Some(v) = args.provisioning_delay_ms {
        t.provisioning = ms(v);
    }
    if let Some(v) = args.pull_delay_ms {
        let d = DelayRange::fixed(ms(v));
        (t.pull_cached, t.pull_linux, t.pull_windows) = (d, d, d);
    }
    t.pull_cached = args.pull_cached_ms.unwrap_or(t.pull_cached);
    t.pull_linux = args.pull_linux_ms.unwrap_or(t.pull_linux);
    t.pull_windows = args.pull_windows_ms.unwrap_or(t.pull_windows);
    if let Some(v) = args.start_delay_ms {
        (t.start_linux, t.start_windows) = (ms(v), ms(v));
    }
    t.start_linux = args.start_linux_ms.map_or(t.start_linux, ms);
    t.start_windows = args.start_windows_ms.map_or(t.start_windows, ms);
    t.restart_backoff = args.restart_backoff_ms.map_or(t.restart_backoff, ms);
    t.delete = args.delete_delay_ms.map_or(t.delete, ms);
    t.pull_backoff = args.pull_backoff_ms.map_or(t.pull_backoff, ms);
    t.pull_backoff_max = args.pull_backoff_max_ms.map_or(t.pull_backoff_max, ms);
    t.metrics_latency = args.metrics_latency_ms.map_or(t.metrics_latency, ms);
    b = b.timings(t);
    if let Some(n) = args.pull_attempts {
        b = b.pull_attempts(n);
    }
    if let Some(v) = args.transient_not_found_after_put_ms {
        b = b.transient_not_found_after_put(ms(v));
    }

    let mut arm = b.config().arm_throttling;
    if args.no_arm_throttling {
        arm.enabled = false;
    }
    for (bucket, size, refill) in [
        (&mut arm.reads, args.arm_read_bucket, args.arm_read_refill),
        (
            &mut arm.writes,
            args.arm_write_bucket,
            args.arm_write_refill,
        ),
        (
            &mut arm.deletes,
            args.arm_delete_bucket,
            args.arm_delete_refill,
        ),
    ] {
        bucket.capacity = size.unwrap_or(bucket.capacity);
        bucket.refill_per_sec = refill.unwrap_or(bucket.refill_per_sec);
    }
    b = b.arm_throttling(arm);

    let mut quotas = b.config().rate_quotas.clone();
    if args.no_rate_quotas {
        quotas.enabled = false;
    }
    // The defaults are one 5-minute and one hour window each.
    let set = |limits: &mut Vec<WindowLimit>, per_5: Option<u32>, per_hour: Option<u32>| {
        for l in limits.iter_mut() {
            let value = match l.window.as_secs() {
                300 => per_5,
                3600 => per_hour,
                _ => None,
            };
            l.limit = value.unwrap_or(l.limit);
        }
    };
    set(
        &mut quotas.creates,
        args.creates_per_5_minutes,
        args.creates_per_hour,
    );
    set(
        &mut quotas.deletes,
        args.deletes_per_5_minutes,
        args.deletes_per_hour,
    );
    b.rate_quotas(quotas)
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .with_writer(std::io::stderr)
        .init();
    let args = Args::parse();
    let max = GroupMaxima {
        cpu: args.max_cpu,
        memory_gb: args.max_memory_gb,
    };
    let mut b = rates(Emulator::builder(), &args)
        .quota(Quota {
            container_groups: args.quota_groups,
            cores: args.quota_cores,
        })
        .group_limits(GroupLimits {
            linux_standard: max,
            windows_standard: max,
            confidential: max,
            // Spot groups have their own, fixed maximum (4 CPU / 16 GB).
            spot: GroupMaxima::default(),
        })
        .page_size(args.page_size)
        .token_lifetime(Duration::from_secs(args.token_lifetime_secs))
        .require_auth(!args.no_auth);
    let mut lro = b.config().lro;
    lro.retry_after_secs = args.retry_after_secs;
    b = b.lro(lro);
    if !args.subscriptions.is_empty() {
        b = b.subscriptions(args.subscriptions);
    }
    if !args.resource_groups.is_empty() {
        b = b.resource_groups(args.resource_groups);
    }
    if let Some(t) = args.static_token {
        b = b.static_token(t);
    }
    if !args.unpullable.is_empty() {
        b = b.unpullable_images(args.unpullable);
    }
    if !args.gpu_skus.is_empty() {
        b = b.gpu_skus(args.gpu_skus);
    }
    if !args.spot_regions.is_empty() {
        b = b.spot_regions(args.spot_regions);
    }
    if let Some(p) = args.state_file {
        b = b.state_file(p);
    }
    let emu = b
        .start(args.listen)
        .await
        .context("starting the emulator")?;
    println!("{}", emu.base_url());
    tokio::signal::ctrl_c()
        .await
        .context("waiting for Ctrl-C")?;
    emu.shutdown().await.context("shutting down")?;
    Ok(())
}
