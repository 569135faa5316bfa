//! Rows in PostgreSQL's binary COPY format, for bulk writes of numbers: the server stores
//! each float as sent instead of parsing its text (the study writes about 150 floats per
//! token-event pair, and parsing them was most of its write time).
//!
//! Format: <https://www.postgresql.org/docs/current/sql-copy.html> ("Binary Format"); an
//! array is laid out as `array_recv` reads it (dimensions, null flag, element type OID,
//! then each element with its length).

use std::time::Duration;

use sqlx::PgConnection;

/// Element type OIDs (pg_type.oid) of the arrays written here.
const FLOAT4_OID: u32 = 700;
const FLOAT8_OID: u32 = 701;

/// A COPY payload: a header, rows, and (from [`BinaryRows::finish`]) the trailer.
pub struct BinaryRows {
    buf: Vec<u8>,
    rows: usize,
}

impl Default for BinaryRows {
    fn default() -> Self {
        let mut buf = Vec::with_capacity(1 << 16);
        buf.extend_from_slice(b"PGCOPY\n\xff\r\n\0");
        buf.extend_from_slice(&0i32.to_be_bytes()); // flags: no OIDs
        buf.extend_from_slice(&0i32.to_be_bytes()); // no header extension
        BinaryRows { buf, rows: 0 }
    }
}

impl BinaryRows {
    /// Start a row of `fields` values; the caller then writes exactly that many.
    pub fn row(&mut self, fields: i16) -> &mut Self {
        self.rows += 1;
        self.buf.extend_from_slice(&fields.to_be_bytes());
        self
    }

    pub fn rows(&self) -> usize {
        self.rows
    }

    pub fn null(&mut self) -> &mut Self {
        self.buf.extend_from_slice(&(-1i32).to_be_bytes());
        self
    }

    fn field(&mut self, bytes: &[u8]) -> &mut Self {
        self.buf
            .extend_from_slice(&(bytes.len() as i32).to_be_bytes());
        self.buf.extend_from_slice(bytes);
        self
    }

    /// An `int8` (bigint).
    pub fn i64(&mut self, v: i64) -> &mut Self {
        self.field(&v.to_be_bytes())
    }

    /// An `int4` (integer).
    pub fn i32(&mut self, v: i32) -> &mut Self {
        self.field(&v.to_be_bytes())
    }

    /// A `float8` (double precision).
    pub fn f64(&mut self, v: f64) -> &mut Self {
        self.field(&v.to_be_bytes())
    }

    pub fn opt_f64(&mut self, v: Option<f64>) -> &mut Self {
        match v {
            Some(v) => self.f64(v),
            None => self.null(),
        }
    }

    pub fn opt_i64(&mut self, v: Option<i64>) -> &mut Self {
        match v {
            Some(v) => self.i64(v),
            None => self.null(),
        }
    }

    /// A `timestamptz`: microseconds since 2000-01-01 00:00 UTC (PostgreSQL's epoch).
    pub fn timestamptz(&mut self, t: chrono::DateTime<chrono::Utc>) -> &mut Self {
        const PG_EPOCH_UNIX_SECS: i64 = 946_684_800;
        self.i64(t.timestamp_micros() - PG_EPOCH_UNIX_SECS * 1_000_000)
    }

    /// A `text` value (UTF-8, as the database's encoding is).
    pub fn text(&mut self, s: &str) -> &mut Self {
        self.field(s.as_bytes())
    }

    /// A one-dimensional `real[]` (float4): the values rounded to 7 significant digits.
    pub fn f32_array(&mut self, xs: &[f64]) -> &mut Self {
        self.array(
            FLOAT4_OID,
            &[xs.len()],
            xs.iter().map(|&x| Some(Elem::F4(x as f32))),
        )
    }

    /// A two-dimensional `float8[rows][cols]`, row by row; `None` is an SQL NULL element.
    pub fn f64_matrix(
        &mut self,
        rows: usize,
        cols: usize,
        values: impl IntoIterator<Item = Option<f64>>,
    ) -> &mut Self {
        self.array(
            FLOAT8_OID,
            &[rows, cols],
            values.into_iter().map(|v| v.map(Elem::F8)),
        )
    }

    fn array(
        &mut self,
        oid: u32,
        dims: &[usize],
        elems: impl Iterator<Item = Option<Elem>>,
    ) -> &mut Self {
        // The length prefix is patched once the body is written.
        let at = self.buf.len();
        self.buf.extend_from_slice(&0i32.to_be_bytes());
        let empty = dims.contains(&0);
        let ndim = if empty { 0 } else { dims.len() as i32 };
        self.buf.extend_from_slice(&ndim.to_be_bytes());
        let flag_at = self.buf.len();
        self.buf.extend_from_slice(&0i32.to_be_bytes()); // has nulls: patched below
        self.buf.extend_from_slice(&oid.to_be_bytes());
        let mut has_null = false;
        if !empty {
            for &d in dims {
                self.buf.extend_from_slice(&(d as i32).to_be_bytes());
                self.buf.extend_from_slice(&1i32.to_be_bytes()); // lower bound
            }
            for e in elems {
                match e {
                    None => {
                        has_null = true;
                        self.buf.extend_from_slice(&(-1i32).to_be_bytes());
                    }
                    Some(Elem::F8(x)) => {
                        self.buf.extend_from_slice(&8i32.to_be_bytes());
                        self.buf.extend_from_slice(&x.to_be_bytes());
                    }
                    Some(Elem::F4(x)) => {
                        self.buf.extend_from_slice(&4i32.to_be_bytes());
                        self.buf.extend_from_slice(&x.to_be_bytes());
                    }
                }
            }
        }
        if has_null {
            self.buf[flag_at..flag_at + 4].copy_from_slice(&1i32.to_be_bytes());
        }
        let len = (self.buf.len() - at - 4) as i32;
        self.buf[at..at + 4].copy_from_slice(&len.to_be_bytes());
        self
    }

    /// The payload with its trailer.
    pub fn finish(mut self) -> Vec<u8> {
        self.buf.extend_from_slice(&(-1i16).to_be_bytes());
        self.buf
    }
}

enum Elem {
    F8(f64),
    F4(f32),
}

/// Bytes per CopyData message: small messages keep both sides streaming (the server
/// parses one while the next is on the wire) and far below the protocol's 1 GB limit.
const CHUNK: usize = 1 << 20;

#[derive(Debug, thiserror::Error)]
pub enum CopyError {
    #[error(transparent)]
    Db(#[from] sqlx::Error),
    #[error("COPY into {table} did not finish within {secs} s: the server stopped taking data (is another session holding a lock on it?)")]
    TimedOut { table: String, secs: u64 },
}

/// `COPY {target} FROM STDIN (FORMAT binary)` with `payload` (from [`BinaryRows::finish`]),
/// given up after `limit` with an error naming the table: a COPY that waits on a stalled
/// peer must not hold its transaction open forever.
pub async fn copy_binary(
    conn: &mut PgConnection,
    target: &str,
    payload: &[u8],
    limit: Duration,
) -> Result<u64, CopyError> {
    let run = async {
        let mut copy = conn
            .copy_in_raw(&format!("COPY {target} FROM STDIN (FORMAT binary)"))
            .await?;
        for chunk in payload.chunks(CHUNK) {
            copy.send(chunk).await?;
        }
        copy.finish().await
    };
    match tokio::time::timeout(limit, run).await {
        Ok(rows) => Ok(rows?),
        Err(_) => Err(CopyError::TimedOut {
            table: target
                .split_whitespace()
                .next()
                .unwrap_or(target)
                .to_string(),
            secs: limit.as_secs(),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_rows_and_trailer() {
        let mut r = BinaryRows::default();
        r.row(2).i32(7).null();
        let b = r.finish();
        assert_eq!(&b[..11], b"PGCOPY\n\xff\r\n\0");
        assert_eq!(&b[19..21], &2i16.to_be_bytes());
        assert_eq!(&b[21..25], &4i32.to_be_bytes());
        assert_eq!(&b[25..29], &7i32.to_be_bytes());
        assert_eq!(&b[29..33], &(-1i32).to_be_bytes());
        assert_eq!(&b[33..], &(-1i16).to_be_bytes());
    }

    #[test]
    fn matrix_with_a_null_sets_the_flag_and_length() {
        let mut r = BinaryRows::default();
        r.row(1).f64_matrix(1, 2, [Some(1.5), None]);
        let b = r.finish();
        let body = &b[21..b.len() - 2];
        let len = i32::from_be_bytes(body[..4].try_into().unwrap());
        assert_eq!(len as usize, body.len() - 4);
        // ndim 2, has nulls 1, float8, dims (1, lb 1) (2, lb 1), then 8-byte 1.5 and NULL.
        let ints: Vec<i32> = body[4..32]
            .chunks(4)
            .map(|c| i32::from_be_bytes(c.try_into().unwrap()))
            .collect();
        assert_eq!(ints, vec![2, 1, 701, 1, 1, 2, 1]);
        assert_eq!(&body[32..36], &8i32.to_be_bytes());
        assert_eq!(&body[36..44], &1.5f64.to_be_bytes());
        assert_eq!(&body[44..48], &(-1i32).to_be_bytes());
    }

    #[test]
    fn an_empty_array_has_no_dimensions() {
        let mut r = BinaryRows::default();
        r.row(1).f32_array(&[]);
        let b = r.finish();
        let ints: Vec<i32> = b[21..37]
            .chunks(4)
            .map(|c| i32::from_be_bytes(c.try_into().unwrap()))
            .collect();
        assert_eq!(ints, vec![12, 0, 0, 700]);
    }
}
