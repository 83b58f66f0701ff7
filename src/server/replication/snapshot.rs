//! A checkpoint directory on the wire, as the payload of the RDB-style bulk that follows
//! `+FULLRESYNC` (`$<len>\r\n<payload>`, no trailing CRLF, as Redis sends its RDB; tools
//! such as redis-cli --replica skip it by its length).
//!
//! Payload: per file `name_len u16 LE | name | size u64 LE | bytes`, then `0u16`. Only
//! Cairn reads it. What arrives is checked before it is trusted: a name is one plain
//! path component, sizes must fit in the length announced, and file contents are
//! streamed to disk, never buffered whole.

use std::path::{Path, PathBuf};

use bytes::{Buf, BytesMut};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

/// Longest file name accepted.
const MAX_NAME: usize = 255;

/// The files of a checkpoint directory and the payload's total length.
pub(crate) fn listing(dir: &Path) -> std::io::Result<(Vec<(String, u64)>, u64)> {
    let mut files = Vec::new();
    let mut total = 2u64;
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        if !entry.file_type()?.is_file() {
            continue;
        }
        let Some(name) = entry.file_name().to_str().map(str::to_string) else {
            continue;
        };
        let size = entry.metadata()?.len();
        total += 2 + name.len() as u64 + 8 + size;
        files.push((name, size));
    }
    Ok((files, total))
}

/// Writes the payload of `dir`'s `files` (from [`listing`]) to `out`.
pub(crate) async fn send<W: AsyncWrite + Unpin>(
    dir: &Path,
    files: &[(String, u64)],
    out: &mut W,
) -> std::io::Result<()> {
    for (name, size) in files {
        let mut header = Vec::with_capacity(name.len() + 10);
        header.extend_from_slice(&(name.len() as u16).to_le_bytes());
        header.extend_from_slice(name.as_bytes());
        header.extend_from_slice(&size.to_le_bytes());
        out.write_all(&header).await?;
        let file = tokio::fs::File::open(dir.join(name)).await?;
        let copied = tokio::io::copy(&mut file.take(*size), out).await?;
        if copied != *size {
            return Err(std::io::Error::other(format!("{name} shrank while sent")));
        }
    }
    out.write_all(&0u16.to_le_bytes()).await
}

/// Reads exactly `len` payload bytes (what `buf` holds first, then `input`) into files
/// under `dir`; returns their paths. Bytes after the payload stay in `buf`.
pub(crate) async fn receive<R: AsyncRead + Unpin>(
    input: &mut R,
    buf: &mut BytesMut,
    len: u64,
    dir: &Path,
) -> std::io::Result<Vec<PathBuf>> {
    let bad = |what: &str| std::io::Error::new(std::io::ErrorKind::InvalidData, what.to_string());
    let mut left = len;
    let mut written = Vec::new();
    loop {
        let name_len = usize::from(u16::from_le_bytes(
            take::<2, R>(input, buf, &mut left).await?,
        ));
        if name_len == 0 {
            break;
        }
        if name_len > MAX_NAME || name_len as u64 > left {
            return Err(bad("snapshot file name too long"));
        }
        let name = take_vec(input, buf, name_len, &mut left).await?;
        let name = String::from_utf8(name).map_err(|_| bad("snapshot file name not UTF-8"))?;
        if name.starts_with('.') || name.contains('/') || name.contains('\0') {
            return Err(bad("snapshot file name is not a plain file name"));
        }
        let size = u64::from_le_bytes(take::<8, R>(input, buf, &mut left).await?);
        if size > left {
            return Err(bad("snapshot file runs past the payload"));
        }
        let path = dir.join(&name);
        let mut file = tokio::fs::File::create(&path).await?;
        let mut remaining = size;
        while remaining > 0 {
            if buf.is_empty() && input.read_buf(buf).await? == 0 {
                return Err(std::io::ErrorKind::UnexpectedEof.into());
            }
            let n = buf
                .len()
                .min(usize::try_from(remaining).unwrap_or(usize::MAX));
            file.write_all(&buf[..n]).await?;
            buf.advance(n);
            remaining -= n as u64;
        }
        left -= size;
        file.sync_all().await?;
        written.push(path);
    }
    if left != 0 {
        return Err(bad("snapshot payload longer than its files"));
    }
    Ok(written)
}

async fn fill<R: AsyncRead + Unpin>(
    input: &mut R,
    buf: &mut BytesMut,
    n: usize,
) -> std::io::Result<()> {
    while buf.len() < n {
        if input.read_buf(buf).await? == 0 {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
    }
    Ok(())
}

async fn take<const N: usize, R: AsyncRead + Unpin>(
    input: &mut R,
    buf: &mut BytesMut,
    left: &mut u64,
) -> std::io::Result<[u8; N]> {
    if (N as u64) > *left {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            "snapshot payload cut short",
        ));
    }
    fill(input, buf, N).await?;
    let mut out = [0u8; N];
    out.copy_from_slice(&buf[..N]);
    buf.advance(N);
    *left -= N as u64;
    Ok(out)
}

async fn take_vec<R: AsyncRead + Unpin>(
    input: &mut R,
    buf: &mut BytesMut,
    n: usize,
    left: &mut u64,
) -> std::io::Result<Vec<u8>> {
    fill(input, buf, n).await?;
    let out = buf.split_to(n).to_vec();
    *left -= n as u64;
    Ok(out)
}
