//! A minimal HTTP/1.1 GET client over one keep-alive TCP connection: just enough for the
//! origin (Content-Length and chunked bodies), cheap enough to run thousands of viewers
//! next to the server, and able to time every chunk of a growing segment as it arrives.

use std::io;
use std::net::SocketAddr;
use std::time::{Duration, Instant};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

/// A request that takes longer than this fails (a growing segment lasts about one
/// segment duration; the origin gives up on a stalled one after two).
const TIMEOUT: Duration = Duration::from_secs(10);
const MAX_HEADER: usize = 64 * 1024;

/// One answer.
#[derive(Debug, Default)]
pub struct Reply {
    pub status: u16,
    /// From sending the request to reading the status line.
    pub ttfb: Duration,
    /// Body bytes.
    pub bytes: u64,
    /// The body, when asked for.
    pub body: Vec<u8>,
}

/// One keep-alive connection to `addr`, opened on first use and reopened after an error.
pub struct Conn {
    addr: SocketAddr,
    io: Option<BufReader<TcpStream>>,
    scratch: Vec<u8>,
    /// Connections opened so far.
    pub opened: u64,
}

impl Conn {
    pub fn new(addr: SocketAddr) -> Self {
        Conn {
            addr,
            io: None,
            scratch: Vec::new(),
            opened: 0,
        }
    }

    /// GET `path`. `on_chunk(index)` is called as each chunk of a chunked body has fully
    /// arrived. The body is kept only if `keep`.
    pub async fn get(
        &mut self,
        path: &str,
        keep: bool,
        mut on_chunk: impl FnMut(usize),
    ) -> io::Result<Reply> {
        // A kept-alive connection the server has closed fails before any byte arrives;
        // that one is retried once on a fresh connection.
        let reused = self.io.is_some();
        match self.try_get(path, keep, &mut on_chunk).await {
            Err((e, fresh)) => {
                self.io = None;
                if reused && fresh {
                    return self
                        .try_get(path, keep, &mut on_chunk)
                        .await
                        .map_err(|(e, _)| {
                            self.io = None;
                            e
                        });
                }
                Err(e)
            }
            ok => ok.map_err(|(e, _)| e),
        }
    }

    /// Err carries whether nothing of the answer had arrived yet.
    async fn try_get(
        &mut self,
        path: &str,
        keep: bool,
        on_chunk: &mut impl FnMut(usize),
    ) -> Result<Reply, (io::Error, bool)> {
        if self.io.is_none() {
            let tcp = tokio::time::timeout(TIMEOUT, TcpStream::connect(self.addr))
                .await
                .map_err(|_| (io::Error::other("connect timed out"), false))?
                .map_err(|e| (e, false))?;
            tcp.set_nodelay(true).map_err(|e| (e, false))?;
            self.io = Some(BufReader::with_capacity(16 * 1024, tcp));
            self.opened += 1;
        }
        let Some(io) = self.io.as_mut() else {
            return Err((io::Error::other("no connection"), false));
        };
        let scratch = &mut self.scratch;
        let addr = self.addr;
        let work = async move {
            let start = Instant::now();
            let req = format!(
                "GET {path} HTTP/1.1\r\nHost: {addr}\r\nUser-Agent: livecart-bench\r\n\r\n"
            );
            io.get_mut()
                .write_all(req.as_bytes())
                .await
                .map_err(|e| (e, true))?;
            let mut line = Vec::new();
            let n = io
                .read_until(b'\n', &mut line)
                .await
                .map_err(|e| (e, true))?;
            if n == 0 {
                return Err((io::Error::other("connection closed"), true));
            }
            let mut reply = Reply {
                ttfb: start.elapsed(),
                ..Reply::default()
            };
            read_response(io, &line, &mut reply, keep, scratch, on_chunk)
                .await
                .map(|close| (reply, close))
                .map_err(|e| (e, false))
        };
        let (reply, close) = tokio::time::timeout(TIMEOUT, work)
            .await
            .map_err(|_| (io::Error::other("request timed out"), false))??;
        if close {
            self.io = None;
        }
        Ok(reply)
    }
}

/// Read the rest of an answer after its status line; returns whether the server closes.
async fn read_response(
    io: &mut BufReader<TcpStream>,
    status_line: &[u8],
    reply: &mut Reply,
    keep: bool,
    scratch: &mut Vec<u8>,
    on_chunk: &mut impl FnMut(usize),
) -> io::Result<bool> {
    let bad = |what: &str| io::Error::new(io::ErrorKind::InvalidData, what.to_string());
    let status = std::str::from_utf8(status_line).map_err(|_| bad("status line"))?;
    reply.status = status
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| bad("status code"))?;
    let (mut length, mut chunked, mut close) = (None, false, false);
    let mut line = Vec::new();
    let mut total = 0;
    loop {
        line.clear();
        total += io.read_until(b'\n', &mut line).await?;
        if total > MAX_HEADER || line.is_empty() {
            return Err(bad("headers"));
        }
        let text = String::from_utf8_lossy(&line);
        let text = text.trim_end();
        if text.is_empty() {
            break;
        }
        let Some((name, value)) = text.split_once(':') else {
            continue;
        };
        let (name, value) = (name.trim().to_ascii_lowercase(), value.trim());
        match name.as_str() {
            "content-length" => length = value.parse::<u64>().ok(),
            "transfer-encoding" => chunked = value.eq_ignore_ascii_case("chunked"),
            "connection" => close = value.eq_ignore_ascii_case("close"),
            _ => {}
        }
    }
    if chunked {
        let mut index = 0;
        loop {
            line.clear();
            io.read_until(b'\n', &mut line).await?;
            let text = String::from_utf8_lossy(&line);
            let size = text.trim().split(';').next().unwrap_or("");
            let size = u64::from_str_radix(size, 16).map_err(|_| bad("chunk size"))?;
            if size == 0 {
                // Trailers, then the empty line.
                loop {
                    line.clear();
                    if io.read_until(b'\n', &mut line).await? == 0 || line == b"\r\n" {
                        break;
                    }
                }
                return Ok(close);
            }
            body(io, size, keep, reply, scratch).await?;
            let mut crlf = [0u8; 2];
            io.read_exact(&mut crlf).await?;
            on_chunk(index);
            index += 1;
        }
    }
    match length {
        Some(n) => body(io, n, keep, reply, scratch).await?,
        // Neither: the body runs to the end of the connection.
        None => {
            let mut rest = Vec::new();
            io.read_to_end(&mut rest).await?;
            reply.bytes += rest.len() as u64;
            if keep {
                reply.body.extend_from_slice(&rest);
            }
            close = true;
        }
    }
    Ok(close)
}

/// Read `n` body bytes, keeping them or not.
async fn body(
    io: &mut BufReader<TcpStream>,
    mut n: u64,
    keep: bool,
    reply: &mut Reply,
    scratch: &mut Vec<u8>,
) -> io::Result<()> {
    scratch.resize(16 * 1024, 0);
    reply.bytes += n;
    while n > 0 {
        let want = usize::try_from(n).unwrap_or(usize::MAX).min(scratch.len());
        let got = io.read(&mut scratch[..want]).await?;
        if got == 0 {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "body cut short",
            ));
        }
        if keep {
            reply.body.extend_from_slice(&scratch[..got]);
        }
        n -= got as u64;
    }
    Ok(())
}
