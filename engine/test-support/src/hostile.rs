//! Messages an attacker would send to exhaust a parser, built in memory: nesting for the
//! stack, folded headers for quadratic work, tiny parts for memory.

/// A message of multiparts nested `levels` deep, each holding the next as its one part, with
/// a `text/plain` part saying `innermost` at the bottom. The boundaries (`b0_`, `b1_`, …) are
/// no prefix of one another.
pub fn nested_multipart(levels: usize) -> Vec<u8> {
    let mut raw = b"From: a@example.com\r\n".to_vec();
    for level in 0..levels {
        raw.extend_from_slice(
            format!("Content-Type: multipart/mixed; boundary=b{level}_\r\n\r\n--b{level}_\r\n")
                .as_bytes(),
        );
    }
    raw.extend_from_slice(b"Content-Type: text/plain\r\n\r\ninnermost\r\n");
    for level in (0..levels).rev() {
        raw.extend_from_slice(format!("--b{level}_--\r\n").as_bytes());
    }
    raw
}

/// A message whose Subject is `s0` folded over `lines` continuation lines `  s1`, `  s2`, …
/// (unfolded: `s0 s1 s2 …`), then a text body.
pub fn folded_subject(lines: usize) -> Vec<u8> {
    let mut raw = b"From: a@example.com\r\nSubject: s0\r\n".to_vec();
    for line in 1..=lines {
        raw.extend_from_slice(format!("  s{line}\r\n").as_bytes());
    }
    raw.extend_from_slice(b"Content-Type: text/plain\r\n\r\nbody\r\n");
    raw
}

/// The Subject [`folded_subject`] has, unfolded.
pub fn unfolded_subject(lines: usize) -> String {
    let words: Vec<String> = (0..=lines).map(|line| format!("s{line}")).collect();
    words.join(" ")
}

/// A `multipart/mixed` message of a text part and `parts` attachments of one byte each.
pub fn tiny_parts(parts: usize) -> Vec<u8> {
    let mut raw =
        b"From: a@example.com\r\nSubject: parts\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\n\r\nthe text\r\n"
            .to_vec();
    for _ in 0..parts {
        raw.extend_from_slice(b"--b\r\nContent-Type: application/octet-stream\r\n\r\nx\r\n");
    }
    raw.extend_from_slice(b"--b--\r\n");
    raw
}
