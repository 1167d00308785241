use serde_json::Value;

/// The artifact metadata document, parsed, with JSON Pointer access.
#[derive(Debug, Clone)]
pub struct Metadata {
    root: Value,
}

impl Metadata {
    /// Parse the document the host handed in.
    pub fn parse(text: &str) -> Result<Self, String> {
        let root: Value =
            serde_json::from_str(text).map_err(|e| format!("metadata is not valid JSON: {e}"))?;
        if !root.is_object() {
            return Err("metadata must be a JSON object".into());
        }
        Ok(Self { root })
    }

    /// The whole document.
    pub fn root(&self) -> &Value {
        &self.root
    }

    /// The value at an RFC 6901 JSON Pointer (`""` is the whole document).
    pub fn get(&self, pointer: &str) -> Option<&Value> {
        self.root.pointer(pointer)
    }

    /// The string at `pointer`, if it is a string.
    pub fn str(&self, pointer: &str) -> Option<&str> {
        self.get(pointer).and_then(Value::as_str)
    }

    /// The array at `pointer` with each element's pointer; empty if absent or
    /// not an array.
    pub fn items<'a>(&'a self, pointer: &str) -> impl Iterator<Item = (String, &'a Value)> + 'a {
        let base = pointer.to_owned();
        self.get(pointer)
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .enumerate()
            .map(move |(i, v)| (format!("{base}/{i}"), v))
    }
}

/// Escape one reference token for a JSON Pointer (`~` → `~0`, `/` → `~1`).
pub fn pointer_escape(token: &str) -> String {
    token.replace('~', "~0").replace('/', "~1")
}
