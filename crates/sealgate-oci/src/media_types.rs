//! The media types of sealgate's OCI artifacts (documented in
//! docs/registries.md). Our own, under `application/vnd.sealgate.`, so no
//! other tool mistakes a policy for an image, and nothing else is taken for
//! a policy.

/// `artifactType` of a policy's manifest.
pub const POLICY_ARTIFACT: &str = "application/vnd.sealgate.policy.v1";
/// Its config blob: what the component says about itself (`policy-info`)
/// and the component's own sha256 and size.
pub const POLICY_CONFIG: &str = "application/vnd.sealgate.policy.config.v1+json";
/// Its one layer: the component, as built.
pub const POLICY_COMPONENT: &str = "application/vnd.sealgate.policy.component.v1+wasm";
/// `artifactType` of a gate's manifest: the gate file and every file it
/// pins, one artifact.
pub const GATE_ARTIFACT: &str = "application/vnd.sealgate.gate.v1";
/// Its config blob: `{"name": <the gate's name>}`.
pub const GATE_CONFIG: &str = "application/vnd.sealgate.gate.config.v1+json";
/// Its first layer: the gate file (TOML), titled `gate.toml`.
pub const GATE_FILE: &str = "application/vnd.sealgate.gate.file.v1+toml";
/// Its other layers: each file the gate pins (a component, a Rego or data
/// file), titled with the path the gate gives it.
pub const GATE_MEMBER: &str = "application/vnd.sealgate.gate.member.v1";
/// `artifactType` of a publisher's signature on a policy or gate (a
/// referrer whose `subject` is the signed artifact's manifest).
pub const SIGNATURE_ARTIFACT: &str = "application/vnd.sealgate.signature.v1";
/// Its one layer: a DSSE envelope (JSON), the media type DSSE's own spec
/// and cosign use.
pub const DSSE_ENVELOPE: &str = "application/vnd.dsse.envelope.v1+json";
/// The OCI image manifest that carries them.
pub const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
/// `artifactType` of an attestation attached to an image (an OCI 1.1
/// referrer whose `subject` is the image's manifest).
pub const ATTESTATION_ARTIFACT: &str = "application/vnd.sealgate.attestation.v1";
/// Its one layer: the bundle `sealgate attest` writes (JSON Lines of DSSE
/// envelopes: the verdict and the report statements).
pub const ATTESTATION_BUNDLE: &str = "application/vnd.sealgate.attestation.bundle.v1+jsonl";
/// The empty config an artifact without one carries (OCI image spec 1.1).
pub const EMPTY_CONFIG: &str = "application/vnd.oci.empty.v1+json";
/// An OCI image index (the referrers tag schema's document).
pub const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";
/// Manifest media types an image may have (what an attestation's subject may be).
pub const IMAGE_MANIFESTS: &[&str] = &[
    OCI_MANIFEST,
    OCI_INDEX,
    "application/vnd.docker.distribution.manifest.v2+json",
    "application/vnd.docker.distribution.manifest.list.v2+json",
];
