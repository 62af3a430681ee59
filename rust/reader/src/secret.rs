// SPDX-License-Identifier: GPL-2.0

//! Secrets, the confidential sources the module follows: `leaktrace
//! secret add`, `list` and `rm`, over `IOCTL_SECRET` and
//! `IOCTL_SECRET_LIST` ([`Control`]).
//!
//! A secret is a path glob in the guests, for one VM (by SMBIOS UUID) or
//! for every VM; a file a traced process uses whose path matches it
//! becomes confidential, and everything its data reaches is followed
//! (Documentation/abi.rst, Documentation/diffusion.rst). Patterns are
//! checked here before any ioctl, with the module's own rules
//! (`leaktrace_core::glob::validate`), so that a mistake is explained
//! rather than answered `EINVAL`.

use crate::control::fill_growing;
use crate::control::ioctl_error_message;
use crate::control::Control;
use crate::control::Ioctl;
use crate::diffusion::SecretPatterns;
use crate::uuid;
use leaktrace_abi::SecretInfo;
use leaktrace_abi::SecretRequest;
use leaktrace_abi::Uuid;
use leaktrace_abi::SECRETS_MAX;
use leaktrace_abi::SECRET_ADD;
use leaktrace_abi::SECRET_PATTERN_MAX;
use leaktrace_abi::SECRET_REMOVE;
use leaktrace_core::glob;
use leaktrace_core::glob::PatternError;
use serde::Serialize;
use std::ffi::OsStr;
use std::io;
use std::os::unix::ffi::OsStrExt;

/// The glob syntax of secret patterns, for `--help` and messages.
pub const PATTERN_SYNTAX: &str = "An absolute path glob in the guest (at most 256 bytes, UTF-8): \
`*` matches any characters within one path component and `?` one character, never `/`; \
`**` as a whole component matches any number of components, none included \
(`/home/*/.ssh/id_*`, `/secret/**`). No empty, `.` or `..` components.";

/// Which VMs a secret is for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SecretVm {
    /// The VMs with this SMBIOS UUID.
    Uuid(Uuid),
    /// Every VM.
    All,
}

impl SecretVm {
    /// The VMs, as `secret list` shows them: the UUID, or `all`.
    pub fn text(self) -> String {
        match self {
            Self::Uuid(u) => uuid::format(&u),
            Self::All => "all".into(),
        }
    }

    /// The target of a secret the module lists.
    pub fn of(info: &SecretInfo) -> Self {
        if info.all != 0 {
            Self::All
        } else {
            Self::Uuid(info.uuid)
        }
    }
}

/// Parses `--vm`: `all`, or a canonical UUID.
pub fn parse_secret_vm(text: &str) -> Result<SecretVm, String> {
    if text == "all" {
        return Ok(SecretVm::All);
    }
    uuid::parse(text)
        .map(SecretVm::Uuid)
        .map_err(|e| format!("`{text}` is neither `all` nor a UUID: {e}"))
}

/// Checks a pattern as the module will (UTF-8, then the module's
/// `glob::validate`: absolute, 1 to [`SECRET_PATTERN_MAX`] bytes, no NUL,
/// no empty, `.` or `..` component, `**` only as a whole component);
/// returns it as text.
pub fn check_pattern(pattern: &OsStr) -> Result<&str, String> {
    let bytes = pattern.as_bytes();
    let Ok(text) = core::str::from_utf8(bytes) else {
        return Err(format!(
            "secret pattern {} is not valid UTF-8",
            pattern.to_string_lossy()
        ));
    };
    match glob::validate(bytes) {
        Ok(()) => Ok(text),
        Err(PatternError::Length) if bytes.is_empty() => {
            Err(format!("the secret pattern is empty. {PATTERN_SYNTAX}"))
        }
        Err(PatternError::Length) => Err(format!(
            "secret pattern is {} bytes long: at most {SECRET_PATTERN_MAX}",
            bytes.len()
        )),
        Err(PatternError::NotAbsolute) => Err(format!(
            "secret pattern `{text}` is not absolute: it must start with `/` \
             (a path in the guest, e.g. /home/*/.ssh/id_*)"
        )),
        Err(PatternError::Nul) => Err("secret pattern contains a NUL byte".into()),
        Err(PatternError::Component) if text == "/" => Err(
            "secret pattern `/` names the root directory, never a file: name files below it \
             (`/**` for every file)"
                .into(),
        ),
        Err(PatternError::Component) => Err(format!(
            "secret pattern `{text}` has an empty, `.` or `..` component (`//`, a trailing `/`, \
             `/./`, `/../`): the paths the module matches have none"
        )),
        Err(PatternError::DoubleStar) => Err(format!(
            "secret pattern `{text}` has `**` inside a component: `**` must be a whole component \
             (`/a/**/b`); use `*` within one"
        )),
    }
}

/// The `IOCTL_SECRET` request that adds `pattern` (checked) for `vm`.
pub fn add_request(vm: SecretVm, pattern: &str) -> SecretRequest {
    let bytes = pattern.as_bytes();
    let len = bytes.len().min(SECRET_PATTERN_MAX);
    let mut req = SecretRequest {
        op: SECRET_ADD,
        pattern_len: len as u32,
        ..SecretRequest::default()
    };
    match vm {
        SecretVm::Uuid(u) => req.uuid = u,
        SecretVm::All => req.all = 1,
    }
    req.pattern[..len].copy_from_slice(&bytes[..len]);
    req
}

/// The `IOCTL_SECRET` request that removes secret `id`.
pub fn remove_request(id: u32) -> SecretRequest {
    SecretRequest {
        op: SECRET_REMOVE,
        id,
        ..SecretRequest::default()
    }
}

/// Defines secret `pattern` (checked with [`check_pattern`] first) for
/// `vm`; returns its id, or a message saying what went wrong.
pub fn add(ctl: &dyn Control, vm: SecretVm, pattern: &OsStr) -> Result<u32, String> {
    let pattern = check_pattern(pattern)?;
    let reply = ctl.secret(&add_request(vm, pattern)).map_err(|e| {
        let what = format!("adding secret `{pattern}` for {}", vm_words(vm));
        match e.raw_os_error() {
            Some(libc::ENOSPC) => format!(
                "{what}: the module holds at most {SECRETS_MAX} secrets; remove one first \
                 (leaktrace secret list, leaktrace secret rm ID)"
            ),
            Some(libc::EINVAL) => format!(
                "{what}: the module refused it as invalid (EINVAL), though it passed \
                 leaktrace's own checks; is the module built from the same ABI as this leaktrace?"
            ),
            Some(libc::ENOTTY) | Some(libc::EACCES) | Some(libc::EPERM) => {
                ioctl_error_message(ctl.path(), Ioctl::Secret, &e)
            }
            _ => format!("{what} on {}: {e}", ctl.path().display()),
        }
    })?;
    Ok(reply.id)
}

/// `all VMs` or `the VMs with UUID U`, for messages.
fn vm_words(vm: SecretVm) -> String {
    match vm {
        SecretVm::All => "all VMs".into(),
        SecretVm::Uuid(u) => format!("the VMs with UUID {}", uuid::format(&u)),
    }
}

/// Removes secret `id`, or says why not.
pub fn remove(ctl: &dyn Control, id: u32) -> Result<(), String> {
    if id as usize >= SECRETS_MAX {
        return Err(format!(
            "no secret {id}: ids are 0 to {} (see leaktrace secret list)",
            SECRETS_MAX - 1
        ));
    }
    ctl.secret(&remove_request(id))
        .map(|_| ())
        .map_err(|e| match e.raw_os_error() {
            Some(libc::ENOENT) => format!("no secret {id} (see leaktrace secret list)"),
            Some(libc::EINVAL) => format!(
                "removing secret {id}: the module rejected the request as invalid (EINVAL); \
                 is it built from the same ABI as this leaktrace?"
            ),
            Some(libc::ENOTTY) | Some(libc::EACCES) | Some(libc::EPERM) => {
                ioctl_error_message(ctl.path(), Ioctl::Secret, &e)
            }
            _ => format!("removing secret {id} on {}: {e}", ctl.path().display()),
        })
}

/// The secrets defined (`IOCTL_SECRET_LIST`), by ascending id.
pub fn list(ctl: &dyn Control) -> io::Result<Vec<SecretInfo>> {
    let (mut secrets, ()) = fill_growing(SECRETS_MAX, |entries| {
        ctl.secret_list(entries).map(|count| (count, ()))
    })?;
    secrets.sort_by_key(|s| s.id);
    Ok(secrets)
}

/// [`list`], with a failure explained.
pub fn list_or_message(ctl: &dyn Control) -> Result<Vec<SecretInfo>, String> {
    list(ctl).map_err(|e| ioctl_error_message(ctl.path(), Ioctl::SecretList, &e))
}

/// A secret's pattern as text (lossy UTF-8).
pub fn pattern_text(info: &SecretInfo) -> String {
    let len = (info.pattern_len as usize).min(SECRET_PATTERN_MAX);
    String::from_utf8_lossy(&info.pattern[..len]).into_owned()
}

/// Id to pattern, for `watch`.
pub fn patterns(secrets: &[SecretInfo]) -> SecretPatterns {
    secrets.iter().map(|s| (s.id, pattern_text(s))).collect()
}

/// One secret of `secret list --json`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct JsonSecret {
    /// Its id: its bit in diffusion records' `secrets`.
    pub id: u32,
    /// `all`, or the UUID of the VMs it is for.
    pub vm: String,
    /// The glob.
    pub pattern: String,
    /// Files that became confidential through it, in all VMs.
    pub files: u64,
}

/// `secret list --json`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct JsonSecrets {
    /// Device path that was queried.
    pub device: String,
    /// The secrets, by ascending id.
    pub secrets: Vec<JsonSecret>,
}

impl JsonSecrets {
    /// The JSON view of `secrets`.
    pub fn new(device: &str, secrets: &[SecretInfo]) -> Self {
        Self {
            device: device.to_owned(),
            secrets: secrets
                .iter()
                .map(|s| JsonSecret {
                    id: s.id,
                    vm: SecretVm::of(s).text(),
                    pattern: pattern_text(s),
                    files: s.files,
                })
                .collect(),
        }
    }
}

/// `secret list` as text (with final newline): a table with the columns
/// ID, VM, PATTERN and FILES, or `no secrets`.
pub fn list_text(secrets: &[SecretInfo]) -> String {
    if secrets.is_empty() {
        return "no secrets\n".into();
    }
    let header = ["ID", "VM", "PATTERN", "FILES"];
    let rows: Vec<[String; 4]> = secrets
        .iter()
        .map(|s| {
            [
                s.id.to_string(),
                SecretVm::of(s).text(),
                pattern_text(s),
                s.files.to_string(),
            ]
        })
        .collect();
    let mut widths = header.map(str::len);
    for row in &rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let mut out = String::new();
    let mut line = |cells: [&str; 4]| {
        let padded: Vec<String> = cells
            .iter()
            .zip(widths)
            .map(|(cell, w)| format!("{cell:<w$}"))
            .collect();
        out.push_str(padded.join("  ").trim_end());
        out.push('\n');
    };
    line(header);
    for row in &rows {
        line(row.each_ref().map(String::as_str));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::control::tests::u;
    use crate::control::tests::SimModule;
    use crate::control::tests::A;
    use std::ffi::OsString;
    use std::os::unix::ffi::OsStringExt;

    fn os(s: &str) -> &OsStr {
        OsStr::new(s)
    }

    #[test]
    fn patterns_are_checked_before_the_ioctl() {
        let sim = SimModule::default();
        let bad = OsString::from_vec(vec![b'/', 0xff, b'x']);
        let cases: [(&OsStr, &str); 11] = [
            (&bad, "is not valid UTF-8"),
            (os("/"), "names the root directory"),
            (os("/secret//plan"), "has an empty, `.` or `..` component"),
            (os("/secret/"), "has an empty"),
            (os("/secret/./plan"), "has an empty"),
            (os("/home/../etc/shadow"), "has an empty"),
            (os("/secret/plan**"), "`**` must be a whole component"),
            (os(""), "the secret pattern is empty"),
            (
                os("secret/**"),
                "`secret/**` is not absolute: it must start with `/`",
            ),
            (os("*.key"), "is not absolute"),
            (
                OsStr::new(Box::leak(format!("/{}", "a".repeat(256)).into_boxed_str())),
                "secret pattern is 257 bytes long: at most 256",
            ),
        ];
        for (pattern, needle) in cases {
            let err = add(&sim, SecretVm::All, pattern).unwrap_err();
            assert!(err.contains(needle), "{err:?} lacks {needle:?}");
        }
        assert_eq!(sim.secret_calls.get(), 0, "nothing reached the module");
        assert_eq!(
            check_pattern(os(&format!("/{}", "b".repeat(255)))),
            Ok(&*format!("/{}", "b".repeat(255)))
        );
        assert!(check_pattern(os("/a\0b")).unwrap_err().contains("NUL"));
    }

    #[test]
    fn add_list_and_remove() {
        let sim = SimModule::default();
        assert_eq!(add(&sim, SecretVm::All, os("/secret/**")), Ok(0));
        assert_eq!(
            add(&sim, SecretVm::Uuid(u(A)), os("/home/*/.ssh/id_*")),
            Ok(1)
        );
        sim.secrets.borrow_mut()[0].files = 2;
        let secrets = list(&sim).unwrap();
        assert_eq!(secrets.len(), 2);
        assert_eq!(pattern_text(&secrets[1]), "/home/*/.ssh/id_*");
        assert_eq!(SecretVm::of(&secrets[1]), SecretVm::Uuid(u(A)));
        assert_eq!(
            list_text(&secrets),
            format!(
                "ID  VM                                    PATTERN            FILES\n\
                 0   all                                   /secret/**         2\n\
                 1   {A}  /home/*/.ssh/id_*  0\n"
            )
        );
        let json = serde_json::to_value(JsonSecrets::new("/dev/leaktrace", &secrets)).unwrap();
        assert_eq!(
            json,
            serde_json::json!({"device": "/dev/leaktrace", "secrets": [
                {"id": 0, "vm": "all", "pattern": "/secret/**", "files": 2},
                {"id": 1, "vm": A, "pattern": "/home/*/.ssh/id_*", "files": 0}
            ]})
        );
        assert_eq!(patterns(&secrets)[&0], "/secret/**");
        assert_eq!(remove(&sim, 0), Ok(()));
        // An id is reused only after every other one was.
        assert_eq!(add(&sim, SecretVm::All, os("/etc/shadow")), Ok(2));
        assert!(check_pattern(os("/**")).is_ok());
        assert!(check_pattern(os("/home/*/.ssh/id_?sa")).is_ok());
        assert_eq!(list_text(&[]), "no secrets\n");
    }

    #[test]
    fn secret_errors_are_explained() {
        let sim = SimModule::default();
        for i in 0..SECRETS_MAX {
            assert_eq!(
                add(&sim, SecretVm::All, os(&format!("/s/{i}"))),
                Ok(i as u32)
            );
        }
        let err = add(&sim, SecretVm::All, os("/one/more")).unwrap_err();
        assert!(err.contains("at most 64 secrets"), "{err}");
        assert!(
            err.contains("adding secret `/one/more` for all VMs"),
            "{err}"
        );

        assert_eq!(remove(&sim, 5), Ok(()));
        assert_eq!(
            remove(&sim, 5).unwrap_err(),
            "no secret 5 (see leaktrace secret list)"
        );
        // All ids were given: the next one is the lowest free.
        assert_eq!(add(&sim, SecretVm::All, os("/again")), Ok(5));
        assert_eq!(remove(&sim, 5), Ok(()));
        let calls = sim.secret_calls.get();
        assert_eq!(
            remove(&sim, 64).unwrap_err(),
            "no secret 64: ids are 0 to 63 (see leaktrace secret list)"
        );
        assert_eq!(sim.secret_calls.get(), calls, "refused before the ioctl");

        sim.fail.set(Some(libc::ENOTTY));
        let err = add(&sim, SecretVm::All, os("/x")).unwrap_err();
        assert!(err.contains("does not know IOCTL_SECRET"), "{err}");
        let err = list_or_message(&sim).unwrap_err();
        assert!(err.contains("does not know IOCTL_SECRET_LIST"), "{err}");
        sim.fail.set(Some(libc::EPERM));
        assert!(remove(&sim, 1).unwrap_err().contains("run as root"));
        sim.fail.set(Some(libc::EINVAL));
        let err = add(&sim, SecretVm::Uuid(u(A)), os("/x")).unwrap_err();
        assert!(err.contains(&format!("for the VMs with UUID {A}")), "{err}");
        assert!(err.contains("refused it as invalid (EINVAL)"), "{err}");
    }

    #[test]
    fn the_simulated_module_checks_raw_requests() {
        let sim = SimModule::default();
        let einval = |req: SecretRequest| Control::secret(&sim, &req).unwrap_err().raw_os_error();
        let good = add_request(SecretVm::All, "/secret/**");
        let mut relative = good;
        relative.pattern[0] = b's';
        let mut not_utf8 = good;
        not_utf8.pattern[1] = 0xff;
        let dots = add_request(SecretVm::All, "/secret/../x");
        for bad in [
            SecretRequest { id: 1, ..good },
            dots,
            SecretRequest { op: 3, ..good },
            SecretRequest {
                pattern_len: 0,
                ..good
            },
            SecretRequest {
                pattern_len: 257,
                ..good
            },
            SecretRequest { all: 2, ..good },
            SecretRequest { all: 0, ..good },
            SecretRequest { uuid: u(A), ..good },
            relative,
            not_utf8,
        ] {
            assert_eq!(einval(bad), Some(libc::EINVAL), "{bad:?}");
        }
        assert_eq!(Control::secret(&sim, &good).unwrap().id, 0);
        assert_eq!(
            Control::secret(&sim, &remove_request(9))
                .unwrap_err()
                .raw_os_error(),
            Some(libc::ENOENT)
        );
    }

    #[test]
    fn vm_arguments_parse() {
        assert_eq!(parse_secret_vm("all"), Ok(SecretVm::All));
        assert_eq!(parse_secret_vm(A), Ok(SecretVm::Uuid(u(A))));
        assert!(parse_secret_vm("ALL").is_err());
        assert!(parse_secret_vm("2")
            .unwrap_err()
            .contains("neither `all` nor a UUID"));
    }
}
