//! Megabyte quantity strings: rejected (or, when they are well-formed
//! numbers, capped) quickly, with errors that name the input.

use vk_resources::{Error, ExactQuantity};

const MB: usize = 1 << 20;

fn invalid(input: &str) -> (String, String) {
    match ExactQuantity::parse(input) {
        Err(Error::InvalidQuantity {
            input: named,
            reason,
        }) => (named, reason),
        other => panic!("{:.80}… parsed as {other:?}", input),
    }
}

#[test]
fn megabyte_garbage_is_rejected_naming_the_input() {
    for input in [
        "x".repeat(MB),
        format!("1{}", "x".repeat(MB)),
        format!("1{}", "K".repeat(MB)),
        format!("{}.", "1.".repeat(MB / 2)),
        format!("1e{}", "9".repeat(MB)),
        format!("1e+{}x", "9".repeat(MB)),
        format!("{}Gi{}", "1".repeat(MB / 2), "1".repeat(MB / 2)),
        "🚀".repeat(MB / 4),
        "\0".repeat(MB),
    ] {
        let (named, reason) = invalid(&input);
        assert!(input.starts_with(&named[..named.len().min(64)]));
        assert!(!reason.is_empty());
        let message = Error::InvalidQuantity {
            input: named,
            reason,
        }
        .to_string();
        assert!(message.starts_with("invalid quantity"), "{:.80}", message);
    }
}

#[test]
fn megabyte_numbers_are_capped_not_overflowed() {
    let max = ExactQuantity::parse("9223372036854775807")
        .expect("max")
        .nanos();
    for input in [
        "9".repeat(MB),
        format!("{}Ei", "9".repeat(MB)),
        format!("-{}E", "9".repeat(MB)),
        format!("0.{}1", "0".repeat(MB)),
        format!("{}.{}", "1".repeat(MB / 2), "1".repeat(MB / 2)),
        format!("0.{}", "9".repeat(MB)),
        format!("{}1e-{}", "0".repeat(MB), "9".repeat(9)),
    ] {
        let q = ExactQuantity::parse(&input).unwrap_or_else(|e| panic!("{:.80}: {e:.200}", input));
        assert!(q.nanos().abs() <= max, "{:.80}", input);
        // The canonical form of a capped value is short.
        assert!(q.canonical().len() < 64);
    }
}

/// Errors name the input, truncated: a 1 MB bad quantity makes no 1 MB
/// message, event or log line.
#[test]
fn error_messages_for_huge_inputs_are_bounded() {
    for input in ["x".repeat(MB), format!("1e{}", "9".repeat(MB))] {
        let message = ExactQuantity::parse(&input)
            .expect_err("invalid")
            .to_string();
        assert!(message.len() <= 1024, "message is {} bytes", message.len());
        assert!(message.contains(&input[..32]), "names the input: {message}");
    }
}
