// Over 800 lines: the shell builtins and image utilities, one small function per command with its busybox/GNU messages.
//! Shell builtins and the utilities of emulated images (busybox-like
//! behaviour and messages, GNU wording where the two differ for `ls` and
//! `tar`).

use std::io::Read as _;

use base64::Engine as _;

use super::{Image, In, Io, Shell, Status};
use crate::fs::FsError;

/// The utilities (executables) of a Linux image.
const LINUX_UTILS: &[&str] = &[
    "sh", "ash", "bash", "echo", "printf", "cat", "ls", "tar", "base64", "env", "sleep", "test",
    "[", "true", "false", "stty", "mkdir", "rm", "touch", "pwd", "id", "whoami", "hostname",
    "uname", "date",
];

/// The utilities of a Windows image.
const WINDOWS_UTILS: &[&str] = &["cmd", "hostname", "whoami"];

fn is_shell(name: &str) -> bool {
    matches!(name, "sh" | "ash" | "bash" | "cmd")
}

/// The utility an executable name (or path) names in `image`, if it has it.
pub(crate) fn resolve(image: Image, name: &str) -> Option<&'static str> {
    let (dir, base) = match name.rfind(['/', '\\']) {
        Some(i) => (Some(&name[..i]), &name[i + 1..]),
        None => (None, name),
    };
    match image {
        Image::Windows => {
            let lower = base.to_ascii_lowercase();
            let stem = lower.strip_suffix(".exe").unwrap_or(&lower);
            let dir_ok = dir.is_none_or(|d| {
                d.eq_ignore_ascii_case(r"C:\Windows\System32")
                    || d.eq_ignore_ascii_case("C:/Windows/System32")
            });
            WINDOWS_UTILS
                .iter()
                .find(|u| **u == stem)
                .copied()
                .filter(|_| dir_ok)
        }
        Image::Linux { bash } => {
            let dir_ok =
                dir.is_none_or(|d| matches!(d, "/bin" | "/usr/bin" | "/sbin" | "/usr/sbin"));
            LINUX_UTILS
                .iter()
                .find(|u| **u == base)
                .copied()
                .filter(|u| dir_ok && (bash || *u != "bash") && *u != "cmd")
        }
        Image::LinuxNoShell => {
            let dir_ok =
                dir.is_none_or(|d| matches!(d, "/bin" | "/usr/bin" | "/sbin" | "/usr/sbin"));
            LINUX_UTILS
                .iter()
                .find(|u| **u == base)
                .copied()
                .filter(|u| dir_ok && !is_shell(u))
        }
    }
}

async fn out(sh: &Shell, io: &Io, text: &str) -> bool {
    io.stdout().write(&sh.sys, text.as_bytes()).await.is_ok()
}

/// Backslash escapes of `printf` formats and `echo -e`; `\c` stops output.
fn unescape(s: &str, out: &mut Vec<u8>) -> bool {
    let bytes = s.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        if b != b'\\' || i + 1 == bytes.len() {
            out.push(b);
            i += 1;
            continue;
        }
        i += 1;
        let e = bytes[i];
        i += 1;
        match e {
            b'n' => out.push(b'\n'),
            b't' => out.push(b'\t'),
            b'r' => out.push(b'\r'),
            b'a' => out.push(7),
            b'b' => out.push(8),
            b'f' => out.push(12),
            b'v' => out.push(11),
            b'\\' => out.push(b'\\'),
            b'c' => return false,
            b'0'..=b'7' => {
                let mut v = u32::from(e - b'0');
                let mut n = 1;
                while n < 3 && i < bytes.len() && (b'0'..=b'7').contains(&bytes[i]) {
                    v = v * 8 + u32::from(bytes[i] - b'0');
                    i += 1;
                    n += 1;
                }
                out.push(u8::try_from(v & 0xff).unwrap_or(0));
            }
            other => {
                out.push(b'\\');
                out.push(other);
            }
        }
    }
    true
}

/// POSIX `printf`: the format is reused while arguments remain.
fn printf(format: &str, args: &[String]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut args = args.iter();
    loop {
        let mut used = false;
        let mut chars = format.char_indices().peekable();
        let mut lit = String::new();
        while let Some((_, c)) = chars.next() {
            if c != '%' {
                lit.push(c);
                continue;
            }
            if !unescape(&std::mem::take(&mut lit), &mut out) {
                return out;
            }
            // flags, width, precision: accepted, ignored
            while let Some(&(_, f)) = chars.peek() {
                if "-+ #0123456789.".contains(f) {
                    chars.next();
                } else {
                    break;
                }
            }
            let Some((_, conv)) = chars.next() else {
                out.push(b'%');
                break;
            };
            if conv == '%' {
                out.push(b'%');
                continue;
            }
            let arg = args.next();
            used |= arg.is_some();
            let arg = arg.map(String::as_str).unwrap_or_default();
            match conv {
                's' => out.extend_from_slice(arg.as_bytes()),
                'b' => {
                    if !unescape(arg, &mut out) {
                        return out;
                    }
                }
                'c' => out.extend(arg.bytes().take(1)),
                'd' | 'i' | 'u' => {
                    let n: i64 = arg.trim().parse().unwrap_or(0);
                    out.extend_from_slice(n.to_string().as_bytes());
                }
                'x' => {
                    let n: i64 = arg.trim().parse().unwrap_or(0);
                    out.extend_from_slice(format!("{n:x}").as_bytes());
                }
                'o' => {
                    let n: i64 = arg.trim().parse().unwrap_or(0);
                    out.extend_from_slice(format!("{n:o}").as_bytes());
                }
                other => {
                    out.push(b'%');
                    out.extend_from_slice(other.to_string().as_bytes());
                }
            }
        }
        if !unescape(&lit, &mut out) {
            return out;
        }
        if !used || args.len() == 0 {
            return out;
        }
    }
}

/// `test` / `[` expressions.
fn test(sh: &Shell, args: &[String]) -> Option<bool> {
    let file = |p: &str| {
        let path = sh.path(p);
        sh.sys
            .files(|f| (f.is_dir(&path), f.read(&path).ok().map(|f| f.data.len())))
            .unwrap_or((false, None))
    };
    match args {
        [] => Some(false),
        [one] => Some(!one.is_empty()),
        [not, rest @ ..] if not == "!" => test(sh, rest).map(|b| !b),
        [op, arg] => match op.as_str() {
            "-n" => Some(!arg.is_empty()),
            "-z" => Some(arg.is_empty()),
            "-d" => Some(file(arg).0),
            "-f" => Some(file(arg).1.is_some()),
            "-e" | "-r" | "-w" => {
                let (d, f) = file(arg);
                Some(d || f.is_some())
            }
            "-s" => Some(file(arg).1.is_some_and(|n| n > 0)),
            "-x" => Some(file(arg).0),
            _ => None,
        },
        [a, op, b] => {
            let num = |s: &str| s.trim().parse::<i64>().ok();
            match op.as_str() {
                "=" | "==" => Some(a == b),
                "!=" => Some(a != b),
                "-eq" | "-ne" | "-lt" | "-le" | "-gt" | "-ge" => {
                    let (x, y) = (num(a)?, num(b)?);
                    Some(match op.as_str() {
                        "-eq" => x == y,
                        "-ne" => x != y,
                        "-lt" => x < y,
                        "-le" => x <= y,
                        "-gt" => x > y,
                        _ => x >= y,
                    })
                }
                "-a" => Some(!a.is_empty() && !b.is_empty()),
                "-o" => Some(!a.is_empty() || !b.is_empty()),
                _ => None,
            }
        }
        _ => None,
    }
}

fn parse_sleep(arg: &str) -> Option<std::time::Duration> {
    let (num, mult) = match arg.char_indices().last() {
        Some((i, 's')) => (&arg[..i], 1.0),
        Some((i, 'm')) => (&arg[..i], 60.0),
        Some((i, 'h')) => (&arg[..i], 3600.0),
        Some((i, 'd')) => (&arg[..i], 86400.0),
        _ => (arg, 1.0),
    };
    if arg == "infinity" {
        return Some(std::time::Duration::from_secs(1 << 40));
    }
    let secs = num.parse::<f64>().ok()? * mult;
    (secs.is_finite() && secs >= 0.0).then(|| std::time::Duration::from_secs_f64(secs.min(1e12)))
}

impl Shell {
    /// Shell builtins (never executables of their own); `None` for other names.
    pub(crate) async fn builtin(&mut self, argv: &[String], io: &Io) -> Option<Status> {
        let args = &argv[1..];
        Some(match argv[0].as_str() {
            "exit" => {
                let code = args.first().map_or(Some(self.env.status), |a| {
                    a.parse::<i64>().ok().map(|c| (c & 0xff) as i32)
                });
                match code {
                    Some(c) => Err(super::Exit(c)),
                    None => {
                        self.complain(
                            io,
                            &format!("{}: exit: Illegal number: {}", self.name, args[0]),
                        )
                        .await;
                        Err(super::Exit(2))
                    }
                }
            }
            ":" => Ok(0),
            "cd" => {
                let target = args.first().map_or("/root", String::as_str);
                let path = self.path(target);
                if self.sys.files(|f| f.is_dir(&path)).unwrap_or(false) {
                    self.env.cwd = path;
                    Ok(0)
                } else {
                    self.complain(
                        io,
                        &format!(
                            "{}: cd: can't cd to {target}: No such file or directory",
                            self.name
                        ),
                    )
                    .await;
                    Ok(2)
                }
            }
            "export" => {
                for a in args {
                    match a.split_once('=') {
                        Some((k, v)) => {
                            self.env.vars.insert(k.to_owned(), v.to_owned());
                            self.env.exported.insert(k.to_owned());
                        }
                        None => {
                            self.env.exported.insert(a.clone());
                        }
                    }
                }
                Ok(0)
            }
            "unset" => {
                for a in args {
                    self.env.vars.remove(a);
                    self.env.exported.remove(a);
                }
                Ok(0)
            }
            "set" => Ok(0),
            "eval" => {
                let source = args.join(" ");
                let list = match super::parse::parse(&source) {
                    Ok(list) => list,
                    Err(_) => {
                        self.complain(io, &format!("{}: eval: syntax error", self.name))
                            .await;
                        return Some(Ok(2));
                    }
                };
                self.run_list(&list, io).await
            }
            "read" => {
                let names: Vec<&String> = args.iter().filter(|a| !a.starts_with('-')).collect();
                match io.stdin.read_line().await {
                    None => Ok(1),
                    Some(line) => {
                        let text = String::from_utf8_lossy(&line);
                        let text = text.trim_end_matches('\n');
                        let mut words: Vec<&str> = text.split_whitespace().collect();
                        for (i, name) in names.iter().enumerate() {
                            let value = if i + 1 == names.len() {
                                let rest = words.split_off(i.min(words.len()));
                                rest.join(" ")
                            } else {
                                words.get(i).copied().unwrap_or_default().to_owned()
                            };
                            self.env.vars.insert((*name).clone(), value);
                        }
                        Ok(0)
                    }
                }
            }
            "command" => match args {
                [flag, name, ..] if flag == "-v" || flag == "-V" => {
                    let builtin = matches!(
                        name.as_str(),
                        "exit"
                            | ":"
                            | "cd"
                            | "export"
                            | "unset"
                            | "set"
                            | "eval"
                            | "read"
                            | "command"
                    );
                    if builtin {
                        out(self, io, &format!("{name}\n")).await;
                        Ok(0)
                    } else if let Some(util) = resolve(self.sys.image, name) {
                        out(self, io, &format!("/bin/{util}\n")).await;
                        Ok(0)
                    } else {
                        Ok(1)
                    }
                }
                [] => Ok(0),
                rest => {
                    let rest = rest.to_vec();
                    self.run_argv(&rest, io).await
                }
            },
            _ => return None,
        })
    }
}

/// Runs utility `util` (resolved from `argv[0]`).
pub(crate) async fn run(sh: &mut Shell, util: &'static str, argv: &[String], io: &Io) -> Status {
    let args = &argv[1..];
    let status = match util {
        "sh" | "ash" | "bash" => {
            let name: &'static str = if util == "bash" { "bash" } else { "sh" };
            let mut sub = Shell {
                env: sh.env.clone(),
                sys: sh.sys.clone(),
                name,
            };
            match args {
                [c, script, ..] if c.starts_with('-') && c.contains('c') => {
                    sub.script(script, io).await
                }
                [file, ..] if !file.starts_with('-') => {
                    let path = sh.path(file);
                    match sh.sys.files(|f| f.read(&path).map(|f| f.data.clone())) {
                        Some(Ok(data)) => sub.script(&String::from_utf8_lossy(&data), io).await,
                        _ => {
                            sh.complain(
                                io,
                                &format!("{name}: can't open '{file}': No such file or directory"),
                            )
                            .await;
                            127
                        }
                    }
                }
                _ if io.stdin.is_tty() && io.stdout().is_tty() => {
                    sub.interactive(if name == "bash" {
                        "root@localhost:/# "
                    } else {
                        "# "
                    })
                    .await
                }
                _ => {
                    let source = io.stdin.read_all().await;
                    sub.script(&String::from_utf8_lossy(&source), io).await
                }
            }
        }
        "cmd" => {
            super::cmdexe::Cmd::new(sh.sys.clone())
                .run_argv(argv, io)
                .await
        }
        "echo" => {
            let mut newline = true;
            let mut escapes = false;
            let mut rest = args;
            while let Some(flag) = rest.first() {
                match flag.as_str() {
                    "-n" => newline = false,
                    "-e" => escapes = true,
                    "-E" => escapes = false,
                    _ => break,
                }
                rest = &rest[1..];
            }
            let text = rest.join(" ");
            let mut bytes = Vec::new();
            let go_on = if escapes {
                unescape(&text, &mut bytes)
            } else {
                bytes.extend_from_slice(text.as_bytes());
                true
            };
            if newline && go_on {
                bytes.push(b'\n');
            }
            i32::from(io.stdout().write(&sh.sys, &bytes).await.is_err())
        }
        "printf" => match args.split_first() {
            None => {
                sh.complain(io, "printf: usage: printf FORMAT [ARGUMENT]...")
                    .await;
                2
            }
            Some((format, rest)) => {
                let bytes = printf(format, rest);
                i32::from(io.stdout().write(&sh.sys, &bytes).await.is_err())
            }
        },
        "true" => 0,
        "false" => 1,
        "test" | "[" => {
            let mut args = args.to_vec();
            if util == "[" {
                if args.last().map(String::as_str) != Some("]") {
                    sh.complain(io, "[: missing ]").await;
                    return Ok(2);
                }
                args.pop();
            }
            match test(sh, &args) {
                Some(true) => 0,
                Some(false) => 1,
                None => {
                    sh.complain(io, &format!("{util}: syntax error")).await;
                    2
                }
            }
        }
        "sleep" => match args.first().and_then(|a| parse_sleep(a)) {
            Some(d) => {
                tokio::time::sleep(d).await;
                0
            }
            None => {
                sh.complain(io, "sleep: invalid number").await;
                1
            }
        },
        "pwd" => i32::from(!out(sh, io, &format!("{}\n", sh.env.cwd)).await),
        "id" => i32::from(!out(sh, io, "uid=0(root) gid=0(root) groups=0(root)\n").await),
        "whoami" => i32::from(!out(sh, io, "root\n").await),
        "hostname" => i32::from(!out(sh, io, &format!("{}\n", sh.sys.hostname)).await),
        "uname" => {
            let text = if args.iter().any(|a| a == "-a") {
                format!("Linux {} 5.15.0 #1 SMP x86_64 GNU/Linux\n", sh.sys.hostname)
            } else {
                "Linux\n".to_owned()
            };
            i32::from(!out(sh, io, &text).await)
        }
        "date" => {
            let now = jiff::Timestamp::now()
                .strftime("%a %b %e %H:%M:%S UTC %Y\n")
                .to_string();
            i32::from(!out(sh, io, &now).await)
        }
        "env" => {
            let mut text = String::new();
            for name in &sh.env.exported {
                if let Some(v) = sh.env.vars.get(name) {
                    text.push_str(&format!("{name}={v}\n"));
                }
            }
            i32::from(!out(sh, io, &text).await)
        }
        "stty" => stty(sh, args, io).await,
        "cat" => cat(sh, args, io).await,
        "ls" => ls(sh, args, io).await,
        "mkdir" => {
            let parents = args.iter().any(|a| a == "-p");
            let mut status = 0;
            for dir in args.iter().filter(|a| !a.starts_with('-')) {
                let path = sh.path(dir);
                if let Some(Err(e)) = sh.sys.files(|f| f.mkdir(&path, parents)) {
                    sh.complain(io, &format!("mkdir: can't create directory '{dir}': {e}"))
                        .await;
                    status = 1;
                }
            }
            status
        }
        "rm" => {
            let flags: String = args
                .iter()
                .filter(|a| a.starts_with('-'))
                .map(|a| &a[1..])
                .collect();
            let recursive = flags.contains('r') || flags.contains('R');
            let force = flags.contains('f');
            let mut status = 0;
            for p in args.iter().filter(|a| !a.starts_with('-')) {
                let path = sh.path(p);
                let is_dir = sh.sys.files(|f| f.is_dir(&path)).unwrap_or(false);
                if is_dir && !recursive {
                    sh.complain(io, &format!("rm: '{p}' is a directory")).await;
                    status = 1;
                    continue;
                }
                match sh.sys.files(|f| f.remove(&path, recursive)) {
                    Some(Err(FsError::NotFound)) if force => {}
                    Some(Err(e)) => {
                        sh.complain(io, &format!("rm: can't remove '{p}': {e}"))
                            .await;
                        status = 1;
                    }
                    _ => {}
                }
            }
            status
        }
        "touch" => {
            let mut status = 0;
            for p in args.iter().filter(|a| !a.starts_with('-')) {
                let path = sh.path(p);
                if let Some(Err(e)) = sh.sys.files(|f| f.write(&path, b"", true)) {
                    sh.complain(io, &format!("touch: {p}: {e}")).await;
                    status = 1;
                }
            }
            status
        }
        "base64" => base64_util(sh, args, io).await,
        "tar" => tar(sh, args, io).await,
        _ => 127,
    };
    Ok(status)
}

async fn stty(sh: &mut Shell, args: &[String], io: &Io) -> i32 {
    let In::Tty(tty) = &io.stdin else {
        sh.complain(io, "stty: standard input: Not a tty").await;
        return 1;
    };
    let mut modes = tty.modes();
    for a in args {
        match a.as_str() {
            "echo" => modes.echo = true,
            "-echo" => modes.echo = false,
            "onlcr" => modes.onlcr = true,
            "-onlcr" => modes.onlcr = false,
            "sane" | "cooked" | "-raw" => modes = crate::tty::Modes::default(),
            "raw" | "-cooked" => modes.onlcr = false,
            "icanon" | "-icanon" | "isig" | "-isig" | "icrnl" | "-icrnl" | "opost" | "-opost" => {}
            "size" => {
                let _ = io.stdout().write(&sh.sys, b"24 80\n").await;
            }
            other => {
                sh.complain(io, &format!("stty: invalid argument '{other}'"))
                    .await;
                return 1;
            }
        }
    }
    tty.set_modes(modes);
    0
}

async fn cat(sh: &mut Shell, args: &[String], io: &Io) -> i32 {
    let files: Vec<&String> = args
        .iter()
        .filter(|a| !a.starts_with('-') || *a == "-")
        .collect();
    let mut status = 0;
    if files.is_empty() {
        while let Some(chunk) = io.stdin.read().await {
            if io.stdout().write(&sh.sys, &chunk).await.is_err() {
                return 1;
            }
        }
        return 0;
    }
    for f in files {
        if f == "-" {
            while let Some(chunk) = io.stdin.read().await {
                if io.stdout().write(&sh.sys, &chunk).await.is_err() {
                    return 1;
                }
            }
            continue;
        }
        let path = sh.path(f);
        match sh
            .sys
            .files(|fs| fs.read(&path).map(|file| file.data.clone()))
        {
            Some(Ok(data)) => {
                if io.stdout().write(&sh.sys, &data).await.is_err() {
                    return 1;
                }
            }
            Some(Err(e)) => {
                sh.complain(io, &format!("cat: can't open '{f}': {e}"))
                    .await;
                status = 1;
            }
            None => status = 1,
        }
    }
    status
}

async fn ls(sh: &mut Shell, args: &[String], io: &Io) -> i32 {
    let all = args.iter().any(|a| a.starts_with('-') && a.contains('a'));
    let mut targets: Vec<&String> = args.iter().filter(|a| !a.starts_with('-')).collect();
    let cwd = sh.env.cwd.clone();
    if targets.is_empty() {
        targets.push(&cwd);
    }
    let many = targets.len() > 1;
    let mut status = 0;
    let mut text = String::new();
    let sep = if io.stdout().is_tty() { "  " } else { "\n" };
    for t in targets {
        let path = sh.path(t);
        match sh.sys.files(|f| f.list(&path)) {
            Some(Ok(mut names)) => {
                if all {
                    names.splice(0..0, [".".to_owned(), "..".to_owned()]);
                }
                let is_file = sh.sys.files(|f| f.is_file(&path)).unwrap_or(false);
                if is_file {
                    names = vec![t.clone()];
                }
                if many && !is_file {
                    text.push_str(&format!("{t}:\n"));
                }
                if !names.is_empty() {
                    text.push_str(&names.join(sep));
                    text.push('\n');
                }
            }
            _ => {
                sh.complain(
                    io,
                    &format!("ls: cannot access '{t}': No such file or directory"),
                )
                .await;
                status = 2;
            }
        }
    }
    if !out(sh, io, &text).await {
        return 1;
    }
    status
}

async fn base64_util(sh: &mut Shell, args: &[String], io: &Io) -> i32 {
    let decode = args.iter().any(|a| a == "-d" || a == "--decode");
    let file = args.iter().find(|a| !a.starts_with('-'));
    let input = match file {
        Some(f) => {
            let path = sh.path(f);
            match sh
                .sys
                .files(|fs| fs.read(&path).map(|file| file.data.clone()))
            {
                Some(Ok(d)) => d,
                _ => {
                    sh.complain(
                        io,
                        &format!("base64: can't open '{f}': No such file or directory"),
                    )
                    .await;
                    return 1;
                }
            }
        }
        None => io.stdin.read_all().await,
    };
    let engine = base64::engine::general_purpose::STANDARD;
    let output = if decode {
        let clean: Vec<u8> = input
            .into_iter()
            .filter(|b| !b.is_ascii_whitespace())
            .collect();
        match engine.decode(clean) {
            Ok(d) => d,
            Err(_) => {
                sh.complain(io, "base64: invalid input").await;
                return 1;
            }
        }
    } else {
        let text = engine.encode(input);
        let mut wrapped = Vec::with_capacity(text.len() + text.len() / 76 + 1);
        for line in text.as_bytes().chunks(76) {
            wrapped.extend_from_slice(line);
            wrapped.push(b'\n');
        }
        wrapped
    };
    i32::from(io.stdout().write(&sh.sys, &output).await.is_err())
}

/// `tar c|x|t [v] [m] f - [-C DIR] [--] [PATH…]`, uncompressed.
async fn tar(sh: &mut Shell, args: &[String], io: &Io) -> i32 {
    let mut mode = None;
    let mut dir: Option<String> = None;
    let mut file: Option<String> = None;
    let mut paths = Vec::new();
    let mut i = 0;
    let mut only_paths = false;
    while i < args.len() {
        let a = &args[i];
        i += 1;
        if only_paths {
            paths.push(a.clone());
            continue;
        }
        match a.as_str() {
            "--" => only_paths = true,
            "-C" | "--directory" => {
                dir = args.get(i).cloned();
                i += 1;
            }
            "--no-same-owner" | "--no-same-permissions" | "--overwrite" => {}
            s if s.starts_with("--") => {
                sh.complain(io, &format!("tar: unrecognized option '{s}'"))
                    .await;
                return 2;
            }
            s if s.starts_with('-') || i == 1 => {
                for c in s.trim_start_matches('-').chars() {
                    match c {
                        'c' | 'x' | 't' => mode = Some(c),
                        'f' => {
                            file = args.get(i).cloned();
                            i += 1;
                        }
                        'v' | 'm' | 'o' | 'p' => {}
                        'z' | 'j' | 'J' => {
                            sh.complain(io, "tar: compression is not supported").await;
                            return 2;
                        }
                        'C' => {
                            dir = args.get(i).cloned();
                            i += 1;
                        }
                        other => {
                            sh.complain(io, &format!("tar: invalid option -- '{other}'"))
                                .await;
                            return 2;
                        }
                    }
                }
            }
            _ => paths.push(a.clone()),
        }
    }
    if file.as_deref().is_some_and(|f| f != "-") {
        sh.complain(
            io,
            "tar: only '-' (standard input/output) is supported as the archive",
        )
        .await;
        return 2;
    }
    let base = sh.path(dir.as_deref().unwrap_or("."));
    if dir.is_some() && !sh.sys.files(|f| f.is_dir(&base)).unwrap_or(false) {
        let d = dir.unwrap_or_default();
        sh.complain(
            io,
            &format!("tar: {d}: Cannot open: No such file or directory"),
        )
        .await;
        sh.complain(io, "tar: Error is not recoverable: exiting now")
            .await;
        return 2;
    }
    match mode {
        Some('c') => {
            if paths.is_empty() {
                sh.complain(io, "tar: Cowardly refusing to create an empty archive")
                    .await;
                return 2;
            }
            let mut builder = tar::Builder::new(Vec::new());
            let mut status = 0;
            let mut warned = false;
            for p in &paths {
                let full = crate::fs::normalize(&base, p);
                let entries = sh.sys.files(|f| f.walk(&full)).unwrap_or_default();
                if entries.is_empty() {
                    sh.complain(
                        io,
                        &format!("tar: {p}: Cannot stat: No such file or directory"),
                    )
                    .await;
                    status = 2;
                    continue;
                }
                let shown = p.trim_start_matches('/');
                if p.starts_with('/') && !warned {
                    sh.complain(io, "tar: Removing leading `/' from member names")
                        .await;
                    warned = true;
                }
                for (path, content) in entries {
                    let rel = path[full.len()..].trim_start_matches('/');
                    let name = match (shown.trim_end_matches('/'), rel) {
                        ("", r) => r.to_owned(),
                        (s, "") => s.to_owned(),
                        (s, r) => format!("{s}/{r}"),
                    };
                    let mut header = tar::Header::new_gnu();
                    match content {
                        None => {
                            header.set_entry_type(tar::EntryType::Directory);
                            header.set_mode(0o755);
                            header.set_size(0);
                            let name = if name.is_empty() {
                                ".".to_owned()
                            } else {
                                name
                            };
                            let _ = builder.append_data(
                                &mut header,
                                format!("{name}/"),
                                std::io::empty(),
                            );
                        }
                        Some(file) => {
                            header.set_entry_type(tar::EntryType::Regular);
                            header.set_mode(file.mode);
                            header.set_mtime(file.mtime);
                            header.set_size(file.data.len() as u64);
                            let _ = builder.append_data(&mut header, &name, file.data.as_slice());
                        }
                    }
                }
            }
            let data = builder.into_inner().unwrap_or_default();
            if io.stdout().write(&sh.sys, &data).await.is_err() {
                return 2;
            }
            if status != 0 {
                sh.complain(
                    io,
                    "tar: Exiting with failure status due to previous errors",
                )
                .await;
            }
            status
        }
        Some(m @ ('x' | 't')) => {
            let data = io.stdin.read_all().await;
            let members = match read_archive(&data) {
                Ok(members) => members,
                Err(message) => {
                    sh.complain(io, message).await;
                    return 2;
                }
            };
            let mut listing = String::new();
            for member in members {
                let name = member.name;
                if m == 't' {
                    listing.push_str(&name);
                    listing.push('\n');
                    continue;
                }
                let target = crate::fs::normalize(&base, &name);
                let Some(content) = member.content else {
                    let _ = sh.sys.files(|f| f.mkdir(&target, true));
                    continue;
                };
                let parent = target
                    .rsplit_once('/')
                    .map_or("/", |(p, _)| if p.is_empty() { "/" } else { p })
                    .to_owned();
                let written = sh.sys.files(|f| {
                    f.mkdir(&parent, true)?;
                    f.write(&target, &content, false)?;
                    f.set_mode(&target, member.mode, member.mtime);
                    Ok::<(), FsError>(())
                });
                if let Some(Err(e)) = written {
                    sh.complain(io, &format!("tar: {name}: Cannot open: {e}"))
                        .await;
                    return 2;
                }
            }
            if m == 't' && !out(sh, io, &listing).await {
                return 2;
            }
            0
        }
        _ => {
            sh.complain(io, "tar: You must specify one of the '-Acdtrux' options")
                .await;
            2
        }
    }
}

/// One member of a tar archive: a directory (`content: None`) or a file.
struct Member {
    name: String,
    content: Option<Vec<u8>>,
    mode: u32,
    mtime: Option<u64>,
}

/// The directories and regular files of an archive (other kinds are skipped).
fn read_archive(data: &[u8]) -> Result<Vec<Member>, &'static str> {
    let mut archive = tar::Archive::new(data);
    let entries = archive
        .entries()
        .map_err(|_| "tar: This does not look like a tar archive")?;
    let mut members = Vec::new();
    for entry in entries {
        let mut entry = entry.map_err(|_| "tar: Unexpected EOF in archive")?;
        let name = entry
            .path()
            .map(|p| p.to_string_lossy().into_owned())
            .unwrap_or_default();
        let kind = entry.header().entry_type();
        let mode = entry.header().mode().unwrap_or(0o644);
        let mtime = entry.header().mtime().ok();
        let content = if kind.is_dir() {
            None
        } else if kind.is_file() {
            let mut content = Vec::new();
            entry
                .read_to_end(&mut content)
                .map_err(|_| "tar: Unexpected EOF in archive")?;
            Some(content)
        } else {
            continue;
        };
        members.push(Member {
            name,
            content,
            mode,
            mtime,
        });
    }
    Ok(members)
}

/// The name a direct exec of `command` (no arguments) runs, if the image has it.
pub(crate) fn executable(image: Image, command: &str) -> Option<&'static str> {
    resolve(image, command)
}
