//! One reading for every signed document.
//!
//! JSON parsers disagree on what a duplicated member means (serde_json and
//! Go keep the last, some keep the first, in-toto-attestation's parser
//! refuses), and on numbers they cannot represent (a 64-bit integer past
//! 2^53 in JavaScript, `1e400`, `-0`). A signature over
//! `"verificationResult": "FAILED", "verificationResult": "PASSED"` would
//! then mean FAILED to one verifier and PASSED to another. So before any
//! field of an envelope or a payload is read, [`check`] refuses:
//!
//! - a member name that appears twice in one object (after unescaping, so
//!   `"a"` and `"\u0061"` are the same name);
//! - an integer outside ±(2^53 − 1), and `-0` (RFC 7493, I-JSON);
//! - a non-integer number that is not finite as an IEEE double or not in the
//!   shortest form that reads back to it (the form serde_json writes), so
//!   every reader that parses doubles gets the same value from the same text.
//!
//! What sealgate signs always passes: it writes with serde_json. Pinned data
//! files (a Rego policy's JSON data) are read the same way.

use std::collections::HashSet;

/// Deepest nesting accepted (statements are a handful of levels deep).
const MAX_DEPTH: usize = 128;

/// `Ok` if `text` is JSON with one reading; otherwise what is ambiguous and where.
///
/// # Errors
///
/// What is ambiguous or malformed, and at which byte.
pub fn check(text: &[u8]) -> Result<(), String> {
    let mut scanner = Scanner { b: text, i: 0 };
    scanner.value(0, &mut String::new())?;
    scanner.ws();
    if scanner.i != text.len() {
        return Err(format!(
            "unexpected data after the JSON value at byte {}",
            scanner.i
        ));
    }
    Ok(())
}

struct Scanner<'a> {
    b: &'a [u8],
    i: usize,
}

impl Scanner<'_> {
    fn ws(&mut self) {
        while self
            .b
            .get(self.i)
            .is_some_and(|c| matches!(c, b' ' | b'\t' | b'\n' | b'\r'))
        {
            self.i += 1;
        }
    }

    fn malformed(&self) -> String {
        format!("not JSON at byte {}", self.i)
    }

    /// One value at `path` (a JSON Pointer, for messages).
    fn value(&mut self, depth: usize, path: &mut String) -> Result<(), String> {
        if depth > MAX_DEPTH {
            return Err(format!("nested deeper than {MAX_DEPTH} levels at {path}"));
        }
        self.ws();
        match self.b.get(self.i) {
            Some(b'{') => self.object(depth, path),
            Some(b'[') => self.array(depth, path),
            Some(b'"') => self.string().map(|_| ()),
            Some(b'-' | b'0'..=b'9') => self.number(path),
            Some(b't' | b'f' | b'n') => {
                for word in [&b"true"[..], b"false", b"null"] {
                    if self.b[self.i..].starts_with(word) {
                        self.i += word.len();
                        return Ok(());
                    }
                }
                Err(self.malformed())
            }
            _ => Err(self.malformed()),
        }
    }

    fn object(&mut self, depth: usize, path: &mut String) -> Result<(), String> {
        self.i += 1;
        let mut names = HashSet::new();
        self.ws();
        if self.b.get(self.i) == Some(&b'}') {
            self.i += 1;
            return Ok(());
        }
        loop {
            self.ws();
            let name = self.string()?;
            let at = path.len();
            path.push('/');
            path.push_str(&name.replace('~', "~0").replace('/', "~1"));
            if !names.insert(name) {
                return Err(format!("member {path} appears twice in one object"));
            }
            self.ws();
            if self.b.get(self.i) != Some(&b':') {
                return Err(self.malformed());
            }
            self.i += 1;
            self.value(depth + 1, path)?;
            path.truncate(at);
            self.ws();
            match self.b.get(self.i) {
                Some(b',') => self.i += 1,
                Some(b'}') => {
                    self.i += 1;
                    return Ok(());
                }
                _ => return Err(self.malformed()),
            }
        }
    }

    fn array(&mut self, depth: usize, path: &mut String) -> Result<(), String> {
        self.i += 1;
        self.ws();
        if self.b.get(self.i) == Some(&b']') {
            self.i += 1;
            return Ok(());
        }
        for index in 0.. {
            let at = path.len();
            path.push_str(&format!("/{index}"));
            self.value(depth + 1, path)?;
            path.truncate(at);
            self.ws();
            match self.b.get(self.i) {
                Some(b',') => self.i += 1,
                Some(b']') => {
                    self.i += 1;
                    return Ok(());
                }
                _ => return Err(self.malformed()),
            }
        }
        unreachable!("the loop returns")
    }

    /// A string, unescaped.
    fn string(&mut self) -> Result<String, String> {
        if self.b.get(self.i) != Some(&b'"') {
            return Err(self.malformed());
        }
        let start = self.i;
        self.i += 1;
        loop {
            match self.b.get(self.i) {
                None => return Err(self.malformed()),
                Some(b'\\') => self.i += 2,
                Some(b'"') => {
                    self.i += 1;
                    break;
                }
                Some(_) => self.i += 1,
            }
        }
        serde_json::from_slice(&self.b[start..self.i]).map_err(|e| format!("bad string at byte {start}: {e}"))
    }

    fn number(&mut self, path: &str) -> Result<(), String> {
        let start = self.i;
        while self
            .b
            .get(self.i)
            .is_some_and(|c| matches!(c, b'-' | b'+' | b'.' | b'e' | b'E' | b'0'..=b'9'))
        {
            self.i += 1;
        }
        let token = std::str::from_utf8(&self.b[start..self.i]).map_err(|_| self.malformed())?;
        const MAX_SAFE: i128 = (1 << 53) - 1;
        if !token.contains(['.', 'e', 'E']) {
            let n: i128 = token
                .parse()
                .map_err(|_| format!("bad number `{token}` at {path}"))?;
            if token == "-0" || n.abs() > MAX_SAFE {
                return Err(format!(
                    "number `{token}` at {path} reads differently across JSON parsers (I-JSON allows integers within ±(2^53 − 1))"
                ));
            }
            return Ok(());
        }
        let value: f64 = token
            .parse()
            .map_err(|_| format!("bad number `{token}` at {path}"))?;
        let canonical = serde_json::to_string(&value).ok().filter(|_| value.is_finite());
        match canonical {
            Some(c) if c == token => Ok(()),
            _ => Err(format!(
                "number `{token}` at {path} is not in the one form every reader agrees on{}",
                match serde_json::to_string(&value) {
                    Ok(c) if value.is_finite() => format!(" (write `{c}`)"),
                    _ => " (it is not a finite double)".into(),
                }
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::check;

    #[test]
    fn what_serde_json_writes_passes() {
        let value = serde_json::json!({
            "a": [1, -2, 0, 9007199254740991_i64, 0.87, 1e21, 1.5e-7, -0.25, true, false, null],
            "b": {"c": "d\"e\\u0000", "e~/f": {}},
            "g": [],
        });
        check(serde_json::to_string(&value).unwrap().as_bytes()).unwrap();
        check(serde_json::to_string_pretty(&value).unwrap().as_bytes()).unwrap();
    }

    #[test]
    fn duplicate_members_are_refused_wherever_they_are() {
        for (text, where_) in [
            (r#"{"r":"FAILED","r":"PASSED"}"#, "/r"),
            (
                r#"{"s":[{"digest":{"sha256":"aa","sha256":"bb"}}]}"#,
                "/s/0/digest/sha256",
            ),
            (r#"{"a":1,"\u0061":2}"#, "/a"),
        ] {
            let err = check(text.as_bytes()).unwrap_err();
            assert!(
                err.contains(where_) && err.contains("appears twice"),
                "{text}: {err}"
            );
        }
        // The same name in different objects is fine.
        check(br#"{"a":{"x":1},"b":{"x":1}}"#).unwrap();
    }

    #[test]
    fn numbers_with_more_than_one_reading_are_refused() {
        for bad in [
            "9007199254740992",
            "-9007199254740992",
            "18446744073709551616",
            "-0",
            "1e400",
            "1.0e0",
            "0.870",
            "1E21",
            "1e21",
            "0.1e1",
        ] {
            let text = format!(r#"{{"n":{bad}}}"#);
            assert!(check(text.as_bytes()).is_err(), "{bad} was accepted");
        }
    }

    #[test]
    fn malformed_text_is_refused() {
        for bad in [&b""[..], b"{", b"{\"a\"}", b"[1,]", b"{} {}", b"nul"] {
            assert!(check(bad).is_err(), "{:?}", String::from_utf8_lossy(bad));
        }
    }
}
