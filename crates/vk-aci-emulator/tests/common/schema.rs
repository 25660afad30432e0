//! A small validator for swagger 2.0 definitions: $ref, allOf, type, properties,
//! required (except `x-ms-secret` ones, never returned), enum, items,
//! additionalProperties; unknown properties are errors.

use serde_json::{Map, Value};

pub struct Spec {
    defs: Map<String, Value>,
}

/// The published spec folder (see `vk_aci_emulator::spec`).
pub fn spec_dir() -> String {
    vk_aci_emulator::spec::published_spec_dir()
        .unwrap_or_else(|e| panic!("{e}"))
        .display()
        .to_string()
}

impl Spec {
    pub fn load() -> Self {
        let text = std::fs::read_to_string(format!("{}/containerInstance.json", spec_dir()))
            .expect("read spec");
        let v: Value = serde_json::from_str(&text).expect("spec json");
        Self {
            defs: v["definitions"].as_object().expect("definitions").clone(),
        }
    }

    fn resolve<'a>(&'a self, schema: &'a Value) -> &'a Value {
        match schema.get("$ref").and_then(Value::as_str) {
            Some(r) => {
                let name = r.rsplit('/').next().expect("ref name");
                self.defs
                    .get(name)
                    .unwrap_or_else(|| panic!("unknown ref {r}"))
            }
            None => schema,
        }
    }

    /// Validates `value` against definition `def`; returns the errors.
    pub fn validate(&self, def: &str, value: &Value) -> Vec<String> {
        let mut errs = Vec::new();
        let schema = self
            .defs
            .get(def)
            .unwrap_or_else(|| panic!("no definition {def}"));
        self.check(schema, value, "$", &mut errs);
        errs
    }

    fn all_properties(
        &self,
        schema: &Value,
        out: &mut Map<String, Value>,
        required: &mut Vec<String>,
    ) {
        let schema = self.resolve(schema);
        if let Some(parts) = schema.get("allOf").and_then(Value::as_array) {
            for p in parts {
                self.all_properties(p, out, required);
            }
        }
        if let Some(props) = schema.get("properties").and_then(Value::as_object) {
            for (k, v) in props {
                out.insert(k.clone(), v.clone());
            }
        }
        if let Some(r) = schema.get("required").and_then(Value::as_array) {
            required.extend(r.iter().filter_map(Value::as_str).map(str::to_owned));
        }
    }

    fn check(&self, schema: &Value, value: &Value, path: &str, errs: &mut Vec<String>) {
        let schema = self.resolve(schema);
        let mut props = Map::new();
        let mut required = Vec::new();
        self.all_properties(schema, &mut props, &mut required);
        let ty = schema.get("type").and_then(Value::as_str);
        let is_object = ty == Some("object") || !props.is_empty() || schema.get("allOf").is_some();
        if let Some(ty) = ty {
            let ok = match ty {
                "object" => value.is_object(),
                "array" => value.is_array(),
                "string" => value.is_string(),
                "integer" => value.is_i64() || value.is_u64(),
                "number" => value.is_number(),
                "boolean" => value.is_boolean(),
                _ => true,
            };
            if !ok {
                errs.push(format!("{path}: expected {ty}, got {value}"));
                return;
            }
        }
        if let Some(en) = schema.get("enum").and_then(Value::as_array)
            && !en.contains(value)
        {
            errs.push(format!("{path}: {value} not in enum {en:?}"));
        }
        if let (Some(items), Some(arr)) = (schema.get("items"), value.as_array()) {
            for (i, v) in arr.iter().enumerate() {
                self.check(items, v, &format!("{path}[{i}]"), errs);
            }
        }
        if is_object {
            let Some(obj) = value.as_object() else {
                errs.push(format!("{path}: expected object, got {value}"));
                return;
            };
            for r in &required {
                // `x-ms-secret` properties are never returned, even when required.
                let secret = props
                    .get(r)
                    .and_then(|p| p.get("x-ms-secret"))
                    .and_then(Value::as_bool)
                    .unwrap_or(false);
                if !obj.contains_key(r) && !secret {
                    errs.push(format!("{path}: missing required property '{r}'"));
                }
            }
            let additional = schema.get("additionalProperties");
            for (k, v) in obj {
                match props.get(k) {
                    Some(ps) => self.check(ps, v, &format!("{path}.{k}"), errs),
                    None => match additional {
                        Some(Value::Bool(true)) => {}
                        Some(a) if a.is_object() => self.check(a, v, &format!("{path}.{k}"), errs),
                        _ if props.is_empty() && ty == Some("object") => {}
                        _ => errs.push(format!("{path}: unknown property '{k}'")),
                    },
                }
            }
        }
    }
}
