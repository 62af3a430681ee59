// SPDX-License-Identifier: GPL-2.0

//! Path globs naming confidential files.
//!
//! A pattern is an absolute path whose components may hold `*` (any run of
//! bytes, `/` excepted), `?` (one byte), or be `**` (any number of whole
//! components, none included). `/srv/secret/**` names everything below
//! `/srv/secret`; `/home/*/.ssh/id_*` every user's private keys.
//!
//! Matching never allocates and never recurses: each level (components,
//! then bytes within one) is the classic wildcard walk that remembers only
//! its last star, so the work is bounded by the product of the lengths
//! (at most [`crate::abi::SECRET_PATTERN_MAX`] by 512 bytes here).

use crate::abi::SECRET_PATTERN_MAX;

/// Why a pattern is refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PatternError {
    /// Empty, or longer than [`SECRET_PATTERN_MAX`].
    Length,
    /// Does not start with `/`.
    NotAbsolute,
    /// Has an empty component (`//`, or a trailing `/`), or a `.` or `..`
    /// component (paths the module sees have none).
    Component,
    /// `**` mixed with other bytes in one component (`a**`).
    DoubleStar,
    /// Holds a NUL byte.
    Nul,
}

/// Checks that `pattern` is a pattern [`matches`] understands.
pub fn validate(pattern: &[u8]) -> Result<(), PatternError> {
    if pattern.is_empty() || pattern.len() > SECRET_PATTERN_MAX {
        return Err(PatternError::Length);
    }
    if pattern[0] != b'/' {
        return Err(PatternError::NotAbsolute);
    }
    if pattern.contains(&0) {
        return Err(PatternError::Nul);
    }
    if pattern.len() == 1 {
        // "/" alone names the root directory, never a file: refuse it.
        return Err(PatternError::Component);
    }
    for component in pattern[1..].split(|&b| b == b'/') {
        if component.is_empty() || component == b"." || component == b".." {
            return Err(PatternError::Component);
        }
        if component != b"**" && component.windows(2).any(|w| w == b"**") {
            return Err(PatternError::DoubleStar);
        }
    }
    Ok(())
}

/// The component of `s` starting at byte `at` and where the next one
/// starts (`s.len()` past the last).
fn component(s: &[u8], at: usize) -> (&[u8], usize) {
    match s[at..].iter().position(|&b| b == b'/') {
        Some(len) => (&s[at..at + len], at + len + 1),
        None => (&s[at..], s.len()),
    }
}

/// Whether one path component matches one pattern component (`*`, `?`).
fn component_matches(pattern: &[u8], name: &[u8]) -> bool {
    let (mut p, mut n) = (0, 0);
    // After the last `*`: where the pattern resumes, and the name byte it
    // was last tried against.
    let mut star: Option<(usize, usize)> = None;
    while n < name.len() {
        match pattern.get(p) {
            Some(b'*') => {
                star = Some((p + 1, n));
                p += 1;
            }
            Some(&c) if c == b'?' || c == name[n] => {
                p += 1;
                n += 1;
            }
            _ => match star {
                // Let the star swallow one more byte and retry.
                Some((resume, tried)) => {
                    star = Some((resume, tried + 1));
                    p = resume;
                    n = tried + 1;
                }
                None => return false,
            },
        }
    }
    pattern[p..].iter().all(|&c| c == b'*')
}

/// Whether absolute `path` matches `pattern` (see the module
/// documentation). A relative path or an invalid pattern never matches.
pub fn matches(pattern: &[u8], path: &[u8]) -> bool {
    if validate(pattern).is_err() || path.first() != Some(&b'/') {
        return false;
    }
    // Byte offsets of the current components (past the leading '/').
    let (mut p, mut s) = (1, 1);
    let path_end = if path.len() == 1 { 1 } else { path.len() };
    // After the last `**`: where the pattern resumes, and the path
    // component it was last tried against.
    let mut globstar: Option<(usize, usize)> = None;
    loop {
        let pattern_done = p >= pattern.len();
        let path_done = s >= path_end;
        if pattern_done && path_done {
            return true;
        }
        if !pattern_done {
            let (want, p_next) = component(pattern, p);
            if want == b"**" {
                globstar = Some((p_next, s));
                p = p_next;
                continue;
            }
            if !path_done {
                let (have, s_next) = component(path, s);
                if component_matches(want, have) {
                    p = p_next;
                    s = s_next;
                    continue;
                }
            }
        }
        // Mismatch: let the last `**` take one more component.
        match globstar {
            Some((resume, tried)) if tried < path_end => {
                let (_, next) = component(path, tried);
                globstar = Some((resume, next));
                p = resume;
                s = next;
            }
            _ => return false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(pattern: &str, path: &str) -> bool {
        matches(pattern.as_bytes(), path.as_bytes())
    }

    #[test]
    fn literal_paths() {
        assert!(m("/etc/shadow", "/etc/shadow"));
        assert!(!m("/etc/shadow", "/etc/shadow2"));
        assert!(!m("/etc/shadow", "/etc"));
        assert!(!m("/etc", "/etc/shadow"));
        assert!(!m("/etc/shadow", "etc/shadow"));
    }

    #[test]
    fn star_and_question_mark_stay_in_one_component() {
        assert!(m("/home/*/.ssh/id_*", "/home/alice/.ssh/id_ed25519"));
        assert!(!m("/home/*/.ssh/id_*", "/home/alice/x/.ssh/id_rsa"));
        assert!(m("/srv/*.txt", "/srv/plan.txt"));
        assert!(m("/srv/*.txt", "/srv/.txt"));
        assert!(!m("/srv/*.txt", "/srv/a/plan.txt"));
        assert!(m("/srv/plan?.txt", "/srv/plan1.txt"));
        assert!(!m("/srv/plan?.txt", "/srv/plan.txt"));
        assert!(m("/a/*b*c*", "/a/xxbyycb-c"));
        assert!(!m("/a/*b*c", "/a/xxbyycb-"));
    }

    #[test]
    fn double_star_spans_components() {
        assert!(m("/srv/secret/**", "/srv/secret/plan.txt"));
        assert!(m("/srv/secret/**", "/srv/secret/a/b/c"));
        assert!(m("/srv/secret/**", "/srv/secret"));
        assert!(!m("/srv/secret/**", "/srv/secrets/plan.txt"));
        assert!(m("/**/*.key", "/a/b/c.key"));
        assert!(m("/**/*.key", "/c.key"));
        assert!(!m("/**/*.key", "/a/b/c.key/d"));
        assert!(m("/a/**/b/**/c", "/a/x/b/y/z/c"));
        assert!(m("/a/**/b/**/c", "/a/b/c"));
        assert!(!m("/a/**/b/**/c", "/a/x/c"));
        assert!(m("/**", "/anything/at/all"));
    }

    #[test]
    fn invalid_patterns_are_refused_and_never_match() {
        assert_eq!(validate(b""), Err(PatternError::Length));
        assert_eq!(validate(b"srv/x"), Err(PatternError::NotAbsolute));
        assert_eq!(validate(b"/srv//x"), Err(PatternError::Component));
        assert_eq!(validate(b"/srv/x/"), Err(PatternError::Component));
        assert_eq!(validate(b"/srv/../x"), Err(PatternError::Component));
        assert_eq!(validate(b"/"), Err(PatternError::Component));
        assert_eq!(validate(b"/a**"), Err(PatternError::DoubleStar));
        assert_eq!(validate(b"/a\0b"), Err(PatternError::Nul));
        assert_eq!(validate(&[b'/'; SECRET_PATTERN_MAX + 1]), Err(PatternError::Length));
        assert!(!m("srv/x", "srv/x"));
        assert!(!m("/a**", "/a"));
        assert_eq!(validate(b"/srv/secret/**"), Ok(()));
    }

    #[test]
    fn worst_case_work_is_bounded() {
        // Many stars against a long near-miss: quadratic, not exponential.
        let mut pattern = std::vec::Vec::from(&b"/"[..]);
        for _ in 0..60 {
            pattern.extend_from_slice(b"**/a*a*a*a/");
        }
        pattern.extend_from_slice(b"b");
        let mut path = std::vec::Vec::new();
        for _ in 0..128 {
            path.extend_from_slice(b"/aaa");
        }
        assert!(pattern.len() > SECRET_PATTERN_MAX || !matches(&pattern, &path));
        let small = b"/**/*a*a*a*a*a*a*a*a*a*a*a*b";
        assert!(!matches(small, &path));
    }
}
