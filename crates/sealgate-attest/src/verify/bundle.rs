//! Check 1's parse of a bundle, bounded before anything is verified, and
//! check 3's signatures: each line's PAE and signatures, computed once.

use ed25519_dalek::{Signature, VerifyingKey};

use crate::dsse::{Envelope, IN_TOTO_PAYLOAD_TYPE, decode_base64, pae};
use crate::trust::TrustPolicy;

/// A bundle line, parsed and (from check 3 on) signed by a trusted key.
pub(crate) struct Line {
    pub(crate) envelope: Envelope,
    pub(crate) payload: Vec<u8>,
}

/// Most envelopes one bundle may hold. sealgate writes two (verdict and
/// report); the cap leaves room for more statements without letting a
/// hostile bundle multiply the signature checks.
pub const MAX_ENVELOPES_PER_BUNDLE: usize = 16;

/// Most signatures one envelope may carry. sealgate writes one; co-signers
/// add a few. Each is an Ed25519 verification per trusted key, so without a
/// cap one 16 MiB envelope of 150 000 signatures cost ~10 s to reject.
pub const MAX_SIGNATURES_PER_ENVELOPE: usize = 8;

pub(crate) fn parse_bundle(bundle: &[u8], max: u64) -> Result<Vec<Line>, String> {
    if bundle.len() as u64 > max {
        return Err(format!(
            "{} bytes is larger than the {max}-byte limit",
            bundle.len()
        ));
    }
    let text = std::str::from_utf8(bundle).map_err(|e| format!("not UTF-8 ({e})"))?;
    if text.starts_with('\u{feff}') {
        return Err("starts with a byte-order mark; JSON Lines must not".into());
    }
    let text = text.strip_suffix('\n').unwrap_or(text);
    if text.is_empty() {
        return Err("empty: no envelope".into());
    }
    // A lone envelope may be pretty-printed (a `.dsse.json` file): accept the
    // whole text as one envelope when it parses as one.
    let lines: Vec<&str> = match serde_json::from_str::<Envelope>(text) {
        Ok(_) => vec![text],
        Err(_) => text.split('\n').collect(),
    };
    // Counted before anything is parsed or verified.
    if lines.len() > MAX_ENVELOPES_PER_BUNDLE {
        return Err(format!(
            "{} envelopes; a bundle holds at most {MAX_ENVELOPES_PER_BUNDLE}",
            lines.len()
        ));
    }
    let mut parsed = Vec::new();
    for (i, line) in lines.into_iter().enumerate() {
        let n = i + 1;
        if line.trim().is_empty() {
            return Err(format!(
                "line {n} is blank; a bundle is one DSSE envelope per line"
            ));
        }
        // One reading before any field is read (`strict_json`): no member
        // twice, no number parsers disagree on, in the envelope or the payload.
        sealgate_core::strict_json::check(line.as_bytes())
            .map_err(|e| format!("line {n}: the envelope has more than one reading: {e}"))?;
        let envelope: Envelope =
            serde_json::from_str(line).map_err(|e| format!("line {n} is not a DSSE envelope: {e}"))?;
        let payload =
            decode_base64(&envelope.payload).ok_or_else(|| format!("line {n}: payload is not base64"))?;
        if envelope.payload_type == IN_TOTO_PAYLOAD_TYPE {
            sealgate_core::strict_json::check(&payload)
                .map_err(|e| format!("line {n}: the signed statement has more than one reading: {e}"))?;
        }
        if envelope.signatures.is_empty() {
            return Err(format!("line {n}: envelope has no signatures"));
        }
        if envelope.signatures.len() > MAX_SIGNATURES_PER_ENVELOPE {
            return Err(format!(
                "line {n}: {} signatures; an envelope carries at most {MAX_SIGNATURES_PER_ENVELOPE}",
                envelope.signatures.len()
            ));
        }
        parsed.push(Line { envelope, payload });
    }
    Ok(parsed)
}

/// The indices of the trusted keys with a valid signature on `line`.
pub(super) fn trusted_signers(line: &Line, trust: &TrustPolicy) -> Vec<usize> {
    let signed = SignedMessage::of(line);
    (0..trust.keys.len())
        .filter(|&k| signed.by(&trust.keys[k].key))
        .collect()
}

/// A line's PAE and its decodable signatures, computed once per line.
pub(crate) struct SignedMessage {
    message: Vec<u8>,
    signatures: Vec<Signature>,
}

impl SignedMessage {
    pub(crate) fn of(line: &Line) -> Self {
        Self {
            message: pae(&line.envelope.payload_type, &line.payload),
            signatures: line
                .envelope
                .signatures
                .iter()
                .filter_map(|s| decode_base64(&s.sig))
                .filter_map(|b| Signature::from_slice(&b).ok())
                .collect(),
        }
    }

    /// Is one of the signatures a valid one by `key`?
    pub(crate) fn by(&self, key: &VerifyingKey) -> bool {
        self.signatures
            .iter()
            .any(|sig| verifies(key, &self.message, sig))
    }
}

pub(super) fn verifies(key: &VerifyingKey, message: &[u8], sig: &Signature) -> bool {
    // Strict: rejects small-order keys and non-canonical signatures.
    key.verify_strict(message, sig).is_ok()
}
