//! `aci-emulator`: serves the ACI emulator until interrupted. The first line on
//! stdout is the base URL.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context as _;
use clap::Parser;
use vk_aci_emulator::{Emulator, GroupLimits, GroupMaxima, Quota};

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
    /// Image pull delay in milliseconds.
    #[arg(long, default_value_t = 0)]
    pull_delay_ms: u64,
    /// Container start delay in milliseconds.
    #[arg(long, default_value_t = 0)]
    start_delay_ms: u64,
    /// Restart back-off in milliseconds.
    #[arg(long, default_value_t = 500)]
    restart_backoff_ms: u64,
    /// Delete delay in milliseconds.
    #[arg(long, default_value_t = 0)]
    delete_delay_ms: u64,
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
    let mut b = Emulator::builder()
        .pull_delay(Duration::from_millis(args.pull_delay_ms))
        .start_delay(Duration::from_millis(args.start_delay_ms))
        .restart_backoff(Duration::from_millis(args.restart_backoff_ms))
        .delete_delay(Duration::from_millis(args.delete_delay_ms))
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
