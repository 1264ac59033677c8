//! `estrade healthcheck`: the container's health probe. The runtime image
//! has no shell and no curl, so the binary itself asks its own process over
//! loopback: an HTTP/1.0 GET with a 2-second deadline, healthy on a 2xx.

use std::io::{Read as _, Write as _};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

/// GETs `path` on `addr`; `Ok(())` on a 2xx answer.
pub fn probe(addr: SocketAddr, path: &str) -> Result<(), String> {
    let timeout = Duration::from_secs(2);
    let mut stream = TcpStream::connect_timeout(&addr, timeout).map_err(|e| e.to_string())?;
    stream
        .set_read_timeout(Some(timeout))
        .and_then(|()| stream.set_write_timeout(Some(timeout)))
        .map_err(|e| e.to_string())?;
    let request = format!("GET {path} HTTP/1.0\r\nHost: localhost\r\n\r\n");
    stream
        .write_all(request.as_bytes())
        .map_err(|e| e.to_string())?;
    // The status line may arrive in pieces: read until its end (or EOF).
    let mut head = Vec::with_capacity(64);
    let mut buf = [0u8; 64];
    while !head.windows(2).any(|w| w == b"\r\n") && head.len() < 256 {
        let n = stream.read(&mut buf).map_err(|e| e.to_string())?;
        if n == 0 {
            break;
        }
        head.extend_from_slice(&buf[..n]);
    }
    let status_line = String::from_utf8_lossy(&head);
    match status_line.split_whitespace().nth(1) {
        Some(code) if code.starts_with('2') => Ok(()),
        Some(code) => Err(format!("answered {code}")),
        None => Err("no HTTP answer".into()),
    }
}

#[cfg(test)]
mod tests {
    use std::net::TcpListener;

    use super::*;

    fn answer_once(status: &'static str) -> SocketAddr {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        std::thread::spawn(move || {
            let (mut s, _) = listener.accept().unwrap();
            // The whole request first (closing with unread bytes would
            // reset the connection).
            let mut request = Vec::new();
            let mut buf = [0u8; 256];
            while !request.windows(4).any(|w| w == b"\r\n\r\n") {
                match s.read(&mut buf) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => request.extend_from_slice(&buf[..n]),
                }
            }
            // Byte by byte, as a slow server may send it.
            for byte in format!("HTTP/1.1 {status}\r\ncontent-length: 0\r\n\r\n").bytes() {
                let _ = s.write_all(&[byte]);
            }
        });
        addr
    }

    #[test]
    fn a_2xx_is_healthy_and_anything_else_is_not() {
        assert_eq!(probe(answer_once("200 OK"), "/healthz"), Ok(()));
        assert_eq!(
            probe(answer_once("503 Service Unavailable"), "/readyz"),
            Err("answered 503".into())
        );
        let closed = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap();
        assert!(probe(closed, "/healthz").is_err());
    }
}
