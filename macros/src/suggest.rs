//! "Did you mean ...?" for misspelled argument names and flavors.
//!
//! The sets of valid words are tiny (at most four), so a plain Levenshtein distance against each
//! candidate is enough. A candidate is suggested only when it is plausibly what the user meant:
//! a small edit distance, or one word containing the other (`threads` for `worker_threads`), or
//! a shared prefix of at least four characters (`workers` for `worker_threads`). Otherwise the
//! error lists every valid word instead of guessing.

/// The candidate closest to `word`, if it is close enough to be a useful suggestion.
pub(crate) fn closest<'a>(word: &str, candidates: &[&'a str]) -> Option<&'a str> {
    let word = word.to_ascii_lowercase();
    candidates
        .iter()
        .map(|&candidate| (distance(&word, candidate), candidate))
        .filter(|&(dist, candidate)| plausible(&word, candidate, dist))
        .min_by_key(|&(dist, _)| dist)
        .map(|(_, candidate)| candidate)
}

/// Formats `[a, b, c]` as "`a`, `b`, `c`" for error messages.
pub(crate) fn list(words: &[&str]) -> String {
    words
        .iter()
        .map(|word| format!("`{word}`"))
        .collect::<Vec<_>>()
        .join(", ")
}

fn plausible(word: &str, candidate: &str, dist: usize) -> bool {
    // A third of the longer word, but always allow two typos: `flavour`, `worker_thread`.
    let budget = (word.len().max(candidate.len()) / 3).max(2);
    let shared_prefix = word
        .chars()
        .zip(candidate.chars())
        .take_while(|(a, b)| a == b)
        .count();
    dist <= budget
        || (word.len() >= 4 && (candidate.contains(word) || word.contains(candidate)))
        || shared_prefix >= 4
}

/// Levenshtein distance (insertions, deletions and substitutions each cost 1).
fn distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    // `prev[j]` is the distance between the first `i` chars of `a` and the first `j` of `b`.
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    let mut cur = vec![0; b.len() + 1];
    for (i, ca) in a.chars().enumerate() {
        cur[0] = i + 1;
        for (j, &cb) in b.iter().enumerate() {
            let substitute = prev[j] + usize::from(ca != cb);
            cur[j + 1] = substitute.min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        std::mem::swap(&mut prev, &mut cur);
    }
    prev[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    const ARGS: &[&str] = &["flavor", "worker_threads", "start_paused", "crate"];

    #[test]
    fn distance_counts_edits() {
        assert_eq!(distance("", ""), 0);
        assert_eq!(distance("abc", ""), 3);
        assert_eq!(distance("", "abc"), 3);
        assert_eq!(distance("flavor", "flavour"), 1);
        assert_eq!(distance("kitten", "sitting"), 3);
        assert_eq!(distance("worker_threads", "worker_threads"), 0);
    }

    #[test]
    fn suggests_close_words() {
        assert_eq!(closest("flavour", ARGS), Some("flavor"));
        assert_eq!(closest("Flavor", ARGS), Some("flavor"));
        assert_eq!(closest("worker_thread", ARGS), Some("worker_threads"));
        assert_eq!(closest("workers", ARGS), Some("worker_threads"));
        assert_eq!(closest("threads", ARGS), Some("worker_threads"));
        assert_eq!(closest("start_pause", ARGS), Some("start_paused"));
        assert_eq!(closest("paused", ARGS), Some("start_paused"));
        assert_eq!(closest("crates", ARGS), Some("crate"));
        let flavors = &["multi_thread", "current_thread"];
        assert_eq!(closest("multi_threaded", flavors), Some("multi_thread"));
        assert_eq!(closest("current", flavors), Some("current_thread"));
        assert_eq!(closest("multithread", flavors), Some("multi_thread"));
    }

    #[test]
    fn does_not_guess_wildly() {
        assert_eq!(closest("foo", ARGS), None);
        assert_eq!(closest("unhandled_panic", ARGS), None);
        assert_eq!(closest("local", &["multi_thread", "current_thread"]), None);
    }

    #[test]
    fn lists_words_in_backticks() {
        assert_eq!(list(&["a", "b"]), "`a`, `b`");
    }
}
