//! How a measured query runs, the same from the pool and on a held connection: it takes its
//! connection (waiting for the pool's, or the one held), runs the driver's own executor and
//! finishes its [`Op`] at the last row or the error. The executors of `executor.rs` only pick
//! the [`Source`].

use std::sync::Arc;

use futures_core::future::BoxFuture;
use sqlx::pool::PoolConnection;
use sqlx::{Database, Either, Error, Execute};

use crate::SupportedDatabase;
use crate::database::Results;
use crate::pool::PoolEntry;
use crate::query::Op;
use crate::stream::{Gen, Yielder};

/// Where a measured statement gets its connection.
pub(crate) enum Source<'c, DB: Database> {
    /// From the pool, for this statement alone: the wait is part of the operation, and a failed
    /// acquire is its outcome.
    Pool(Arc<PoolEntry<DB>>),
    /// The connection a [`TracedConnection`](crate::TracedConnection) holds.
    Held(&'c mut DB::Connection),
}

/// A statement's connection while it runs.
enum Lease<'c, DB: Database> {
    /// Returns to the pool when dropped; the pool's entry is kept as long (the collector sees
    /// the pool until its last query ends).
    Pool {
        conn: PoolConnection<DB>,
        _entry: Arc<PoolEntry<DB>>,
    },
    Held(&'c mut DB::Connection),
}

impl<DB: Database> Lease<'_, DB> {
    fn conn(&mut self) -> &mut DB::Connection {
        match self {
            Lease::Pool { conn, .. } => conn,
            Lease::Held(conn) => conn,
        }
    }
}

impl<'c, DB: Database> Source<'c, DB> {
    /// The statement's connection, once there: `op` executes from then on. A failed acquire
    /// finishes `op` with its error.
    async fn lease(self, op: &mut Op<'_>) -> Result<Lease<'c, DB>, Error> {
        match self {
            Source::Pool(entry) => {
                let conn = acquire_for(&entry, op).await?;
                Ok(Lease::Pool {
                    conn,
                    _entry: entry,
                })
            }
            Source::Held(conn) => {
                op.executing();
                Ok(Lease::Held(conn))
            }
        }
    }
}

/// A connection from the pool for `op`, measured as the pool's acquire: `op` executes from
/// then on, or finishes with the acquire's error.
pub(crate) async fn acquire_for<DB: Database>(
    entry: &PoolEntry<DB>,
    op: &mut Op<'_>,
) -> Result<PoolConnection<DB>, Error> {
    let conn = entry
        .state
        .acquire(&entry.pool)
        .await
        .inspect_err(|e| op.finish(Some(e)))?;
    op.executing();
    Ok(conn)
}

/// `fetch_many` measured, on the pool or on a held connection: takes the connection, runs the
/// driver's stream and records the operation at its end.
pub(crate) fn fetch_many<'e, 'q: 'e, DB, E>(
    mut op: Op<'q>,
    source: Source<'e, DB>,
    query: E,
) -> Results<'e, DB>
where
    DB: SupportedDatabase,
    E: 'q + Execute<'q, DB>,
{
    Box::pin(Gen::new(move |yielder| async move {
        let mut lease = source.lease(&mut op).await?;
        let stream = DB::fetch_many(lease.conn(), query);
        drive::<DB>(&mut op, &yielder, stream).await
    }))
}

/// `fetch_optional` measured, on the pool or on a held connection.
pub(crate) fn fetch_optional<'e, 'q: 'e, DB, E>(
    mut op: Op<'q>,
    source: Source<'e, DB>,
    query: E,
) -> BoxFuture<'e, Result<Option<DB::Row>, Error>>
where
    DB: SupportedDatabase,
    E: 'q + Execute<'q, DB>,
{
    Box::pin(async move {
        let mut lease = source.lease(&mut op).await?;
        let result = DB::fetch_optional(lease.conn(), query).await;
        if let Ok(Some(_)) = &result {
            op.add_returned_rows(1);
        }
        op.finish(result.as_ref().err());
        result
    })
}

/// Reads the stream of `fetch_many` to its end, counting rows, and records the operation.
async fn drive<DB: SupportedDatabase>(
    op: &mut Op<'_>,
    yielder: &Yielder<Either<DB::QueryResult, DB::Row>>,
    mut stream: Results<'_, DB>,
) -> Result<(), Error> {
    loop {
        match std::future::poll_fn(|cx| stream.as_mut().poll_next(cx)).await {
            Some(Ok(item)) => {
                op.observe::<DB>(&item);
                yielder.put(item).await;
            }
            Some(Err(e)) => {
                op.finish(Some(&e));
                return Err(e);
            }
            None => {
                drop(stream);
                op.finish(None);
                return Ok(());
            }
        }
    }
}
