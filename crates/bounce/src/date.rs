//! RFC 5322 dates in local time as Postfix's `mail_date()` writes them:
//! `Tue, 14 Nov 2023 22:13:20 +0000 (UTC)`.

/// Format `t` (seconds since the epoch) in the local time zone.
pub fn mail_date(t: i64) -> String {
    // SAFETY: `tm` is a plain C struct filled by localtime_r before any read;
    // strftime writes at most `buf.len()` bytes into our buffer.
    unsafe {
        let mut tm: libc::tm = std::mem::zeroed();
        let tt = t as libc::time_t;
        if libc::localtime_r(&tt, &mut tm).is_null() {
            return String::new();
        }
        let mut buf = [0u8; 128];
        let n = libc::strftime(
            buf.as_mut_ptr().cast(),
            buf.len(),
            c"%a, %d %b %Y %H:%M:%S ".as_ptr(),
            &tm,
        );
        let mut out = String::from_utf8_lossy(&buf[..n]).into_owned();
        let off = tm.tm_gmtoff;
        let sign = if off < 0 { '-' } else { '+' };
        let off = off.abs();
        out.push_str(&format!("{sign}{:02}{:02}", off / 3600, (off % 3600) / 60));
        let n = libc::strftime(buf.as_mut_ptr().cast(), buf.len(), c" (%Z)".as_ptr(), &tm);
        out.push_str(&String::from_utf8_lossy(&buf[..n]));
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shape() {
        let d = mail_date(1_700_000_000);
        // Day, date, time, offset, zone: the zone depends on the machine.
        let parts: Vec<&str> = d.split(' ').collect();
        assert_eq!(parts.len(), 7, "{d}");
        assert!(parts[0].ends_with(','), "{d}");
        assert_eq!(parts[3], "2023", "{d}");
        assert!(
            parts[5].starts_with('+') || parts[5].starts_with('-'),
            "{d}"
        );
        assert!(parts[6].starts_with('(') && parts[6].ends_with(')'), "{d}");
    }
}
