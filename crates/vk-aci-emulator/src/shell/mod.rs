//! The shells of emulated containers: a POSIX `sh` subset ([`parse`]) with
//! busybox-like utilities ([`utils`]), and a `cmd.exe` subset ([`cmdexe`]) for
//! Windows containers. They run in an exec session's terminal ([`Tty`]) over
//! the container's simulated files ([`Files`]).
//!
//! Pipelines run their stages concurrently, connected by channels. What is
//! not modelled: processes, signals other than `^C`, job control (`&` runs in
//! the foreground), globbing, loops and functions.

pub(crate) mod cmdexe;
pub(crate) mod parse;
pub(crate) mod utils;

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};

use tokio::sync::mpsc;

use crate::fs::{Files, FsError, normalize};
use crate::tty::Tty;
use parse::{Command, List, ParseError, Part, Pipeline, Redir, Target, Word};

type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// Access to a container's files (`None`: the container is gone).
pub(crate) type FsAccess = Arc<dyn Fn(&mut dyn FnMut(&mut Files)) -> bool + Send + Sync>;

/// An in-memory [`FsAccess`] (tests).
#[cfg(test)]
pub(crate) fn memory_fs() -> FsAccess {
    let files = Arc::new(Mutex::new(Files::new()));
    Arc::new(move |f: &mut dyn FnMut(&mut Files)| {
        let mut guard = files
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        f(&mut guard);
        true
    })
}

/// What an image contains, as far as exec can tell.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Image {
    /// A Linux image with `/bin/sh` and busybox-like utilities; `bash` too
    /// unless the image is busybox or alpine.
    Linux { bash: bool },
    /// A Linux image without any shell (`distroless`, `noshell` names).
    LinuxNoShell,
    /// A Windows image: `cmd.exe`.
    Windows,
}

impl Image {
    /// The simulation's convention, from the image reference and OS type.
    pub(crate) fn of(image: &str, os_type: &str) -> Self {
        let lower = image.to_ascii_lowercase();
        if os_type.eq_ignore_ascii_case("windows") {
            Image::Windows
        } else if lower.contains("distroless") || lower.contains("noshell") {
            Image::LinuxNoShell
        } else {
            Image::Linux {
                bash: !(lower.contains("busybox") || lower.contains("alpine")),
            }
        }
    }
}

/// Everything a shell needs from its container and session.
pub(crate) struct Sys {
    pub(crate) tty: Arc<Tty>,
    pub(crate) fs: FsAccess,
    pub(crate) image: Image,
    pub(crate) hostname: String,
    /// The container's (non-secure) environment variables.
    pub(crate) env: Vec<(String, String)>,
}

impl Sys {
    /// Runs `f` on the files; `None` when the container is gone.
    pub(crate) fn files<R>(&self, f: impl FnOnce(&mut Files) -> R) -> Option<R> {
        let mut f = Some(f);
        let mut out = None;
        (self.fs)(&mut |files| {
            if let Some(f) = f.take() {
                out = Some(f(files));
            }
        });
        out
    }
}

/// An input stream.
#[derive(Clone)]
pub(crate) enum In {
    Null,
    Tty(Arc<Tty>),
    Pipe(Arc<tokio::sync::Mutex<PipeReader>>),
    Data(Arc<Mutex<VecDeque<u8>>>),
}

/// The reading end of a pipe, with what was read past a line.
pub(crate) struct PipeReader {
    rx: mpsc::Receiver<Vec<u8>>,
    pending: Vec<u8>,
}

impl In {
    pub(crate) fn data(bytes: Vec<u8>) -> Self {
        In::Data(Arc::new(Mutex::new(bytes.into())))
    }

    /// The next chunk; `None` at the end.
    pub(crate) async fn read(&self) -> Option<Vec<u8>> {
        match self {
            In::Null => None,
            In::Tty(tty) => tty.read_line().await,
            In::Pipe(p) => {
                let mut p = p.lock().await;
                if !p.pending.is_empty() {
                    return Some(std::mem::take(&mut p.pending));
                }
                p.rx.recv().await
            }
            In::Data(d) => {
                let mut d = d.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
                if d.is_empty() {
                    None
                } else {
                    Some(d.drain(..).collect())
                }
            }
        }
    }

    /// Everything up to the end.
    pub(crate) async fn read_all(&self) -> Vec<u8> {
        let mut all = Vec::new();
        while let Some(chunk) = self.read().await {
            all.extend(chunk);
        }
        all
    }

    /// One line (with its `\n` when there is one); `None` at the end.
    pub(crate) async fn read_line(&self) -> Option<Vec<u8>> {
        match self {
            In::Null => None,
            In::Tty(tty) => tty.read_line().await,
            In::Pipe(p) => {
                let mut p = p.lock().await;
                loop {
                    if let Some(i) = p.pending.iter().position(|&b| b == b'\n') {
                        let rest = p.pending.split_off(i + 1);
                        return Some(std::mem::replace(&mut p.pending, rest));
                    }
                    match p.rx.recv().await {
                        Some(chunk) => p.pending.extend(chunk),
                        None if p.pending.is_empty() => return None,
                        None => return Some(std::mem::take(&mut p.pending)),
                    }
                }
            }
            In::Data(d) => {
                let mut d = d.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
                if d.is_empty() {
                    return None;
                }
                let n = d
                    .iter()
                    .position(|&b| b == b'\n')
                    .map_or(d.len(), |i| i + 1);
                Some(d.drain(..n).collect())
            }
        }
    }

    pub(crate) fn is_tty(&self) -> bool {
        matches!(self, In::Tty(_))
    }
}

/// An output stream.
#[derive(Clone)]
pub(crate) enum Out {
    Null,
    Tty(Arc<Tty>),
    Pipe(mpsc::Sender<Vec<u8>>),
    Capture(Arc<Mutex<Vec<u8>>>),
    /// Appends to a file.
    File(String),
}

/// Writing failed: the reader is gone (EPIPE) or the file cannot be written.
#[derive(Debug)]
pub(crate) struct WriteError;

impl Out {
    pub(crate) async fn write(&self, sys: &Sys, bytes: &[u8]) -> Result<(), WriteError> {
        match self {
            Out::Null => Ok(()),
            Out::Tty(tty) => {
                tty.write(bytes);
                Ok(())
            }
            Out::Pipe(tx) => tx.send(bytes.to_vec()).await.map_err(|_| WriteError),
            Out::Capture(buf) => {
                buf.lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner)
                    .extend_from_slice(bytes);
                Ok(())
            }
            Out::File(path) => sys
                .files(|f| f.write(path, bytes, true))
                .unwrap_or(Err(FsError::NotFound))
                .map_err(|_| WriteError),
        }
    }

    pub(crate) fn is_tty(&self) -> bool {
        matches!(self, Out::Tty(_))
    }
}

/// The file descriptors of a command.
#[derive(Clone)]
pub(crate) struct Io {
    pub(crate) stdin: In,
    pub(crate) out: BTreeMap<u32, Out>,
}

impl Io {
    /// Everything on the terminal.
    pub(crate) fn tty(tty: &Arc<Tty>) -> Self {
        let mut out = BTreeMap::new();
        out.insert(1, Out::Tty(tty.clone()));
        out.insert(2, Out::Tty(tty.clone()));
        Self {
            stdin: In::Tty(tty.clone()),
            out,
        }
    }

    pub(crate) fn fd(&self, fd: u32) -> &Out {
        self.out.get(&fd).unwrap_or(&Out::Null)
    }

    pub(crate) fn stdout(&self) -> &Out {
        self.fd(1)
    }

    pub(crate) fn stderr(&self) -> &Out {
        self.fd(2)
    }
}

/// `exit` unwinding to the shell (or subshell) that runs it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Exit(pub(crate) i32);

/// A result of running something: a status, or an `exit`.
pub(crate) type Status = Result<i32, Exit>;

/// Variables and the working directory (copied into subshells).
#[derive(Clone, Debug)]
pub(crate) struct Env {
    pub(crate) vars: BTreeMap<String, String>,
    pub(crate) exported: BTreeSet<String>,
    pub(crate) cwd: String,
    pub(crate) status: i32,
}

/// A running shell.
#[derive(Clone)]
pub(crate) struct Shell {
    pub(crate) env: Env,
    pub(crate) sys: Arc<Sys>,
    /// The name in messages (`sh`, `bash`).
    pub(crate) name: &'static str,
}

impl Shell {
    pub(crate) fn new(sys: Arc<Sys>, name: &'static str) -> Self {
        let mut vars = BTreeMap::new();
        let mut exported = BTreeSet::new();
        for (k, v) in [
            (
                "PATH",
                "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
            ),
            ("HOME", "/root"),
            ("TERM", "xterm"),
            ("HOSTNAME", sys.hostname.as_str()),
        ] {
            vars.insert(k.to_owned(), v.to_owned());
            exported.insert(k.to_owned());
        }
        for (k, v) in &sys.env {
            vars.insert(k.clone(), v.clone());
            exported.insert(k.clone());
        }
        Self {
            env: Env {
                vars,
                exported,
                cwd: "/".to_owned(),
                status: 0,
            },
            sys,
            name,
        }
    }

    /// A message on stderr.
    pub(crate) async fn complain(&self, io: &Io, message: &str) {
        let _ = io
            .stderr()
            .write(&self.sys, format!("{message}\n").as_bytes())
            .await;
    }

    pub(crate) fn path(&self, p: &str) -> String {
        normalize(&self.env.cwd, p)
    }

    fn var(&self, name: &str) -> Option<String> {
        match name {
            "?" => Some(self.env.status.to_string()),
            "$" => Some("1".to_owned()),
            "#" => Some("0".to_owned()),
            "0" => Some(self.name.to_owned()),
            "!" => Some(String::new()),
            n => self.env.vars.get(n).cloned(),
        }
    }

    /// Expands words into fields (field splitting of unquoted expansions).
    pub(crate) fn expand<'a>(
        &'a mut self,
        words: &'a [Word],
        io: &'a Io,
    ) -> BoxFuture<'a, Vec<String>> {
        Box::pin(async move {
            let mut fields = Vec::new();
            for word in words {
                let mut cur: Option<String> = None;
                for part in word {
                    let (text, split) = match part {
                        Part::Lit(s, _) => (s.clone(), false),
                        Part::Var { name, op, quoted } => {
                            let value = self.var(name);
                            let text = match op {
                                None => value.unwrap_or_default(),
                                Some(('%', suffix)) => {
                                    let v = value.unwrap_or_default();
                                    v.strip_suffix(suffix.as_str()).unwrap_or(&v).to_owned()
                                }
                                Some(('#', prefix)) => {
                                    let v = value.unwrap_or_default();
                                    v.strip_prefix(prefix.as_str()).unwrap_or(&v).to_owned()
                                }
                                Some((_, default)) => value
                                    .filter(|v| !v.is_empty())
                                    .unwrap_or_else(|| default.clone()),
                            };
                            (text, !quoted)
                        }
                        Part::Sub(src, quoted) => {
                            let captured = Arc::new(Mutex::new(Vec::new()));
                            let mut sub_io = io.clone();
                            sub_io.out.insert(1, Out::Capture(captured.clone()));
                            let mut sub = self.clone();
                            let status = match parse::parse(src) {
                                Ok(list) => match sub.run_list(&list, &sub_io).await {
                                    Ok(s) | Err(Exit(s)) => s,
                                },
                                Err(_) => 2,
                            };
                            self.env.status = status;
                            let bytes = captured
                                .lock()
                                .unwrap_or_else(std::sync::PoisonError::into_inner)
                                .clone();
                            let text = String::from_utf8_lossy(&bytes);
                            (text.trim_end_matches('\n').to_owned(), !quoted)
                        }
                    };
                    if split {
                        let mut pieces = text.split([' ', '\t', '\n']).peekable();
                        let leading_space = text.starts_with([' ', '\t', '\n']);
                        if leading_space && let Some(c) = cur.take() {
                            fields.push(c);
                        }
                        while let Some(piece) = pieces.next() {
                            if !piece.is_empty() {
                                cur.get_or_insert_with(String::new).push_str(piece);
                            }
                            if pieces.peek().is_some()
                                && let Some(c) = cur.take()
                            {
                                fields.push(c);
                            }
                        }
                    } else {
                        cur.get_or_insert_with(String::new).push_str(&text);
                    }
                }
                if let Some(c) = cur {
                    fields.push(c);
                }
            }
            fields
        })
    }

    async fn expand_one(&mut self, word: &Word, io: &Io) -> String {
        self.expand(std::slice::from_ref(word), io).await.join(" ")
    }

    /// The descriptors after `redirs`; an error message when one fails.
    async fn redirect(&mut self, redirs: &[Redir], io: &Io) -> Result<Io, String> {
        let mut io = io.clone();
        for r in redirs {
            match &r.target {
                Target::Close => {
                    if r.fd == 0 {
                        io.stdin = In::Null;
                    } else {
                        io.out.remove(&r.fd);
                    }
                }
                Target::Dup(from) => {
                    if r.kind == "<" {
                        continue;
                    }
                    let Some(out) = io.out.get(from).cloned() else {
                        return Err(format!("{}: {from}: bad file descriptor", self.name));
                    };
                    io.out.insert(r.fd, out);
                }
                Target::File(word) => {
                    let name = self.expand_one(word, &io).await;
                    if r.kind == "<" {
                        io.stdin = match name.as_str() {
                            "/dev/null" => In::Null,
                            "/dev/stdin" | "/dev/tty" => io.stdin.clone(),
                            _ => {
                                let path = self.path(&name);
                                match self.sys.files(|f| f.read(&path).map(|f| f.data.clone())) {
                                    Some(Ok(data)) => In::data(data),
                                    Some(Err(e)) => {
                                        return Err(format!(
                                            "{}: can't open {name}: {e}",
                                            self.name
                                        ));
                                    }
                                    None => In::Null,
                                }
                            }
                        };
                        continue;
                    }
                    let out = match name.as_str() {
                        "/dev/null" => Out::Null,
                        "/dev/stdout" => io.fd(1).clone(),
                        "/dev/stderr" => io.fd(2).clone(),
                        "/dev/tty" => Out::Tty(self.sys.tty.clone()),
                        _ => {
                            let path = self.path(&name);
                            let append = r.kind == ">>";
                            let created = self.sys.files(|f| {
                                if append && f.is_file(&path) {
                                    Ok(())
                                } else {
                                    f.write(&path, b"", false)
                                }
                            });
                            match created {
                                Some(Ok(())) => Out::File(path),
                                Some(Err(FsError::NotFound)) => {
                                    return Err(format!(
                                        "{}: can't create {name}: nonexistent directory",
                                        self.name
                                    ));
                                }
                                Some(Err(e)) => {
                                    return Err(format!("{}: can't create {name}: {e}", self.name));
                                }
                                None => Out::Null,
                            }
                        }
                    };
                    io.out.insert(r.fd, out);
                }
            }
        }
        Ok(io)
    }

    /// Runs a list.
    pub(crate) fn run_list<'a>(&'a mut self, list: &'a List, io: &'a Io) -> BoxFuture<'a, Status> {
        Box::pin(async move {
            let mut status = self.env.status;
            for and_or in &list.0 {
                status = self.run_pipeline(&and_or.first, io).await?;
                self.env.status = status;
                for (and, pipeline) in &and_or.rest {
                    if (*and && status != 0) || (!*and && status == 0) {
                        continue;
                    }
                    status = self.run_pipeline(pipeline, io).await?;
                    self.env.status = status;
                }
            }
            Ok(status)
        })
    }

    async fn run_pipeline(&mut self, pipeline: &Pipeline, io: &Io) -> Status {
        let status = if let [single] = pipeline.commands.as_slice() {
            self.run_command(single, io).await?
        } else {
            // Each stage in a subshell, connected by channels.
            let n = pipeline.commands.len();
            let mut stages = Vec::with_capacity(n);
            let mut next_in = io.stdin.clone();
            for (i, command) in pipeline.commands.iter().enumerate() {
                let mut stage_io = io.clone();
                stage_io.stdin = next_in.clone();
                if i + 1 < n {
                    let (tx, rx) = mpsc::channel(16);
                    stage_io.out.insert(1, Out::Pipe(tx));
                    next_in = In::Pipe(Arc::new(tokio::sync::Mutex::new(PipeReader {
                        rx,
                        pending: Vec::new(),
                    })));
                }
                let mut sub = self.clone();
                stages.push(async move {
                    let status = match sub.run_command(command, &stage_io).await {
                        Ok(s) | Err(Exit(s)) => s,
                    };
                    drop(stage_io);
                    status
                });
            }
            futures::future::join_all(stages)
                .await
                .last()
                .copied()
                .unwrap_or(0)
        };
        Ok(if pipeline.negate {
            i32::from(status == 0)
        } else {
            status
        })
    }

    fn run_command<'a>(&'a mut self, command: &'a Command, io: &'a Io) -> BoxFuture<'a, Status> {
        Box::pin(async move {
            match command {
                Command::Group(list, redirs) => match self.redirect(redirs, io).await {
                    Ok(io) => self.run_list(list, &io).await,
                    Err(msg) => {
                        self.complain(io, &msg).await;
                        Ok(1)
                    }
                },
                Command::Subshell(list, redirs) => match self.redirect(redirs, io).await {
                    Ok(io) => {
                        let mut sub = self.clone();
                        Ok(match sub.run_list(list, &io).await {
                            Ok(s) | Err(Exit(s)) => s,
                        })
                    }
                    Err(msg) => {
                        self.complain(io, &msg).await;
                        Ok(1)
                    }
                },
                Command::If {
                    branches,
                    otherwise,
                    redirs,
                } => {
                    let io = match self.redirect(redirs, io).await {
                        Ok(io) => io,
                        Err(msg) => {
                            self.complain(io, &msg).await;
                            return Ok(1);
                        }
                    };
                    for (cond, body) in branches {
                        if self.run_list(cond, &io).await? == 0 {
                            return self.run_list(body, &io).await;
                        }
                    }
                    match otherwise {
                        Some(list) => self.run_list(list, &io).await,
                        None => Ok(0),
                    }
                }
                Command::Simple {
                    assigns,
                    words,
                    redirs,
                } => {
                    let has_sub = words
                        .iter()
                        .chain(assigns.iter().map(|(_, w)| w))
                        .any(|w| w.iter().any(|p| matches!(p, Part::Sub(..))));
                    let argv = self.expand(words, io).await;
                    let mut values = Vec::with_capacity(assigns.len());
                    for (name, word) in assigns {
                        let value = self.expand_one(word, io).await;
                        values.push((name.clone(), value));
                    }
                    let io = match self.redirect(redirs, io).await {
                        Ok(io) => io,
                        Err(msg) => {
                            self.complain(io, &msg).await;
                            return Ok(1);
                        }
                    };
                    if argv.is_empty() {
                        for (name, value) in values {
                            self.env.vars.insert(name, value);
                        }
                        return Ok(if has_sub { self.env.status } else { 0 });
                    }
                    if values.is_empty() {
                        self.run_argv(&argv, &io).await
                    } else {
                        let mut scoped = self.clone();
                        for (name, value) in values {
                            scoped.env.exported.insert(name.clone());
                            scoped.env.vars.insert(name, value);
                        }
                        scoped.run_argv(&argv, &io).await
                    }
                }
            }
        })
    }

    /// Runs one command by name: a shell builtin or a utility of the image.
    pub(crate) fn run_argv<'a>(
        &'a mut self,
        argv: &'a [String],
        io: &'a Io,
    ) -> BoxFuture<'a, Status> {
        Box::pin(async move {
            let Some(name) = argv.first() else {
                return Ok(0);
            };
            if let Some(status) = self.builtin(argv, io).await {
                return status;
            }
            match utils::resolve(self.sys.image, name) {
                Some(util) => utils::run(self, util, argv, io).await,
                None => {
                    self.complain(io, &format!("{}: {name}: not found", self.name))
                        .await;
                    Ok(127)
                }
            }
        })
    }

    /// Reads and runs lines typed at the terminal until `exit` or end of input.
    pub(crate) async fn interactive(&mut self, prompt: &str) -> i32 {
        let tty = self.sys.tty.clone();
        let io = Io::tty(&tty);
        loop {
            tty.write(prompt.as_bytes());
            let mut source = String::new();
            let list = loop {
                let Some(line) = tty.read_line().await else {
                    if self.name == "bash" {
                        tty.write(b"exit\n");
                    }
                    return self.env.status;
                };
                source.push_str(&String::from_utf8_lossy(&line));
                if !line.ends_with(b"\n") {
                    continue;
                }
                match parse::parse(&source) {
                    Ok(list) => break Some(list),
                    Err(ParseError::Incomplete) => tty.write(b"> "),
                    Err(ParseError::Syntax(token)) => {
                        tty.write(
                            format!("{}: syntax error: unexpected {token}\n", self.name).as_bytes(),
                        );
                        self.env.status = 2;
                        break None;
                    }
                }
            };
            let Some(list) = list else { continue };
            let seen = tty.interrupts();
            let result = tokio::select! {
                r = self.run_list(&list, &io) => r,
                () = tty.interrupted_after(seen) => Ok(130),
            };
            match result {
                Ok(status) => self.env.status = status,
                Err(Exit(code)) => {
                    if self.name == "bash" {
                        tty.write(b"exit\n");
                    }
                    return code;
                }
            }
        }
    }

    /// Runs a script (`sh -c`); `exit` ends it.
    pub(crate) async fn script(&mut self, source: &str, io: &Io) -> i32 {
        match parse::parse(source) {
            Ok(list) => match self.run_list(&list, io).await {
                Ok(s) | Err(Exit(s)) => s,
            },
            Err(e) => {
                let token = match e {
                    ParseError::Incomplete => "end of file".to_owned(),
                    ParseError::Syntax(t) => t,
                };
                self.complain(
                    io,
                    &format!("{}: syntax error: unexpected {token}", self.name),
                )
                .await;
                2
            }
        }
    }
}

#[cfg(test)]
mod tests;
