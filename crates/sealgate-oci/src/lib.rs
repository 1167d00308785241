//! sealgate's artifacts in OCI registries.
//!
//! A policy travels as an OCI artifact of its own type
//! ([`media_types::POLICY_ARTIFACT`]): the component as its one layer, what
//! it says about itself in the config. It is pushed with
//! [`push_policy`] and fetched with [`fetch_policy`] **by digest only** (a
//! tag can be moved), into a local content-addressed [`Store`] that must be
//! the current user's and is re-hashed on every read; once there, nothing
//! is fetched again, so runs work offline. A gate still pins the component
//! itself by sha256: the registry is a way to get the bytes, never a reason
//! to trust them.
//!
//! Built on `oci-client` (the OCI distribution client Kubewarden uses);
//! every registry call is bounded in time and every blob in size, and TLS
//! is required.
#![deny(missing_docs)]

mod attestation;
mod cosign;
mod documents;
mod error;
pub mod media_types;
mod reference;
mod registry;
mod store;

pub use attestation::{
    Attached, FetchedAttestation, MAX_SIGNATURE_BYTES, MAX_SIGNATURES, attach_attestation, attach_signature,
    fetch_attestations, fetch_signatures,
};
pub use cosign::{
    BundlePredicates, CosignEnvelope, MAX_COSIGN_LAYERS, PREDICATE_TYPE_ANNOTATION,
    attach_cosign_attestations, cosign_tag, fetch_cosign_bundles, fetch_sealgate_bundles,
};
pub use error::OciError;
pub use reference::OciReference;
pub use registry::{
    DEFAULT_MAX_COMPONENT_BYTES, DEFAULT_TIMEOUT, GATE_FILE_TITLE, MAX_ARTIFACT_BYTES, MAX_CONFIG_BYTES,
    MAX_GATE_FILE_BYTES, MAX_GATE_MEMBERS, MAX_MANIFEST_BYTES, PulledGate, PulledPolicy, RegistrySettings,
    fetch_gate, fetch_policy, push_gate, push_policy,
};
pub use store::Store;
