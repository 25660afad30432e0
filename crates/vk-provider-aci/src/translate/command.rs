//! `command` + `args` → ACI's single `command` list.
//!
//! ACI's `command` replaces the image's entrypoint *and* cmd, so:
//! command + args → `command ++ args`; command only → `command`; neither →
//! no command (the image's defaults); args only → the image's entrypoint is
//! needed: taken from the entrypoint annotation, else
//! [`Error::ArgsWithoutCommand`]. `$(VAR)` references in command and args are
//! expanded against the container's environment.

use k8s_openapi::api::core::v1::Container;

use super::Ctx;
use super::env::{Env, expand_command_part};
use crate::Error;

/// The ACI command of `c`.
pub(crate) fn command(
    ctx: &Ctx<'_>,
    c: &Container,
    env: &Env,
) -> Result<Option<Vec<String>>, Error> {
    let command = c.command.as_deref().unwrap_or_default();
    let args = c.args.as_deref().unwrap_or_default();
    let expand_all = |parts: &[String]| -> Result<Vec<String>, Error> {
        parts
            .iter()
            .map(|p| expand_command_part(ctx, c, env, p))
            .collect()
    };
    if !command.is_empty() {
        let mut out = expand_all(command)?;
        out.extend(expand_all(args)?);
        return Ok(Some(out));
    }
    if args.is_empty() {
        return Ok(None);
    }
    let Some(mut entrypoint) = entrypoint(ctx, &c.name)? else {
        return Err(Error::ArgsWithoutCommand {
            pod: ctx.pod_id.clone(),
            container: c.name.clone(),
            annotation: ctx.config.entrypoint_annotation.clone(),
        });
    };
    entrypoint.extend(expand_all(args)?);
    Ok(Some(entrypoint))
}

/// The entrypoint of container `name` from the annotation: a JSON array (all
/// containers) or an object of container name → array.
fn entrypoint(ctx: &Ctx<'_>, name: &str) -> Result<Option<Vec<String>>, Error> {
    let key = &ctx.config.entrypoint_annotation;
    let Some(raw) = ctx.annotation(key) else {
        return Ok(None);
    };
    let invalid = |message: String| Error::InvalidAnnotation {
        pod: ctx.pod_id.clone(),
        annotation: key.clone(),
        message,
    };
    let value: serde_json::Value =
        serde_json::from_str(raw).map_err(|e| invalid(format!("not JSON: {e}")))?;
    let list = match value {
        serde_json::Value::Array(_) => Some(value),
        serde_json::Value::Object(mut map) => map.remove(name),
        _ => {
            return Err(invalid(
                "expected a JSON array of strings or an object of container name to array".into(),
            ));
        }
    };
    let Some(list) = list else { return Ok(None) };
    let list: Vec<String> = serde_json::from_value(list)
        .map_err(|e| invalid(format!("expected an array of strings: {e}")))?;
    if list.is_empty() {
        return Err(invalid("the entrypoint is empty".into()));
    }
    Ok(Some(list))
}
