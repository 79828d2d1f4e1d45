//! [`SupportedDatabase`]: the drivers this crate instruments, each behind its cargo feature.

use futures_core::future::BoxFuture;
use futures_core::stream::BoxStream;
use sqlx::{Database, Describe, Either, Error, Execute};

use crate::sql::Dialect;

mod private {
    pub trait Sealed {}
}

/// What `fetch_many` yields: result summaries and rows.
pub(crate) type Results<'e, DB> =
    BoxStream<'e, Result<Either<<DB as Database>::QueryResult, <DB as Database>::Row>, Error>>;

/// A database this crate can instrument: [`sqlx::Postgres`] (feature `postgres`),
/// [`sqlx::MySql`] (feature `mysql`, for MySQL and MariaDB) and [`sqlx::Sqlite`] (feature
/// `sqlite`). Sealed; the hidden methods call the driver's own executor.
///
/// ```
/// use glimpse_telemetry_sqlx::SupportedDatabase;
/// # #[cfg(feature = "postgres")]
/// assert_eq!(<sqlx::Postgres as SupportedDatabase>::SYSTEM_NAME, "postgresql");
/// ```
pub trait SupportedDatabase: Database + private::Sealed {
    /// `db.system.name` / `db_system_name`, as the OpenTelemetry conventions spell it.
    const SYSTEM_NAME: &'static str;
    /// How its SQL is read by [`sql::sanitize`](crate::sql::sanitize).
    const DIALECT: Dialect;

    #[doc(hidden)]
    fn rows_affected(result: &Self::QueryResult) -> u64;

    #[doc(hidden)]
    fn fetch_many<'e, 'q: 'e, E>(conn: &'e mut Self::Connection, query: E) -> Results<'e, Self>
    where
        E: 'q + Execute<'q, Self>;

    #[doc(hidden)]
    fn fetch_optional<'e, 'q: 'e, E>(
        conn: &'e mut Self::Connection,
        query: E,
    ) -> BoxFuture<'e, Result<Option<Self::Row>, Error>>
    where
        E: 'q + Execute<'q, Self>;

    #[doc(hidden)]
    fn prepare_with<'e, 'q: 'e>(
        conn: &'e mut Self::Connection,
        sql: &'q str,
        parameters: &'e [Self::TypeInfo],
    ) -> BoxFuture<'e, Result<Self::Statement<'q>, Error>>;

    #[doc(hidden)]
    fn describe<'e, 'q: 'e>(
        conn: &'e mut Self::Connection,
        sql: &'q str,
    ) -> BoxFuture<'e, Result<Describe<Self>, Error>>;
}

macro_rules! supported {
    ($feature:literal, $db:ty, $system:literal, $dialect:expr) => {
        #[cfg(feature = $feature)]
        impl private::Sealed for $db {}

        #[cfg(feature = $feature)]
        impl SupportedDatabase for $db {
            const SYSTEM_NAME: &'static str = $system;
            const DIALECT: Dialect = $dialect;

            #[inline]
            fn rows_affected(result: &Self::QueryResult) -> u64 {
                result.rows_affected()
            }

            #[inline]
            fn fetch_many<'e, 'q: 'e, E>(
                conn: &'e mut Self::Connection,
                query: E,
            ) -> Results<'e, Self>
            where
                E: 'q + Execute<'q, Self>,
            {
                sqlx::Executor::fetch_many(conn, query)
            }

            #[inline]
            fn fetch_optional<'e, 'q: 'e, E>(
                conn: &'e mut Self::Connection,
                query: E,
            ) -> BoxFuture<'e, Result<Option<Self::Row>, Error>>
            where
                E: 'q + Execute<'q, Self>,
            {
                sqlx::Executor::fetch_optional(conn, query)
            }

            #[inline]
            fn prepare_with<'e, 'q: 'e>(
                conn: &'e mut Self::Connection,
                sql: &'q str,
                parameters: &'e [Self::TypeInfo],
            ) -> BoxFuture<'e, Result<Self::Statement<'q>, Error>> {
                sqlx::Executor::prepare_with(conn, sql, parameters)
            }

            #[inline]
            fn describe<'e, 'q: 'e>(
                conn: &'e mut Self::Connection,
                sql: &'q str,
            ) -> BoxFuture<'e, Result<Describe<Self>, Error>> {
                sqlx::Executor::describe(conn, sql)
            }
        }
    };
}

supported!("postgres", sqlx::Postgres, "postgresql", Dialect::Postgres);
supported!("mysql", sqlx::MySql, "mysql", Dialect::MySql);
supported!("sqlite", sqlx::Sqlite, "sqlite", Dialect::Sqlite);
