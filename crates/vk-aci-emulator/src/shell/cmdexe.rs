//! The `cmd.exe` subset of emulated Windows containers.
//!
//! A line is processed like cmd's command line: `%VAR%` expansion first
//! (unknown variables stay as they are, as on the interactive command line;
//! `%errorlevel%` is the last exit code), then `^` escapes and the operators
//! `&`, `&&`, `||` outside double quotes, then redirections (`<NUL`, `>NUL`,
//! `>file`, `2>&1`). `call` expands its command line once more, so
//! `call echo %^errorlevel%` shows the exit code of the command before it.
//! Commands: `echo` (`echo off`/`on`), `exit [/b] [N]`, `call`, `set`, `cd`,
//! `rem`, `ver`, `cls`, `type`, `cmd /c …`, `hostname`, `whoami`; anything
//! else is "not recognized" (errorlevel 9009).

use std::collections::BTreeMap;
use std::sync::Arc;

use super::{BoxFuture, Exit, In, Io, Out, Sys};

const BANNER: &str = "Microsoft Windows [Version 10.0.17763.6532]\n(c) 2018 Microsoft Corporation. All rights reserved.\n";

/// A running `cmd.exe`.
pub(crate) struct Cmd {
    sys: Arc<Sys>,
    vars: BTreeMap<String, String>,
    errorlevel: i32,
    echo_on: bool,
}

enum Sep {
    Always,
    And,
    Or,
}

/// Splits a command line at `&`, `&&`, `||` outside quotes; removes carets.
fn split(line: &str) -> Vec<(Sep, String)> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut sep = Sep::Always;
    let mut quoted = false;
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '"' => {
                quoted = !quoted;
                cur.push(c);
            }
            '^' if !quoted => {
                if let Some(n) = chars.next() {
                    cur.push(n);
                }
            }
            '&' if !quoted => {
                out.push((sep, std::mem::take(&mut cur)));
                sep = if chars.peek() == Some(&'&') {
                    chars.next();
                    Sep::And
                } else {
                    Sep::Always
                };
            }
            '|' if !quoted && chars.peek() == Some(&'|') => {
                chars.next();
                out.push((sep, std::mem::take(&mut cur)));
                sep = Sep::Or;
            }
            c => cur.push(c),
        }
    }
    out.push((sep, cur));
    out
}

impl Cmd {
    pub(crate) fn new(sys: Arc<Sys>) -> Self {
        let mut vars = BTreeMap::new();
        for (k, v) in [
            ("COMPUTERNAME", sys.hostname.as_str()),
            ("SYSTEMROOT", r"C:\Windows"),
            ("PATH", r"C:\Windows\system32;C:\Windows"),
            ("USERNAME", "ContainerAdministrator"),
        ] {
            vars.insert(k.to_owned(), v.to_owned());
        }
        for (k, v) in &sys.env {
            vars.insert(k.to_ascii_uppercase(), v.clone());
        }
        Self {
            sys,
            vars,
            errorlevel: 0,
            echo_on: true,
        }
    }

    fn expand(&self, line: &str) -> String {
        let mut out = String::new();
        let mut rest = line;
        while let Some(start) = rest.find('%') {
            out.push_str(&rest[..start]);
            let after = &rest[start + 1..];
            match after.find('%') {
                Some(end) => {
                    let name = &after[..end];
                    let upper = name.to_ascii_uppercase();
                    if upper == "ERRORLEVEL" {
                        out.push_str(&self.errorlevel.to_string());
                        rest = &after[end + 1..];
                    } else if let Some(v) = self.vars.get(&upper).filter(|_| !name.is_empty()) {
                        out.push_str(v);
                        rest = &after[end + 1..];
                    } else {
                        // Unknown: kept, and the closing % may open the next one.
                        out.push('%');
                        out.push_str(name);
                        rest = &after[end..];
                    }
                }
                None => {
                    out.push('%');
                    rest = after;
                }
            }
        }
        out.push_str(rest);
        out
    }

    async fn say(&self, io: &Io, text: &str) {
        let _ = io.stdout().write(&self.sys, text.as_bytes()).await;
    }

    /// Runs one expanded command line.
    pub(crate) fn run_line<'a>(
        &'a mut self,
        line: &'a str,
        io: &'a Io,
    ) -> BoxFuture<'a, Result<i32, Exit>> {
        Box::pin(async move {
            let expanded = self.expand(line);
            for (sep, part) in split(&expanded) {
                match sep {
                    Sep::And if self.errorlevel != 0 => continue,
                    Sep::Or if self.errorlevel == 0 => continue,
                    _ => {}
                }
                let code = self.run_one(&part, io).await?;
                self.errorlevel = code;
            }
            Ok(self.errorlevel)
        })
    }

    async fn run_one(&mut self, command: &str, io: &Io) -> Result<i32, Exit> {
        // Redirections.
        let mut io = io.clone();
        let mut words = Vec::new();
        let mut text = String::new();
        let mut tokens = command.split(' ').peekable();
        while let Some(tok) = tokens.next() {
            let lower = tok.to_ascii_lowercase();
            if lower == "<nul" {
                io.stdin = In::Null;
            } else if lower == ">nul" || lower == "1>nul" {
                io.out.insert(1, Out::Null);
            } else if lower == "2>nul" {
                io.out.insert(2, Out::Null);
            } else if lower == "2>&1" {
                let o = io.fd(1).clone();
                io.out.insert(2, o);
            } else if tok == "<" && tokens.peek().is_some_and(|n| n.eq_ignore_ascii_case("nul")) {
                tokens.next();
                io.stdin = In::Null;
            } else {
                if !text.is_empty() || !tok.is_empty() {
                    if !text.is_empty() {
                        text.push(' ');
                    }
                    text.push_str(tok);
                }
                if !tok.is_empty() {
                    words.push(tok.to_owned());
                }
            }
        }
        let text = text.trim_start_matches(['@', ' ']).to_owned();
        let Some(first) = text.split([' ', '.', '/']).next().filter(|w| !w.is_empty()) else {
            return Ok(self.errorlevel);
        };
        let name = first.to_ascii_lowercase();
        let rest = text[first.len()..].to_owned();
        let args = rest.trim();
        match name.as_str() {
            "echo" => {
                match args.to_ascii_lowercase().as_str() {
                    "off" => self.echo_on = false,
                    "on" => self.echo_on = true,
                    "" if !rest.starts_with('.') => {
                        let state = if self.echo_on { "on" } else { "off" };
                        self.say(&io, &format!("ECHO is {state}.\n")).await;
                    }
                    _ => {
                        let shown = rest.get(1..).unwrap_or_default();
                        self.say(&io, &format!("{shown}\n")).await;
                    }
                }
                Ok(0)
            }
            "rem" => Ok(0),
            "cls" => Ok(0),
            "ver" => {
                self.say(&io, "\nMicrosoft Windows [Version 10.0.17763.6532]\n")
                    .await;
                Ok(0)
            }
            "exit" => {
                let mut parts = args.split_whitespace();
                let mut code = parts.next();
                let batch = code.is_some_and(|c| c.eq_ignore_ascii_case("/b"));
                if batch {
                    code = parts.next();
                }
                let code = code.and_then(|c| c.parse().ok()).unwrap_or(0);
                if batch { Ok(code) } else { Err(Exit(code)) }
            }
            "call" => self.run_line(args, &io).await,
            "set" => match args.split_once('=') {
                Some((k, v)) => {
                    self.vars
                        .insert(k.trim().to_ascii_uppercase(), v.to_owned());
                    Ok(0)
                }
                None => {
                    let mut listing = String::new();
                    for (k, v) in &self.vars {
                        listing.push_str(&format!("{k}={v}\n"));
                    }
                    self.say(&io, &listing).await;
                    Ok(0)
                }
            },
            "cd" => {
                self.say(&io, "C:\\\n").await;
                Ok(0)
            }
            "hostname" | "hostname.exe" => {
                self.say(&io, &format!("{}\n", self.sys.hostname)).await;
                Ok(0)
            }
            "whoami" | "whoami.exe" => {
                self.say(&io, "user manager\\containeradministrator\n")
                    .await;
                Ok(0)
            }
            "cmd" | "cmd.exe" => {
                let mut argv = vec![first.to_owned()];
                argv.extend(args.split(' ').map(str::to_owned));
                Ok(Cmd::new(self.sys.clone()).run_argv(&argv, &io).await)
            }
            _ => {
                let _ = io
                    .stderr()
                    .write(
                        &self.sys,
                        format!("'{first}' is not recognized as an internal or external command,\noperable program or batch file.\n").as_bytes(),
                    )
                    .await;
                Ok(9009)
            }
        }
    }

    /// `cmd [/c|/k LINE]`: runs the line, or an interactive session.
    pub(crate) async fn run_argv(mut self, argv: &[String], io: &Io) -> i32 {
        let args = &argv[1..];
        match args.first().map(|a| a.to_ascii_lowercase()) {
            Some(flag) if flag == "/c" || flag == "/k" => {
                let line = args[1..].join(" ");
                let line = line
                    .strip_prefix('"')
                    .and_then(|l| l.strip_suffix('"'))
                    .unwrap_or(&line)
                    .to_owned();
                match self.run_line(&line, io).await {
                    Ok(c) | Err(Exit(c)) => c,
                }
            }
            _ => self.interactive().await,
        }
    }

    /// The interactive prompt.
    pub(crate) async fn interactive(&mut self) -> i32 {
        let tty = self.sys.tty.clone();
        let io = Io::tty(&tty);
        tty.write(BANNER.as_bytes());
        loop {
            if self.echo_on {
                tty.write(b"\nC:\\>");
            }
            let Some(line) = tty.read_line().await else {
                return self.errorlevel;
            };
            let line = String::from_utf8_lossy(&line);
            let line = line.trim_end_matches(['\n', '\r']);
            let seen = tty.interrupts();
            let result = tokio::select! {
                r = self.run_line(line, &io) => r,
                () = tty.interrupted_after(seen) => Ok(self.errorlevel),
            };
            if let Err(Exit(code)) = result {
                return code;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn carets_and_operators() {
        let parts: Vec<String> = split("echo a^&b & x^_y && z || w")
            .into_iter()
            .map(|(_, s)| s)
            .collect();
        assert_eq!(parts, ["echo a&b ", " x_y ", " z ", " w"]);
        let parts = split(r#"cmd /c "a & b""#);
        assert_eq!(parts.len(), 1);
    }
}
