//! The pseudo-terminal of an exec session, as a Linux pty in its default
//! ("sane") mode would behave.
//!
//! Input (what the client sends): canonical line editing — `\r` becomes `\n`
//! (ICRNL), a line is readable once it ends, `^D` ends input (at the start of
//! a line) or flushes the line, DEL / `^H` erase, `^U` kills the line, `^C`
//! discards the line and interrupts the running command. With `echo` on
//! (the default) every typed byte is echoed back, control characters as `^X`.
//! Output: with `onlcr` on (the default) `\n` is sent as `\r\n`. `stty` changes
//! `echo` and `onlcr`.

use std::collections::VecDeque;
use std::sync::{Mutex, MutexGuard};

use tokio::sync::{Notify, mpsc};

/// Terminal modes a session can change with `stty`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Modes {
    pub(crate) echo: bool,
    pub(crate) onlcr: bool,
}

impl Default for Modes {
    fn default() -> Self {
        Self {
            echo: true,
            onlcr: true,
        }
    }
}

#[derive(Debug, Default)]
struct State {
    modes: Modes,
    line: Vec<u8>,
    /// Complete lines; `None` is an end of input.
    ready: VecDeque<Option<Vec<u8>>>,
    interrupts: u64,
}

/// One session's terminal. Output goes to the channel given at creation.
#[derive(Debug)]
pub(crate) struct Tty {
    state: Mutex<State>,
    notify: Notify,
    out: mpsc::UnboundedSender<Vec<u8>>,
}

fn translate(modes: Modes, bytes: &[u8]) -> Vec<u8> {
    if !modes.onlcr {
        return bytes.to_vec();
    }
    let mut out = Vec::with_capacity(bytes.len() + bytes.len() / 16);
    for &b in bytes {
        if b == b'\n' {
            out.push(b'\r');
        }
        out.push(b);
    }
    out
}

impl Tty {
    pub(crate) fn new(out: mpsc::UnboundedSender<Vec<u8>>) -> Self {
        Self {
            state: Mutex::default(),
            notify: Notify::new(),
            out,
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    pub(crate) fn modes(&self) -> Modes {
        self.lock().modes
    }

    pub(crate) fn set_modes(&self, modes: Modes) {
        self.lock().modes = modes;
    }

    /// Output from a program (output processing applies).
    pub(crate) fn write(&self, bytes: &[u8]) {
        if bytes.is_empty() {
            return;
        }
        let modes = self.modes();
        let _ = self.out.send(translate(modes, bytes));
    }

    /// Bytes typed by the client (the line discipline).
    pub(crate) fn input(&self, bytes: &[u8]) {
        let mut echo = Vec::new();
        let mut woke = false;
        {
            let mut st = self.lock();
            let on = st.modes.echo;
            for &b in bytes {
                match b {
                    b'\r' | b'\n' => {
                        let mut line = std::mem::take(&mut st.line);
                        line.push(b'\n');
                        st.ready.push_back(Some(line));
                        woke = true;
                        if on {
                            echo.push(b'\n');
                        }
                    }
                    0x03 => {
                        st.line.clear();
                        st.ready.clear();
                        st.interrupts += 1;
                        woke = true;
                        if on {
                            echo.extend_from_slice(b"^C\n");
                        }
                    }
                    0x04 => {
                        if st.line.is_empty() {
                            st.ready.push_back(None);
                        } else {
                            let line = std::mem::take(&mut st.line);
                            st.ready.push_back(Some(line));
                        }
                        woke = true;
                    }
                    0x7f | 0x08 => {
                        if st.line.pop().is_some() && on {
                            echo.extend_from_slice(b"\x08 \x08");
                        }
                    }
                    0x15 => {
                        let n = st.line.len();
                        st.line.clear();
                        if on {
                            for _ in 0..n {
                                echo.extend_from_slice(b"\x08 \x08");
                            }
                        }
                    }
                    b if b < 0x20 && b != b'\t' => {
                        st.line.push(b);
                        if on {
                            echo.extend_from_slice(&[b'^', b + 0x40]);
                        }
                    }
                    b => {
                        st.line.push(b);
                        if on {
                            echo.push(b);
                        }
                    }
                }
            }
        }
        if !echo.is_empty() {
            self.write(&echo);
        }
        if woke {
            self.notify.notify_waiters();
        }
    }

    /// The next line typed (with its `\n`, or without when flushed by `^D`);
    /// `None` at an end of input.
    pub(crate) async fn read_line(&self) -> Option<Vec<u8>> {
        loop {
            let notified = self.notify.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            if let Some(item) = self.lock().ready.pop_front() {
                return item;
            }
            notified.await;
        }
    }

    /// How many interrupts (`^C`) were typed so far.
    pub(crate) fn interrupts(&self) -> u64 {
        self.lock().interrupts
    }

    /// Resolves once more than `seen` interrupts were typed.
    pub(crate) async fn interrupted_after(&self, seen: u64) {
        loop {
            let notified = self.notify.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            if self.lock().interrupts > seen {
                return;
            }
            notified.await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn line_discipline() {
        let (tx, mut rx) = mpsc::unbounded_channel();
        let tty = Tty::new(tx);
        tty.input(b"ab\x7fc\r");
        assert_eq!(tty.read_line().await, Some(b"ac\n".to_vec()));
        let mut echoed = Vec::new();
        while let Ok(chunk) = rx.try_recv() {
            echoed.extend(chunk);
        }
        assert_eq!(echoed, b"ab\x08 \x08c\r\n");
        tty.set_modes(Modes {
            echo: false,
            onlcr: false,
        });
        tty.input(b"x\x04\x04");
        assert_eq!(tty.read_line().await, Some(b"x".to_vec()));
        assert_eq!(tty.read_line().await, None);
        tty.write(b"a\nb");
        assert_eq!(rx.try_recv().ok(), Some(b"a\nb".to_vec()));
        let seen = tty.interrupts();
        tty.input(b"partial\x03");
        tty.interrupted_after(seen).await;
    }
}
