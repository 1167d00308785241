//! Independent work spread over the machine's cores.

use std::sync::OnceLock;
use std::sync::atomic::{AtomicUsize, Ordering};

/// How many threads to use for `jobs` independent jobs.
pub(crate) fn workers_for(jobs: usize) -> usize {
    // Asked once: `available_parallelism` reads cgroup files on every call,
    // and this runs on every gate evaluation.
    static CORES: OnceLock<usize> = OnceLock::new();
    let cores = *CORES.get_or_init(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
    cores.min(jobs)
}

/// `f(index, item)` for every item, on up to `threads` scoped threads that
/// take the next item as they finish one; results in input order. With one
/// thread (or one item) it runs on the caller's thread.
pub(crate) fn map_in_parallel<T, R, F>(items: &[T], threads: usize, f: F) -> Vec<R>
where
    T: Sync,
    R: Send,
    F: Fn(usize, &T) -> R + Sync,
{
    if threads <= 1 || items.len() <= 1 {
        return items.iter().enumerate().map(|(i, t)| f(i, t)).collect();
    }
    let next = AtomicUsize::new(0);
    let mut done: Vec<(usize, R)> = std::thread::scope(|s| {
        let workers: Vec<_> = (0..threads)
            .map(|_| {
                s.spawn(|| {
                    let mut out = Vec::new();
                    loop {
                        let i = next.fetch_add(1, Ordering::Relaxed);
                        let Some(item) = items.get(i) else { break out };
                        out.push((i, f(i, item)));
                    }
                })
            })
            .collect();
        workers
            .into_iter()
            .flat_map(|w| w.join().unwrap_or_else(|panic| std::panic::resume_unwind(panic)))
            .collect()
    });
    done.sort_unstable_by_key(|(i, _)| *i);
    done.into_iter().map(|(_, r)| r).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_input_order_on_any_number_of_threads() {
        let items: Vec<u64> = (0..100).collect();
        for threads in [1, 2, 7, 200] {
            let out = map_in_parallel(&items, threads, |i, x| (i as u64) * 1000 + x * 2);
            let want: Vec<u64> = (0..100).map(|x| x * 1000 + x * 2).collect();
            assert_eq!(out, want, "{threads} threads");
        }
    }
}
