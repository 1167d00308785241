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
mod error;
pub mod media_types;
mod reference;
mod registry;
mod store;

pub use attestation::{Attached, FetchedAttestation, attach_attestation, fetch_attestations};
pub use error::OciError;
pub use reference::OciReference;
pub use registry::{
    DEFAULT_MAX_COMPONENT_BYTES, DEFAULT_TIMEOUT, MAX_CONFIG_BYTES, MAX_MANIFEST_BYTES, PulledPolicy,
    RegistrySettings, fetch_policy, push_policy,
};
pub use store::Store;
