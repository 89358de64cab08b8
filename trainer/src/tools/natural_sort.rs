//! Natural order of file names: `chunk_2` before `chunk_10`, as a person reads them.
//!
//! Chunks written by the exporter are numbered without a fixed width in some versions
//! (`chunk_9`, `chunk_10`); plain string order would put `chunk_10` before `chunk_9` and glue
//! the sound together in the wrong order.

use std::cmp::Ordering;
use std::path::{Path, PathBuf};

/// Compares two strings, treating each run of ASCII digits as one number (`a2 < a10`, and
/// `a02 == a2` by value, leading zeros breaking the tie so the order stays total).
pub fn natural_cmp(a: &str, b: &str) -> Ordering {
    let mut a_rest = a;
    let mut b_rest = b;
    loop {
        match (a_rest.chars().next(), b_rest.chars().next()) {
            (None, None) => return a.cmp(b),
            (None, Some(_)) => return Ordering::Less,
            (Some(_), None) => return Ordering::Greater,
            (Some(x), Some(y)) if x.is_ascii_digit() && y.is_ascii_digit() => {
                let (a_num, a_tail) = split_digits(a_rest);
                let (b_num, b_tail) = split_digits(b_rest);
                let a_trim = a_num.trim_start_matches('0');
                let b_trim = b_num.trim_start_matches('0');
                let by_value = a_trim.len().cmp(&b_trim.len()).then_with(|| a_trim.cmp(b_trim));
                if by_value != Ordering::Equal {
                    return by_value;
                }
                a_rest = a_tail;
                b_rest = b_tail;
            }
            (Some(x), Some(y)) => {
                if x != y {
                    return x.cmp(&y);
                }
                a_rest = &a_rest[x.len_utf8()..];
                b_rest = &b_rest[y.len_utf8()..];
            }
        }
    }
}

fn split_digits(s: &str) -> (&str, &str) {
    let end = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    s.split_at(end)
}

/// Sorts paths by their file names in natural order (then by the whole path, so files of the
/// same name in different folders keep a stable order).
pub fn sort_paths_naturally(paths: &mut [PathBuf]) {
    paths.sort_by(|a, b| {
        natural_cmp(&file_name(a), &file_name(b)).then_with(|| natural_cmp(&a.to_string_lossy(), &b.to_string_lossy()))
    });
}

fn file_name(p: &Path) -> String {
    p.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_compare_by_value() {
        let mut names = vec!["chunk_10.npz", "chunk_2.npz", "chunk_1.npz", "chunk_02b.npz", "chunk_9.npz"];
        names.sort_by(|a, b| natural_cmp(a, b));
        assert_eq!(names, ["chunk_1.npz", "chunk_2.npz", "chunk_02b.npz", "chunk_9.npz", "chunk_10.npz"]);
    }

    #[test]
    fn paths_sort_by_file_name() {
        let mut paths: Vec<PathBuf> =
            ["z/chunk_10.csv", "a/chunk_3.csv", "m/chunk_20.csv"].iter().map(PathBuf::from).collect();
        sort_paths_naturally(&mut paths);
        assert_eq!(
            paths,
            [PathBuf::from("a/chunk_3.csv"), PathBuf::from("z/chunk_10.csv"), PathBuf::from("m/chunk_20.csv")]
        );
    }

    #[test]
    fn leading_zeros_tie_break_keeps_the_order_total() {
        assert_eq!(natural_cmp("a007", "a7"), "a007".cmp("a7"));
        assert_eq!(natural_cmp("x", "x"), Ordering::Equal);
    }
}
