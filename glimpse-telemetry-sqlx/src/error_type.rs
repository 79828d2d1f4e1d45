//! A failed query's `error_type` label and `db.response.status_code`: the database's own
//! error code when it has one, else a fixed name for the kind of client-side failure.

use std::borrow::Cow;

/// The longest SQLSTATE-like code kept as a label value.
const MAX_CODE_LEN: usize = 16;

/// The database's own error code (SQLSTATE for PostgreSQL and MySQL, the extended result code
/// for SQLite), when it looks like one.
pub(crate) fn database_code(error: &sqlx::Error) -> Option<String> {
    match error {
        sqlx::Error::Database(e) => e.code().and_then(|code| {
            let ok = !code.is_empty()
                && code.len() <= MAX_CODE_LEN
                && code.bytes().all(|b| b.is_ascii_alphanumeric());
            ok.then(|| code.into_owned())
        }),
        _ => None,
    }
}

/// `error_type`: the database's error code (`23505`, `42P01`), or the kind of client-side
/// failure (`pool_timed_out`, `io`...): a bounded set either way.
pub(crate) fn error_type(error: &sqlx::Error) -> Cow<'static, str> {
    use sqlx::Error as E;
    let kind = match error {
        E::Database(_) => {
            return match database_code(error) {
                Some(code) => Cow::Owned(code),
                None => Cow::Borrowed("database_error"),
            };
        }
        E::PoolTimedOut => "pool_timed_out",
        E::PoolClosed => "pool_closed",
        E::Io(_) => "io",
        E::Tls(_) => "tls",
        E::Protocol(_) => "protocol",
        E::RowNotFound => "row_not_found",
        E::TypeNotFound { .. } => "type_not_found",
        E::ColumnIndexOutOfBounds { .. } => "column_index_out_of_bounds",
        E::ColumnNotFound(_) => "column_not_found",
        E::ColumnDecode { .. } => "column_decode",
        E::Encode(_) => "encode",
        E::Decode(_) => "decode",
        E::Configuration(_) => "configuration",
        E::InvalidArgument(_) => "invalid_argument",
        E::WorkerCrashed => "worker_crashed",
        E::BeginFailed => "begin_failed",
        E::InvalidSavePointStatement => "invalid_savepoint_statement",
        E::AnyDriverError(_) => "driver",
        _ => "other",
    };
    Cow::Borrowed(kind)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn client_errors_have_fixed_types() {
        assert_eq!(error_type(&sqlx::Error::PoolTimedOut), "pool_timed_out");
        assert_eq!(error_type(&sqlx::Error::PoolClosed), "pool_closed");
        assert_eq!(
            error_type(&sqlx::Error::Io(std::io::Error::other("x"))),
            "io"
        );
        assert_eq!(error_type(&sqlx::Error::RowNotFound), "row_not_found");
    }
}
