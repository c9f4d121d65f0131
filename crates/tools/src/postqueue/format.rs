//! The two renderings of a showq listing: Sendmail's `mailq` layout
//! (C: `postqueue/showq_compat.c`) and one JSON object per message
//! (C: `postqueue/showq_json.c`). Both are pure functions of the entries.

use std::fmt::Write as _;

use global::ipc::showq::QueueEntry;

/// `asctime(localtime(t))` without the trailing newline: `Thu Aug  1 12:34:56 2025`.
pub fn asctime_local(t: i64) -> String {
    // SAFETY: an all-zero `tm` is a valid value; localtime_r fills it from
    // `t` and touches nothing else.
    let mut tm: libc::tm = unsafe { std::mem::zeroed() };
    let tt = t as libc::time_t;
    // SAFETY: both pointers refer to live, exclusively borrowed values.
    let ok = unsafe { !libc::localtime_r(&tt, &mut tm).is_null() };
    if !ok {
        return "??? ??? ?? ??:??:?? ????".to_string();
    }
    const DAYS: [&str; 7] = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"];
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let day = DAYS.get(tm.tm_wday as usize).copied().unwrap_or("???");
    let mon = MONTHS.get(tm.tm_mon as usize).copied().unwrap_or("???");
    // asctime(): "%.3s %.3s%3d %.2d:%.2d:%.2d %d\n".
    format!(
        "{day} {mon}{:3} {:02}:{:02}:{:02} {}",
        tm.tm_mday,
        tm.tm_hour,
        tm.tm_min,
        tm.tm_sec,
        i64::from(tm.tm_year) + 1900
    )
}

/// `%.Ns`: at most `n` characters of `s`.
fn prefix(s: &str, n: usize) -> &str {
    match s.char_indices().nth(n) {
        Some((i, _)) => &s[..i],
        None => s,
    }
}

/// Streaming `mailq` renderer: feed entries, then [`Mailq::finish`].
#[derive(Debug, Clone, Default)]
pub struct Mailq {
    /// `enable_long_queue_ids`: the wider layout.
    pub long_ids: bool,
    /// Messages rendered so far.
    file_count: u64,
    /// Sum of their sizes.
    queue_size: u64,
}

impl Mailq {
    /// A renderer for the short or long ID layout.
    pub fn new(long_ids: bool) -> Mailq {
        Mailq {
            long_ids,
            ..Mailq::default()
        }
    }

    /// `%-11s %7s %-20s %s` (or the long variant) for headings and recipient lines.
    fn string_line(&self, out: &mut String, a: &str, b: &str, c: &str, d: &str) {
        if self.long_ids {
            let _ = writeln!(out, "{a:<17} {b:>8} {c:<19} {d}");
        } else {
            let _ = writeln!(out, "{a:<11} {b:>7} {c:<20} {d}");
        }
    }

    /// The text for one message (with the heading before the first, a blank line before the others).
    pub fn entry(&mut self, e: &QueueEntry) -> String {
        let mut out = String::new();
        if self.file_count > 0 {
            out.push('\n');
        } else if self.long_ids {
            self.string_line(
                &mut out,
                "----Queue ID-----",
                "--Size--",
                "---Arrival Time----",
                "--Sender/Recipient------",
            );
        } else {
            self.string_line(
                &mut out,
                "-Queue ID-",
                "--Size--",
                "----Arrival Time----",
                "-Sender/Recipient-------",
            );
        }
        let mut id = e.queue_id.clone();
        match e.queue_name.as_str() {
            "active" => id.push('*'),
            "hold" => id.push('!'),
            _ => {}
        }
        if e.forced_expire {
            id.push('#');
        }
        let time = asctime_local(e.arrival_time);
        if self.long_ids {
            let t = prefix(&time, 19);
            let _ = writeln!(out, "{id:<17} {:>8} {t:>19} {}", e.message_size, e.sender);
        } else {
            let t = prefix(&time, 20);
            // The 20th character of asctime() is the space before the year.
            let _ = writeln!(out, "{id:<11} {:>7} {t:>20} {}", e.message_size, e.sender);
        }
        let mut saved_reason = "";
        for r in &e.recipients {
            if r.reason != saved_reason {
                saved_reason = &r.reason;
                let show = if saved_reason.is_empty() {
                    "reason unavailable"
                } else {
                    saved_reason
                };
                let padding = 76usize.saturating_sub(show.len());
                let _ = writeln!(out, "{:padding$}({show})", "");
            }
            self.string_line(&mut out, "", "", "", &r.address);
        }
        self.file_count += 1;
        // showq_compat() adds the size as an unsigned long.
        self.queue_size = self.queue_size.wrapping_add(e.message_size as u64);
        out
    }

    /// The trailer: `Mail queue is empty` or `-- N Kbytes in M Request(s).`
    pub fn finish(&self) -> String {
        if self.file_count == 0 {
            "Mail queue is empty\n".to_string()
        } else {
            format!(
                "\n-- {} Kbytes in {} Request{}.\n",
                self.queue_size / 1024,
                self.file_count,
                if self.file_count == 1 { "" } else { "s" }
            )
        }
    }
}

/// `json_quote()`: backslash-escape `"` and `\`, short escapes for common
/// control characters, `\uXXXX` for the others.
pub fn json_quote(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for ch in text.chars() {
        match ch {
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c.is_ascii_control() => {
                let _ = write!(out, "\\u{:04X}", c as u32);
            }
            '\\' | '"' => {
                out.push('\\');
                out.push(ch);
            }
            c => out.push(c),
        }
    }
    out
}

/// One message as Postfix's JSON line (with the newline).
pub fn json_line(e: &QueueEntry) -> String {
    let mut out = String::new();
    let _ = write!(
        out,
        "{{\"queue_name\": \"{}\", \"queue_id\": \"{}\", \"arrival_time\": {}, \"message_size\": {}, \"forced_expire\": {}, \"sender\": \"{}\", \"recipients\": [",
        json_quote(&e.queue_name),
        json_quote(&e.queue_id),
        e.arrival_time,
        e.message_size,
        e.forced_expire,
        json_quote(&e.sender)
    );
    for (i, r) in e.recipients.iter().enumerate() {
        if i > 0 {
            out.push_str(", ");
        }
        let _ = write!(out, "{{\"address\": \"{}\"", json_quote(&r.address));
        if !r.reason.is_empty() {
            let _ = write!(out, ", \"delay_reason\": \"{}\"", json_quote(&r.reason));
        }
        out.push('}');
    }
    out.push_str("]}\n");
    out
}

#[cfg(test)]
mod tests;
