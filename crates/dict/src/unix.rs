//! `unix:passwd.byname` and `unix:group.byname`: the system user and
//! group databases, answered as `passwd`/`group` file lines.

use crate::{Dict, DictError, fold_key};
use std::ffi::{CStr, CString};

/// Which system database.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Which {
    /// getpwnam().
    Passwd,
    /// getgrnam().
    Group,
}

/// A `unix:` table.
pub struct UnixDict {
    name: String,
    which: Which,
}

impl UnixDict {
    /// `passwd.byname` or `group.byname`.
    pub fn open(name: &str) -> Result<UnixDict, DictError> {
        let which = match name {
            "passwd.byname" => Which::Passwd,
            "group.byname" => Which::Group,
            _ => {
                return Err(DictError::UnixMap {
                    name: name.to_string(),
                });
            }
        };
        Ok(UnixDict {
            name: name.to_string(),
            which,
        })
    }
}

/// C string pointer to String ("" for null).
///
/// # Safety
/// `p` must be null or point to a NUL-terminated string.
unsafe fn cstr(p: *const libc::c_char) -> String {
    if p.is_null() {
        String::new()
    } else {
        // SAFETY: guaranteed by the caller.
        unsafe { CStr::from_ptr(p) }.to_string_lossy().into_owned()
    }
}

/// getpwnam_r() formatted as a passwd line.
fn passwd_line(name: &CStr) -> Option<String> {
    let mut buf = vec![0u8; 16384];
    // SAFETY: zeroed passwd is a valid "empty" struct for getpwnam_r to fill.
    let mut pw: libc::passwd = unsafe { std::mem::zeroed() };
    let mut result: *mut libc::passwd = std::ptr::null_mut();
    // SAFETY: all pointers are valid for the given sizes.
    let rc = unsafe {
        libc::getpwnam_r(
            name.as_ptr(),
            &mut pw,
            buf.as_mut_ptr().cast(),
            buf.len(),
            &mut result,
        )
    };
    if rc != 0 || result.is_null() {
        return None;
    }
    // SAFETY: getpwnam_r filled these with NUL-terminated strings in buf.
    unsafe {
        Some(format!(
            "{}:{}:{}:{}:{}:{}:{}",
            cstr(pw.pw_name),
            cstr(pw.pw_passwd),
            pw.pw_uid,
            pw.pw_gid,
            cstr(pw.pw_gecos),
            cstr(pw.pw_dir),
            cstr(pw.pw_shell)
        ))
    }
}

/// getgrnam_r() formatted as a group line.
fn group_line(name: &CStr) -> Option<String> {
    let mut buf = vec![0u8; 65536];
    // SAFETY: zeroed group is a valid "empty" struct for getgrnam_r to fill.
    let mut gr: libc::group = unsafe { std::mem::zeroed() };
    let mut result: *mut libc::group = std::ptr::null_mut();
    // SAFETY: all pointers are valid for the given sizes.
    let rc = unsafe {
        libc::getgrnam_r(
            name.as_ptr(),
            &mut gr,
            buf.as_mut_ptr().cast(),
            buf.len(),
            &mut result,
        )
    };
    if rc != 0 || result.is_null() {
        return None;
    }
    let mut members = Vec::new();
    // SAFETY: gr_mem is a NULL-terminated array of C strings in buf.
    unsafe {
        let mut p = gr.gr_mem;
        while !p.is_null() && !(*p).is_null() {
            members.push(cstr(*p));
            p = p.add(1);
        }
        Some(format!(
            "{}:{}:{}:{}",
            cstr(gr.gr_name),
            cstr(gr.gr_passwd),
            gr.gr_gid,
            members.join(",")
        ))
    }
}

impl Dict for UnixDict {
    fn dict_type(&self) -> &str {
        "unix"
    }
    fn name(&self) -> &str {
        &self.name
    }
    fn lookup(&self, key: &str) -> Result<Option<String>, DictError> {
        let key = fold_key(key);
        let Ok(c) = CString::new(key.as_bytes()) else {
            return Ok(None);
        };
        Ok(match self.which {
            Which::Passwd => passwd_line(&c),
            Which::Group => group_line(&c),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn root_cases() {
        let p = UnixDict::open("passwd.byname").unwrap();
        let g = UnixDict::open("group.byname").unwrap();
        let cases = [
            ("passwd root", &p, "root", true),
            ("passwd folded", &p, "ROOT", true),
            ("passwd missing", &p, "no-such-user-xyz", false),
            ("group root", &g, "root", true),
        ];
        for (name, d, key, found) in cases {
            let r = d.lookup(key).unwrap();
            assert_eq!(r.is_some(), found, "case {name}");
            if let Some(line) = r {
                assert!(line.starts_with("root:"), "case {name}: {line}");
            }
        }
        assert!(UnixDict::open("bogus").is_err());
    }
}
