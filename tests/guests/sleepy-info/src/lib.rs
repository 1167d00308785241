//! `info` is called when a policy is loaded, before any params or limits of a
//! gate apply. This one sleeps there forever (`std::thread::sleep` waits on a
//! `wasi:clocks/monotonic-clock` pollable), so the suite can check that
//! loading ends within the engine's time limit instead of hanging.

use sealgate_policy_sdk::bindings::exports::sealgate::policy::policy::Guest;
use sealgate_policy_sdk::bindings::sealgate::policy::types::{Context, PolicyInfo, Verdict};

struct SleepyInfo;

impl Guest for SleepyInfo {
    fn info() -> PolicyInfo {
        loop {
            std::thread::sleep(std::time::Duration::from_secs(3600));
        }
    }

    fn validate_params(_params: String) -> Result<(), String> {
        Ok(())
    }

    fn evaluate(_metadata: String, _params: String, _ctx: Context) -> Result<Verdict, String> {
        Err("never reached: info does not return".into())
    }
}

sealgate_policy_sdk::bindings::__export_gate_policy!(SleepyInfo with_types_in sealgate_policy_sdk::bindings);
