//! Where an evaluation's `Store` is made, and every limit applied.
//!
//! This is the one place that turns [`SandboxLimits`] into wasmtime settings:
//!
//! | limit            | enforced by                                              |
//! |------------------|----------------------------------------------------------|
//! | `fuel`           | `Store::set_fuel` (engine built with `consume_fuel`)     |
//! | `timeout`        | `Store::set_epoch_deadline`; the engine ticks every [`EPOCH_TICK`] |
//! | `memory_bytes`   | [`SandboxLimiter::memory_growing`], traps on refusal     |
//! | `table_elements` | [`SandboxLimiter::table_growing`], traps on refusal      |
//! | `instances`      | [`SandboxLimiter`] caps instances, tables and memories   |
//! | `output_bytes`   | checked on the lifted verdict (`module.rs`)              |
//! | `log_bytes`      | the bounded log and the stdout/stderr pipes              |
//!
//! Evaluations run in slots of wasmtime's pooling allocator, sized here from
//! the engine's ceiling (`wasmtime_config`): instantiating reuses a
//! pre-reserved slot whose memory image is already mapped, and ending an
//! evaluation resets the pages the guest dirtied. Nothing of one evaluation
//! is visible to the next (tested by `sandbox::no_state_survives_between_evaluations`).
//! `EvaluationSlots` bounds how many evaluations run at once, so the pool is
//! never exhausted by load: extra evaluations wait rather than fail.
//!
//! Time is bounded inside host calls too, because no host call can wait:
//!
//! - WASI's monotonic clock is virtual (`VirtualClock`): it starts at 0 and
//!   moves only when the guest sleeps. `subscribe-duration` and
//!   `subscribe-instant` advance it to the wake-up time and hand back a
//!   pollable that is already ready (`add_virtual_monotonic_clock`), so
//!   `std::thread::sleep(30 s)` returns at once having "slept" 30 s, and a
//!   sleep loop burns fuel until a limit ends it. wasmtime-wasi's own
//!   implementation would wait on a real timer, where the epoch deadline
//!   cannot reach (it fires only when wasm code runs).
//! - Every other pollable the deny-all context can produce is ready at once:
//!   stdin is empty, stdout and stderr are memory pipes, and no socket,
//!   file or name lookup can be opened.
//! - `regex-is-match` bounds its own work against the time left (`host.rs`).
//!
//! What the limiter does *not* bound: host memory used to lift the verdict out
//! of the guest (bounded by the guest's own memory limit and then by
//! `output-bytes`).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, PoisonError};
use std::time::{Duration, Instant};

use sealgate_core::{LogLine, SandboxLimits};
use wasmtime::component::{Linker, Resource, ResourceTable};
use wasmtime::{Enabled, InstanceAllocationStrategy, PoolingAllocationConfig, ResourceLimiter, Store};
use wasmtime_wasi::p2::pipe::MemoryOutputPipe;
use wasmtime_wasi::p2::{DynPollable, Pollable, subscribe};
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};

use crate::host::RegexCache;

/// How often the engine's epoch advances; the timeout's granularity.
pub const EPOCH_TICK: Duration = Duration::from_millis(10);

/// Bytes of each linear memory the pool keeps resident between evaluations,
/// reset with `memset` (only the dirtied pages, where the kernel supports
/// `PAGEMAP_SCAN`) instead of being unmapped and faulted in again. The
/// built-in policies peak at 1-3 MiB on typical documents.
const KEEP_RESIDENT: usize = 4 << 20;

/// The wasmtime settings every evaluation depends on: fuel metering, epoch
/// interruption, a bounded wasm stack, and the pooling allocator with room
/// for `concurrency` evaluations at the `ceiling`'s instance, table and memory
/// counts. The per-evaluation limits are still enforced by
/// [`SandboxLimiter`]; the pool's sizes are only the ceiling's upper bound.
pub(crate) fn wasmtime_config(ceiling: &SandboxLimits, concurrency: usize) -> wasmtime::Config {
    let slots = u32::try_from(concurrency).unwrap_or(u32::MAX);
    let per_component = ceiling.instances.max(1);
    let total = slots.saturating_mul(per_component);
    // A 32-bit linear memory cannot exceed 4 GiB, which is also the default
    // reservation that lets compiled code skip bounds checks.
    let max_memory = usize::try_from(ceiling.memory_bytes.min(4 << 30)).unwrap_or(usize::MAX);
    let mut pool = PoolingAllocationConfig::new();
    pool.total_component_instances(slots)
        .total_core_instances(total)
        .total_memories(total)
        .total_tables(total)
        .max_core_instances_per_component(per_component)
        .max_memories_per_component(per_component)
        .max_tables_per_component(per_component)
        .max_memories_per_module(per_component)
        .max_tables_per_module(per_component)
        .max_memory_size(max_memory)
        .table_elements(usize::try_from(ceiling.table_elements).unwrap_or(usize::MAX))
        .linear_memory_keep_resident(KEEP_RESIDENT)
        .table_keep_resident(64 << 10)
        .pagemap_scan(Enabled::Auto)
        // Evaluations are synchronous: no fiber stacks (the default pool of
        // 1 000 stacks costs a 2 GB mapping and tens of ms at start-up).
        .total_stacks(0);
    let mut wasm = wasmtime::Config::new();
    wasm.wasm_component_model(true)
        .consume_fuel(true)
        .epoch_interruption(true)
        // Deep recursion traps at 1 MiB of wasm stack rather than
        // exhausting the host thread's stack.
        .max_wasm_stack(1 << 20)
        .allocation_strategy(InstanceAllocationStrategy::Pooling(pool));
    wasm
}

/// A counting semaphore over the pool's evaluation slots.
pub(crate) struct EvaluationSlots {
    free: Mutex<usize>,
    freed: Condvar,
}

/// One held slot; released on drop. Must outlive the evaluation's `Store`.
pub(crate) struct SlotGuard<'a>(&'a EvaluationSlots);

impl EvaluationSlots {
    pub(crate) fn new(n: usize) -> Self {
        Self {
            free: Mutex::new(n),
            freed: Condvar::new(),
        }
    }

    /// Wait for a free slot.
    pub(crate) fn acquire(&self) -> SlotGuard<'_> {
        // The counter stays consistent even if a holder panicked, so a
        // poisoned lock is still usable.
        let mut free = self.free.lock().unwrap_or_else(PoisonError::into_inner);
        while *free == 0 {
            free = self.freed.wait(free).unwrap_or_else(PoisonError::into_inner);
        }
        *free -= 1;
        SlotGuard(self)
    }
}

impl Drop for SlotGuard<'_> {
    fn drop(&mut self) {
        *self.0.free.lock().unwrap_or_else(PoisonError::into_inner) += 1;
        self.0.freed.notify_one();
    }
}

/// Everything one evaluation's `Store` holds. Created fresh per evaluation.
pub struct HostState {
    pub(crate) limiter: SandboxLimiter,
    pub(crate) wasi: WasiCtx,
    pub(crate) table: ResourceTable,
    pub(crate) log: BoundedLog,
    pub(crate) regex: Arc<RegexCache>,
    pub(crate) stdout: MemoryOutputPipe,
    pub(crate) stderr: MemoryOutputPipe,
    /// WASI's monotonic clock for this evaluation (shared with `wasi`).
    pub(crate) monotonic: VirtualClock,
    /// When the evaluation must end: host calls that do work check it.
    pub(crate) deadline: Instant,
}

impl WasiView for HostState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

impl HostState {
    /// The log lines, with captured stdout and stderr appended.
    pub(crate) fn take_log(&mut self) -> Vec<LogLine> {
        for (level, pipe) in [("stdout", &self.stdout), ("stderr", &self.stderr)] {
            let bytes = pipe.contents();
            if !bytes.is_empty() {
                self.log.push(level, &String::from_utf8_lossy(&bytes));
            }
        }
        self.log.finish()
    }
}

/// Create the `Store` for one evaluation, with every limit in place.
///
/// `now_unix` is the evaluation time: WASI's wall clock is frozen at it, so a
/// policy that reads the clock sees the same instant the context reports.
pub(crate) fn new_store(
    engine: &wasmtime::Engine,
    limits: &SandboxLimits,
    regex: Arc<RegexCache>,
    now_unix: i64,
) -> Result<Store<HostState>, wasmtime::Error> {
    let pipe_cap = limits.log_bytes as usize;
    let stdout = MemoryOutputPipe::new(pipe_cap);
    let stderr = MemoryOutputPipe::new(pipe_cap);
    let monotonic = VirtualClock::default();
    let wasi = deny_all_wasi(now_unix, monotonic.clone(), stdout.clone(), stderr.clone());
    let state = HostState {
        limiter: SandboxLimiter::new(limits),
        wasi,
        table: ResourceTable::new(),
        log: BoundedLog::new(limits.log_bytes as usize),
        regex,
        stdout,
        stderr,
        monotonic,
        deadline: Instant::now() + limits.timeout,
    };
    let mut store = Store::new(engine, state);
    store.limiter(|s| &mut s.limiter);
    store.set_fuel(limits.fuel)?;
    let ticks = limits.timeout.as_millis().div_ceil(EPOCH_TICK.as_millis()).max(1) as u64;
    store.set_epoch_deadline(ticks);
    store.epoch_deadline_trap();
    Ok(store)
}

/// A WASI context that grants nothing: no preopened directories, no
/// environment, no arguments, closed stdin, no network (TCP, UDP and name
/// lookup off), stdout/stderr captured into bounded buffers, wall clock frozen
/// at the evaluation time, a virtual monotonic clock that moves only when the
/// guest sleeps, and a fixed byte cycle in place of randomness (so a policy
/// cannot be nondeterministic through WASI).
fn deny_all_wasi(
    now_unix: i64,
    monotonic: VirtualClock,
    stdout: MemoryOutputPipe,
    stderr: MemoryOutputPipe,
) -> WasiCtx {
    WasiCtx::builder()
        .stdout(stdout)
        .stderr(stderr)
        .allow_tcp(false)
        .allow_udp(false)
        .allow_ip_name_lookup(false)
        .socket_addr_check(|_, _| Box::pin(async { false }))
        .wall_clock(FrozenClock(now_unix.max(0) as u64))
        .monotonic_clock(monotonic)
        .secure_random(wasmtime_wasi::random::Deterministic::new(
            DETERMINISTIC_BYTES.to_vec(),
        ))
        .insecure_random(wasmtime_wasi::random::Deterministic::new(
            DETERMINISTIC_BYTES.to_vec(),
        ))
        .insecure_random_seed(0)
        .build()
}

/// The "random" bytes WASI hands out: fixed, so evaluations replay exactly.
const DETERMINISTIC_BYTES: [u8; 8] = [0x5e, 0xa1, 0x6a, 0x7e, 0x5e, 0xa1, 0x6a, 0x7e];

struct FrozenClock(u64);

impl wasmtime_wasi::HostWallClock for FrozenClock {
    fn resolution(&self) -> Duration {
        Duration::from_secs(1)
    }
    fn now(&self) -> Duration {
        Duration::from_secs(self.0)
    }
}

/// WASI's monotonic clock inside the sandbox, in nanoseconds: 0 when the
/// evaluation starts, moved forward only by the guest's own sleeps. Time
/// inside a policy is therefore a function of what the policy did, like
/// everything else it sees, and waiting costs no real time.
#[derive(Clone, Default)]
pub(crate) struct VirtualClock(Arc<AtomicU64>);

impl VirtualClock {
    /// Move the clock to `when` if that is later; the clock never goes back.
    fn advance_to(&self, when: u64) {
        self.0.fetch_max(when, Ordering::Relaxed);
    }

    fn advance_by(&self, nanos: u64) {
        let _ = self.0.fetch_update(Ordering::Relaxed, Ordering::Relaxed, |t| {
            Some(t.saturating_add(nanos))
        });
    }
}

impl wasmtime_wasi::HostMonotonicClock for VirtualClock {
    fn resolution(&self) -> u64 {
        1
    }
    fn now(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }
}

/// A pollable that is ready as soon as it is asked: what a clock subscription
/// becomes on the virtual clock.
struct AlreadyReady;

#[async_trait::async_trait]
impl Pollable for AlreadyReady {
    async fn ready(&mut self) {}
}

/// The interface whose subscriptions are replaced, as wasmtime-wasi names it
/// (components importing any 0.2.x resolve to it).
const MONOTONIC_CLOCK: &str = "wasi:clocks/monotonic-clock@0.2.12";

/// Replace wasmtime-wasi's `subscribe-duration` and `subscribe-instant`, which
/// wait on real timers, with ones on the [`VirtualClock`]: the clock jumps to
/// the wake-up time and the pollable is ready at once.
pub(crate) fn add_virtual_monotonic_clock(linker: &mut Linker<HostState>) -> wasmtime::Result<()> {
    fn ready(state: &mut HostState) -> wasmtime::Result<Resource<DynPollable>> {
        let pollable = state.table.push(AlreadyReady)?;
        subscribe(&mut state.table, pollable)
    }
    linker.allow_shadowing(true);
    let mut clock = linker.instance(MONOTONIC_CLOCK)?;
    clock.func_wrap(
        "subscribe-duration",
        |mut cx: wasmtime::StoreContextMut<'_, HostState>, (nanos,): (u64,)| {
            let state = cx.data_mut();
            state.monotonic.advance_by(nanos);
            Ok((ready(state)?,))
        },
    )?;
    clock.func_wrap(
        "subscribe-instant",
        |mut cx: wasmtime::StoreContextMut<'_, HostState>, (when,): (u64,)| {
            let state = cx.data_mut();
            state.monotonic.advance_to(when);
            Ok((ready(state)?,))
        },
    )?;
    linker.allow_shadowing(false);
    Ok(())
}

/// The memory, table and instance limits of one evaluation. Refusing a growth
/// traps (rather than returning -1 to the guest) and records which limit was
/// hit, so the ERROR names it.
pub struct SandboxLimiter {
    memory_bytes: usize,
    table_elements: usize,
    instances: usize,
    /// The limit that stopped the guest, if any.
    pub(crate) hit: Option<String>,
    /// The largest linear memory the guest grew to, in bytes.
    pub(crate) peak_memory: usize,
}

impl SandboxLimiter {
    fn new(limits: &SandboxLimits) -> Self {
        Self {
            memory_bytes: usize::try_from(limits.memory_bytes).unwrap_or(usize::MAX),
            table_elements: usize::try_from(limits.table_elements).unwrap_or(usize::MAX),
            instances: limits.instances as usize,
            hit: None,
            peak_memory: 0,
        }
    }
}

impl ResourceLimiter for SandboxLimiter {
    fn memory_growing(
        &mut self,
        _current: usize,
        desired: usize,
        maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        if desired > self.memory_bytes || maximum.is_some_and(|m| desired > m) {
            let msg = format!(
                "linear memory would grow to {desired} bytes, over the {}-byte limit (limit `memory-bytes`)",
                self.memory_bytes
            );
            self.hit = Some(msg.clone());
            wasmtime::bail!(msg);
        }
        self.peak_memory = self.peak_memory.max(desired);
        Ok(true)
    }

    fn table_growing(
        &mut self,
        _current: usize,
        desired: usize,
        maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        if desired > self.table_elements || maximum.is_some_and(|m| desired > m) {
            let msg = format!(
                "a table would grow to {desired} elements, over the {}-element limit (limit `table-elements`)",
                self.table_elements
            );
            self.hit = Some(msg.clone());
            wasmtime::bail!(msg);
        }
        Ok(true)
    }

    fn instances(&self) -> usize {
        self.instances
    }

    fn tables(&self) -> usize {
        self.instances
    }

    fn memories(&self) -> usize {
        self.instances
    }
}

/// A log that keeps at most `cap` bytes of messages, then counts what it drops.
pub(crate) struct BoundedLog {
    lines: Vec<LogLine>,
    used: usize,
    cap: usize,
    dropped: usize,
}

impl BoundedLog {
    fn new(cap: usize) -> Self {
        Self {
            lines: Vec::new(),
            used: 0,
            cap,
            dropped: 0,
        }
    }

    pub(crate) fn push(&mut self, level: &str, message: &str) {
        let room = self.cap.saturating_sub(self.used);
        if room == 0 {
            self.dropped += 1;
            return;
        }
        let mut end = message.len().min(room);
        while !message.is_char_boundary(end) {
            end -= 1;
        }
        self.used += end;
        self.lines.push(LogLine {
            level: level.to_owned(),
            message: message[..end].to_owned(),
        });
        if end < message.len() {
            // A cut line fills the log: later lines would only be fragments.
            self.used = self.cap;
            self.dropped += 1;
        }
    }

    fn finish(&mut self) -> Vec<LogLine> {
        let mut lines = std::mem::take(&mut self.lines);
        if self.dropped > 0 {
            lines.push(LogLine {
                level: "warn".into(),
                message: format!(
                    "log truncated: {} line(s) cut or dropped past the {}-byte limit (limit `log-bytes`)",
                    self.dropped, self.cap
                ),
            });
        }
        lines
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn log_is_bounded_and_says_so() {
        let mut log = BoundedLog::new(10);
        log.push("info", "12345");
        log.push("info", "6789é-overflow");
        log.push("info", "dropped");
        let lines = log.finish();
        assert_eq!(lines[0].message, "12345");
        assert_eq!(lines[1].message, "6789"); // cut before the 2-byte `é`
        assert!(lines.last().unwrap().message.contains("2 line(s)"));
        assert_eq!(lines.len(), 3);
    }
}
