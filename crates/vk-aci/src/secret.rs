//! [`Secret`]: a value that never shows in `Debug`, `Display` or serialized output; the
//! request models serialize it for ARM explicitly ([`expose_option`]).

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Secret material (an environment variable's `secureValue`, a registry password, a storage
/// account key, a secret volume's contents, an exec password, an access token, a client secret).
///
/// `Debug`, `Display` and `Serialize` all give `<redacted>`, so a secret cannot leak through logs
/// or a printed configuration; it deserializes from the plain value. Read it with
/// [`Secret::expose`]. The request models send the real value to ARM through an explicit
/// `serialize_with`, so never log a serialized request body.
///
/// ```
/// let secret = vk_aci::Secret::from("hunter2");
/// assert_eq!(format!("{secret} {secret:?}"), "<redacted> <redacted>");
/// assert_eq!(serde_json::to_string(&secret).unwrap(), "\"<redacted>\"");
/// assert_eq!(secret.expose(), "hunter2");
/// ```
#[derive(Clone, Default, PartialEq, Eq, Hash)]
pub struct Secret<T = String>(T);

impl<T> Secret<T> {
    /// Wraps a value.
    pub const fn new(value: T) -> Self {
        Self(value)
    }

    /// The secret value itself. Callers must not log it.
    pub fn expose(&self) -> &T {
        &self.0
    }

    /// Unwraps the secret value.
    pub fn into_inner(self) -> T {
        self.0
    }
}

/// What a [`Secret`] prints and serializes as.
pub const REDACTED: &str = "<redacted>";

impl<T> fmt::Debug for Secret<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(REDACTED)
    }
}

impl<T> fmt::Display for Secret<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(REDACTED)
    }
}

impl From<String> for Secret<String> {
    fn from(value: String) -> Self {
        Self(value)
    }
}

impl From<&str> for Secret<String> {
    fn from(value: &str) -> Self {
        Self(value.to_owned())
    }
}

impl<T> Serialize for Secret<T> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(REDACTED)
    }
}

/// Serializes the real value of an optional secret: the request models' fields ARM must
/// receive (`#[serde(serialize_with = "crate::secret::expose_option")]`).
pub(crate) fn expose_option<T: Serialize, S: Serializer>(
    secret: &Option<Secret<T>>,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    secret.as_ref().map(Secret::expose).serialize(serializer)
}

/// Serializes the real values of an optional map of secrets (a secret volume's files).
pub(crate) fn expose_map_option<S: Serializer>(
    secrets: &Option<std::collections::BTreeMap<String, Secret>>,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    secrets
        .as_ref()
        .map(|m| {
            m.iter()
                .map(|(k, v)| (k, v.expose()))
                .collect::<std::collections::BTreeMap<_, _>>()
        })
        .serialize(serializer)
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Secret<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        T::deserialize(deserializer).map(Self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_display_and_serialize_are_redacted() {
        let s = Secret::from("hunter2");
        assert_eq!(format!("{s:?}"), "<redacted>");
        assert_eq!(format!("{s}"), "<redacted>");
        assert_eq!(serde_json::to_string(&s).unwrap(), "\"<redacted>\"");
        let back: Secret = serde_json::from_str("\"x\"").unwrap();
        assert_eq!(back.expose(), "x");
    }

    #[test]
    fn the_models_expose_their_secrets_explicitly() {
        #[derive(Serialize)]
        struct Model {
            #[serde(serialize_with = "expose_option")]
            one: Option<Secret>,
            #[serde(serialize_with = "expose_map_option")]
            files: Option<std::collections::BTreeMap<String, Secret>>,
        }
        let model = Model {
            one: Some(Secret::from("a")),
            files: Some([("f".to_owned(), Secret::from("b"))].into()),
        };
        assert_eq!(
            serde_json::to_string(&model).unwrap(),
            r#"{"one":"a","files":{"f":"b"}}"#
        );
    }
}
