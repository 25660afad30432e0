//! Quoting argv into the command line typed into a container's shell.
//!
//! Linux containers: POSIX shell quoting. Words made only of safe characters
//! (`A-Z a-z 0-9 _ @ % + = : , . / -`) stay as they are; any other word is wrapped in single
//! quotes, with each embedded `'` written as `'\''`. The shell turns the line back into exactly
//! the original argv.
//!
//! Windows containers: the `CommandLineToArgvW` / MSVC CRT rules. Words without spaces, tabs
//! or quotes stay as they are; others are wrapped in `"`, with `"` escaped as `\"` and
//! backslashes doubled where they precede a `"` (inside the word or before the closing quote).
//! `cmd.exe` metacharacters are escaped separately, when the line is typed into `cmd.exe`.

/// POSIX-shell quoting of `argv`, joined by spaces.
pub fn posix(argv: &[String]) -> String {
    argv.iter()
        .map(|word| posix_word(word))
        .collect::<Vec<_>>()
        .join(" ")
}

/// One word for a POSIX shell: as it is when it is made of safe characters, else quoted.
pub(crate) fn posix_word(word: &str) -> String {
    let safe = |c: char| c.is_ascii_alphanumeric() || "_@%+=:,./-".contains(c);
    if !word.is_empty() && word.chars().all(safe) {
        return word.to_owned();
    }
    posix_word_always(word)
}

/// One word for a POSIX shell, always single-quoted.
pub(crate) fn posix_word_always(word: &str) -> String {
    format!("'{}'", word.replace('\'', r"'\''"))
}

/// Windows (`CommandLineToArgvW`) quoting of `argv`, joined by spaces.
pub fn windows(argv: &[String]) -> String {
    argv.iter()
        .map(|word| windows_word(word))
        .collect::<Vec<_>>()
        .join(" ")
}

fn windows_word(word: &str) -> String {
    if !word.is_empty() && !word.contains([' ', '\t', '\n', '\u{0b}', '"']) {
        return word.to_owned();
    }
    let mut out = String::from("\"");
    let mut backslashes = 0usize;
    for c in word.chars() {
        match c {
            '\\' => backslashes += 1,
            '"' => {
                out.push_str(&"\\".repeat(backslashes * 2 + 1));
                out.push('"');
                backslashes = 0;
            }
            _ => {
                out.push_str(&"\\".repeat(backslashes));
                out.push(c);
                backslashes = 0;
            }
        }
    }
    out.push_str(&"\\".repeat(backslashes * 2));
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(words: &[&str]) -> Vec<String> {
        words.iter().map(|w| (*w).to_owned()).collect()
    }

    #[test]
    fn posix_quoting() {
        assert_eq!(posix(&v(&["echo", "hi"])), "echo hi");
        assert_eq!(
            posix(&v(&["sh", "-c", "echo err >&2; exit 3"])),
            "sh -c 'echo err >&2; exit 3'"
        );
        assert_eq!(posix(&v(&["echo", "it's", ""])), r"echo 'it'\''s' ''");
        assert_eq!(posix(&v(&["a b", "$HOME", "*"])), "'a b' '$HOME' '*'");
    }

    #[test]
    fn windows_quoting() {
        assert_eq!(
            windows(&v(&["cmd", "/c", "echo hi"])),
            r#"cmd /c "echo hi""#
        );
        assert_eq!(windows(&v(&[r#"say "x""#])), r#""say \"x\"""#);
        assert_eq!(
            windows(&v(&[r"C:\dir with space\"])),
            r#""C:\dir with space\\""#
        );
        assert_eq!(windows(&v(&[""])), r#""""#);
        assert_eq!(windows(&v(&[r"a\b"])), r"a\b");
    }
}
