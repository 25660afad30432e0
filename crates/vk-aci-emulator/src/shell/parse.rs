//! Lexer and parser of the POSIX shell subset the emulated `/bin/sh` runs.
//!
//! Grammar: lists of and-or lists (`;`, `&`, newline), `&&` / `||`, pipelines
//! (`|`, leading `!`), simple commands with `NAME=value` assignments and
//! redirections (`[n]>`, `[n]>>`, `[n]<`, `[n]>&m`, `[n]>&-`), groups
//! `{ …; }`, subshells `( … )` and `if … then … [elif …] [else …] fi`.
//! Words: `'…'`, `"…"`, `\` escapes and line continuations, `$?`, `$$`,
//! `$NAME`, `${NAME}`, `${NAME%suffix}`, `${NAME#prefix}`, `${NAME:-word}`,
//! `$(…)`, and `#` comments. No loops, functions, globbing or here-documents.

/// One piece of a word.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Part {
    /// Literal text; `true` when quoted (no field splitting, no reserved word).
    Lit(String, bool),
    /// A parameter, with an optional `%`, `#` or `-` operation and its word.
    Var {
        name: String,
        op: Option<(char, String)>,
        quoted: bool,
    },
    /// `$(…)`: the source of the command list.
    Sub(String, bool),
}

/// A word: parts concatenated.
pub(crate) type Word = Vec<Part>;

/// Where a redirection points.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Target {
    File(Word),
    Dup(u32),
    Close,
}

/// A redirection of file descriptor `fd`.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Redir {
    pub(crate) fd: u32,
    /// `<`, `>` or `>>`.
    pub(crate) kind: &'static str,
    pub(crate) target: Target,
}

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Word(Word),
    Op(&'static str),
    Redir(Redir),
}

/// A command.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Command {
    Simple {
        assigns: Vec<(String, Word)>,
        words: Vec<Word>,
        redirs: Vec<Redir>,
    },
    Group(List, Vec<Redir>),
    Subshell(List, Vec<Redir>),
    If {
        branches: Vec<(List, List)>,
        otherwise: Option<List>,
        redirs: Vec<Redir>,
    },
}

/// `[!] a | b | …`.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Pipeline {
    pub(crate) negate: bool,
    pub(crate) commands: Vec<Command>,
}

/// `p1 && p2 || p3`: the first pipeline and the rest with `true` for `&&`.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct AndOr {
    pub(crate) first: Pipeline,
    pub(crate) rest: Vec<(bool, Pipeline)>,
}

/// A command list.
#[derive(Debug, Clone, PartialEq, Default)]
pub(crate) struct List(pub(crate) Vec<AndOr>);

/// Why a source does not parse.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum ParseError {
    /// More input is needed (open quote, `&&` at the end, missing `fi`…).
    Incomplete,
    /// A syntax error, with the unexpected token.
    Syntax(String),
}

fn is_name(s: &str) -> bool {
    let mut chars = s.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

struct Lexer<'a> {
    chars: std::iter::Peekable<std::str::Chars<'a>>,
}

impl Lexer<'_> {
    fn push_lit(word: &mut Word, c: char, quoted: bool) {
        if let Some(Part::Lit(s, q)) = word.last_mut()
            && *q == quoted
        {
            s.push(c);
            return;
        }
        word.push(Part::Lit(c.to_string(), quoted));
    }

    /// `$…` after the `$`.
    fn dollar(&mut self, word: &mut Word, quoted: bool) -> Result<(), ParseError> {
        match self.chars.peek().copied() {
            Some('?' | '$' | '#' | '!' | '0'..='9') => {
                let c = self.chars.next().unwrap_or('?');
                word.push(Part::Var {
                    name: c.to_string(),
                    op: None,
                    quoted,
                });
            }
            Some('{') => {
                self.chars.next();
                let mut name = String::new();
                let mut op = None;
                loop {
                    match self.chars.next() {
                        None => return Err(ParseError::Incomplete),
                        Some('}') => break,
                        Some(c @ ('%' | '#' | '-')) if !name.is_empty() && op.is_none() => {
                            op = Some((c, String::new()));
                        }
                        Some(':') if !name.is_empty() && op.is_none() => {
                            if self.chars.peek() == Some(&'-') {
                                self.chars.next();
                                op = Some(('-', String::new()));
                            }
                        }
                        Some(c) => match op.as_mut() {
                            Some((_, w)) => w.push(c),
                            None => name.push(c),
                        },
                    }
                }
                word.push(Part::Var { name, op, quoted });
            }
            Some('(') => {
                self.chars.next();
                let mut depth = 1;
                let mut src = String::new();
                let mut in_sq = false;
                loop {
                    let Some(c) = self.chars.next() else {
                        return Err(ParseError::Incomplete);
                    };
                    match c {
                        '\'' => in_sq = !in_sq,
                        '(' if !in_sq => depth += 1,
                        ')' if !in_sq => {
                            depth -= 1;
                            if depth == 0 {
                                break;
                            }
                        }
                        _ => {}
                    }
                    src.push(c);
                }
                word.push(Part::Sub(src, quoted));
            }
            Some(c) if c.is_ascii_alphabetic() || c == '_' => {
                let mut name = String::new();
                while let Some(&c) = self.chars.peek() {
                    if c.is_ascii_alphanumeric() || c == '_' {
                        name.push(c);
                        self.chars.next();
                    } else {
                        break;
                    }
                }
                word.push(Part::Var {
                    name,
                    op: None,
                    quoted,
                });
            }
            _ => Self::push_lit(word, '$', quoted),
        }
        Ok(())
    }

    fn tokens(&mut self) -> Result<Vec<Tok>, ParseError> {
        let mut toks = Vec::new();
        let mut word: Word = Vec::new();
        let mut in_word = false;
        macro_rules! flush {
            () => {
                if in_word {
                    toks.push(Tok::Word(std::mem::take(&mut word)));
                    in_word = false;
                }
            };
        }
        while let Some(c) = self.chars.next() {
            match c {
                ' ' | '\t' => flush!(),
                '\n' => {
                    flush!();
                    toks.push(Tok::Op("\n"));
                }
                '#' if !in_word => {
                    while self.chars.peek().is_some_and(|&c| c != '\n') {
                        self.chars.next();
                    }
                }
                ';' => {
                    flush!();
                    toks.push(Tok::Op(";"));
                }
                '&' => {
                    flush!();
                    if self.chars.peek() == Some(&'&') {
                        self.chars.next();
                        toks.push(Tok::Op("&&"));
                    } else {
                        toks.push(Tok::Op("&"));
                    }
                }
                '|' => {
                    flush!();
                    if self.chars.peek() == Some(&'|') {
                        self.chars.next();
                        toks.push(Tok::Op("||"));
                    } else {
                        toks.push(Tok::Op("|"));
                    }
                }
                '(' | ')' => {
                    flush!();
                    toks.push(Tok::Op(if c == '(' { "(" } else { ")" }));
                }
                '<' | '>' => {
                    // An unquoted all-digit word just before is the fd.
                    let fd = match word.as_slice() {
                        [Part::Lit(s, false)] if s.chars().all(|c| c.is_ascii_digit()) => {
                            let fd = s.parse().unwrap_or(1);
                            word.clear();
                            Some(fd)
                        }
                        _ => None,
                    };
                    if fd.is_some() {
                        in_word = false;
                    }
                    flush!();
                    let fd = fd.unwrap_or(if c == '<' { 0 } else { 1 });
                    let mut kind = if c == '<' { "<" } else { ">" };
                    if c == '>' && self.chars.peek() == Some(&'>') {
                        self.chars.next();
                        kind = ">>";
                    }
                    if self.chars.peek() == Some(&'&') {
                        self.chars.next();
                        let mut num = String::new();
                        while let Some(&d) = self.chars.peek() {
                            if d.is_ascii_digit() || d == '-' {
                                num.push(d);
                                self.chars.next();
                            } else {
                                break;
                            }
                        }
                        let target = if num == "-" {
                            Target::Close
                        } else {
                            Target::Dup(
                                num.parse()
                                    .map_err(|_| ParseError::Syntax(format!("{c}&{num}")))?,
                            )
                        };
                        toks.push(Tok::Redir(Redir { fd, kind, target }));
                        continue;
                    }
                    toks.push(Tok::Redir(Redir {
                        fd,
                        kind,
                        target: Target::File(Vec::new()),
                    }));
                }
                '\'' => {
                    in_word = true;
                    let mut s = String::new();
                    loop {
                        match self.chars.next() {
                            None => return Err(ParseError::Incomplete),
                            Some('\'') => break,
                            Some(c) => s.push(c),
                        }
                    }
                    word.push(Part::Lit(s, true));
                }
                '"' => {
                    in_word = true;
                    word.push(Part::Lit(String::new(), true));
                    loop {
                        match self.chars.next() {
                            None => return Err(ParseError::Incomplete),
                            Some('"') => break,
                            Some('\\') => match self.chars.next() {
                                None => return Err(ParseError::Incomplete),
                                Some('\n') => {}
                                Some(n @ ('"' | '\\' | '$' | '`')) => {
                                    Self::push_lit(&mut word, n, true);
                                }
                                Some(n) => {
                                    Self::push_lit(&mut word, '\\', true);
                                    Self::push_lit(&mut word, n, true);
                                }
                            },
                            Some('$') => self.dollar(&mut word, true)?,
                            Some(c) => Self::push_lit(&mut word, c, true),
                        }
                    }
                }
                '\\' => match self.chars.next() {
                    None => return Err(ParseError::Incomplete),
                    Some('\n') => {}
                    Some(n) => {
                        in_word = true;
                        Self::push_lit(&mut word, n, true);
                    }
                },
                '$' => {
                    in_word = true;
                    self.dollar(&mut word, false)?;
                }
                c => {
                    in_word = true;
                    Self::push_lit(&mut word, c, false);
                }
            }
        }
        if in_word {
            toks.push(Tok::Word(word));
        }
        // Redirection targets: the word after each file redirection.
        let mut out = Vec::with_capacity(toks.len());
        let mut iter = toks.into_iter();
        while let Some(tok) = iter.next() {
            match tok {
                Tok::Redir(mut r) if matches!(r.target, Target::File(_)) => match iter.next() {
                    Some(Tok::Word(w)) => {
                        r.target = Target::File(w);
                        out.push(Tok::Redir(r));
                    }
                    Some(Tok::Op("\n")) | None => return Err(ParseError::Syntax("newline".into())),
                    Some(other) => return Err(ParseError::Syntax(format!("{other:?}"))),
                },
                t => out.push(t),
            }
        }
        Ok(out)
    }
}

/// The plain text of an unquoted literal word (for reserved words).
fn plain(word: &Word) -> Option<&str> {
    match word.as_slice() {
        [Part::Lit(s, false)] => Some(s),
        _ => None,
    }
}

struct Parser {
    toks: Vec<Tok>,
    pos: usize,
}

const ENDERS: &[&str] = &["then", "elif", "else", "fi", "}"];

impl Parser {
    fn peek(&self) -> Option<&Tok> {
        self.toks.get(self.pos)
    }

    fn peek_reserved(&self) -> Option<&str> {
        match self.peek() {
            Some(Tok::Word(w)) => plain(w),
            _ => None,
        }
    }

    fn skip_newlines(&mut self) {
        while matches!(self.peek(), Some(Tok::Op("\n"))) {
            self.pos += 1;
        }
    }

    fn expect_reserved(&mut self, want: &str) -> Result<(), ParseError> {
        self.skip_newlines();
        match self.peek_reserved() {
            Some(w) if w == want => {
                self.pos += 1;
                Ok(())
            }
            _ if self.peek().is_none() => Err(ParseError::Incomplete),
            _ => Err(ParseError::Syntax(format!("expected {want}"))),
        }
    }

    /// A list up to EOF, `)` or a reserved word ending a construct.
    fn list(&mut self) -> Result<List, ParseError> {
        let mut items = Vec::new();
        loop {
            self.skip_newlines();
            match self.peek() {
                None | Some(Tok::Op(")")) => break,
                Some(Tok::Word(w)) if plain(w).is_some_and(|p| ENDERS.contains(&p)) => break,
                _ => {}
            }
            items.push(self.and_or()?);
            match self.peek() {
                Some(Tok::Op(";" | "&" | "\n")) => self.pos += 1,
                None | Some(Tok::Op(")")) => break,
                Some(Tok::Word(w)) if plain(w).is_some_and(|p| ENDERS.contains(&p)) => break,
                Some(t) => return Err(ParseError::Syntax(format!("{t:?}"))),
            }
        }
        Ok(List(items))
    }

    fn and_or(&mut self) -> Result<AndOr, ParseError> {
        let first = self.pipeline()?;
        let mut rest = Vec::new();
        while let Some(Tok::Op(op @ ("&&" | "||"))) = self.peek() {
            let and = *op == "&&";
            self.pos += 1;
            self.skip_newlines();
            if self.peek().is_none() {
                return Err(ParseError::Incomplete);
            }
            rest.push((and, self.pipeline()?));
        }
        Ok(AndOr { first, rest })
    }

    fn pipeline(&mut self) -> Result<Pipeline, ParseError> {
        let negate = self.peek_reserved() == Some("!");
        if negate {
            self.pos += 1;
        }
        let mut commands = vec![self.command()?];
        while let Some(Tok::Op("|")) = self.peek() {
            self.pos += 1;
            self.skip_newlines();
            if self.peek().is_none() {
                return Err(ParseError::Incomplete);
            }
            commands.push(self.command()?);
        }
        Ok(Pipeline { negate, commands })
    }

    fn redirs(&mut self) -> Vec<Redir> {
        let mut redirs = Vec::new();
        while let Some(Tok::Redir(r)) = self.peek() {
            redirs.push(r.clone());
            self.pos += 1;
        }
        redirs
    }

    fn command(&mut self) -> Result<Command, ParseError> {
        match self.peek() {
            None => return Err(ParseError::Incomplete),
            Some(Tok::Op("(")) => {
                self.pos += 1;
                let list = self.list()?;
                match self.peek() {
                    Some(Tok::Op(")")) => self.pos += 1,
                    None => return Err(ParseError::Incomplete),
                    Some(t) => return Err(ParseError::Syntax(format!("{t:?}"))),
                }
                return Ok(Command::Subshell(list, self.redirs()));
            }
            Some(Tok::Op(op)) => return Err(ParseError::Syntax((*op).to_owned())),
            _ => {}
        }
        match self.peek_reserved() {
            Some("{") => {
                self.pos += 1;
                let list = self.list()?;
                self.expect_reserved("}")?;
                return Ok(Command::Group(list, self.redirs()));
            }
            Some("if") => {
                self.pos += 1;
                let mut branches = Vec::new();
                let mut otherwise = None;
                loop {
                    let cond = self.list()?;
                    self.expect_reserved("then")?;
                    let body = self.list()?;
                    branches.push((cond, body));
                    self.skip_newlines();
                    match self.peek_reserved() {
                        Some("elif") => self.pos += 1,
                        Some("else") => {
                            self.pos += 1;
                            otherwise = Some(self.list()?);
                            self.expect_reserved("fi")?;
                            break;
                        }
                        Some("fi") => {
                            self.pos += 1;
                            break;
                        }
                        _ if self.peek().is_none() => return Err(ParseError::Incomplete),
                        _ => return Err(ParseError::Syntax("expected fi".into())),
                    }
                }
                return Ok(Command::If {
                    branches,
                    otherwise,
                    redirs: self.redirs(),
                });
            }
            Some(w @ ("then" | "elif" | "else" | "fi" | "}")) => {
                return Err(ParseError::Syntax(w.to_owned()));
            }
            _ => {}
        }
        let mut assigns = Vec::new();
        let mut words = Vec::new();
        let mut redirs = Vec::new();
        loop {
            match self.peek() {
                Some(Tok::Redir(r)) => {
                    redirs.push(r.clone());
                    self.pos += 1;
                }
                Some(Tok::Word(w)) => {
                    let w = w.clone();
                    self.pos += 1;
                    if words.is_empty()
                        && let Some(Part::Lit(s, false)) = w.first()
                        && let Some((name, value)) = s.split_once('=')
                        && is_name(name)
                    {
                        let mut value_word = w.clone();
                        value_word[0] = Part::Lit(value.to_owned(), false);
                        assigns.push((name.to_owned(), value_word));
                        continue;
                    }
                    words.push(w);
                }
                _ => break,
            }
        }
        Ok(Command::Simple {
            assigns,
            words,
            redirs,
        })
    }
}

/// Parses a whole source.
pub(crate) fn parse(source: &str) -> Result<List, ParseError> {
    let toks = Lexer {
        chars: source.chars().peekable(),
    }
    .tokens()?;
    let mut parser = Parser { toks, pos: 0 };
    let list = parser.list()?;
    match parser.peek() {
        None => Ok(list),
        Some(t) => Err(ParseError::Syntax(format!("{t:?}"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_what_vk_types() {
        let src = "stty -echo -onlcr 2>/dev/null; printf '__VK_%s_R_%s__\\n' abc \"$?\"";
        let list = parse(src).expect("parses");
        assert_eq!(list.0.len(), 2);
        let src = "printf x; { { tar cf - /tmp </dev/null 2>&1; printf '%s' \"$?\" >&3; } | base64; } 3>&1; exit";
        assert!(parse(src).is_ok());
        assert!(parse("a=1 b=\"$(printf '\\011x')\"; echo \"${b%x}\"").is_ok());
        assert!(parse("if true; then echo y; else echo n; fi").is_ok());
    }

    #[test]
    fn incomplete_and_errors() {
        for src in [
            "echo 'open",
            "echo a &&",
            "if true; then echo",
            "{ echo",
            "echo \"x",
            "a |",
        ] {
            assert_eq!(parse(src), Err(ParseError::Incomplete), "{src}");
        }
        assert!(matches!(parse("fi"), Err(ParseError::Syntax(_))));
        assert!(matches!(parse("echo >"), Err(ParseError::Syntax(_))));
        assert!(parse("echo 'multi\nline'").is_ok());
    }
}
