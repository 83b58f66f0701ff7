//! Writes one table file: data blocks as entries arrive (in internal-key order), then the
//! filter, properties and index blocks and the footer, then fsyncs the file. Choosing the
//! file name, renaming it into place and recording it in the manifest are the caller's job.

use std::fs::{File, OpenOptions};
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use bytes::Bytes;

use super::block::{BlockBuilder, RESTART_INTERVAL};
use super::filter;
use super::format::{Footer, Handle, Properties};
use crate::storage::error::{Error, Result};
use crate::storage::faults;

/// Builds a table file at a given path.
#[derive(Debug)]
pub(crate) struct TableBuilder {
    path: PathBuf,
    out: BufWriter<File>,
    offset: u64,
    block_bytes: usize,
    bloom_bits_per_key: usize,
    data: BlockBuilder,
    index: BlockBuilder,
    /// Hashes of the distinct user keys, for the filter.
    hashes: Vec<u64>,
    props: Properties,
    /// The last user key added (`props.largest` is set from it at the end, so that adding
    /// an entry allocates nothing).
    last_key: Vec<u8>,
    scratch: Vec<u8>,
    last_added_seq: u64,
}

impl TableBuilder {
    /// Creates (truncating) the file at `path`.
    pub(crate) fn create(
        path: &Path,
        block_bytes: usize,
        bloom_bits_per_key: usize,
    ) -> Result<Self> {
        let file = OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .open(path)
            .map_err(|e| Error::io(path, e))?;
        Ok(TableBuilder {
            path: path.to_path_buf(),
            out: BufWriter::with_capacity(1 << 20, file),
            offset: 0,
            block_bytes: block_bytes.max(64),
            bloom_bits_per_key,
            data: BlockBuilder::new(RESTART_INTERVAL),
            index: BlockBuilder::new(RESTART_INTERVAL),
            hashes: Vec::new(),
            props: Properties {
                min_seq: u64::MAX,
                ..Properties::default()
            },
            last_key: Vec::new(),
            scratch: Vec::new(),
            last_added_seq: 0,
        })
    }

    /// Bytes written so far plus the block being filled.
    pub(crate) fn estimated_size(&self) -> u64 {
        self.offset + self.data.size() as u64
    }

    /// Adds an entry; entries must come in internal-key order (user key ascending, then
    /// sequence number descending), each (key, seq) once.
    pub(crate) fn add(&mut self, key: &[u8], seq: u64, value: Option<&[u8]>) -> Result<()> {
        debug_assert!(
            self.props.entries == 0
                || super::cmp_internal(&self.last_key, self.last_added_seq, key, seq)
                    == std::cmp::Ordering::Less,
            "table entries out of internal-key order"
        );
        let new_key = self.props.entries == 0 || self.last_key[..] != *key;
        if new_key {
            self.hashes.push(filter::key_hash(key));
            if self.props.entries == 0 {
                self.props.smallest = Bytes::copy_from_slice(key);
            }
            self.last_key.clear();
            self.last_key.extend_from_slice(key);
        }
        self.props.min_seq = self.props.min_seq.min(seq);
        self.props.max_seq = self.props.max_seq.max(seq);
        self.props.entries += 1;
        self.last_added_seq = seq;
        self.data.add(key, seq, value);
        if self.data.size() >= self.block_bytes {
            self.finish_data_block(seq)?;
        }
        Ok(())
    }

    fn write_block(&mut self, contents: &[u8]) -> Result<Handle> {
        let len = u32::try_from(contents.len()).map_err(|_| {
            Error::io(
                &self.path,
                std::io::Error::other(format!(
                    "a block of {} bytes at offset {} is too large for a table",
                    contents.len(),
                    self.offset
                )),
            )
        })?;
        let h = Handle {
            offset: self.offset,
            len,
        };
        let crc = crc32fast::hash(contents);
        faults::check_space(&self.path, contents.len() as u64 + 4)?;
        self.out
            .write_all(contents)
            .and_then(|()| self.out.write_all(&crc.to_le_bytes()))
            .map_err(|e| Error::io(&self.path, e))?;
        self.offset += contents.len() as u64 + 4;
        Ok(h)
    }

    /// Writes the data block being filled and indexes it by its last internal key.
    fn finish_data_block(&mut self, last_seq: u64) -> Result<()> {
        let mut buf = std::mem::take(&mut self.scratch);
        buf.clear();
        self.data.finish_into(&mut buf);
        let h = self.write_block(&buf)?;
        self.scratch = buf;
        let mut hb = [0u8; Handle::LEN];
        h.encode_into(&mut hb);
        // `last_key` is the data block's last user key: it was not reset with the block.
        self.index.add(&self.last_key, last_seq, Some(&hb));
        Ok(())
    }

    /// Writes the remaining blocks and the footer and fsyncs the file; returns what the
    /// table holds and its size in bytes.
    pub(crate) fn finish(mut self) -> Result<(Properties, u64)> {
        if !self.data.is_empty() {
            self.finish_data_block(self.last_added_seq)?;
        }
        let filter = filter::build(&self.hashes, self.bloom_bits_per_key);
        let filter_h = self.write_block(&filter)?;
        if self.props.entries == 0 {
            self.props.min_seq = 0;
        }
        self.props.largest = Bytes::from(std::mem::take(&mut self.last_key));
        let mut buf = Vec::new();
        self.props.encode(&mut buf);
        let props_h = self.write_block(&buf)?;
        buf.clear();
        self.index.finish_into(&mut buf);
        let index_h = self.write_block(&buf)?;
        buf.clear();
        Footer {
            index: index_h,
            filter: filter_h,
            properties: props_h,
        }
        .encode(&mut buf);
        self.out
            .write_all(&buf)
            .map_err(|e| Error::io(&self.path, e))?;
        self.offset += buf.len() as u64;
        let file = self
            .out
            .into_inner()
            .map_err(|e| Error::io(&self.path, e.into_error()))?;
        faults::sync_file(&file, &self.path, false)?;
        Ok((self.props, self.offset))
    }
}
