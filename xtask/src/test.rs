//! `cargo xtask test`: every test of the workspace against one fresh local cluster.

use std::process::{Command, ExitCode};

use clap::Args;
use vk_control_plane::ClusterSpec;

#[derive(Debug, Args)]
pub(crate) struct TestArgs {
    /// Use this already running cluster (by name) instead of starting one.
    #[arg(long)]
    cluster: Option<String>,
    /// Extra arguments for the test runner (after `--`).
    #[arg(last = true)]
    runner_args: Vec<String>,
}

fn cargo() -> Command {
    Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()))
}

fn has_nextest() -> bool {
    cargo()
        .args(["nextest", "--version"])
        .output()
        .is_ok_and(|o| o.status.success())
}

pub(crate) fn run(args: TestArgs) -> anyhow::Result<ExitCode> {
    let (spec, owned) = match &args.cluster {
        Some(name) => (ClusterSpec::named(name)?, false),
        None => {
            let name = format!("xtask-test-{}", std::process::id());
            let info = crate::cluster::up(&name)?;
            eprintln!("test cluster `{name}` up at {}", info.server);
            (ClusterSpec::named(&name)?, true)
        }
    };
    let result = run_tests(&spec, &args.runner_args);
    if owned && let Err(e) = vk_control_plane::down(&spec.state_dir) {
        eprintln!("warning: stopping test cluster `{}`: {e}", spec.name);
    }
    result
}

fn run_tests(spec: &ClusterSpec, runner_args: &[String]) -> anyhow::Result<ExitCode> {
    let mut ok = true;
    let mut tests = cargo();
    if has_nextest() {
        tests.args(["nextest", "run", "--workspace", "--no-fail-fast"]);
        // This workspace's extra nextest settings (the realistic e2e tier's
        // longer time limit), beneath .config/nextest.toml.
        let tool = crate::up::workspace_root()
            .join("xtask")
            .join("nextest-tool.toml");
        tests.arg(format!("--tool-config-file=xtask:{}", tool.display()));
    } else {
        tests.args(["test", "--workspace", "--no-fail-fast"]);
    }
    tests
        .args(runner_args)
        .env("VK_TEST_CLUSTER", &spec.state_dir);
    eprintln!("running {tests:?}");
    ok &= tests.status()?.success();

    let mut doc = cargo();
    doc.args(["test", "--workspace", "--doc"]);
    eprintln!("running {doc:?}");
    ok &= doc.status()?.success();
    Ok(if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}
