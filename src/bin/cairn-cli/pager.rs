//! Paging of long replies in the REPL: any reply taller than the terminal (a RANGE, SCAN
//! or KEYS answer, most often) is shown a screenful at a time, as `more` does, instead of
//! scrolling its head out of sight.
//!
//! It owns the terminal size query and the one-key prompt between pages (the terminal in
//! non-canonical mode only while that prompt waits); it never formats a reply and is never
//! used when stdout or stdin is not a terminal.

use std::io::{self, Read, Write};

/// The prompt between pages (reverse video, erased once a key is read).
fn prompt(shown: usize, total: usize) -> String {
    format!(
        "\x1b[7m-- more: {shown} of {total} lines (Space: page, Enter: line, q: stop) --\x1b[0m"
    )
}

/// The terminal's rows, if stdout is a terminal that says.
fn rows() -> Option<usize> {
    let mut size = libc::winsize {
        ws_row: 0,
        ws_col: 0,
        ws_xpixel: 0,
        ws_ypixel: 0,
    };
    // SAFETY: TIOCGWINSZ writes a `winsize` into the struct we pass, nothing else.
    let r = unsafe { libc::ioctl(libc::STDOUT_FILENO, libc::TIOCGWINSZ, &raw mut size) };
    (r == 0 && size.ws_row > 0).then_some(usize::from(size.ws_row))
}

/// What a key pressed at the prompt asks for.
#[derive(Debug, PartialEq, Eq)]
enum Key {
    Page,
    Line,
    Stop,
}

fn key_of(byte: Option<u8>) -> Key {
    match byte {
        Some(b' ') => Key::Page,
        Some(b'\r' | b'\n' | b'j') => Key::Line,
        // q, Ctrl-C, Esc, end of input, anything else: stop.
        _ => Key::Stop,
    }
}

/// The terminal in non-canonical, no-echo, no-signal mode (so Ctrl-C arrives as a byte
/// and stops the paging rather than killing the shell) while this lives.
struct KeyMode {
    saved: libc::termios,
}

impl KeyMode {
    fn enter() -> Option<KeyMode> {
        let fd = libc::STDIN_FILENO;
        // SAFETY: `termios` is a plain C struct of integers and integer arrays, for which
        // all-zero bytes are a valid value (tcgetattr overwrites it).
        let mut saved: libc::termios = unsafe { std::mem::zeroed() };
        // SAFETY: tcgetattr writes the `termios` we own and pass, nothing else.
        if unsafe { libc::tcgetattr(fd, &raw mut saved) } != 0 {
            return None;
        }
        let mut raw = saved;
        raw.c_lflag &= !(libc::ICANON | libc::ECHO | libc::ISIG);
        raw.c_cc[libc::VMIN] = 1;
        raw.c_cc[libc::VTIME] = 0;
        // SAFETY: tcsetattr only reads the `termios` we pass.
        if unsafe { libc::tcsetattr(fd, libc::TCSANOW, &raw const raw) } != 0 {
            return None;
        }
        Some(KeyMode { saved })
    }
}

/// One byte from standard input, `None` at its end or on an error; one key while a
/// [`KeyMode`] lives.
fn read_key() -> Option<u8> {
    let mut byte = [0u8; 1];
    match io::stdin().lock().read(&mut byte) {
        Ok(1) => Some(byte[0]),
        _ => None,
    }
}

impl Drop for KeyMode {
    fn drop(&mut self) {
        // SAFETY: tcsetattr only reads the `termios` we pass, the one `enter` saved.
        unsafe { libc::tcsetattr(libc::STDIN_FILENO, libc::TCSANOW, &raw const self.saved) };
    }
}

/// Writes `text`, a page at a time when it is taller than the terminal.
pub fn show(text: &[u8]) {
    let mut out = io::stdout().lock();
    let lines: Vec<&[u8]> = text.split_inclusive(|&b| b == b'\n').collect();
    let page = match rows() {
        // One row is kept for the prompt.
        Some(rows) if rows > 2 && lines.len() >= rows => rows - 1,
        _ => {
            let _ = out.write_all(text);
            let _ = out.flush();
            return;
        }
    };
    let mut shown = 0;
    let mut next = page;
    loop {
        for line in &lines[shown..next] {
            let _ = out.write_all(line);
        }
        shown = next;
        if shown == lines.len() {
            break;
        }
        // The key mode first, so a key typed as soon as the prompt shows is neither
        // echoed nor taken as a signal.
        let mode = KeyMode::enter();
        let _ = out.write_all(prompt(shown, lines.len()).as_bytes());
        let _ = out.flush();
        let key = key_of(mode.as_ref().and_then(|_| read_key()));
        drop(mode);
        let _ = out.write_all(b"\r\x1b[K");
        next = match key {
            Key::Page => (shown + page).min(lines.len()),
            Key::Line => shown + 1,
            Key::Stop => {
                let _ = writeln!(out, "({} more lines not shown)", lines.len() - shown);
                break;
            }
        };
    }
    let _ = out.flush();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys() {
        assert_eq!(key_of(Some(b' ')), Key::Page);
        assert_eq!(key_of(Some(b'\r')), Key::Line);
        assert_eq!(key_of(Some(b'q')), Key::Stop);
        assert_eq!(key_of(Some(3)), Key::Stop);
        assert_eq!(key_of(None), Key::Stop);
    }
}
