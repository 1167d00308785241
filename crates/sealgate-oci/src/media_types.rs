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
/// The OCI image manifest that carries them.
pub const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
