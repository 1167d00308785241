use std::cell::OnceCell;
use std::collections::BTreeMap;

use serde_json::Value;
use serde_json::value::RawValue;

/// The artifact metadata document, parsed, with JSON Pointer access.
///
/// Parsing checks the whole text but builds values lazily, per top-level
/// member, on first access: a policy that reads `/storage` never pays for
/// building the schema's thousand columns. (Measured in docs/BENCHMARKS.md.)
#[derive(Debug, Clone)]
pub struct Metadata {
    members: BTreeMap<String, Member>,
    root: OnceCell<Value>,
}

#[derive(Debug, Clone)]
struct Member {
    raw: Box<RawValue>,
    value: OnceCell<Value>,
}

impl Member {
    fn value(&self) -> &Value {
        // The text was checked when the document was parsed; the only failure
        // left is serde_json's nesting limit (128), past the host's (64).
        // Should another host pass deeper documents, the policy traps: an
        // ERROR, never a silent pass.
        self.value
            .get_or_init(|| serde_json::from_str(self.raw.get()).unwrap_or_else(|e| unreadable(&e)))
    }
}

/// Log why and trap. (Not `expect`: its source location would put this
/// file's path, which differs between checkouts, into every component.)
#[cold]
fn unreadable(e: &serde_json::Error) -> ! {
    crate::warn(&format!("metadata member unreadable: {e}"));
    std::process::abort()
}

impl Metadata {
    /// Parse the document the host handed in.
    pub fn parse(text: &str) -> Result<Self, String> {
        let members: BTreeMap<String, Box<RawValue>> = serde_json::from_str(text).map_err(|e| {
            match serde_json::from_str::<serde::de::IgnoredAny>(text) {
                Ok(_) => "metadata must be a JSON object".to_owned(),
                Err(_) => format!("metadata is not valid JSON: {e}"),
            }
        })?;
        let members = members
            .into_iter()
            .map(|(k, raw)| {
                let member = Member {
                    raw,
                    value: OnceCell::new(),
                };
                (k, member)
            })
            .collect();
        Ok(Self {
            members,
            root: OnceCell::new(),
        })
    }

    /// The whole document (built in full on first use).
    pub fn root(&self) -> &Value {
        self.root.get_or_init(|| {
            Value::Object(
                self.members
                    .iter()
                    .map(|(k, m)| (k.clone(), m.value().clone()))
                    .collect(),
            )
        })
    }

    /// The value at an RFC 6901 JSON Pointer (`""` is the whole document).
    pub fn get(&self, pointer: &str) -> Option<&Value> {
        if pointer.is_empty() {
            return Some(self.root());
        }
        let rest = pointer.strip_prefix('/')?;
        let (first, tail) = match rest.find('/') {
            Some(i) => (&rest[..i], &rest[i..]),
            None => (rest, ""),
        };
        let key = first.replace("~1", "/").replace("~0", "~");
        self.members.get(&key)?.value().pointer(tail)
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pointers_reach_into_lazily_built_members() {
        let doc = Metadata::parse(r#"{"a":{"b":[1,{"c":"x"}]},"we/ird~key":{"k":true},"n":null}"#).unwrap();
        assert_eq!(doc.str("/a/b/1/c"), Some("x"));
        assert_eq!(doc.get("/a/b/0"), Some(&serde_json::json!(1)));
        assert_eq!(doc.get("/we~1ird~0key/k"), Some(&Value::Bool(true)));
        assert_eq!(doc.get("/n"), Some(&Value::Null));
        assert_eq!(doc.get("/missing"), None);
        assert_eq!(doc.get("/a/zzz"), None);
        assert_eq!(doc.get("a"), None, "not a pointer");
        assert_eq!(doc.items("/a/b").count(), 2);
        assert_eq!(doc.root()["a"]["b"][1]["c"], "x");
        assert_eq!(doc.get(""), Some(doc.root()));
    }

    #[test]
    fn refuses_what_is_not_a_json_object() {
        assert!(Metadata::parse("[1]").unwrap_err().contains("JSON object"));
        assert!(Metadata::parse("{\"a\":").unwrap_err().contains("not valid JSON"));
        assert!(
            Metadata::parse("{\"a\":1} x")
                .unwrap_err()
                .contains("not valid JSON")
        );
    }
}
