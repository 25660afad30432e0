//! Environment variables: `env` (value, fieldRef, resourceFieldRef,
//! configMapKeyRef, secretKeyRef), `envFrom`, `$(VAR)` expansion.
//!
//! Kubernetes order: `envFrom` sources first (later ones override earlier
//! ones), then `env` entries (overriding `envFrom`). Plain values are expanded
//! against the variables defined before them. Every value that comes from a
//! Secret — or that expands a Secret-sourced variable — is marked secure and
//! sent as `secureValue`.

use std::collections::HashMap;

use k8s_openapi::api::core::v1::Container;
use vk_aci::models::EnvironmentVariable;

use super::Ctx;
use super::downward::{FieldValue, field_value, resource_value};
use super::expand::expand;
use crate::Error;

/// One resolved variable.
#[derive(Clone)]
pub(crate) struct EnvEntry {
    pub(crate) name: String,
    pub(crate) value: String,
    pub(crate) secure: bool,
}

/// The resolved environment of a container, in definition order.
#[derive(Default)]
pub(crate) struct Env {
    entries: Vec<EnvEntry>,
    index: HashMap<String, usize>,
}

impl Env {
    fn set(&mut self, name: String, value: String, secure: bool) {
        match self.index.get(&name) {
            Some(&i) => {
                self.entries[i].value = value;
                self.entries[i].secure = secure;
            }
            None => {
                self.index.insert(name.clone(), self.entries.len());
                self.entries.push(EnvEntry {
                    name,
                    value,
                    secure,
                });
            }
        }
    }

    pub(crate) fn get(&self, name: &str) -> Option<&EnvEntry> {
        self.index.get(name).map(|&i| &self.entries[i])
    }

    /// The ACI variables: secure ones as `secureValue` only.
    pub(crate) fn to_aci(&self) -> Option<Vec<EnvironmentVariable>> {
        if self.entries.is_empty() {
            return None;
        }
        Some(
            self.entries
                .iter()
                .map(|e| {
                    if e.secure {
                        EnvironmentVariable::secure(e.name.clone(), e.value.clone())
                    } else {
                        EnvironmentVariable::plain(e.name.clone(), e.value.clone())
                    }
                })
                .collect(),
        )
    }
}

/// Whether Kubernetes accepts `name` as an envFrom variable name.
fn valid_env_name(name: &str) -> bool {
    !name.is_empty() && !name.contains('=') && !name.chars().any(char::is_control)
}

/// Resolves the environment of `c`.
pub(crate) fn container_env(ctx: &mut Ctx<'_>, c: &Container) -> Result<Env, Error> {
    let mut env = Env::default();
    let refs = ctx.refs;
    for from in c.env_from.iter().flatten() {
        let prefix = from.prefix.as_deref().unwrap_or_default();
        if let Some(r) = &from.config_map_ref {
            match refs.config_maps.get(&r.name) {
                Some(cm) => {
                    for (k, v) in &cm.data {
                        let name = format!("{prefix}{k}");
                        if valid_env_name(&name) {
                            env.set(name, v.clone(), false);
                        } else {
                            ctx.warn(format!(
                                "container {:?}: skipped invalid variable name {name:?} from configmap {:?}",
                                c.name, r.name
                            ));
                        }
                    }
                }
                None if r.optional == Some(true) => {}
                None => {
                    return Err(Error::MissingConfigMap {
                        pod: ctx.pod_id.clone(),
                        namespace: ctx.namespace().to_owned(),
                        name: r.name.clone(),
                    });
                }
            }
        }
        if let Some(r) = &from.secret_ref {
            match refs.secrets.get(&r.name) {
                Some(secret) => {
                    for k in secret.keys() {
                        let name = format!("{prefix}{k}");
                        if !valid_env_name(&name) {
                            ctx.warn(format!(
                                "container {:?}: skipped invalid variable name {name:?} from secret {:?}",
                                c.name, r.name
                            ));
                            continue;
                        }
                        let value = String::from_utf8_lossy(secret.get(k).unwrap_or_default());
                        env.set(name, value.into_owned(), true);
                    }
                }
                None if r.optional == Some(true) => {}
                None => {
                    return Err(Error::MissingSecret {
                        pod: ctx.pod_id.clone(),
                        namespace: ctx.namespace().to_owned(),
                        name: r.name.clone(),
                    });
                }
            }
        }
    }

    for var in c.env.iter().flatten() {
        let Some(from) = &var.value_from else {
            let mut secure = false;
            let value = expand(var.value.as_deref().unwrap_or_default(), |name| {
                env.get(name).map(|e| {
                    secure |= e.secure;
                    e.value.clone()
                })
            });
            env.set(var.name.clone(), value, secure);
            continue;
        };
        if let Some(sel) = &from.secret_key_ref {
            let optional = sel.optional == Some(true);
            match refs.secrets.get(&sel.name) {
                Some(secret) => match secret.get(&sel.key) {
                    Some(v) => env.set(
                        var.name.clone(),
                        String::from_utf8_lossy(v).into_owned(),
                        true,
                    ),
                    None if optional => {}
                    None => {
                        return Err(Error::MissingKey {
                            pod: ctx.pod_id.clone(),
                            kind: "Secret",
                            namespace: ctx.namespace().to_owned(),
                            name: sel.name.clone(),
                            key: sel.key.clone(),
                        });
                    }
                },
                None if optional => {}
                None => {
                    return Err(Error::MissingSecret {
                        pod: ctx.pod_id.clone(),
                        namespace: ctx.namespace().to_owned(),
                        name: sel.name.clone(),
                    });
                }
            }
        } else if let Some(sel) = &from.config_map_key_ref {
            let optional = sel.optional == Some(true);
            match refs.config_maps.get(&sel.name) {
                Some(cm) => match cm.get(&sel.key) {
                    Some(v) => env.set(
                        var.name.clone(),
                        String::from_utf8_lossy(v).into_owned(),
                        false,
                    ),
                    None if optional => {}
                    None => {
                        return Err(Error::MissingKey {
                            pod: ctx.pod_id.clone(),
                            kind: "ConfigMap",
                            namespace: ctx.namespace().to_owned(),
                            name: sel.name.clone(),
                            key: sel.key.clone(),
                        });
                    }
                },
                None if optional => {}
                None => {
                    return Err(Error::MissingConfigMap {
                        pod: ctx.pod_id.clone(),
                        namespace: ctx.namespace().to_owned(),
                        name: sel.name.clone(),
                    });
                }
            }
        } else if let Some(field) = &from.field_ref {
            match field_value(ctx, field, false) {
                Ok(FieldValue::Known(v)) => env.set(var.name.clone(), v, false),
                Ok(FieldValue::Unknown) => ctx.warn(format!(
                    "container {:?}: env {} ({}) is omitted: ACI assigns the address only after \
                     the group is created",
                    c.name, var.name, field.field_path
                )),
                Err(message) => return Err(invalid_env(ctx, c, &var.name, message)),
            }
        } else if let Some(sel) = &from.resource_field_ref {
            match resource_value(ctx, sel, Some(&c.name)) {
                Ok(v) => env.set(var.name.clone(), v, false),
                Err(message) => return Err(invalid_env(ctx, c, &var.name, message)),
            }
        }
    }
    Ok(env)
}

fn invalid_env(ctx: &Ctx<'_>, c: &Container, variable: &str, message: String) -> Error {
    Error::InvalidEnv {
        pod: ctx.pod_id.clone(),
        container: c.name.clone(),
        variable: variable.to_owned(),
        message,
    }
}

/// Expands `$(VAR)` in a command or args entry against the container's final
/// environment. A Secret-sourced variable is an error: commands are not secret.
pub(crate) fn expand_command_part(
    ctx: &Ctx<'_>,
    c: &Container,
    env: &Env,
    part: &str,
) -> Result<String, Error> {
    let mut secret_var = None;
    let out = expand(part, |name| {
        env.get(name).map(|e| {
            if e.secure && secret_var.is_none() {
                secret_var = Some(name.to_owned());
            }
            e.value.clone()
        })
    });
    match secret_var {
        Some(variable) => Err(Error::SecretInCommand {
            pod: ctx.pod_id.clone(),
            container: c.name.clone(),
            variable,
        }),
        None => Ok(out),
    }
}
