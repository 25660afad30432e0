//! What vk types into a container's shell to run a command line there.
//!
//! Two lines, each typed once the previous one answered:
//!
//! 1. **setup**: (Linux, no TTY) `stty -echo -onlcr` so typed input is not
//!    echoed and output keeps its `\n`, then the `R` marker with `stty`'s
//!    status; probes for `base64` (`S`) and `cat` (`C`) when they matter.
//!    Words vk cannot type literally (control characters) and over-long
//!    command lines are first stored in shell variables.
//! 2. **run**: the `B` marker, the command, the `E` marker with `$?`, `exit`.
//!    Without a TTY the command runs as
//!    `{ { CMD </dev/null 2>&1; printf T "$?" >&3; } | cat; } 3>&1`, so it
//!    sees pipes as it would under a kubelet (stderr merged into stdout, as a
//!    TTY merges them anyway), and `T` carries its own exit code (the
//!    pipeline's is `cat`'s). With stdin, `base64 -d |` feeds it what vk
//!    types base64-encoded; `kubectl cp`'s `tar cf -` is piped through
//!    `base64` instead of `cat`.
//!
//! Windows (`cmd.exe`): `echo __VK_<nonce>^_B__& CMD <NUL & call echo
//! __VK_<nonce>_E_%^errorlevel%__& exit` — the caret keeps the echoed line
//! from matching, `call` expands `%errorlevel%` after the command ran.

use crate::quote;

/// Variable holding an over-long command line.
const LONG_VAR: &str = "__vkc";
/// Command lines longer than this are typed in pieces.
const LONG_LINE: usize = 900;
/// Bytes of command line per piece.
const PIECE: usize = 200;

/// How a command runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Mode {
    /// The client asked for a TTY.
    pub(crate) tty: bool,
    /// The client sends stdin.
    pub(crate) stdin: bool,
    /// Stdin is sent base64-encoded (no TTY, `base64` present).
    pub(crate) stdin_base64: bool,
    /// Output goes through `base64` (`kubectl cp` from the pod).
    pub(crate) output_base64: bool,
    /// `cat` is present (to give the command pipes).
    pub(crate) cat: bool,
}

fn marker(nonce: &str, tag: char, value: &str) -> String {
    format!("printf '__VK_%s_{tag}_%s__\\n' {nonce} {value}")
}

/// `argv` as one POSIX command line, and the assignments it needs first.
pub(crate) fn posix_command(argv: &[String]) -> (Vec<String>, String) {
    let mut setup = Vec::new();
    let mut words = Vec::with_capacity(argv.len());
    for (i, word) in argv.iter().enumerate() {
        let typeable = word.bytes().all(|b| b == b'\n' || (b >= 0x20 && b != 0x7f));
        if typeable {
            words.push(quote::posix_word(word));
            continue;
        }
        // printf's octal escapes re-create every byte; the trailing `_` keeps
        // `$(…)` from eating trailing newlines.
        let octal: String = word.bytes().map(|b| format!("\\{b:03o}")).collect();
        let var = format!("__vka{i}");
        setup.push(format!(
            "{var}=\"$(printf '{octal}_')\"; {var}=\"${{{var}%_}}\""
        ));
        words.push(format!("\"${var}\""));
    }
    let line = words.join(" ");
    if line.len() <= LONG_LINE {
        return (setup, line);
    }
    setup.push(format!("{LONG_VAR}=''"));
    let mut rest = line.as_str();
    while !rest.is_empty() {
        let mut end = rest.len().min(PIECE);
        while !rest.is_char_boundary(end) {
            end -= 1;
        }
        let (piece, tail) = rest.split_at(end);
        setup.push(format!(
            "{LONG_VAR}=\"${LONG_VAR}\"{}",
            quote::posix_word_always(piece)
        ));
        rest = tail;
    }
    (setup, format!("eval \"${LONG_VAR}\""))
}

/// The setup lines (Linux).
pub(crate) fn linux_setup(
    nonce: &str,
    assignments: &[String],
    tty: bool,
    probe_base64: bool,
) -> String {
    let mut text = String::new();
    for line in assignments {
        text.push_str(line);
        text.push('\n');
    }
    if tty {
        text.push_str(&marker(nonce, 'R', "0"));
    } else {
        text.push_str("stty -echo -onlcr 2>/dev/null; ");
        text.push_str(&marker(nonce, 'R', "\"$?\""));
        text.push_str("; command -v cat >/dev/null 2>&1; ");
        text.push_str(&marker(nonce, 'C', "\"$?\""));
        if probe_base64 {
            text.push_str("; command -v base64 >/dev/null 2>&1; ");
            text.push_str(&marker(nonce, 'S', "\"$?\""));
        }
    }
    text.push('\n');
    text
}

/// The run line (Linux).
pub(crate) fn linux_run(nonce: &str, command: &str, mode: Mode) -> String {
    let begin = format!("printf '__VK_%s_B__\\n' {nonce}");
    let end = format!("printf '__VK_%s_E_%s__\\n' {nonce} \"$?\"; exit");
    if mode.tty {
        return format!("{begin}; {command}; {end}\n");
    }
    let stdin = if mode.stdin { "" } else { " </dev/null" };
    let source = if mode.stdin && mode.stdin_base64 {
        "base64 -d | "
    } else {
        ""
    };
    // Messages of a command whose output is encoded go to the terminal as they are.
    let (sink, errors) = if mode.output_base64 {
        ("base64", "2>&3")
    } else if mode.cat {
        ("cat", "2>&1")
    } else {
        return format!("{begin}; {source}{command}{stdin} 2>&1; {end}\n");
    };
    format!(
        "{begin}; {source}{{ {{ {command}{stdin} {errors}; printf '__VK_%s_T_%s__\\n' {nonce} \"$?\" >&3; }} | {sink}; }} 3>&1; {end}\n"
    )
}

/// cmd.exe's special characters outside double quotes, escaped with `^`.
fn cmd_escape(line: &str) -> String {
    let mut out = String::with_capacity(line.len());
    let mut quoted = false;
    for c in line.chars() {
        if c == '"' {
            quoted = !quoted;
        } else if !quoted && "&|<>^()".contains(c) {
            out.push('^');
        }
        out.push(c);
    }
    out
}

/// The setup line (Windows).
pub(crate) fn windows_setup(nonce: &str) -> String {
    format!("echo __VK_{nonce}^_R_0__\r")
}

/// The run line (Windows).
pub(crate) fn windows_run(nonce: &str, argv: &[String], stdin: bool) -> String {
    let command = cmd_escape(&quote::windows(argv));
    let redirect = if stdin { "" } else { " <NUL" };
    format!(
        "echo __VK_{nonce}^_B__& {command}{redirect} & call echo __VK_{nonce}_E_%^errorlevel%__& exit\r"
    )
}

/// Whether `argv` is what `kubectl cp` runs to copy from a pod (`tar cf - PATH`).
pub(crate) fn is_tar_create(argv: &[String]) -> bool {
    let [tar, flags, file, ..] = argv else {
        return false;
    };
    let flags = flags.trim_start_matches('-');
    tar == "tar"
        && flags.contains('c')
        && flags.ends_with('f')
        && !flags.contains(['x', 't', 'z', 'j', 'J'])
        && file == "-"
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(words: &[&str]) -> Vec<String> {
        words.iter().map(|w| (*w).to_owned()).collect()
    }

    #[test]
    fn lines_typed_into_sh() {
        let (setup, cmd) = posix_command(&v(&["sh", "-c", "echo err >&2; exit 3"]));
        assert!(setup.is_empty());
        assert_eq!(cmd, "sh -c 'echo err >&2; exit 3'");
        let mode = Mode {
            tty: false,
            stdin: false,
            stdin_base64: false,
            output_base64: false,
            cat: true,
        };
        assert_eq!(
            linux_run("n", &cmd, mode),
            "printf '__VK_%s_B__\\n' n; { { sh -c 'echo err >&2; exit 3' </dev/null 2>&1; \
             printf '__VK_%s_T_%s__\\n' n \"$?\" >&3; } | cat; } 3>&1; \
             printf '__VK_%s_E_%s__\\n' n \"$?\"; exit\n"
        );
        let tty = Mode { tty: true, ..mode };
        assert_eq!(
            linux_run("n", "top", tty),
            "printf '__VK_%s_B__\\n' n; top; printf '__VK_%s_E_%s__\\n' n \"$?\"; exit\n"
        );
        let upload = Mode {
            stdin: true,
            stdin_base64: true,
            ..mode
        };
        assert!(linux_run("n", "tar -xmf - -C /tmp", upload).contains("; base64 -d | { { tar"));
    }

    #[test]
    fn words_with_control_characters_and_long_lines() {
        let (setup, cmd) = posix_command(&v(&["printf", "a\tb\n"]));
        assert_eq!(cmd, "printf \"$__vka1\"");
        assert_eq!(
            setup,
            ["__vka1=\"$(printf '\\141\\011\\142\\012_')\"; __vka1=\"${__vka1%_}\""]
        );
        let long = "x'y".repeat(400);
        let (setup, cmd) = posix_command(&v(&["echo", &long]));
        assert_eq!(cmd, "eval \"$__vkc\"");
        assert!(setup.len() > 5 && setup.iter().all(|l| l.len() < 1000));
    }

    #[test]
    fn lines_typed_into_cmd() {
        assert_eq!(
            windows_run("n", &v(&["cmd", "/c", "echo a&b"]), false),
            "echo __VK_n^_B__& cmd /c \"echo a&b\" <NUL & call echo __VK_n_E_%^errorlevel%__& exit\r"
        );
        assert_eq!(
            windows_run("n", &v(&["findstr", "x|y"]), true),
            "echo __VK_n^_B__& findstr x^|y & call echo __VK_n_E_%^errorlevel%__& exit\r"
        );
    }

    #[test]
    fn kubectl_cp_from_the_pod() {
        assert!(is_tar_create(&v(&["tar", "cf", "-", "/tmp/x"])));
        assert!(is_tar_create(&v(&[
            "tar", "-cf", "-", "-C", "/tmp", "--", "x"
        ])));
        assert!(!is_tar_create(&v(&["tar", "-xmf", "-", "-C", "/tmp"])));
        assert!(!is_tar_create(&v(&["tar", "czf", "-", "/tmp"])));
    }
}
