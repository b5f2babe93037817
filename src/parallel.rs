//! The one ordered parallel map: items split into contiguous chunks on scoped threads, results
//! back in item order. Writers use it to overlap fsyncs, gen-docs to overlap stats and reads, the
//! planner to plan independent edits at once; each caller says how many threads pay for it.
//! A leaf: it uses nothing else in the crate.

use anyhow::Result;

/// `f` over `items` on at most `threads` threads, each taking a chunk of at least `min_chunk`
/// items (so small inputs stay on fewer threads); the results in item order. A panic in `f` is
/// resumed on the caller's thread.
pub(crate) fn map<T: Sync, U: Send>(
    items: &[T],
    threads: usize,
    min_chunk: usize,
    f: impl Fn(&T) -> U + Sync,
) -> Vec<U> {
    if items.is_empty() {
        return Vec::new();
    }
    let chunk = items.len().div_ceil(threads.max(1)).max(min_chunk.max(1));
    if chunk >= items.len() {
        return items.iter().map(f).collect();
    }
    let f = &f;
    std::thread::scope(|scope| {
        let workers: Vec<_> =
            items.chunks(chunk).map(|part| scope.spawn(move || part.iter().map(f).collect::<Vec<_>>())).collect();
        workers.into_iter().flat_map(|w| w.join().unwrap_or_else(|panic| std::panic::resume_unwind(panic))).collect()
    })
}

/// [`map`] for fallible work: every item is tried, then the results in item order, or the first
/// error in item order (the other results are dropped, which undoes what their `Drop` undoes).
pub(crate) fn try_map<T: Sync, U: Send>(
    items: &[T],
    threads: usize,
    min_chunk: usize,
    f: impl Fn(&T) -> Result<U> + Sync,
) -> Result<Vec<U>> {
    map(items, threads, min_chunk, f).into_iter().collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;
    use std::sync::Mutex;

    #[test]
    fn results_and_the_first_error_come_in_item_order() {
        let items: Vec<u32> = (0..20).collect();
        assert_eq!(try_map(&items, 8, 1, |i| Ok(i * 2)).unwrap(), items.iter().map(|i| i * 2).collect::<Vec<_>>());
        let failing = try_map(&items, 8, 1, |&i| if i % 7 == 3 { anyhow::bail!("item {i}") } else { Ok(i) });
        assert_eq!(failing.unwrap_err().to_string(), "item 3");
        assert!(map(&[] as &[u32], 4, 1, |i| *i).is_empty());
    }

    #[test]
    fn at_most_the_threads_asked_for_and_none_for_a_small_input() {
        let seen = Mutex::new(HashSet::new());
        let items: Vec<u32> = (0..100).collect();
        let record = |_: &u32| {
            seen.lock().unwrap().insert(std::thread::current().id());
        };
        map(&items, 3, 1, record);
        assert_eq!(seen.lock().unwrap().len(), 3, "three chunks, three threads");
        seen.lock().unwrap().clear();
        map(&items, 8, 1000, record);
        assert_eq!(*seen.lock().unwrap(), HashSet::from([std::thread::current().id()]), "one chunk runs here");
    }
}
