//! Why the requests the core answers fail: one enum per operation, and
//! `RequestError` to carry any of them in `ToClient::Done`. They are
//! defined in `weft-schema` (they travel to clients as serde values) and
//! re-exported here.

pub use weft_schema::errors::{
    CopyError, GetDatasetError, PublishError, RequestError, RestartError, ShareError,
};
