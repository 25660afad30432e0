//! Optional JSON state file: loaded at start, written (debounced) on change.

use std::path::Path;
use std::sync::Arc;

use crate::error::EmulatorError;
use crate::server::Shared;
use crate::state::{Persisted, State, now_unix, random_hex};

/// Loads `path` into `state` (a missing or empty file is an empty state).
pub(crate) async fn load(path: &Path, state: &mut State) -> Result<(), EmulatorError> {
    let bytes = match tokio::fs::read(path).await {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(source) => {
            return Err(EmulatorError::StateFile {
                path: path.display().to_string(),
                source,
            });
        }
    };
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Ok(());
    }
    let p: Persisted =
        serde_json::from_slice(&bytes).map_err(|source| EmulatorError::StateFormat {
            path: path.display().to_string(),
            source,
        })?;
    let now = now_unix();
    state.groups = p
        .groups
        .into_iter()
        .map(|mut g| {
            g.count_cores();
            (g.key.clone(), g)
        })
        .collect();
    state.tokens = p.tokens.into_iter().filter(|(_, exp)| *exp > now).collect();
    state.token_principals = p
        .token_principals
        .into_iter()
        .filter(|(t, _)| state.tokens.contains_key(t))
        .collect();
    state.operations = p
        .operations
        .into_iter()
        .map(|o| (o.id.clone(), o))
        .collect();
    state.next_ip = p.next_ip;
    state.seq = p.seq;
    tracing::info!(path = %path.display(), groups = state.groups.len(), "loaded state file");
    Ok(())
}

/// Writes the state file now (no-op without one).
pub(crate) async fn flush(shared: &Shared) -> Result<(), EmulatorError> {
    let Some(path) = &shared.cfg.state_file else {
        return Ok(());
    };
    let bytes = {
        let st = shared.lock();
        let mut p = st.to_persisted();
        let now = now_unix();
        p.tokens.retain(|_, exp| *exp > now);
        let tokens = &p.tokens;
        p.token_principals.retain(|t, _| tokens.contains_key(t));
        serde_json::to_vec_pretty(&p).map_err(|source| EmulatorError::StateFormat {
            path: path.display().to_string(),
            source,
        })?
    };
    let file_name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "state.json".to_owned());
    let tmp = path.with_file_name(format!(".{file_name}.{}.tmp", random_hex(6)));
    let io = |source| EmulatorError::StateFile {
        path: path.display().to_string(),
        source,
    };
    tokio::fs::write(&tmp, &bytes).await.map_err(io)?;
    tokio::fs::rename(&tmp, path).await.map_err(io)?;
    Ok(())
}

/// Background writer: waits for changes, debounces, writes.
pub(crate) async fn writer(shared: Arc<Shared>) {
    loop {
        shared.dirty.notified().await;
        tokio::time::sleep(shared.cfg.persist_debounce).await;
        if let Err(e) = flush(&shared).await {
            tracing::warn!(error = %e, "cannot write the state file");
        }
    }
}
