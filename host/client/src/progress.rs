//! [`progress`]: a progress bar on standard error while futures complete
//! (hidden when standard error is not a terminal).

use crate::{Client, ClientError, Future};
use indicatif::{ProgressBar, ProgressStyle};

/// Waits for every future, showing how many have completed, and returns
/// the first failure if any failed (after all completed).
pub async fn progress<T>(client: &Client, futures: &[Future<T>]) -> Result<(), ClientError> {
    let bar = ProgressBar::new(futures.len() as u64);
    bar.set_style(
        ProgressStyle::with_template(
            "{spinner} [{elapsed_precise}] {bar:40} {pos}/{len} tasks ({per_sec}, eta {eta})",
        )
        .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    let mut completed = client.as_completed(futures);
    let mut first_error = None;
    while let Some((_, outcome)) = completed.next().await {
        bar.inc(1);
        if let Err(error) = outcome {
            if let ClientError::Closed(_) = error {
                bar.abandon();
                return Err(error);
            }
            first_error.get_or_insert(error);
        }
    }
    bar.finish_and_clear();
    first_error.map_or(Ok(()), Err)
}
