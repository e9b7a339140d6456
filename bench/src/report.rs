//! The markdown report (and the raw numbers as JSON).

use crate::load::UnderLoad;
use crate::{IDENTITIES, KeyKind, Op, Outcome, Row, Run, SIZES, Transfer};
use serde_json::json;
use std::fmt::Write;
use std::time::Duration;

/// A count with thousands separators.
fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// A rate or size with as many digits as mean something.
fn number(x: f64) -> String {
    if !x.is_finite() {
        "—".into()
    } else if x >= 100.0 {
        thousands(x.round() as u64)
    } else if x >= 10.0 {
        format!("{x:.1}")
    } else if x >= 0.1 {
        format!("{x:.2}")
    } else {
        format!("{x:.3}")
    }
}

fn ratio(x: f64) -> String {
    if !x.is_finite() {
        "—".into()
    } else if x >= 10.0 {
        format!("{x:.0}×")
    } else if x >= 1.0 {
        format!("{x:.1}×")
    } else {
        format!("{x:.2}×")
    }
}

fn millis(d: Duration) -> String {
    let ms = d.as_secs_f64() * 1e3;
    if ms >= 100.0 {
        format!("{ms:.0} ms")
    } else if ms >= 10.0 {
        format!("{ms:.1} ms")
    } else {
        format!("{ms:.2} ms")
    }
}

fn mib(bytes: u64) -> String {
    format!("{:.0}", bytes as f64 / (1024.0 * 1024.0))
}

/// "1,234/s · 1.26 MB/s" for `rate` messages/s of `bytes` each.
fn throughput(rate: f64, bytes: usize) -> String {
    format!(
        "{}/s · {} MB/s",
        number(rate),
        number(rate * bytes as f64 / 1e6)
    )
}

fn outcome(outcome: &Outcome, bytes: usize) -> String {
    match outcome {
        Outcome::Measured(cell) => throughput(cell.rate(), bytes),
        Outcome::Failed(why) => {
            let first = why.lines().next().unwrap_or_default();
            let short: String = first.chars().take(120).collect();
            format!("failed: {}", short.replace('|', "/"))
        }
        Outcome::Absent(why) => (*why).to_owned(),
    }
}

fn rate_of(outcome: &Outcome) -> Option<f64> {
    outcome.cell().map(|cell| cell.rate())
}

/// The line printed to stderr as each row finishes.
pub fn progress(row: &Row, clients: usize) -> String {
    let rate = |o: &Outcome| match o {
        Outcome::Measured(cell) => format!("{}/s", number(cell.rate())),
        Outcome::Failed(why) => format!("FAILED ({why})"),
        Outcome::Absent(why) => (*why).to_owned(),
    };
    format!(
        "daemon {} (pipelined: {}; ×{clients}: {}), openssl {}; other load {} cores",
        rate(&row.one),
        rate(&row.pipelined),
        rate(&row.many),
        rate(&row.openssl),
        other_load(row).map_or_else(|| "—".into(), |l| format!("{l:.2}"))
    )
}

/// Daemon and client CPU per message in the 1-client cell: "0.31 + 0.05".
fn cpu_per_message(row: &Row) -> String {
    let Some(cell) = row.one.cell() else {
        return "—".into();
    };
    let per = |d: Duration| d.as_secs_f64() * 1e3 / cell.count as f64;
    match (cell.daemon_cpu, cell.bench_cpu) {
        (Some(daemon), Some(bench)) => {
            format!("{} + {}", number(per(daemon)), number(per(bench.own)))
        }
        _ => "—".into(),
    }
}

/// The share of the daemon's CPU time per message that the cryptography alone needs.
fn crypto_share(row: &Row) -> String {
    let Some(cell) = row.one.cell() else {
        return "—".into();
    };
    match cell.daemon_cpu {
        Some(cpu) if !cpu.is_zero() => {
            let per_message = cpu.as_secs_f64() / cell.count as f64;
            format!("{:.0}%", 100.0 * row.crypto_seconds_awslc / per_message)
        }
        _ => "—".into(),
    }
}

/// Cores kept busy by other work during a cell above which its row is marked as disturbed.
const DISTURBED: f64 = 0.25;

/// Whether other work disturbed one of the row's cells.
pub fn disturbed(row: &Row) -> bool {
    other_load(row).is_some_and(|l| l >= DISTURBED)
}

/// The most cores other work kept busy during one of the row's cells.
pub fn other_load(row: &Row) -> Option<f64> {
    [&row.one, &row.pipelined, &row.many, &row.openssl]
        .iter()
        .filter_map(|o| o.cell().and_then(|c| c.other_load()))
        .reduce(f64::max)
}

/// A ratio of the 1-client rate, and of the pipelined one when measured: "14×; 21×".
fn one_and_pipelined(row: &Row, show: impl Fn(f64) -> String) -> Option<String> {
    let one = show(rate_of(&row.one)?);
    Some(match rate_of(&row.pipelined) {
        Some(pipelined) => format!("{one}; {}", show(pipelined)),
        None => one,
    })
}

fn table_row(row: &Row) -> String {
    let bytes = row.size.bytes;
    let one = rate_of(&row.one);
    let many = rate_of(&row.many);
    let openssl = rate_of(&row.openssl);
    let limit = 1.0 / row.crypto_seconds;
    let scaling = one.zip(many).map(|(o, m)| ratio(m / o));
    let versus_openssl = openssl.and_then(|o| one_and_pipelined(row, |d| ratio(d / o)));
    let versus_limit = one_and_pipelined(row, |d| format!("{:.0}%", 100.0 * d / limit));
    let rss = row.rss.map_or_else(
        || "—".into(),
        |rss| {
            format!(
                "{} → {}{}",
                mib(rss.idle),
                if rss.sampled { "~" } else { "" },
                mib(rss.peak)
            )
        },
    );
    let dash = || "—".to_owned();
    format!(
        "| {} | {}{} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} |\n",
        if disturbed(row) {
            format!("{} ⚠", row.op.label())
        } else {
            row.op.label().to_owned()
        },
        row.size.label,
        row.transfer.suffix(),
        outcome(&row.one, bytes),
        outcome(&row.pipelined, bytes),
        outcome(&row.many, bytes),
        scaling.unwrap_or_else(dash),
        outcome(&row.openssl, bytes),
        versus_openssl.unwrap_or_else(dash),
        throughput(limit, bytes),
        versus_limit.unwrap_or_else(dash),
        cpu_per_message(row),
        crypto_share(row),
        rss,
    )
}

/// The time of one signature with `key` by `limits`.
fn bare_signature(limits: &crate::speed::Limits, key: KeyKind) -> Duration {
    let rate = match key {
        KeyKind::Rsa(bits) => limits.rsa.get(&bits).map_or(f64::NAN, |r| r.0),
        KeyKind::P256 => limits.ecdsa_p256.0,
    };
    Duration::try_from_secs_f64(1.0 / rate).unwrap_or_default()
}

/// The row of `identity`, `op` and `size` sent by `transfer`.
fn find(run: &Run, identity: usize, op: Op, size: usize, transfer: Transfer) -> Option<&Row> {
    run.rows.iter().find(|r| {
        r.identity == identity && r.op == op && r.size.bytes == size && r.transfer == transfer
    })
}

/// Other work's average load over every measured cell, weighted by the cells' time.
fn mean_other_load(run: &Run) -> Option<f64> {
    let (mut cpu, mut time) = (0.0, 0.0);
    for row in &run.rows {
        for cell in [&row.one, &row.pipelined, &row.many, &row.openssl]
            .iter()
            .filter_map(|o| o.cell())
        {
            if let Some(other) = cell.other_cpu {
                cpu += other.as_secs_f64();
                time += cell.elapsed.as_secs_f64();
            }
        }
    }
    (time > 0.0).then(|| cpu / time)
}

/// The whole report.
pub fn markdown(run: &Run) -> String {
    let mut out = String::new();
    let m = &run.machine;
    let l = &run.limits;
    let _ = writeln!(out, "# Mailseal benchmark\n");
    let _ = writeln!(
        out,
        "- **Date:** {}\n- **Machine:** {} cores (nproc), {}, {:.0} GiB memory, Linux {}\n- **OpenSSL:** {}\n- **Daemon:** {}, built from {}\n- **Run:** `{}` — {} mode, {} s of wall time per cell, 1 and {} clients; whole run {:.0} s; load average {} before, {} after; other processes kept {} cores busy on average during the cells{}\n",
        m.date,
        m.cores,
        m.cpu,
        m.memory as f64 / (1u64 << 30) as f64,
        m.kernel,
        m.openssl,
        m.daemon,
        m.source,
        run.command,
        if run.quick { "quick" } else { "full" },
        run.seconds,
        run.clients,
        run.total.as_secs_f64(),
        m.load_before,
        m.load_after,
        mean_other_load(run).map_or_else(|| "—".into(), |l| format!("{l:.2}")),
        if run.debug_build {
            " — **the benchmark itself was a debug build: client-side numbers are pessimistic**"
        } else {
            ""
        },
    );

    let a = &run.awslc;
    let _ = writeln!(out, "## Physical limit (one core)\n");
    let _ = writeln!(
        out,
        "| primitive | `openssl speed` | one operation | aws-lc-rs (the daemon's library) | one operation |\n|---|---|---|---|---|"
    );
    let per_op = |rate: f64| millis(Duration::from_secs_f64(1.0 / rate));
    let mut line = |name: String, o: f64, a: f64| {
        let _ = writeln!(
            out,
            "| {name} | {}/s | {} | {}/s | {} |",
            number(o),
            per_op(o),
            number(a),
            per_op(a)
        );
    };
    for (bits, (sign, verify)) in &l.rsa {
        let (a_sign, a_verify) = a.rsa.get(bits).copied().unwrap_or((f64::NAN, f64::NAN));
        line(format!("RSA-{bits} sign (private key)"), *sign, a_sign);
        line(format!("RSA-{bits} verify (public key)"), *verify, a_verify);
    }
    line("ECDSA P-256 sign".into(), l.ecdsa_p256.0, a.ecdsa_p256.0);
    line("ECDSA P-256 verify".into(), l.ecdsa_p256.1, a.ecdsa_p256.1);
    line("ECDH P-256 derive".into(), l.ecdh_p256, a.ecdh_p256);
    let _ = writeln!(
        out,
        "| AES-256-GCM, 16 KiB blocks | {} MB/s | | {} MB/s | |\n| SHA-256, 16 KiB blocks | {} MB/s | | {} MB/s | |\n",
        number(l.aes_256_gcm / 1e6),
        number(a.aes_256_gcm / 1e6),
        number(l.sha256 / 1e6),
        number(a.sha256 / 1e6),
    );
    let _ = writeln!(out, "Measured with:");
    for command in l.commands.iter().chain(&a.commands) {
        let _ = writeln!(out, "- `{command}`");
    }
    let _ = writeln!(out);

    targets(run, &mut out);

    let _ = writeln!(out, "## Latency of a 1 KiB sign, one client\n");
    let _ = writeln!(
        out,
        "| identity | daemon p50 | daemon p99 | bare signature, `openssl speed` | bare signature, aws-lc | p99 − bare aws-lc signature | `openssl cms -sign` p50 (a process) |\n|---|---|---|---|---|---|---|"
    );
    for (i, identity) in IDENTITIES.iter().enumerate() {
        let Some(row) = find(run, i, Op::Sign, SIZES[0].bytes, Transfer::Inline) else {
            continue;
        };
        let bare_openssl = bare_signature(l, identity.key);
        let bare = bare_signature(&run.awslc, identity.key);
        let quantile = |o: &Outcome, q: f64| o.cell().and_then(|c| c.quantile(q));
        let (p50, p99) = (quantile(&row.one, 0.5), quantile(&row.one, 0.99));
        let show = |d: Option<Duration>| d.map_or_else(|| "—".into(), millis);
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} | {} | {} | {} |",
            identity.label,
            show(p50),
            show(p99),
            millis(bare_openssl),
            millis(bare),
            show(p99.map(|p| p.saturating_sub(bare))),
            show(quantile(&row.openssl, 0.5)),
        );
    }
    let _ = writeln!(out);

    let _ = writeln!(out, "## Throughput\n");
    let n = run.clients;
    let k = run.in_flight;
    for (i, identity) in IDENTITIES.iter().enumerate() {
        let _ = writeln!(out, "### {}\n", identity.label);
        let _ = writeln!(
            out,
            "| operation | size | daemon, 1 client | daemon, 1 client, {k} in flight | daemon, {n} clients | scaling | openssl cms, process per message | daemon ÷ openssl (1 client; {k} in flight) | crypto limit, 1 core | daemon ÷ limit (1 client; {k} in flight) | CPU ms/msg daemon + client | crypto share of daemon CPU | daemon RSS MiB idle → peak |\n|---|---|---|---|---|---|---|---|---|---|---|---|---|"
        );
        for row in run.rows.iter().filter(|r| r.identity == i) {
            out.push_str(&table_row(row));
        }
        let _ = writeln!(out);
    }
    if !run.huge {
        let _ = writeln!(
            out,
            "1 GiB encrypt/decrypt/verify rows: run with `--huge` (the daemon's by path, one client).\n"
        );
    }

    if let Some(load) = &run.under_load {
        under_load(load, run.seconds, &mut out);
    }

    let _ = writeln!(out, "## How it was measured\n");
    let _ = writeln!(
        out,
        "- **Messages:** whole RFC 5322 messages (headers, then a 7-bit `text/plain` body of 74-character CRLF lines), From the identity, To the three recipients; sizes in KiB/MiB. **MB/s** is 10⁶ bytes of the plain message per second for every operation, also for verify and decrypt, whose input is larger.\n\
         - **Daemon:** the release `mailseald` on a Unix socket in a temporary directory, through `mailseal_protocol::Client` (JSON-RPC). Rows without a mark send the message **inline** (base64 in the JSON request, the result base64 in the JSON reply). Rows marked **by path** send `{{\"path\": …}}` for the message and `\"output\": {{\"path\": …}}` for the result, as the CLI does with files: the daemon reads the same file openssl reads and writes the result to a temporary file that it flushes to disk (fsync) and renames over the output, and the client reads nothing of the message (it reads the output's first 4 KiB and last 64 bytes on its checked call only). *1 client* and *N clients* send one request at a time per connection and wait for its reply; *N clients* are N connections working in parallel from this process, each on a thread of its own as separate programs would be (N = cores by default), so on a small machine they compete with the daemon for the cores. *1 client, {k} in flight* is one connection that pipelines (`Client::send` ahead, `Client::receive` in order), keeping {k} requests sent and not yet answered; the daemon runs a connection's requests concurrently (a lone request's work on the connection's thread, the work of requests in flight together on its blocking pool), so this one client may use every core (inline messages up to 100 KiB only). Latencies are those of the one-at-a-time client. Each client makes one checked call first (signature valid, decryption gives the message back, AES-256-GCM used), then calls for the cell's wall time; msg/s is all calls over the time from the first client's start to the last one's end.\n\
         - **Sign** is detached (`multipart/signed`), SHA-256, the chain included. **Verify** checks a message the daemon signed with that identity, against the test CA (a valid signature). **Encrypt** goes to three RSA-2048 recipients and the sender's own certificate with AES-256-GCM (AuthEnvelopedData) on both sides. **Decrypt** opens the daemon's encryption with the identity's key. **Sign+encrypt** is `smime.sign_encrypt`, and for openssl `cms -sign | cms -encrypt`.\n\
         - **openssl cms:** one process per message, one after another, on the same input files, writing its output to a file. The commands (RSA-2048, 1 KiB):"
    );
    for (op, line) in &run.openssl_commands {
        let _ = writeln!(out, "  - {}: `{line}`", op.label());
    }
    let _ = writeln!(
        out,
        "- **gpgsm:** not measured. gpgsm 2.2 can neither encrypt with AES-GCM nor use ECDH (see `tests/tests/gpgsm.rs`), so it cannot do the same work for encrypt and decrypt, and its keys live in a gpg-agent that needs a home and a legacy PKCS#12 of its own.\n\
         - **Crypto limit:** the CPU time one core needs for the cryptography alone, from the `openssl speed` column above (as the issue defines the limit): sign = one private-key signature + SHA-256 over the message; verify = the signature check + the certificate's check by the RSA-2048 CA + SHA-256; encrypt = 3 RSA-2048 public-key operations + one for the sender's own copy (RSA public-key operation, or ≈ 2 ECDH for P-256) + AES-256-GCM over the message; decrypt = one private-key operation (or one ECDH) + AES-256-GCM; sign+encrypt = both. *daemon ÷ limit* compares the 1-client rate with one core.\n\
         - **CPU ms/msg:** from `/proc/<pid>/stat` over the 1-client cell: the daemon's CPU time, + this process's (the client: JSON and base64 on its side). *Crypto share* = the same cost model with the aws-lc-rs column (what the daemon's own library needs) ÷ the daemon's CPU time per message: the rest is the daemon's own work (JSON, base64, MIME, DER, copies, memory, system calls).\n\
         - **RSS:** the daemon is restarted for every row and its key unlocked (scrypt, 32 MiB); then its peak is reset (`echo 5 > /proc/<pid>/clear_refs`) and *idle* is VmRSS; *peak* is VmHWM after the row's daemon cells (1 client, pipelined, {n} clients). `~` marks a peak sampled from VmRSS every 5 ms where the reset was not allowed.\n\
         - **⚠** marks a row during one of whose cells other processes kept ≥ {DISTURBED} cores busy on average (the machine's busy time in /proc/stat less the daemon's, this process's and openssl's): its numbers are disturbed; run again on a quiet machine.\n"
    );
    out
}

/// The line printed to stderr when the rows under load are done.
pub fn load_progress(load: &UnderLoad) -> String {
    let p50 = |o: &Outcome| {
        o.cell()
            .and_then(|c| c.quantile(0.5))
            .map_or_else(|| outcome(o, 0), millis)
    };
    format!(
        "sign p50 {}, ping p50 {}, {}/s in the background",
        p50(&load.sign),
        p50(&load.ping),
        number(load.background_rate)
    )
}

/// The section on latency under load (`--load-connections`).
fn under_load(load: &UnderLoad, seconds: f64, out: &mut String) {
    let _ = writeln!(
        out,
        "## Latency under load
"
    );
    let _ = writeln!(
        out,
        "{} other connections open at once, each sending {} in turn, one request at a time, as fast as this process drives them ({}/s in all while measured); meanwhile one more client sends the request of the row, one at a time, for {seconds} s, on a thread of its own.\n",
        thousands(load.connections as u64),
        crate::load::MIX,
        number(load.background_rate)
    );
    let _ = writeln!(
        out,
        "| request, under load | answered | p50 | p90 | p99 | max |\n|---|---|---|---|---|---|"
    );
    for (name, o) in [
        ("RSA-2048 sign 1 KiB", &load.sign),
        ("`daemon.ping`", &load.ping),
    ] {
        match o.cell() {
            Some(cell) => {
                let q = |q: f64| cell.quantile(q).map_or_else(|| "—".into(), millis);
                let _ = writeln!(
                    out,
                    "| {name} | {} | {} | {} | {} | {} |",
                    thousands(cell.count),
                    q(0.5),
                    q(0.9),
                    q(0.99),
                    q(1.0)
                );
            }
            None => {
                let _ = writeln!(out, "| {name} | {} | | | | |", outcome(o, 0));
            }
        }
    }
    let _ = writeln!(out);
}

/// The targets, each with what this run measured.
fn targets(run: &Run, out: &mut String) {
    let l = &run.limits;
    let rate = |i: usize, op: Op, bytes: usize, which: fn(&Row) -> &Outcome| {
        find(run, i, op, bytes, Transfer::Inline).and_then(|r| rate_of(which(r)))
    };
    fn one(r: &Row) -> &Outcome {
        &r.one
    }
    fn pipelined(r: &Row) -> &Outcome {
        &r.pipelined
    }
    fn many(r: &Row) -> &Outcome {
        &r.many
    }
    let small = SIZES[0].bytes;
    let big = SIZES[2].bytes;
    let verdict = |value: Option<f64>, goal: f64| match value {
        Some(v) if v >= goal => "met",
        Some(_) => "**missed**",
        None => "not measured",
    };
    // A one-client target: met by the client that waits for each reply, or only by the one
    // that pipelines (said so), or missed by both.
    let either = |waiting: Option<f64>, ahead: Option<f64>, goal: f64| match (waiting, ahead) {
        (Some(w), _) if w >= goal => "met".to_owned(),
        (_, Some(a)) if a >= goal => format!("met with {} in flight", run.in_flight),
        _ => verdict(waiting.or(ahead), goal).to_owned(),
    };
    let k = run.in_flight;
    let show = |value: Option<f64>, unit: &str| {
        value.map_or_else(|| "—".into(), |v| format!("{}{unit}", number(v)))
    };
    let _ = writeln!(out, "## Targets (issue 6)\n");
    let _ = writeln!(out, "| target | measured | |\n|---|---|---|");
    let mut target = |what: &str, measured: String, verdict: &str| {
        let _ = writeln!(out, "| {what} | {measured} | {verdict} |");
    };
    // RSA-2048 1 KiB sign, one client, against one core's RSA-2048 signatures.
    let rsa_limit = l.rsa.get(&2048).map_or(f64::NAN, |r| r.0);
    let share = |which| rate(0, Op::Sign, small, which).map(|d| 100.0 * d / rsa_limit);
    let (waiting, ahead) = (share(one), share(pipelined));
    target(
        "RSA-2048 1 KiB sign, 1 client ≥ 80% of RSA-2048 signs/s on one core",
        format!(
            "{} one request at a time; {} with {k} in flight (of {}/s)",
            show(waiting, "%"),
            show(ahead, "%"),
            number(rsa_limit)
        ),
        &either(waiting, ahead, 80.0),
    );
    let versus_by =
        |i: usize, op: Op, bytes: usize, transfer: Transfer, which: fn(&Row) -> &Outcome| {
            let row = find(run, i, op, bytes, transfer)?;
            rate_of(which(row))
                .zip(rate_of(&row.openssl))
                .map(|(d, o)| d / o)
        };
    let both = |i: usize| {
        let (waiting, ahead) = (
            versus_by(i, Op::Sign, small, Transfer::Inline, one),
            versus_by(i, Op::Sign, small, Transfer::Inline, pipelined),
        );
        let shown = format!(
            "{} one request at a time; {} with {k} in flight",
            show(waiting, "×"),
            show(ahead, "×")
        );
        (waiting, ahead, shown)
    };
    let (waiting, ahead, shown) = both(0);
    target(
        "RSA-2048 1 KiB sign ≥ 10× `openssl cms`",
        shown,
        &either(waiting, ahead, 10.0),
    );
    let p99 = find(run, 0, Op::Sign, small, Transfer::Inline)
        .and_then(|r| r.one.cell())
        .and_then(|c| c.quantile(0.99))
        .map(|p| {
            (p.as_secs_f64() - bare_signature(&run.awslc, KeyKind::Rsa(2048)).as_secs_f64()) * 1e3
        });
    target(
        "RSA-2048 1 KiB sign p99 ≤ 2 ms above the bare RSA operation (aws-lc)",
        show(p99, " ms above"),
        verdict(p99.map(|v| -v), -2.0),
    );
    let (waiting, ahead, shown) = both(2);
    target(
        "P-256 1 KiB sign ≥ 50× `openssl cms`",
        shown,
        &either(waiting, ahead, 50.0),
    );
    // Judged by path, the way the issue has local clients send large messages; inline (base64
    // in JSON both ways) shown beside it, as it is what a remote or browser client pays.
    for op in [Op::Encrypt, Op::Decrypt] {
        let worst = |transfer| {
            (0..IDENTITIES.len())
                .filter_map(|i| versus_by(i, op, big, transfer, one))
                .reduce(f64::min)
        };
        let by_path = worst(Transfer::Path);
        target(
            &format!(
                "10 MiB {} ≥ 3× the MB/s of `openssl cms` (worst identity; judged by path, inline for comparison)",
                op.label()
            ),
            format!(
                "by path {}; inline {}",
                show(by_path, "×"),
                show(worst(Transfer::Inline), "×")
            ),
            verdict(by_path, 3.0),
        );
    }
    let scalings: Vec<f64> = run
        .rows
        .iter()
        .filter_map(|r| rate_of(&r.many).zip(rate_of(&r.one)).map(|(m, o)| m / o))
        .collect();
    let mut sorted = scalings.clone();
    sorted.sort_by(f64::total_cmp);
    let median = sorted.get(sorted.len() / 2).copied();
    let sign_scaling = rate(0, Op::Sign, small, many)
        .zip(rate(0, Op::Sign, small, one))
        .map(|(m, o)| m / o);
    // The issue asks ≥ 1.7× on 2 cores.
    let goal = 0.85 * run.clients as f64;
    target(
        &format!(
            "{} clients ≥ {goal:.1}× one client, each one request at a time (RSA-2048 1 KiB sign; median of all rows)",
            run.clients
        ),
        format!("{}; {}", show(sign_scaling, "×"), show(median, "×")),
        verdict(median, goal),
    );
    let huge: Vec<&Row> = run
        .rows
        .iter()
        .filter(|r| r.size.bytes == crate::HUGE.bytes)
        .collect();
    let completed = !huge.is_empty() && huge.iter().all(|r| r.one.cell().is_some());
    let growth = huge
        .iter()
        .filter_map(|r| r.rss)
        .map(|rss| rss.peak.saturating_sub(rss.idle))
        .max();
    let (value, met) = match (huge.is_empty(), growth) {
        (true, _) => ("not measured (run with `--huge`)".to_owned(), "—"),
        (false, Some(growth)) if completed => (
            format!("completes; up to {} MiB above idle", mib(growth)),
            if growth <= 64 << 20 {
                "met"
            } else {
                "**missed**"
            },
        ),
        (false, _) => ("did not complete".to_owned(), "**missed**"),
    };
    target(
        "1 GiB encrypt/decrypt/verify completes, daemon RSS ≤ idle + 64 MiB",
        value,
        met,
    );
    let _ = writeln!(out);
}

/// The raw numbers.
pub fn json(run: &Run) -> serde_json::Value {
    let cell = |o: &Outcome| match o {
        Outcome::Measured(c) => json!({
            "messages": c.count,
            "seconds": c.elapsed.as_secs_f64(),
            "per_second": c.rate(),
            "p50_ms": c.quantile(0.5).map(|d| d.as_secs_f64() * 1e3),
            "p99_ms": c.quantile(0.99).map(|d| d.as_secs_f64() * 1e3),
            "daemon_cpu_seconds": c.daemon_cpu.map(|d| d.as_secs_f64()),
            "bench_cpu_seconds": c.bench_cpu.map(|d| d.own.as_secs_f64()),
            "children_cpu_seconds": c.bench_cpu.map(|d| d.children.as_secs_f64()),
            "other_load_cores": c.other_load(),
        }),
        Outcome::Failed(why) => json!({ "failed": why }),
        Outcome::Absent(why) => json!({ "absent": why }),
    };
    let rows: Vec<_> = run
        .rows
        .iter()
        .map(|r| {
            json!({
                "identity": IDENTITIES[r.identity].label,
                "operation": r.op.label(),
                "bytes": r.size.bytes,
                "transfer": r.transfer.label(),
                "daemon_1_client": cell(&r.one),
                "daemon_1_client_pipelined": cell(&r.pipelined),
                "daemon_n_clients": cell(&r.many),
                "openssl_cms": cell(&r.openssl),
                "crypto_seconds_per_message": r.crypto_seconds,
                "crypto_seconds_per_message_awslc": r.crypto_seconds_awslc,
                "rss_idle_bytes": r.rss.map(|x| x.idle),
                "rss_peak_bytes": r.rss.map(|x| x.peak),
            })
        })
        .collect();
    let limits = |l: &crate::speed::Limits| {
        json!({
            "rsa": l.rsa.iter().map(|(bits, (s, v))| json!({"bits": bits, "sign_per_second": s, "verify_per_second": v})).collect::<Vec<_>>(),
            "ecdsa_p256": {"sign_per_second": l.ecdsa_p256.0, "verify_per_second": l.ecdsa_p256.1},
            "ecdh_p256_per_second": l.ecdh_p256,
            "aes_256_gcm_bytes_per_second": l.aes_256_gcm,
            "sha256_bytes_per_second": l.sha256,
        })
    };
    json!({
        "date": run.machine.date,
        "cores": run.machine.cores,
        "cpu": run.machine.cpu,
        "openssl": run.machine.openssl,
        "daemon": run.machine.daemon,
        "source": run.machine.source,
        "load_average_before": run.machine.load_before,
        "load_average_after": run.machine.load_after,
        "seconds_per_cell": run.seconds,
        "clients": run.clients,
        "in_flight": run.in_flight,
        "limits_openssl_speed": limits(&run.limits),
        "limits_aws_lc": limits(&run.awslc),
        "rows": rows,
        "under_load": run.under_load.as_ref().map(|load| json!({
            "connections": load.connections,
            "background_per_second": load.background_rate,
            "rsa2048_sign_1kib": cell(&load.sign),
            "daemon_ping": cell(&load.ping),
        })),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_numbers() {
        assert_eq!(thousands(1_234_567), "1,234,567");
        assert_eq!(thousands(999), "999");
        assert_eq!(number(4337.4), "4,337");
        assert_eq!(number(12.34), "12.3");
        assert_eq!(number(1.234), "1.23");
        assert_eq!(ratio(0.456), "0.46×");
        assert_eq!(ratio(37.2), "37×");
    }
}
