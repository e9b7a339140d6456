//! A minimal HTTP/1.1 client for CRLs, OCSP and issuer certificates: plain `http://` (by
//! convention these URLs are not TLS, RFC 5280 §4.2.1.13, RFC 6960 App. A; what they serve is
//! signed), one request per connection, a deadline over the whole exchange and a cap on the
//! answer's size, so that a slow or hostile server costs at most that. Blocking, over std's
//! `TcpStream`: it runs in a request's blocking work (on its connection's thread for a small
//! message, see `methods::run_work`), never among other connections' tasks. Names are looked
//! up by the system's resolver, under the same deadline.

use std::io::{self, Read, Write};
use std::net::{IpAddr, SocketAddr, TcpStream, ToSocketAddrs};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// The most a header block may take.
const MAX_HEADER: usize = 16 * 1024;

/// A request: GET, or POST with a body of the given content type.
#[derive(Debug, Clone, Copy)]
pub enum Request<'a> {
    /// GET the URL.
    Get,
    /// POST `body` as `content_type`.
    Post {
        /// The Content-Type header.
        content_type: &'a str,
        /// The body.
        body: &'a [u8],
    },
}

/// Fetches `url` within `timeout`, refusing answers over `max_body` bytes; `Err` says what
/// went wrong in words that name the server ("127.0.0.1:8080 timed out").
pub fn fetch(
    url: &str,
    request: Request<'_>,
    timeout: Duration,
    max_body: usize,
) -> Result<Vec<u8>, String> {
    let (host, port, path) = split_url(url)?;
    let server = format!("{host}:{port}");
    let deadline = Instant::now() + timeout;
    let addresses = resolve(&host, port, deadline, system_lookup)?;
    let mut stream = None;
    let mut last_error = format!("{host} has no address");
    for address in addresses {
        match TcpStream::connect_timeout(&address, remaining(deadline, &server)?) {
            Ok(s) => {
                stream = Some(s);
                break;
            }
            Err(e) => last_error = describe_io(&server, &e),
        }
    }
    let mut stream = stream.ok_or(last_error)?;
    let (method, extra, body) = match request {
        Request::Get => ("GET", String::new(), &[][..]),
        Request::Post { content_type, body } => (
            "POST",
            format!(
                "Content-Type: {content_type}\r\nContent-Length: {}\r\n",
                body.len()
            ),
            body,
        ),
    };
    let head = format!(
        "{method} {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\
         User-Agent: mailseal\r\n{extra}\r\n"
    );
    stream
        .set_write_timeout(Some(remaining(deadline, &server)?))
        .and_then(|()| stream.write_all(head.as_bytes()))
        .and_then(|()| stream.write_all(body))
        .map_err(|e| describe_io(&server, &e))?;
    let limit = MAX_HEADER + max_body;
    let mut answer = Vec::new();
    let mut buffer = [0u8; 8192];
    loop {
        stream
            .set_read_timeout(Some(remaining(deadline, &server)?))
            .map_err(|e| describe_io(&server, &e))?;
        let n = stream
            .read(&mut buffer)
            .map_err(|e| describe_io(&server, &e))?;
        if n == 0 {
            break;
        }
        answer.extend_from_slice(&buffer[..n]);
        if answer.len() > limit {
            return Err(format!("{server} sent more than {max_body} bytes"));
        }
        // Servers that keep the connection open despite `Connection: close` (openssl ocsp)
        // have said everything once the announced length has arrived.
        if announced_length_arrived(&answer) {
            break;
        }
    }
    parse_response(&answer, &server, max_body)
}

/// Whether `answer` holds a complete header block with a Content-Length and that many body
/// bytes.
fn announced_length_arrived(answer: &[u8]) -> bool {
    let Some(end) = answer.windows(4).position(|w| w == b"\r\n\r\n") else {
        return false;
    };
    let head = String::from_utf8_lossy(&answer[..end]);
    header(&head, "Content-Length")
        .and_then(|length| length.parse::<usize>().ok())
        .is_some_and(|length| answer.len() - (end + 4) >= length)
}

/// The value of the header `name` in the header block `head` (status line first).
fn header(head: &str, name: &str) -> Option<String> {
    head.split("\r\n").skip(1).find_map(|line| {
        let (key, value) = line.split_once(':')?;
        key.trim()
            .eq_ignore_ascii_case(name)
            .then(|| value.trim().to_owned())
    })
}

/// `http://host[:port]/path` taken apart; anything else is refused.
fn split_url(url: &str) -> Result<(String, u16, String), String> {
    let rest = url
        .strip_prefix("http://")
        .ok_or_else(|| format!("{url} is not an http:// URL"))?;
    let (authority, path) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, "/"),
    };
    let (host, port) = match authority.rsplit_once(':') {
        Some((host, port)) if !host.is_empty() => (
            host,
            port.parse::<u16>()
                .map_err(|_| format!("{url} has a bad port"))?,
        ),
        _ => (authority, 80),
    };
    if host.is_empty() || path.contains(['\r', '\n', ' ']) {
        return Err(format!("{url} is not a usable URL"));
    }
    let host = host.trim_start_matches('[').trim_end_matches(']');
    Ok((host.to_owned(), port, path.to_owned()))
}

/// The addresses of `host` from `lookup`, which runs on a thread of its own: the system's
/// resolver has timeouts of its own (up to half a minute with several name servers), and a
/// fetch must not outlast its deadline waiting for it. A lookup that answers too late is left
/// to finish and its answer dropped. An IP address needs no lookup.
fn resolve(
    host: &str,
    port: u16,
    deadline: Instant,
    lookup: impl FnOnce(&str, u16) -> io::Result<Vec<SocketAddr>> + Send + 'static,
) -> Result<Vec<SocketAddr>, String> {
    if let Ok(ip) = host.parse::<IpAddr>() {
        return Ok(vec![SocketAddr::new(ip, port)]);
    }
    let (answer, answered) = mpsc::channel();
    let name = host.to_owned();
    std::thread::Builder::new()
        .name("resolve".into())
        .spawn(move || {
            let _ = answer.send(lookup(&name, port));
        })
        .map_err(|e| format!("cannot look up {host}: {e}"))?;
    match answered.recv_timeout(remaining(deadline, host)?) {
        Ok(Ok(addresses)) => Ok(addresses),
        Ok(Err(e)) => Err(format!("{host} cannot be resolved: {e}")),
        Err(_) => Err(format!("{host} did not resolve in time")),
    }
}

/// The system resolver's addresses for `name`.
fn system_lookup(name: &str, port: u16) -> io::Result<Vec<SocketAddr>> {
    (name, port).to_socket_addrs().map(Iterator::collect)
}

fn remaining(deadline: Instant, server: &str) -> Result<Duration, String> {
    deadline
        .checked_duration_since(Instant::now())
        .filter(|d| !d.is_zero())
        .ok_or_else(|| format!("{server} timed out"))
}

fn describe_io(server: &str, error: &std::io::Error) -> String {
    match error.kind() {
        std::io::ErrorKind::TimedOut | std::io::ErrorKind::WouldBlock => {
            format!("{server} timed out")
        }
        std::io::ErrorKind::ConnectionRefused => format!("{server} refused the connection"),
        _ => format!("{server}: {error}"),
    }
}

/// The body of a `200` answer (Content-Length, chunked, or up to the end of the connection).
fn parse_response(answer: &[u8], server: &str, max_body: usize) -> Result<Vec<u8>, String> {
    let end = answer
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .ok_or_else(|| format!("{server} sent no complete HTTP answer"))?;
    let head = std::str::from_utf8(&answer[..end])
        .map_err(|_| format!("{server} sent a malformed HTTP header"))?;
    let body = &answer[end + 4..];
    if body.len() > max_body && !head.to_ascii_lowercase().contains("chunked") {
        return Err(format!("{server} sent more than {max_body} bytes"));
    }
    let status = head.split("\r\n").next().unwrap_or_default();
    let code = status.split(' ').nth(1).unwrap_or_default();
    if code != "200" {
        return Err(format!("{server} answered '{status}'"));
    }
    let header = |name: &str| header(head, name);
    if header("Transfer-Encoding").is_some_and(|v| v.eq_ignore_ascii_case("chunked")) {
        return dechunk(body, server, max_body);
    }
    match header("Content-Length") {
        Some(length) => {
            let length: usize = length
                .parse()
                .map_err(|_| format!("{server} sent a bad Content-Length"))?;
            body.get(..length)
                .map(<[u8]>::to_vec)
                .ok_or_else(|| format!("{server} closed the connection before the end"))
        }
        None => Ok(body.to_vec()),
    }
}

/// Chunked transfer coding (RFC 9112 §7.1), trailers ignored.
fn dechunk(mut rest: &[u8], server: &str, max_body: usize) -> Result<Vec<u8>, String> {
    let bad = || format!("{server} sent a malformed chunked body");
    let mut body = Vec::new();
    loop {
        let line_end = rest.windows(2).position(|w| w == b"\r\n").ok_or_else(bad)?;
        let size_text = std::str::from_utf8(&rest[..line_end]).map_err(|_| bad())?;
        let size_text = size_text.split(';').next().unwrap_or_default().trim();
        let size = usize::from_str_radix(size_text, 16).map_err(|_| bad())?;
        rest = &rest[line_end + 2..];
        if size == 0 {
            return Ok(body);
        }
        let chunk = rest.get(..size).ok_or_else(bad)?;
        body.extend_from_slice(chunk);
        if body.len() > max_body {
            return Err(format!("{server} sent more than {max_body} bytes"));
        }
        rest = rest.get(size + 2..).ok_or_else(bad)?;
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_server::serve_once;
    use super::*;
    use std::net::TcpListener;

    const SECOND: Duration = Duration::from_secs(5);

    #[test]
    fn a_resolver_that_does_not_answer_costs_only_the_deadline() {
        // The system's resolver cannot be made slow here: a lookup that answers after a
        // minute stands in for one whose name servers do not answer.
        let deadline = Instant::now() + Duration::from_millis(200);
        let err = resolve("crl.example", 80, deadline, |_, _| {
            std::thread::sleep(Duration::from_secs(60));
            Ok(Vec::new())
        })
        .unwrap_err();
        assert_eq!(err, "crl.example did not resolve in time");
    }

    #[test]
    fn names_are_looked_up_and_addresses_taken_as_they_are() {
        let far = Instant::now() + SECOND;
        let looked_up = resolve("localhost", 8080, far, system_lookup).unwrap();
        assert!(
            looked_up
                .iter()
                .all(|a| a.ip().is_loopback() && a.port() == 8080)
        );
        assert!(!looked_up.is_empty());
        let taken = resolve("192.0.2.7", 80, far, |_, _| panic!("looked up an address")).unwrap();
        assert_eq!(taken, vec!["192.0.2.7:80".parse().unwrap()]);
        let failed = resolve("crl.example", 80, far, |_, _| {
            Err(io::Error::other("no such name"))
        })
        .unwrap_err();
        assert_eq!(failed, "crl.example cannot be resolved: no such name");
    }

    #[test]
    fn bodies_by_length_chunks_or_end_of_connection() {
        let serve_once = |answer: &[u8]| serve_once(answer.to_vec());
        let url = serve_once(b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nabcdef");
        assert_eq!(fetch(&url, Request::Get, SECOND, 100).unwrap(), b"abc");
        let url = serve_once(
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2;x\r\nde\r\n0\r\n\r\n",
        );
        assert_eq!(fetch(&url, Request::Get, SECOND, 100).unwrap(), b"abcde");
        let url = serve_once(b"HTTP/1.0 200 OK\r\n\r\nall of it");
        assert_eq!(
            fetch(&url, Request::Get, SECOND, 100).unwrap(),
            b"all of it"
        );
    }

    #[test]
    fn errors_name_the_server() {
        let serve_once = |answer: &[u8]| serve_once(answer.to_vec());
        let url = serve_once(b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n");
        let err = fetch(&url, Request::Get, SECOND, 100).unwrap_err();
        assert!(err.ends_with("answered 'HTTP/1.1 404 Not Found'"), "{err}");
        let url = serve_once(b"HTTP/1.1 200 OK\r\n\r\n0123456789");
        let err = fetch(&url, Request::Get, SECOND, 5).unwrap_err();
        assert!(err.ends_with("sent more than 5 bytes"), "{err}");
        // A port nobody listens on.
        let free = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = free.local_addr().unwrap().port();
        drop(free);
        let err = fetch(
            &format!("http://127.0.0.1:{port}/"),
            Request::Get,
            SECOND,
            5,
        );
        assert_eq!(
            err.unwrap_err(),
            format!("127.0.0.1:{port} refused the connection")
        );
        assert!(fetch("ldap://x/", Request::Get, SECOND, 5).is_err());
    }

    #[test]
    fn a_silent_server_times_out() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let url = format!("http://127.0.0.1:{port}/");
        let err = fetch(&url, Request::Get, Duration::from_millis(200), 5).unwrap_err();
        assert_eq!(err, format!("127.0.0.1:{port} timed out"));
        drop(listener);
    }
}
