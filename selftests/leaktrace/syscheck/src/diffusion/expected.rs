// SPDX-License-Identifier: GPL-2.0

//! A diffusion scenario's `expected` file: the exact set of edges its run
//! must produce, and what must not appear. One item per line; `#` starts a
//! comment line, blank lines are ignored:
//!
//! ```text
//! vmN OP SOURCE -> TARGET [secrets=I,J] [syscall=NAME,NAME]
//! vmN source NODE [secrets=I]          a file became confidential
//! vmN rename NODE                      a confidential file seen under a new name
//! ! NODE                               no record, in any guest, has this node
//! ! vmN NODE                           ... in guest N
//! ! vmN OP SOURCE -> TARGET            this edge does not appear
//! ! vmN OP NODE                        (source and rename records)
//! ```
//!
//! Labels are those of [`super::node_label`]; `*` in any word matches any
//! run of characters. `secrets=` is the union of the `secrets` of every
//! matching record, `syscall=` the set of their system calls' names.

use std::fmt;

/// The operations a diffusion record can have.
pub const OPS: [&str; 9] = [
    "read",
    "write",
    "map",
    "inherit",
    "transfer",
    "attach",
    "exfiltrate",
    "rename",
    "source",
];

/// A word in which `*` matches any run of characters.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Pattern(pub String);

impl Pattern {
    /// Whether `s` matches.
    pub fn matches(&self, s: &str) -> bool {
        glob(self.0.as_bytes(), s.as_bytes())
    }
}

impl fmt::Display for Pattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// `*`-only glob, iterative with backtracking to the last star.
fn glob(p: &[u8], s: &[u8]) -> bool {
    let (mut pi, mut si) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while si < s.len() {
        if pi < p.len() && p[pi] == b'*' {
            star = Some((pi, si));
            pi += 1;
        } else if pi < p.len() && p[pi] == s[si] {
            pi += 1;
            si += 1;
        } else if let Some((sp, ss)) = star {
            pi = sp + 1;
            si = ss + 1;
            star = Some((sp, ss + 1));
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|&c| c == b'*')
}

/// An edge as a pattern.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EdgePattern {
    /// `vmN`.
    pub vm: Pattern,
    /// The operation.
    pub op: Pattern,
    /// The source; `None` for `source` and `rename`.
    pub source: Option<Pattern>,
    /// The target.
    pub target: Pattern,
}

impl EdgePattern {
    /// Whether `e` matches.
    pub fn matches(&self, e: &super::Edge) -> bool {
        self.vm.matches(&e.vm)
            && self.op.matches(&e.op)
            && self.target.matches(&e.target)
            && match (&self.source, &e.source) {
                (Some(p), Some(s)) => p.matches(s),
                (None, None) => true,
                _ => false,
            }
    }
}

impl fmt::Display for EdgePattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.source {
            Some(s) => write!(f, "{} {} {s} -> {}", self.vm, self.op, self.target),
            None => write!(f, "{} {} {}", self.vm, self.op, self.target),
        }
    }
}

/// What one line asks for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Item {
    /// An edge that must appear, with what its records must say.
    Edge {
        /// The edge.
        edge: EdgePattern,
        /// `secrets=`: the union of the records' secrets, ascending.
        secrets: Option<Vec<u32>>,
        /// `syscall=`: the set of the records' system calls, sorted.
        syscalls: Option<Vec<String>>,
    },
    /// `! [vmN] NODE`: no record (of guest `vm`, if given) has the node.
    NoNode {
        /// The guest, if given.
        vm: Option<Pattern>,
        /// The node.
        node: Pattern,
    },
    /// `! EDGE`: the edge does not appear.
    NoEdge(EdgePattern),
}

/// One line of the file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Line {
    /// Line number, from 1.
    pub line: usize,
    /// The line as written (trimmed).
    pub text: String,
    /// What it asks.
    pub item: Item,
}

/// The whole file.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Expected {
    /// Its items, in file order.
    pub lines: Vec<Line>,
}

fn vm_word(w: &str) -> Result<Pattern, String> {
    if w.contains('*') || crate::input::vm_number(w).is_some() {
        Ok(Pattern(w.into()))
    } else {
        Err(format!("'{w}' is not vmN"))
    }
}

fn op_word(w: &str) -> Result<Pattern, String> {
    if w.contains('*') || OPS.contains(&w) {
        Ok(Pattern(w.into()))
    } else {
        Err(format!("'{w}' is not an operation ({})", OPS.join(", ")))
    }
}

/// Parses `vmN OP SOURCE -> TARGET` or `vmN OP NODE` from `words`;
/// returns the edge and the words after it.
fn edge_words<'a>(words: &'a [&'a str]) -> Result<(EdgePattern, &'a [&'a str]), String> {
    let [vm, op, rest @ ..] = words else {
        return Err("expected 'vmN OP SOURCE -> TARGET' or 'vmN OP NODE'".into());
    };
    let (vm, op_p) = (vm_word(vm)?, op_word(op)?);
    let node_op = super::is_node_op(op);
    match rest {
        [s, "->", t, tail @ ..] if !node_op => Ok((
            EdgePattern {
                vm,
                op: op_p,
                source: Some(Pattern((*s).into())),
                target: Pattern((*t).into()),
            },
            tail,
        )),
        [n, tail @ ..] if node_op && tail.first() != Some(&"->") => Ok((
            EdgePattern {
                vm,
                op: op_p,
                source: None,
                target: Pattern((*n).into()),
            },
            tail,
        )),
        _ if node_op => Err(format!("'{op}' names one node: 'vmN {op} NODE'")),
        _ => Err(format!("expected 'vmN {op} SOURCE -> TARGET'")),
    }
}

/// `0,1` as ascending ids.
fn ids(v: &str) -> Result<Vec<u32>, String> {
    let mut out = v
        .split(',')
        .map(|x| {
            x.parse::<u32>()
                .map_err(|_| format!("'{v}' is not a list of secret ids"))
        })
        .collect::<Result<Vec<_>, _>>()?;
    out.sort_unstable();
    out.dedup();
    Ok(out)
}

impl Expected {
    /// Parses the file; the error is `LINE: what is wrong`.
    pub fn parse(text: &str) -> Result<Self, String> {
        let mut lines = Vec::new();
        for (i, raw) in text.lines().enumerate() {
            let ln = i + 1;
            let t = raw.trim();
            if t.is_empty() || t.starts_with('#') {
                continue;
            }
            let item = Self::item(t).map_err(|e| format!("{ln}: {e}: '{t}'"))?;
            lines.push(Line {
                line: ln,
                text: t.into(),
                item,
            });
        }
        Ok(Expected { lines })
    }

    fn item(t: &str) -> Result<Item, String> {
        if let Some(rest) = t.strip_prefix('!') {
            let words: Vec<&str> = rest.split_whitespace().collect();
            return match words.as_slice() {
                [node] => Ok(Item::NoNode {
                    vm: None,
                    node: Pattern((*node).into()),
                }),
                [vm, node] => Ok(Item::NoNode {
                    vm: Some(vm_word(vm)?),
                    node: Pattern((*node).into()),
                }),
                _ => {
                    let (edge, tail) = edge_words(&words)?;
                    if tail.is_empty() {
                        Ok(Item::NoEdge(edge))
                    } else {
                        Err(format!("unexpected '{}' after the edge", tail.join(" ")))
                    }
                }
            };
        }
        let words: Vec<&str> = t.split_whitespace().collect();
        let (edge, tail) = edge_words(&words)?;
        let (mut secrets, mut syscalls) = (None, None);
        for w in tail {
            if let Some(v) = w.strip_prefix("secrets=") {
                secrets = Some(ids(v)?);
            } else if let Some(v) = w.strip_prefix("syscall=") {
                let mut names: Vec<String> = v.split(',').map(str::to_string).collect();
                if names.iter().any(String::is_empty) {
                    return Err(format!("'{w}': empty system call name"));
                }
                names.sort();
                names.dedup();
                syscalls = Some(names);
            } else {
                return Err(format!("'{w}' is neither secrets=... nor syscall=..."));
            }
        }
        Ok(Item::Edge {
            edge,
            secrets,
            syscalls,
        })
    }
}
