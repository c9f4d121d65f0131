//! RFC 5322 dates as Postfix's `mail_date()` writes them (`src/global/mail_date.c`):
//! local time, the day of month space-padded (`%e`), numeric offset and zone name.

/// Postfix's `mail_date()`: an RFC 5322 date in local time, day of month
/// space-padded (`Wed,  5 Nov 2026 13:14:05 +0100 (CET)`), used by pickup's
/// `Received:` line, cleanup's `Date:` header and bounce notices.
pub fn mail_date(unix_secs: i64) -> String {
    const DAYS: [&str; 7] = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"];
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let t: libc::time_t = unix_secs as libc::time_t;
    // SAFETY: an all-zero `tm` is a valid value; localtime_r only writes into it.
    let mut tm: libc::tm = unsafe { std::mem::zeroed() };
    // SAFETY: both pointers are valid for the duration of the call.
    let ok = !unsafe { libc::localtime_r(&t, &mut tm) }.is_null();
    if !ok {
        // SAFETY: as above, with gmtime_r.
        unsafe { libc::gmtime_r(&t, &mut tm) };
    }
    let off = tm.tm_gmtoff / 60;
    let zone = if tm.tm_zone.is_null() {
        String::from("UTC")
    } else {
        // SAFETY: tm_zone points to a NUL-terminated static string set by localtime_r.
        unsafe { std::ffi::CStr::from_ptr(tm.tm_zone) }
            .to_string_lossy()
            .into_owned()
    };
    format!(
        "{}, {:2} {} {} {:02}:{:02}:{:02} {}{:02}{:02} ({})",
        DAYS.get(tm.tm_wday as usize).unwrap_or(&"Sun"),
        tm.tm_mday,
        MONTHS.get(tm.tm_mon as usize).unwrap_or(&"Jan"),
        tm.tm_year + 1900,
        tm.tm_hour,
        tm.tm_min,
        tm.tm_sec,
        if off < 0 { '-' } else { '+' },
        off.abs() / 60,
        off.abs() % 60,
        zone
    )
}
