//! The tiny command language that emulated containers run (exec sessions run
//! the shells of [`crate::shell`]).
//!
//! A container's `command` array is interpreted as follows:
//! * empty or absent: the container runs until it is stopped or deleted;
//! * `sh -c SCRIPT` (also `/bin/sh`, `bash`, `/bin/bash`, `ash`, `dash`, `zsh`,
//!   with `-c`, `-lc` or `-ec`), `cmd /c ...`, `cmd.exe /c ...`,
//!   `powershell -Command ...` / `pwsh -c ...`: the script is parsed;
//! * `sleep`, `echo`, `exit`, `true`, `false` as the first word: that builtin;
//! * anything else: runs forever.
//!
//! A script is a sequence of simple commands joined by `;`, `&&`, `||` or
//! newlines. Builtins: `sleep N` (seconds, fractional allowed, `infinity`),
//! `echo WORDS` (one output line; `>&2` sends it to stderr), `exit N`,
//! `true`, `:`, `false`, and `consume [--cpu-millicores N] [--memory-bytes M]`,
//! which blocks forever using that much CPU and memory (what Azure Monitor's
//! `CpuUsage` and `MemoryUsage` then report for the container). Any other
//! command blocks forever, like a server, idle.

use std::time::Duration;

/// Output stream of a line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Stream {
    /// Standard output.
    Stdout,
    /// Standard error.
    Stderr,
}

#[derive(Debug, Clone, PartialEq)]
enum Step {
    Sleep(Duration),
    Echo {
        text: String,
        stream: Stream,
    },
    Exit(i32),
    Status(i32),
    Forever,
    /// Blocks forever using this much CPU (millicores) and memory (bytes).
    Consume {
        cpu_millicores: u64,
        memory_bytes: u64,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Conn {
    Seq,
    And,
    Or,
}

/// A parsed program.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Program {
    steps: Vec<(Conn, Step)>,
}

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Word(String),
    Op(Conn),
}

fn tokenize(s: &str) -> Vec<Tok> {
    let mut toks = Vec::new();
    let mut cur = String::new();
    let mut in_word = false;
    let mut chars = s.chars().peekable();
    let flush = |cur: &mut String, in_word: &mut bool, toks: &mut Vec<Tok>| {
        if *in_word {
            toks.push(Tok::Word(std::mem::take(cur)));
            *in_word = false;
        }
    };
    while let Some(c) = chars.next() {
        match c {
            '\'' => {
                in_word = true;
                for c in chars.by_ref() {
                    if c == '\'' {
                        break;
                    }
                    cur.push(c);
                }
            }
            '"' => {
                in_word = true;
                while let Some(c) = chars.next() {
                    match c {
                        '"' => break,
                        '\\' => {
                            if let Some(n) = chars.next() {
                                if !matches!(n, '"' | '\\' | '$' | '`') {
                                    cur.push('\\');
                                }
                                cur.push(n);
                            }
                        }
                        _ => cur.push(c),
                    }
                }
            }
            '\\' => {
                in_word = true;
                if let Some(n) = chars.next() {
                    cur.push(n);
                }
            }
            ';' | '\n' => {
                flush(&mut cur, &mut in_word, &mut toks);
                toks.push(Tok::Op(Conn::Seq));
            }
            '&' if chars.peek() == Some(&'&') => {
                chars.next();
                flush(&mut cur, &mut in_word, &mut toks);
                toks.push(Tok::Op(Conn::And));
            }
            '|' if chars.peek() == Some(&'|') => {
                chars.next();
                flush(&mut cur, &mut in_word, &mut toks);
                toks.push(Tok::Op(Conn::Or));
            }
            c if c.is_whitespace() => flush(&mut cur, &mut in_word, &mut toks),
            c => {
                in_word = true;
                cur.push(c);
            }
        }
    }
    flush(&mut cur, &mut in_word, &mut toks);
    toks
}

fn parse_duration(s: &str) -> Option<Duration> {
    let (num, mult) = if let Some(n) = s.strip_suffix('s') {
        (n, 1.0)
    } else if let Some(n) = s.strip_suffix('m') {
        (n, 60.0)
    } else if let Some(n) = s.strip_suffix('h') {
        (n, 3600.0)
    } else if let Some(n) = s.strip_suffix('d') {
        (n, 86400.0)
    } else {
        (s, 1.0)
    };
    let v: f64 = num.parse().ok()?;
    let secs = v * mult;
    if secs.is_finite() && secs >= 0.0 {
        Some(Duration::from_secs_f64(secs.min(1e9)))
    } else {
        None
    }
}

fn step_from_words(words: &[String]) -> Step {
    let Some(first) = words.first() else {
        return Step::Status(0);
    };
    let name = first.to_ascii_lowercase();
    let args = &words[1..];
    match name.as_str() {
        "sleep" | "start-sleep" => {
            let arg = args
                .iter()
                .find(|a| !a.starts_with('-'))
                .map(String::as_str)
                .unwrap_or("0");
            if arg == "infinity" || arg == "inf" {
                Step::Forever
            } else {
                parse_duration(arg).map_or(Step::Status(1), Step::Sleep)
            }
        }
        "echo" | "write-output" | "write-host" => {
            let mut stream = Stream::Stdout;
            let mut parts = Vec::new();
            let mut flags_done = false;
            for a in args {
                match a.as_str() {
                    ">&2" | "1>&2" | ">/dev/stderr" | "1>/dev/stderr" => stream = Stream::Stderr,
                    "2>&1" | ">&1" => {}
                    "-n" | "-e" | "-E" if !flags_done => {}
                    _ => {
                        flags_done = true;
                        parts.push(a.as_str());
                    }
                }
            }
            Step::Echo {
                text: parts.join(" "),
                stream,
            }
        }
        "exit" => {
            let code = args
                .first()
                .and_then(|a| a.parse::<i64>().ok())
                .map_or(0, |c| i32::try_from(c.rem_euclid(256)).unwrap_or(0));
            Step::Exit(code)
        }
        "true" | ":" => Step::Status(0),
        "false" => Step::Status(1),
        "consume" => {
            let value = |flag: &str| {
                args.iter()
                    .position(|a| a == flag)
                    .and_then(|i| args.get(i + 1))
                    .and_then(|v| v.parse::<u64>().ok())
            };
            Step::Consume {
                cpu_millicores: value("--cpu-millicores").unwrap_or(0),
                memory_bytes: value("--memory-bytes").unwrap_or(0),
            }
        }
        _ => Step::Forever,
    }
}

/// Parses a script (`a; b && c || d`).
pub(crate) fn parse_script(script: &str) -> Program {
    let mut steps = Vec::new();
    let mut words: Vec<String> = Vec::new();
    let mut conn = Conn::Seq;
    for tok in tokenize(script) {
        match tok {
            Tok::Word(w) => words.push(w),
            Tok::Op(op) => {
                if !words.is_empty() {
                    steps.push((conn, step_from_words(&words)));
                    words.clear();
                }
                conn = op;
            }
        }
    }
    if !words.is_empty() {
        steps.push((conn, step_from_words(&words)));
    }
    Program { steps }
}

fn base_name(word: &str) -> String {
    let last = word.rsplit(['/', '\\']).next().unwrap_or(word);
    let lower = last.to_ascii_lowercase();
    lower
        .strip_suffix(".exe")
        .map(str::to_owned)
        .unwrap_or(lower)
}

/// Interprets a container `command` array.
pub(crate) fn from_argv(argv: &[String]) -> Program {
    let Some(first) = argv.first() else {
        return Program {
            steps: vec![(Conn::Seq, Step::Forever)],
        };
    };
    let base = base_name(first);
    match base.as_str() {
        "sh" | "bash" | "ash" | "dash" | "zsh"
            if argv.len() >= 3 && matches!(argv[1].as_str(), "-c" | "-lc" | "-ec" | "-ce") =>
        {
            return parse_script(&argv[2]);
        }
        "cmd"
            if argv.len() >= 3 && matches!(argv[1].to_ascii_lowercase().as_str(), "/c" | "/k") =>
        {
            return parse_script(&argv[2..].join(" "));
        }
        "powershell" | "pwsh" => {
            if let Some(i) = argv.iter().position(|a| {
                matches!(
                    a.to_ascii_lowercase().as_str(),
                    "-command" | "-c" | "/command" | "/c"
                )
            }) {
                return parse_script(&argv[i + 1..].join(" "));
            }
        }
        "sleep" | "echo" | "exit" | "true" | "false" | "consume" => {
            return Program {
                steps: vec![(Conn::Seq, step_from_words(argv))],
            };
        }
        _ => {}
    }
    Program {
        steps: vec![(Conn::Seq, Step::Forever)],
    }
}

impl Program {
    /// What the program uses while it runs: `(cpu millicores, memory bytes)`
    /// of its `consume` builtin, if it has one.
    pub(crate) fn usage(&self) -> Option<(u64, u64)> {
        self.steps.iter().find_map(|(_, s)| match s {
            Step::Consume {
                cpu_millicores,
                memory_bytes,
            } => Some((*cpu_millicores, *memory_bytes)),
            _ => None,
        })
    }

    /// Whether the program contains no finite work at all (runs forever at once).
    #[cfg(test)]
    pub(crate) fn is_forever(&self) -> bool {
        matches!(self.steps.first(), Some((_, Step::Forever)))
    }

    /// Runs the program; returns its exit code. Output lines go to `out`.
    /// Never returns for programs that block forever (cancel the future).
    pub(crate) async fn run(&self, out: &mut (dyn FnMut(Stream, String) + Send)) -> i32 {
        let mut status = 0;
        for (conn, step) in &self.steps {
            match conn {
                Conn::And if status != 0 => continue,
                Conn::Or if status == 0 => continue,
                _ => {}
            }
            status = match step {
                Step::Sleep(d) => {
                    tokio::time::sleep(*d).await;
                    0
                }
                Step::Echo { text, stream } => {
                    out(*stream, text.clone());
                    0
                }
                Step::Exit(code) => return *code,
                Step::Status(code) => *code,
                Step::Forever | Step::Consume { .. } => std::future::pending::<i32>().await,
            };
        }
        status
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn argv(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| (*s).to_owned()).collect()
    }

    async fn run(p: &Program) -> (i32, Vec<(Stream, String)>) {
        let mut lines = Vec::new();
        let code = p.run(&mut |s, l| lines.push((s, l))).await;
        (code, lines)
    }

    #[tokio::test]
    async fn scripts() {
        let p = from_argv(&argv(&[
            "/bin/sh",
            "-c",
            "echo 'a b'; false && echo no || echo yes; exit 3",
        ]));
        let (code, lines) = run(&p).await;
        assert_eq!(code, 3);
        assert_eq!(
            lines,
            vec![
                (Stream::Stdout, "a b".to_owned()),
                (Stream::Stdout, "yes".to_owned())
            ]
        );
        let p = from_argv(&argv(&["cmd.exe", "/C", "echo", "hi", "&&", "exit", "2"]));
        assert_eq!(run(&p).await.0, 2);
        let p = from_argv(&argv(&["powershell", "-Command", "echo err >&2"]));
        let (_, lines) = run(&p).await;
        assert_eq!(lines, vec![(Stream::Stderr, "err".to_owned())]);
        assert!(from_argv(&argv(&["nginx"])).is_forever());
        assert!(from_argv(&[]).is_forever());
        assert_eq!(run(&from_argv(&argv(&["false"]))).await.0, 1);
        assert_eq!(run(&from_argv(&argv(&["exit", "257"]))).await.0, 1);
    }
}
